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

// PyTorch: nn.BatchNorm2d in eval mode, on a channels-last map (ml-cvnets' conv stem)
struct BatchNorm {
    Tensor weight, bias;               // [C]
    Tensor running_mean, running_var;  // [C]: the statistics kept in training
    float eps = 1e-5f;
};

// y[r, c] = (x[r, c] - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c]
// x, y: [..., C]; y may be x.
void batchnorm(Tensor& y, const Tensor& x, const BatchNorm& bn);

}  // namespace vitrace
