#include "core/attention.h"

#include <algorithm>
#include <cmath>

#include "core/fastmath.h"
#include "core/linear.h"
#include "core/window.h"

namespace vitrace {

void split_heads(Tensor& out, const Tensor& qkv, int heads) {
    const int64_t T = qkv.dim(-2);
    const int64_t C = qkv.dim(-1) / 3;
    const int64_t head_dim = C / heads;
    const int64_t B = qkv.numel() / (T * 3 * C);
    Shape shape = {3};
    shape.insert(shape.end(), qkv.shape.begin(), qkv.shape.end() - 2);
    shape.insert(shape.end(), {heads, T, head_dim});
    if (!prepare_to_overwrite(out, shape, qkv)) return;
#pragma omp parallel for collapse(2) schedule(static) if (qkv.numel() > 65536)
    for (int64_t s = 0; s < 3; s++) {          // 0: q, 1: k, 2: v
        for (int64_t b = 0; b < B; b++) {
            for (int64_t h = 0; h < heads; h++) {
                for (int64_t t = 0; t < T; t++) {
                    // qkv[b, t, s, h, :] -> out[s, b, h, t, :]
                    const float* src = &qkv[((b * T + t) * 3 + s) * C + h * head_dim];
                    float* dst = &out[(((s * B + b) * heads + h) * T + t) * head_dim];
                    std::copy(src, src + head_dim, dst);
                }
            }
        }
    }
}

void attention_scores(Tensor& scores, const Tensor& qkvh) {
    const int64_t T = qkvh.dim(-2);
    const int64_t head_dim = qkvh.dim(-1);
    const int64_t BH = qkvh.numel() / (3 * T * head_dim);  // B · heads
    Shape shape(qkvh.shape.begin() + 1, qkvh.shape.end() - 1);
    shape.push_back(T);
    count_macs(BH * T * T * head_dim);
    if (!prepare_to_overwrite(scores, shape, qkvh)) return;
    const float* q = qkvh.ptr();
    const float* k = q + BH * T * head_dim;
#pragma omp parallel for schedule(dynamic)
    for (int64_t bh = 0; bh < BH; bh++) {
        // scores[bh] = q[bh] · k[bh]ᵀ: [T, head_dim] · [T, head_dim]ᵀ
        matmul_nt(&scores[bh * T * T], q + bh * T * head_dim, k + bh * T * head_dim,
                  static_cast<int>(T), static_cast<int>(T), static_cast<int>(head_dim));
    }
}

void scale_scores(Tensor& scores, float scale) {
    if (!scores.has_data()) return;
    const int64_t n = scores.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) scores[i] *= scale;
}

namespace {

// One row, in place. Subtracting the row max changes nothing mathematically
// (it cancels in the ratio) but keeps every exp() argument <= 0, so nothing
// overflows. The naive twin: std::exp, and the sum in order.
void softmax_row(float* x_r, int64_t T) {
    float mx = x_r[0];
    for (int64_t j = 1; j < T; j++) mx = x_r[j] > mx ? x_r[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < T; j++) sum += x_r[j] = std::exp(x_r[j] - mx);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < T; j++) x_r[j] *= inv;
}

// The same row with the vectorisable exp, and the sum of the exponentials
// kept in 16 fixed lanes (lane l takes j = l, l+16, …) that are added in a
// fixed order at the end. A sum in order is one chain of dependent adds, 197
// of them per ViT row, which cost more than the exponentials; the lanes
// vectorise, and give the same bits at any vector width.
void softmax_row_fast(float* x_r, int64_t T) {
    constexpr int kLanes = 16;
    float mx = x_r[0];
#pragma omp simd reduction(max : mx)
    for (int64_t j = 1; j < T; j++) mx = x_r[j] > mx ? x_r[j] : mx;
    float lane[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= T; j += kLanes)
#pragma omp simd
        for (int l = 0; l < kLanes; l++) lane[l] += x_r[j + l] = exp_fast(x_r[j + l] - mx);
    for (int l = 0; j < T; j++, l++) lane[l] += x_r[j] = exp_fast(x_r[j] - mx);
    float sum = 0.0f;
    for (int l = 0; l < kLanes; l++) sum += lane[l];
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t k = 0; k < T; k++) x_r[k] *= inv;
}

}  // namespace

void softmax_rows(Tensor& x) {
    if (!x.has_data()) return;
    const int64_t T = x.dim(-1);
    const int64_t rows = x.numel() / T;
#pragma omp parallel for schedule(static) if (rows * T > 32768)
    for (int64_t r = 0; r < rows; r++) softmax_row_fast(&x[r * T], T);
}

void softmax_rows_naive(Tensor& x) {
    if (!x.has_data()) return;
    const int64_t T = x.dim(-1);
    for (int64_t r = 0; r < x.numel() / T; r++) softmax_row(&x[r * T], T);
}

void weighted_sum(Tensor& out, const Tensor& attn, const Tensor& qkvh) {
    const int64_t T = qkvh.dim(-2);
    const int64_t head_dim = qkvh.dim(-1);
    const int64_t BH = qkvh.numel() / (3 * T * head_dim);
    Shape shape(qkvh.shape.begin() + 1, qkvh.shape.end());
    count_macs(BH * T * T * head_dim);
    if (!prepare_to_overwrite(out, shape, attn)) return;
    const float* v = qkvh.ptr() + 2 * BH * T * head_dim;
#pragma omp parallel for schedule(dynamic)
    for (int64_t bh = 0; bh < BH; bh++) {
        // out[bh] = attn[bh] · v[bh]: [T_q, T_k] · [T, head_dim]
        matmul_nn(&out[bh * T * head_dim], &attn[bh * T * T], v + bh * T * head_dim,
                  static_cast<int>(T), static_cast<int>(head_dim), static_cast<int>(T));
    }
}

