#include "core/layernorm.h"

#include <cmath>

namespace vitrace {

void layernorm(Tensor& y, const Tensor& x, const LayerNorm& ln) {
    const int64_t C = x.dim(-1);
    const int64_t rows = x.numel() / C;
    if (!prepare(y, x.shape, x)) return;
    const float* w = ln.weight.ptr();
    const float* b = ln.bias.ptr();
#pragma omp parallel for schedule(static) if (rows * C > 32768)
    for (int64_t r = 0; r < rows; r++) {
        const float* x_r = &x[r * C];  // x[r, :]
        float* y_r = &y[r * C];        // y[r, :]
        // Two passes over the row: the mean first, then the variance around it,
        // which loses no precision to cancellation. Sums in double.
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t c = 0; c < C; c++) sum += x_r[c];
        const double mean = sum / C;
        double sq = 0;
#pragma omp simd reduction(+ : sq)
        for (int64_t c = 0; c < C; c++) sq += (x_r[c] - mean) * (x_r[c] - mean);
        const float m = static_cast<float>(mean);
        const float rstd = static_cast<float>(1.0 / std::sqrt(sq / C + ln.eps));
        for (int64_t c = 0; c < C; c++) y_r[c] = (x_r[c] - m) * rstd * w[c] + b[c];
    }
}

}  // namespace vitrace
