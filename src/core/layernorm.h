// Layer normalisation over the last axis (channels).
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: nn.LayerNorm(C, eps)
struct LayerNorm {
    Tensor weight;  // [C]
    Tensor bias;    // [C]
    float eps = 1e-6f;
};

// y[r, :] = (x[r, :] - mean_r) / sqrt(var_r + eps) * weight + bias, for every row r
// x, y: [..., C]; y may be x.
void layernorm(Tensor& y, const Tensor& x, const LayerNorm& ln);

}  // namespace vitrace
