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
#include <stdexcept>
#include <string>
#include <vector>

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

// What went wrong, by kind. The command line maps each kind to an exit code
// (docs/cli.md has the table).
enum class ErrorKind {
    Usage,       // a flag or argument the command line cannot accept
    Input,       // the image file
    Checkpoint,  // the safetensors file, or its fit to the model
    Config,      // the model name or its configuration
    Output,      // the file the trace goes to
    Internal,    // a bug in vitrace
};

struct Error : std::runtime_error {
    ErrorKind kind;
    Error(ErrorKind k, const std::string& message) : std::runtime_error(message), kind(k) {}
};

// Throws Error(kind, message) unless ok.
inline void require(bool ok, ErrorKind kind, const std::string& message) {
    if (!ok) throw Error(kind, message);
}

// Multiply-adds done by the kernels. Each kernel adds, once per call, the count
// its loops perform (from its own loop bounds); the trace takes the count since
// the previous step. Shape-only runs count the same numbers without the loops.
void count_macs(int64_t n);
int64_t take_macs();  // returns the count so far and resets it

}  // namespace vitrace
