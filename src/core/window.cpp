#include "core/window.h"

#include <algorithm>

namespace vitrace {

namespace {

int64_t wrap(int64_t i, int64_t n) { return ((i % n) + n) % n; }

}  // namespace

void cyclic_shift(Tensor& out, const Tensor& x, int shift) {
    const int64_t H = x.dim(0), W = x.dim(1), C = x.dim(2);
    if (!prepare_to_overwrite(out, x.shape, x)) return;
    for (int64_t i = 0; i < H; i++) {
        for (int64_t j = 0; j < W; j++) {
            const float* src = &x[(i * W + j) * C];                                   // x[i, j, :]
            float* dst = &out[(wrap(i + shift, H) * W + wrap(j + shift, W)) * C];    // out[i + shift, j + shift, :]
            std::copy(src, src + C, dst);
        }
    }
}

void window_partition(Tensor& windows, const Tensor& x, int M) {
    const int64_t H = x.dim(0), W = x.dim(1), C = x.dim(2);
    const int64_t nWy = H / M, nWx = W / M, T = (int64_t)M * M;
    if (!prepare_to_overwrite(windows, {nWy * nWx, T, C}, x)) return;
    for (int64_t wy = 0; wy < nWy; wy++) {
        for (int64_t wx = 0; wx < nWx; wx++) {
            const int64_t w = wy * nWx + wx;
            for (int64_t i = 0; i < M; i++) {
                for (int64_t j = 0; j < M; j++) {
                    // x[wy·M + i, wx·M + j, :] -> windows[w, i·M + j, :]
                    const float* src = &x[((wy * M + i) * W + wx * M + j) * C];
                    std::copy(src, src + C, &windows[(w * T + i * M + j) * C]);
                }
            }
        }
    }
}

void window_reverse(Tensor& x, const Tensor& windows, int H, int W) {
    const int64_t T = windows.dim(1), C = windows.dim(2);
    int64_t M = 1;
    while (M * M < T) M++;
    const int64_t nWx = W / M;
    if (!prepare_to_overwrite(x, {H, W, C}, windows)) return;
    for (int64_t w = 0; w < windows.dim(0); w++) {
        const int64_t wy = w / nWx, wx = w % nWx;
        for (int64_t i = 0; i < M; i++) {
            for (int64_t j = 0; j < M; j++) {
                // windows[w, i·M + j, :] -> x[wy·M + i, wx·M + j, :]
                const float* src = &windows[(w * T + i * M + j) * C];
                std::copy(src, src + C, &x[((wy * M + i) * W + wx * M + j) * C]);
            }
        }
    }
}

void relative_coords(Tensor& offsets, int M) {
    const int64_t T = (int64_t)M * M;
    assign_zeros(offsets, {T, T, 2});
    for (int64_t a = 0; a < T; a++) {
        const int64_t ya = a / M, xa = a % M;
        for (int64_t b = 0; b < T; b++) {
            const int64_t yb = b / M, xb = b % M;
            float* o_ab = &offsets[(a * T + b) * 2];  // offsets[a, b, :]
            o_ab[0] = static_cast<float>(ya - yb);
            o_ab[1] = static_cast<float>(xa - xb);
        }
    }
}

void relative_position_index(Tensor& index, int M) {
    const int64_t T = (int64_t)M * M;
    Tensor offsets;  // [T, T, 2]
    relative_coords(offsets, M);
    assign_zeros(index, {T, T});
    for (int64_t ab = 0; ab < T * T; ab++) {
        // timm: relative_coords += M - 1; relative_coords[:, :, 0] *= 2M - 1; .sum(-1)
        const float dy = offsets[ab * 2] + (M - 1), dx = offsets[ab * 2 + 1] + (M - 1);
        index[ab] = dy * (2 * M - 1) + dx;
    }
}

void relative_position_bias(Tensor& bias, const Tensor& table, const Tensor& index) {
    const int64_t heads = table.dim(1);
    const int64_t T = index.dim(0);
    if (!prepare(bias, {heads, T, T}, table)) return;
    for (int64_t h = 0; h < heads; h++)
        for (int64_t a = 0; a < T; a++)
            for (int64_t b = 0; b < T; b++)
                bias[(h * T + a) * T + b] = table[static_cast<int64_t>(index[a * T + b]) * heads + h];
}

void add_relative_position_bias(Tensor& scores, const Tensor& bias) {
    if (!scores.has_data()) return;
    const int64_t per_window = bias.numel();  // heads · T · T
    const int64_t nW = scores.numel() / per_window;
#pragma omp parallel for schedule(static) if (scores.numel() > 65536)
    for (int64_t w = 0; w < nW; w++) {
        float* s_w = &scores[w * per_window];  // scores[w, :, :, :]
        for (int64_t i = 0; i < per_window; i++) s_w[i] += bias[i];
    }
}

void shifted_window_regions(Tensor& labels, int H, int W, int M, int shift) {
    // Region of a row (or column) coordinate: 0 before n - M, 1 before n - shift, 2 after.
    auto region = [M, shift](int64_t i, int64_t n) { return i < n - M ? 0 : i < n - shift ? 1 : 2; };
    assign_zeros(labels, {H, W});
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) labels[y * W + x] = static_cast<float>(3 * region(y, H) + region(x, W));
}

void shifted_window_mask(Tensor& mask, int H, int W, int M, int shift) {
    Tensor labels;  // [H, W]
    shifted_window_regions(labels, H, W, M, shift);
    labels.shape = {H, W, 1};
    Tensor window_labels;  // [nW, T, 1]: the label of each token of each window
    window_partition(window_labels, labels, M);
    const int64_t nW = window_labels.dim(0), T = window_labels.dim(1);
    assign_zeros(mask, {nW, T, T});
    for (int64_t w = 0; w < nW; w++) {
        const float* label = &window_labels[w * T];  // window_labels[w, :, 0]
        for (int64_t a = 0; a < T; a++)
            for (int64_t b = 0; b < T; b++) mask[(w * T + a) * T + b] = label[a] == label[b] ? 0.0f : -100.0f;
    }
}

void add_attention_mask(Tensor& scores, const Tensor& mask) {
    if (!scores.has_data()) return;
    const int64_t nW = mask.dim(0), T = mask.dim(1);
    const int64_t heads = scores.numel() / (nW * T * T);
#pragma omp parallel for collapse(2) schedule(static) if (scores.numel() > 65536)
    for (int64_t w = 0; w < nW; w++) {
        for (int64_t h = 0; h < heads; h++) {
            float* s_wh = &scores[(w * heads + h) * T * T];  // scores[w, h, :, :]
            const float* m_w = &mask[w * T * T];             // mask[w, :, :]
            for (int64_t i = 0; i < T * T; i++) s_wh[i] += m_w[i];
        }
    }
}

}  // namespace vitrace
