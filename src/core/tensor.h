// The tensor: a shape and a flat row-major std::vector of floats (Floats, below). Nothing else.
//
// A tensor whose data is empty while its shape is not is a *shape-only* tensor.
// Every operation accepts shape-only inputs: it then sets the output's shape,
// counts the multiply-adds its loops would do, and skips the loops. That is
// how `vitrace shapes` runs the very same forward code as `vitrace trace`,
// instantly, without allocating activations or weights.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/macs.h"

namespace vitrace {

using Shape = std::vector<int64_t>;

// Where a tensor's floats live. Small blocks come from operator new; a block of
// 1 MiB or more is aligned to 2 MiB and offered to the kernel as transparent
// huge pages (madvise), where the system has them. While a workspace is
// planned (core/workspace.h), every block comes from one such mapping instead,
// the blocks side by side. On a machine that charges ~10 µs for the first
// touch of every fresh 4 KiB page, one 2 MiB page replaces 512 such faults:
// ViT-B's 330 MB of weights and a forward pass's buffers are filled several
// times faster. The values and their order are the same either way.
void* allocate_floats(size_t bytes);
void free_floats(void* p, size_t bytes) noexcept;

template <class T>
struct BigPageAllocator {
    using value_type = T;
    BigPageAllocator() = default;
    template <class U>
    BigPageAllocator(const BigPageAllocator<U>&) noexcept {}
    T* allocate(size_t n) { return static_cast<T*>(allocate_floats(n * sizeof(T))); }
    void deallocate(T* p, size_t n) noexcept { free_floats(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const BigPageAllocator<U>&) const noexcept { return true; }
    // resize(n) without a value leaves new floats unset, so that whoever fills
    // them first (the weights' reader, the seeded initialisation on both
    // cores) is the first to touch their memory. resize(n, 0.0f) zeroes.
    template <class U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

using Floats = std::vector<float, BigPageAllocator<float>>;

// While one of these lives, every block of floats is cut from a mapping of
// huge pages shared with the blocks before it, as a planned workspace's are,
// and is touched first by whoever writes it. A model's weights are made or
// read under one (load_model), and the input's tensors are made under another
// (run_model): each lot lies side by side. A block stays in its mapping until
// it is freed, after the scope ends too, and the mapping goes with its last block.
class ArenaScope {
public:
    ArenaScope();
    ~ArenaScope();
    ArenaScope(const ArenaScope&) = delete;
    ArenaScope& operator=(const ArenaScope&) = delete;
};

int64_t numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[3, 197, 64]"

struct Tensor {
    Shape shape;
    Floats data;              // row-major, numel(shape) floats; empty when shape-only

    static Tensor zeros(Shape shape);
    static Tensor shape_only(Shape shape);
    static Tensor from(Shape shape, std::vector<float> values);

    int64_t numel() const { return vitrace::numel(shape); }
    int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
    int rank() const { return static_cast<int>(shape.size()); }
    bool has_data() const { return !data.empty() || numel() == 0; }

    float* ptr() { return data.data(); }
    const float* ptr() const { return data.data(); }
    float& operator[](int64_t i) { return data[i]; }
    const float& operator[](int64_t i) const { return data[i]; }
};

// out = Tensor::zeros(shape), in out's own allocation when it is big enough: for
// the tensors a pass computes from nothing (Swin's position index and mask),
// which a workspace buffer then holds from one pass to the next.
void assign_zeros(Tensor& out, const Shape& shape);

// Gives `out` the shape `shape`; allocates its data only when `like` has data.
// Reuses out's existing allocation, so buffers passed in again are not reallocated.
// Returns true when the caller should run its loops.
bool prepare(Tensor& out, const Shape& shape, const Tensor& like);

// prepare for an operation that writes every element of out: the same, but
// what the buffer gains is left unset rather than zeroed. A Swin forward pass
// shrinks its buffers from stage to stage and grows them back in the next
// pass's first stage, so prepare would zero most of the workspace every pass.
bool prepare_to_overwrite(Tensor& out, const Shape& shape, const Tensor& like);

}  // namespace vitrace
