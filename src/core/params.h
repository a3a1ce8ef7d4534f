// Walking a model's parameters by timm name: the checkpoint loader and the
// random initialisation both see every tensor through these.
#pragma once

#include <functional>
#include <string>

#include "core/layernorm.h"
#include "core/linear.h"

namespace vitrace {

// Shape-only layers, for building a model's weights before they are loaded.
inline Linear linear_shape(int64_t out, int64_t in, bool bias = true) {
    return {Tensor::shape_only({out, in}), bias ? Tensor::shape_only({out}) : Tensor{}};
}

inline LayerNorm layernorm_shape(int64_t C, float eps) {
    return {Tensor::shape_only({C}), Tensor::shape_only({C}), eps};
}

enum class ParamKind { Matrix, Bias, NormScale, NormShift, Embedding };

// fn(name, tensor, kind, fan_in): fan_in is the inputs per output of the layer
// the tensor belongs to (0 for embeddings and norms).
template <class Fn>
void visit_linear(Linear& l, const std::string& name, Fn&& fn) {
    const int64_t fan_in = l.weight.numel() / l.weight.dim(0);
    fn(name + ".weight", l.weight, ParamKind::Matrix, fan_in);
    if (l.has_bias()) fn(name + ".bias", l.bias, ParamKind::Bias, fan_in);
}

// The same walk, seeing each Linear whole rather than its tensors: the
// overload of visit_linear below hands it the layer, and every other
// parameter passes by.
struct EachLinear {
    std::function<void(const std::string& name, Linear&)> fn;
    void operator()(const std::string&, Tensor&, ParamKind, int64_t) const {}
};
inline void visit_linear(Linear& l, const std::string& name, EachLinear& each) { each.fn(name, l); }

template <class Fn>
void visit_layernorm(LayerNorm& n, const std::string& name, Fn&& fn) {
    fn(name + ".weight", n.weight, ParamKind::NormScale, 0);
    fn(name + ".bias", n.bias, ParamKind::NormShift, 0);
}

template <class Fn>
void visit_batchnorm(BatchNorm& n, const std::string& name, Fn&& fn) {
    fn(name + ".weight", n.weight, ParamKind::NormScale, 0);
    fn(name + ".bias", n.bias, ParamKind::NormShift, 0);
    fn(name + ".running_mean", n.running_mean, ParamKind::NormShift, 0);
    fn(name + ".running_var", n.running_var, ParamKind::NormScale, 0);
}
inline BatchNorm batchnorm_shape(int64_t C) {
    return {Tensor::shape_only({C}), Tensor::shape_only({C}), Tensor::shape_only({C}), Tensor::shape_only({C})};
}

}  // namespace vitrace
