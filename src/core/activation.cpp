#include "core/activation.h"

#include <cmath>

#include "core/fastmath.h"

namespace vitrace {

namespace {
constexpr float inv_sqrt2 = 0.70710678118654752f;
}

void gelu(Tensor& y, const Tensor& x) {
    if (!prepare_to_overwrite(y, x.shape, x)) return;
    const int64_t n = x.numel();
    const float* xp = x.ptr();
    float* yp = y.ptr();
    // Chunks for the threads, each one vector loop. (A single `parallel for
    // simd` loop is left scalar by GCC's generic x86-64 tuning, 4 times slower.)
    constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
        const int64_t c1 = c0 + kChunk < n ? c0 + kChunk : n;
#pragma omp simd
        for (int64_t i = c0; i < c1; i++) yp[i] = 0.5f * xp[i] * (1.0f + erf_fast(xp[i] * inv_sqrt2));
    }
}

void gelu_naive(Tensor& y, const Tensor& x) {
    if (!prepare(y, x.shape, x)) return;
    for (int64_t i = 0; i < x.numel(); i++) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * inv_sqrt2));
}

void gelu_tanh(Tensor& y, const Tensor& x) {
    if (!prepare(y, x.shape, x)) return;
    const int64_t n = x.numel();
    constexpr float sqrt_2_over_pi = 0.79788456080286536f;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        // 0.5·(1 + tanh(u)) stands in for the normal CDF Φ(x): close to it, and cheaper than erf was.
        const float u = sqrt_2_over_pi * (x[i] + 0.044715f * x[i] * x[i] * x[i]);
        y[i] = 0.5f * x[i] * (1.0f + std::tanh(u));
    }
}

void silu(Tensor& y, const Tensor& x) {
    if (!prepare_to_overwrite(y, x.shape, x)) return;
    const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void relu(Tensor& y, const Tensor& x) {
    if (!prepare_to_overwrite(y, x.shape, x)) return;
    for (int64_t i = 0; i < x.numel(); i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

}  // namespace vitrace
