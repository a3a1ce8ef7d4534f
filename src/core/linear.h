// Matrix products and nn.Linear.
//
// Sizes: M rows of the output, N columns of the output, K the shared (summed) axis.
//
// Two product forms cover every matmul in ViT and Swin:
//   matmul_nt: out[M, N] = a[M, K] · b[N, K]ᵀ   nn.Linear (weight is [out, in]) and q·kᵀ
//   matmul_nn: out[M, N] = a[M, K] · b[K, N]    attn·v
// Each has a naive twin: three plain loops, the reference the tests hold the
// fast one to.
#pragma once

#include <algorithm>

#include "core/tensor.h"

namespace vitrace {

// timm: nn.Linear(in_features, out_features)
struct Linear {
    Tensor weight;  // [out, in]; a patch embedding keeps the Conv2d shape [C, 3, P, P]
    Tensor bias;    // [out], or empty shape when the layer has no bias
    // The weight as the fast product reads it, once pack_linear has run:
    // pack_weight_panels' layout, and weight then keeps its shape but no data.
    Floats packed = {};
    bool has_bias() const { return !bias.shape.empty(); }
    bool is_packed() const { return !packed.empty(); }
};

void matmul_nt_naive(float* out, const float* a, const float* b, int M, int N, int K);
void matmul_nn_naive(float* out, const float* a, const float* b, int M, int N, int K);
void matmul_nt(float* out, const float* a, const float* b, int M, int N, int K);
void matmul_nn(float* out, const float* a, const float* b, int M, int N, int K);

// The fast product both forms share, with strides, adding to what out holds:
//   out[m·ldo + n] += Σ_k a[m·lda + k] · B(k, n),   B(k, n) = b[k·b_row + n·b_col]
// nt: b_row = 1, b_col = K (b is [N, K]); nn: b_row = N, b_col = 1 (b is [K, N]).
// The strides let a product read q, k and v straight out of qkv's rows.
void gemm_accumulate(float* out, int64_t ldo, const float* a, int64_t lda, const float* b, int64_t b_row,
                     int64_t b_col, int M, int N, int K);

// A weight packed ahead, for products that read the same weight every forward
// pass. pack_weight_panels lays w [N, K] out as the product's panels of B, each
// NR of its rows read down k (NR = 32 with AVX-512, 16 without):
//   dst[p][k][j] = w[p·NR + j, k], zero where p·NR + j >= N,
// packed_weight_floats(N, K) floats in all. gemm_accumulate_packed is
// gemm_accumulate reading B from that layout (B(k, n) = w[n, k], the nt form)
// instead of packing it on every call.
size_t packed_weight_floats(int N, int K);
int weight_panel_rows();  // NR
void pack_weight_panels(float* dst, const float* w, int N, int K);

// The same layout written from value(i), the weight's value at row-major
// index i = n·K + k, with no [N, K] copy of the weight: for weights made
// rather than read (init_random, core/model.h). dst holds
// packed_weight_floats(N, K) floats.
template <class Value>
void pack_weight_from(float* dst, int N, int K, const Value& value) {
    const int NR = weight_panel_rows();
    const int panels = (N + NR - 1) / NR;
#pragma omp parallel for schedule(static) if ((int64_t)N * K > 65536)
    for (int p = 0; p < panels; p++) {
        float* panel = dst + (size_t)p * K * NR;  // dst[p]
        const int rows = std::min(NR, N - p * NR);
        for (int64_t k = 0; k < K; k++) {
            const int64_t at = (int64_t)p * NR * K + k;  // w[p·NR, k]; row j is j·K further on
#pragma omp simd
            for (int j = 0; j < rows; j++) panel[k * NR + j] = value(at + j * K);
            for (int j = rows; j < NR; j++) panel[k * NR + j] = 0.0f;
        }
    }
}
void gemm_accumulate_packed(float* out, int64_t ldo, const float* a, int64_t lda, const float* packed, int M, int N,
                            int K);

// Moves layer.weight's data into layer.packed, packed (in place when N is a
// whole number of panels). linear() takes either form. Code that reads a
// weight's values itself (the lessons do) keeps its layers unpacked; trace,
// attention, report and bench pack after loading (model.h, pack_weights).
void pack_linear(Linear& layer);

// timm: y = F.linear(x, weight, bias)
// y [..., out] = x [..., in] · weightᵀ + bias; all leading axes of x are rows.
void linear(Tensor& y, const Tensor& x, const Linear& layer);

}  // namespace vitrace
