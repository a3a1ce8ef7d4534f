#include "core/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vitrace {

namespace {

// Keys' cubic kernel at a = -0.5, written as Pillow writes it and evaluated as
// PyTorch evaluates it for a float tensor. Its first piece has double literals,
// so it is computed in double; the second, ((x - 5)·x + 8)·x - 4, has integer
// literals, so it stays in float, where PyTorch's build fuses each multiply-add.
// That float piece cancels near |t| = 1 and 2, so its rounding shows in the
// weights: computed exactly, or in float without fusing, it moves outputs 1e-6
// to 2e-6 away from PyTorch's.
float cubic(float t) {
    constexpr double a = -0.5;
    const float x = std::fabs(t);
    if (x < 1.0f) return static_cast<float>(((a + 2.0) * x - (a + 3.0)) * x * x + 1.0);
    if (x < 2.0f) return static_cast<float>(std::fma(std::fma(x - 5.0f, x, 8.0f), x, -4.0f) * a);
    return 0.0f;
}

// The input samples one output sample reads along one axis, and their weights:
// out[i] = Σ_k weights[k] · in[first + k].
struct Taps {
    int64_t first = 0;
    std::vector<float> weights;  // [window], summing to 1
};

// The taps of each of the out_size samples resized from in_size. The float and
// double steps follow PyTorch's, so that window edges fall on the same input
// samples and the weights round alike.
std::vector<Taps> axis_taps(int64_t in_size, int64_t out_size) {
    const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
    // Shrinking by `scale` stretches the kernel by `scale`: each output then
    // averages every input it covers instead of skipping some (the antialias).
    const float stretch = std::max(scale, 1.0f);
    const float support = 2.0f * stretch;  // the cubic kernel reaches 2 samples each side
    const float inv_stretch = static_cast<float>(1.0 / stretch);
    std::vector<Taps> taps(out_size);
    for (int64_t i = 0; i < out_size; i++) {
        // Output sample i covers input pixels [scale·i, scale·(i+1)); its centre,
        // in input pixel units, where input sample k sits at k + 0.5.
        const float center = static_cast<float>(scale * (i + 0.5));
        const int64_t first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
        const int64_t end = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
        Taps& t = taps[i];
        t.first = first;
        float sum = 0.0f;
        for (int64_t k = first; k < end; k++) {
            const float wk = cubic(static_cast<float>((static_cast<float>(k) - center + 0.5) * inv_stretch));
            t.weights.push_back(wk);
            sum += wk;
        }
        // The window is cut at the grid's edges; normalising keeps a constant constant there.
        if (sum != 0.0f)
            for (float& wk : t.weights) wk /= sum;
    }
    return taps;
}

}  // namespace

void resize_bicubic_antialias(Tensor& out, const Tensor& x, int out_h, int out_w) {
    require(x.rank() == 3 && out_h > 0 && out_w > 0, ErrorKind::Internal,
            "resize_bicubic_antialias: expected x [C, h, w] and a positive output size, got x " + shape_str(x.shape) +
                " to " + std::to_string(out_h) + "x" + std::to_string(out_w));
    const int64_t C = x.dim(0), h = x.dim(1), w = x.dim(2);
    if (!prepare(out, {C, out_h, out_w}, x)) return;
    const std::vector<Taps> taps_x = axis_taps(w, out_w);  // [out_w]
    const std::vector<Taps> taps_y = axis_taps(h, out_h);  // [out_h]

    // Each sum adds one product at a time, in window order, with one rounding per
    // fused multiply-add as PyTorch's build does: an upsampling then gives
    // PyTorch's floats bit for bit, a shrink differs in the last bit at most.

    // Horizontal pass: every row of x resized to out_w columns.
    // rows[c, y, j] = Σ_k taps_x[j].weights[k] · x[c, y, taps_x[j].first + k]
    std::vector<float> rows(C * h * out_w);  // [C, h, out_w]
    for (int64_t c = 0; c < C; c++) {
        for (int64_t y = 0; y < h; y++) {
            const float* x_cy = &x[(c * h + y) * w];  // x[c, y, :]
            float* rows_cy = &rows[(c * h + y) * out_w];  // rows[c, y, :]
            for (int64_t j = 0; j < out_w; j++) {
                const Taps& t = taps_x[j];
                float acc = 0.0f;
                for (size_t k = 0; k < t.weights.size(); k++) acc = std::fma(t.weights[k], x_cy[t.first + k], acc);
                rows_cy[j] = acc;
            }
        }
    }

    // Vertical pass: every column of rows resized to out_h rows.
    // out[c, i, j] = Σ_k taps_y[i].weights[k] · rows[c, taps_y[i].first + k, j]
    for (int64_t c = 0; c < C; c++) {
        const float* rows_c = &rows[c * h * out_w];  // rows[c, :, :]
        for (int64_t i = 0; i < out_h; i++) {
            const Taps& t = taps_y[i];
            float* out_ci = &out[(c * out_h + i) * out_w];  // out[c, i, :]
            for (int64_t j = 0; j < out_w; j++) {
                float acc = 0.0f;
                for (size_t k = 0; k < t.weights.size(); k++)
                    acc = std::fma(t.weights[k], rows_c[(t.first + k) * out_w + j], acc);
                out_ci[j] = acc;
            }
        }
    }
}

}  // namespace vitrace
