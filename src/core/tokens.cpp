#include "core/tokens.h"

#include <algorithm>
#include <cmath>

namespace vitrace {

void insert_tokens(Tensor& out, const Tensor& x, const Tensor& tokens, int64_t at) {
    const int64_t n = x.dim(0), C = x.dim(1), k = tokens.dim(1);
    // out may be x. Either way out's own block is kept (it is a workspace buffer):
    // first out holds x's n rows, then rows at.. move down by k and the tokens fill the gap.
    if (&out != &x) {
        if (!prepare(out, {n + k, C}, x)) return;
        std::copy(x.ptr(), x.ptr() + n * C, out.ptr());
    } else if (!prepare(out, {n + k, C}, x)) {
        return;
    }
    std::copy_backward(out.ptr() + at * C, out.ptr() + n * C, out.ptr() + (n + k) * C);  // out[at+k:] = x[at:]
    std::copy(tokens.ptr(), tokens.ptr() + k * C, out.ptr() + at * C);                  // out[at:at+k] = tokens
}

void scale_channels(Tensor& out, const Tensor& x, const Tensor& gamma) {
    const int64_t C = gamma.numel(), rows = x.numel() / C;
    if (!prepare(out, x.shape, x)) return;
    for (int64_t r = 0; r < rows; r++) {
        const float* x_r = &x[r * C];  // x[r, :]
        float* out_r = &out[r * C];
        for (int64_t c = 0; c < C; c++) out_r[c] = x_r[c] * gamma[c];
    }
}

void average(Tensor& out, const Tensor& a, const Tensor& b) {
    if (!prepare(out, a.shape, a)) return;
    for (int64_t i = 0; i < a.numel(); i++) out[i] = (a[i] + b[i]) / 2;
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
    if (!prepare_to_overwrite(out, a.shape, a)) return;
    const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void pool_first_token(Tensor& out, const Tensor& x) {
    const int64_t C = x.dim(-1);
    if (!prepare(out, {C}, x)) return;
    std::copy(x.ptr(), x.ptr() + C, out.ptr());
}

void pool_mean(Tensor& out, const Tensor& x, int64_t first, int64_t end) {
    const int64_t C = x.dim(-1);
    const int64_t N = end < 0 ? x.numel() / C : end;
    if (!prepare(out, {C}, x)) return;
    for (int64_t c = 0; c < C; c++) {
        double sum = 0;
        for (int64_t n = first; n < N; n++) sum += x[n * C + c];
        out[c] = static_cast<float>(sum / (N - first));
    }
}

}  // namespace vitrace
