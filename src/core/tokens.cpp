#include "core/tokens.h"

#include <algorithm>
#include <cmath>

namespace vitrace {

void prepend_cls_token(Tensor& out, const Tensor& x, const Tensor& cls_token) {
    const int64_t n = x.dim(0), C = x.dim(1);
    if (!prepare(out, {1 + n, C}, x)) return;
    std::copy(cls_token.ptr(), cls_token.ptr() + C, out.ptr());       // out[0, :] = cls
    std::copy(x.ptr(), x.ptr() + n * C, out.ptr() + C);               // out[1:, :] = x
}

void sinusoidal_position_embedding(Tensor& out, int N, int C) {
    out = Tensor::zeros({N, C});
    for (int pos = 0; pos < N; pos++) {
        float* pe_pos = &out[(int64_t)pos * C];  // out[pos, :]
        for (int c = 0; c < C; c++) {
            const int i = c / 2;  // the pair (2i, 2i+1) shares one frequency
            const double angle = pos / std::pow(10000.0, 2.0 * i / C);
            pe_pos[c] = static_cast<float>(c % 2 == 0 ? std::sin(angle) : std::cos(angle));
        }
    }
}

void add(Tensor& out, const Tensor& a, const Tensor& b) {
    if (a.numel() != b.numel())
        throw Error(ErrorKind::Internal,
                    "add: shapes " + shape_str(a.shape) + " and " + shape_str(b.shape) + " differ");
    if (!prepare(out, a.shape, a)) return;
    const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void pool_first_token(Tensor& out, const Tensor& x) {
    const int64_t C = x.dim(-1);
    if (!prepare(out, {C}, x)) return;
    std::copy(x.ptr(), x.ptr() + C, out.ptr());
}

void pool_mean(Tensor& out, const Tensor& x, int64_t first) {
    const int64_t C = x.dim(-1);
    const int64_t N = x.numel() / C;
    if (!prepare(out, {C}, x)) return;
    for (int64_t c = 0; c < C; c++) {
        double sum = 0;
        for (int64_t n = first; n < N; n++) sum += x[n * C + c];
        out[c] = static_cast<float>(sum / (N - first));
    }
}

}  // namespace vitrace