void merge_heads(Tensor& out, const Tensor& o) {
    const int64_t heads = o.dim(-3);
    const int64_t T = o.dim(-2);
    const int64_t head_dim = o.dim(-1);
    const int64_t C = heads * head_dim;
    const int64_t B = o.numel() / (heads * T * head_dim);
    Shape shape(o.shape.begin(), o.shape.end() - 3);
    shape.insert(shape.end(), {T, C});
    if (!prepare_to_overwrite(out, shape, o)) return;
#pragma omp parallel for collapse(2) schedule(static) if (o.numel() > 65536)
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < heads; h++) {
                // o[b, h, t, :] -> out[b, t, h·head_dim : (h+1)·head_dim]
                const float* src = &o[((b * heads + h) * T + t) * head_dim];
                std::copy(src, src + head_dim, &out[(b * T + t) * C + h * head_dim]);
            }
        }
    }
}

void multi_head_attention(Tensor& out, const Tensor& x, const Linear& qkv, const Linear& proj, int heads,
                          const WindowAttention* window, const TokenAxes& axes, const StepScope& at,
                          AttentionBuffers& t, Trace& trace) {
    const std::string& T = axes.tokens;
    auto dims = [&](std::vector<std::string> tail) {  // the lead axes, then `tail`
        std::vector<std::string> d = axes.lead;
        d.insert(d.end(), tail.begin(), tail.end());
        return d;
    };
    std::vector<std::string> split_dims = {"qkv"};
    for (const std::string& d : dims({"heads", T, "head_dim"})) split_dims.push_back(d);
    // An attention matrix's rows are queries and its columns keys: [heads, N_q, N_k]
    const std::string Tq = T + "_q", Tk = T + "_k";
    const std::vector<std::string> score_dims = dims({"heads", Tq, Tk});
    // q, k and v are `inner` wide: C, or heads · dim_head where a model sets dim_head apart (vit-pytorch)
    const int64_t inner = qkv.weight.dim(0) / 3;
    const bool wide = inner == x.dim(-1);
    const float scale = 1.0f / std::sqrt(static_cast<float>(inner / heads));

    // timm: qkv = self.qkv(x).reshape(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    linear(t.qkv, x, qkv);
    trace.record(at(Role::Qkv), "linear", t.qkv, dims({T, wide ? "3C" : "3inner"}));
    split_heads(t.qkvh, t.qkv, heads);
    trace.record(at(Role::SplitHeads), "split_heads", t.qkvh, split_dims);

    // timm: q = q * self.scale; attn = q @ k.transpose(-2, -1), here scaled after the product
    attention_scores(t.attn, t.qkvh);
    trace.record(at(Role::Scores), "matmul", t.attn, score_dims);
    scale_scores(t.attn, scale);
    trace.record(at(Role::Scale), "scale", t.attn, score_dims);

    if (window) {
        // timm: attn = attn + self._get_rel_pos_bias()
        trace.record(at(Role::BiasTable), "parameter", *window->bias_table, {"relative_positions", "heads"});
        // The index and the mask are computed for a pass with values only: a
        // shape-only pass (a memory estimate, `vitrace shapes`, a workspace's
        // plan) gives them their shapes, and a plan their buffers.
        const int64_t M2 = (int64_t)window->M * window->M;
        if (t.attn.has_data())
            relative_position_index(t.index, window->M);
        else
            prepare(t.index, {M2, M2}, t.attn);
        trace.record(at(Role::PositionIndex), "relative_position_index", t.index, {Tq, Tk});
        relative_position_bias(t.bias, *window->bias_table, t.index);
        trace.record(at(Role::PositionBias), "gather", t.bias, {"heads", Tq, Tk});
        add_relative_position_bias(t.attn, t.bias);
        trace.record(at(Role::AddPositionBias), "add", t.attn, score_dims);
        if (window->shift > 0) {
            // timm: attn = attn.view(-1, nW, heads, T, T) + mask.unsqueeze(1).unsqueeze(0)
            if (t.attn.has_data())
                shifted_window_mask(t.mask, window->H, window->W, window->M, window->shift);
            else
                prepare(t.mask, {t.attn.dim(0), M2, M2}, t.attn);  // scores are [windows, heads, T, T]
            trace.record(at(Role::Mask), "shifted_window_mask", t.mask, {"windows", Tq, Tk});
            add_attention_mask(t.attn, t.mask);
            trace.record(at(Role::AddMask), "add", t.attn, score_dims);
        }
    }

    // timm: attn = attn.softmax(dim=-1); x = attn @ v
    softmax_rows(t.attn);
    trace.record(at(Role::Softmax), "softmax", t.attn, score_dims);
    weighted_sum(t.o, t.attn, t.qkvh);
    trace.record(at(Role::WeightedSum), "matmul", t.o, dims({"heads", T, "head_dim"}));

    // timm: x = x.transpose(1, 2).reshape(B, N, C); x = self.proj(x)
    merge_heads(t.merged, t.o);
    trace.record(at(Role::MergeHeads), "merge_heads", t.merged, dims({T, wide ? "C" : "inner"}));
    if (proj.weight.shape.empty()) {  // no proj (vit-pytorch's to_out is nn.Identity with 1 head of width C)
        if (prepare(out, t.merged.shape, t.merged)) std::copy(t.merged.data.begin(), t.merged.data.end(), out.data.begin());
        return;
    }
    linear(out, t.merged, proj);
    trace.record(at(Role::Proj), "linear", out, dims({T, "C"}));
}

}  // namespace vitrace
