// Activation functions.
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: nn.GELU(), the exact form
// y = x · Φ(x) = 0.5 · x · (1 + erf(x / √2)); y may be x.
void gelu(Tensor& y, const Tensor& x);

}  // namespace vitrace
