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
// prepared with anywhere in the pass, before any loop runs. The blocks come
// from one mapping offered as huge pages, and when the pass ends they are laid
// out side by side, each at its final size, and touched from both cores: Swin-T's
// 22 MB then cost 11 huge-page faults instead of thousands. The CLI plans
// before it times or traces a forward pass, so that a single run pays for
// its memory once, up front, and `vitrace bench --breakdown` can show that
// cost apart from the forward pass.
#pragma once

#include <any>
#include <cstdint>

#include "core/tensor.h"

namespace vitrace {

struct Workspace {
    std::any buffers;  // the family's buffers struct

    // The family's buffers struct, made empty on first use.
    template <class B>
    B& as() {
        if (!buffers.has_value()) {
            B& b = buffers.emplace<B>();
            begin = reinterpret_cast<const char*>(&b);
            end = begin + sizeof(B);
        }
        return std::any_cast<B&>(buffers);
    }
    // Whether the buffers struct holds the object at p (one of its tensors).
    bool holds(const void* p) const {
        const char* c = static_cast<const char*>(p);
        return begin <= c && c < end;
    }

private:
    const char* begin = nullptr;  // where the buffers struct lies
    const char* end = nullptr;
};

// While one of these lives, prepare() reserves the size it is asked for on a
// shape-only tensor. When the outermost one ends, the blocks of `workspace`'s
// tensors are laid out again side by side, each at its final size, and every
// block allocated under it and still alive is touched.
class PlanningScope {
public:
    explicit PlanningScope(Workspace* workspace = nullptr);
    ~PlanningScope();
    PlanningScope(const PlanningScope&) = delete;
    PlanningScope& operator=(const PlanningScope&) = delete;
    int64_t bytes() const;  // allocated so far under this scope
};

}  // namespace vitrace
