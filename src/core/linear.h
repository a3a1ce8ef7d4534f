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

#include "core/tensor.h"

namespace vitrace {

// timm: nn.Linear(in_features, out_features)
struct Linear {
    Tensor weight;  // [out, in]; a patch embedding keeps the Conv2d shape [C, 3, P, P]
    Tensor bias;    // [out], or empty shape when the layer has no bias
    bool has_bias() const { return !bias.shape.empty(); }
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

// timm: y = F.linear(x, weight, bias)
// y [..., out] = x [..., in] · weightᵀ + bias; all leading axes of x are rows.
void linear(Tensor& y, const Tensor& x, const Linear& layer);

}  // namespace vitrace
