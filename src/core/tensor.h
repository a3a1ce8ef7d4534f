// The tensor: a shape and a flat row-major std::vector<float>. Nothing else.
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
#include <vector>

#include "core/error.h"
#include "core/macs.h"

namespace vitrace {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[3, 197, 64]"

struct Tensor {
    Shape shape;
    std::vector<float> data;  // row-major, numel(shape) floats; empty when shape-only

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

// Gives `out` the shape `shape`; allocates its data only when `like` has data.
// Reuses out's existing allocation, so buffers passed in again are not reallocated.
// Returns true when the caller should run its loops.
bool prepare(Tensor& out, const Shape& shape, const Tensor& like);

}  // namespace vitrace
