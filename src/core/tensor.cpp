#include "core/tensor.h"

namespace vitrace {

int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

std::string shape_str(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); i++) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

Tensor Tensor::zeros(Shape shape) {
    Tensor t;
    t.data.assign(vitrace::numel(shape), 0.0f);
    t.shape = std::move(shape);
    return t;
}

Tensor Tensor::shape_only(Shape shape) {
    Tensor t;
    t.shape = std::move(shape);
    return t;
}

Tensor Tensor::from(Shape shape, std::vector<float> values) {
    if (static_cast<int64_t>(values.size()) != vitrace::numel(shape))
        throw Error(ErrorKind::Internal, "Tensor::from: " + std::to_string(values.size()) +
                                             " values for shape " + shape_str(shape));
    Tensor t;
    t.shape = std::move(shape);
    t.data = std::move(values);
    return t;
}

bool prepare(Tensor& out, const Shape& shape, const Tensor& like) {
    out.shape = shape;
    if (!like.has_data()) {
        out.data.clear();
        return false;
    }
    out.data.resize(vitrace::numel(shape));
    return true;
}

}  // namespace vitrace
