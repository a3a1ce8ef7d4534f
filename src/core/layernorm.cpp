#include "core/layernorm.h"

#include <cmath>

namespace vitrace {

namespace {

// Σ term(c) for c in [0, n), in double, in 8 fixed lanes (lane j takes
// c = j, j+8, …) added in a fixed order: the loop vectorises, and the sum is
// the same on every CPU whatever its vector width.
template <class Term>
double lane_sum(int64_t n, Term term) {
    constexpr int kLanes = 8;
    double lane[kLanes] = {};
    int64_t c = 0;
    for (; c + kLanes <= n; c += kLanes)
        for (int j = 0; j < kLanes; j++) lane[j] += term(c + j);
    for (int j = 0; c < n; c++, j++) lane[j] += term(c);
    double sum = 0;
    for (int j = 0; j < kLanes; j++) sum += lane[j];
    return sum;
}

}  // namespace

void layernorm(Tensor& y, const Tensor& x, const LayerNorm& ln) {
    const int64_t C = x.dim(-1);
    const int64_t rows = x.numel() / C;
    if (!prepare_to_overwrite(y, x.shape, x)) return;
    const float* w = ln.weight.ptr();
    const float* b = ln.bias.ptr();
#pragma omp parallel for schedule(static) if (rows * C > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const float* x_r = &x[r * C];  // x[r, :]
        float* y_r = &y[r * C];        // y[r, :]
        // Two passes over the row: the mean first, then the variance around it,
        // which loses no precision to cancellation. Sums in double.
        const double mean = lane_sum(C, [&](int64_t c) { return (double)x_r[c]; }) / C;
        const double sq = lane_sum(C, [&](int64_t c) { return (x_r[c] - mean) * (x_r[c] - mean); });
        const float m = static_cast<float>(mean);
        const float rstd = static_cast<float>(1.0 / std::sqrt(sq / C + ln.eps));
        for (int64_t c = 0; c < C; c++) y_r[c] = (x_r[c] - m) * rstd * w[c] + b[c];
    }
}

void batchnorm(Tensor& y, const Tensor& x, const BatchNorm& bn) {
    if (!prepare(y, x.shape, x)) return;
    const int64_t C = x.dim(-1), rows = x.numel() / C;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) {
            // the same float steps as PyTorch's: subtract, divide by sqrt(var + eps), scale, shift
            const float inv_std = 1.0f / std::sqrt(bn.running_var[c] + bn.eps);
            y[r * C + c] = (x[r * C + c] - bn.running_mean[c]) * inv_std * bn.weight[c] + bn.bias[c];
        }
}

}  // namespace vitrace
