// The buffers of a forward pass, kept from one forward pass to the next.
//
// A family's forward pass keeps its activations in one buffers struct
// (VitBuffers, SwinBuffers), which lives here instead of on the stack. Every
// operation writes into a buffer it is given through prepare() (core/tensor.h),
// which keeps the buffer's allocation when the size fits: so the second and
// later forward passes of a model allocate nothing, and touch no fresh memory.
//
// plan_workspace runs the shape-only pass first (the same forward code as
// `vitrace shapes`): each buffer then reserves the largest size it is
// prepared with anywhere in the pass, before any loop runs. The CLI plans
// before it times or traces a forward pass, so that a single run pays for
// its memory once, up front, and `vitrace bench --breakdown` can show that
// cost apart from the forward pass.
#pragma once

#include <any>
#include <cstdint>

namespace vitrace {

struct Workspace {
    std::any buffers;  // the family's buffers struct

    // The family's buffers struct, made empty on first use.
    template <class B>
    B& as() {
        if (!buffers.has_value()) buffers = B{};
        return std::any_cast<B&>(buffers);
    }
};

// While one of these lives, prepare() reserves the size it is asked for on a
// shape-only tensor, and every block of floats allocated is touched at once.
class PlanningScope {
public:
    PlanningScope();
    ~PlanningScope();
    PlanningScope(const PlanningScope&) = delete;
    PlanningScope& operator=(const PlanningScope&) = delete;
    int64_t bytes() const;  // allocated so far under this scope
};
bool planning_workspace();  // true while a PlanningScope lives

}  // namespace vitrace
