// Activation functions.
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: nn.GELU(), the exact form
// y = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)); y may be x.
// gelu evaluates erf with the vectorisable erf_fast (core/fastmath.h), in the
// 1 + erf form PyTorch's own kernel uses;
// gelu_naive, its reference twin, calls std::erf.
void gelu(Tensor& y, const Tensor& x);
void gelu_naive(Tensor& y, const Tensor& x);

// PyTorch: nn.GELU(approximate='tanh'), the approximation of BERT and GPT-2
// y = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))); y may be x.
// vitrace's models use the exact gelu, as timm's ViT and Swin do; this one is
// here to be compared with it.
void gelu_tanh(Tensor& y, const Tensor& x);

// PyTorch: nn.SiLU() (ml-cvnets' "swish"), y = x · sigmoid(x) = x / (1 + e^-x); y may be x.
void silu(Tensor& y, const Tensor& x);

// PyTorch: nn.ReLU(), y = max(x, 0); y may be x.
void relu(Tensor& y, const Tensor& x);

}  // namespace vitrace
