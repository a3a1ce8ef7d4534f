#include "core/activation.h"

#include <cmath>

namespace vitrace {

void gelu(Tensor& y, const Tensor& x) {
    if (!prepare(y, x.shape, x)) return;
    const int64_t n = x.numel();
    constexpr float inv_sqrt2 = 0.70710678118654752f;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * inv_sqrt2));
}

}  // namespace vitrace
