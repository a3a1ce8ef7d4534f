#include "core/linear.h"

#include <algorithm>
#include <vector>

namespace vitrace {

// ---------------------------------------------------------------------------
// Naive twins: the definition, three loops, one output element at a time.

void matmul_nt_naive(float* out, const float* a, const float* b, int M, int N, int K) {
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += a[(int64_t)m * K + k] * b[(int64_t)n * K + k];
            out[(int64_t)m * N + n] = acc;
        }
    }
}

void matmul_nn_naive(float* out, const float* a, const float* b, int M, int N, int K) {
    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += a[(int64_t)m * K + k] * b[(int64_t)k * N + n];
            out[(int64_t)m * N + n] = acc;
        }
    }
}

// ---------------------------------------------------------------------------
// The fast product: the same sums, blocked for registers and caches.
//
// out[M, N] += a[M, K] · B[K, N], where B(k, n) = b[k * b_row + n * b_col], so one
// routine serves both forms (nt: b_row = 1, b_col = K; nn: b_row = N, b_col = 1).
//
// Three levels of blocking, from the inside out:
//   registers  an MR×NR tile of out lives in registers for a whole run over k:
//              per k, MR broadcasts of a and NR/vector-width loads of B feed
//              MR·NR multiply-adds, and the inner j loop is one contiguous vector.
//   L1/L2      B is copied ("packed") KC rows × NR columns at a time into a small
//              contiguous panel, which then stays in cache while every MR-row
//              tile of a streams past it. a is packed too, KC columns at a time,
//              so the MR values the kernel reads for one k sit side by side.
//   threads    each thread takes whole NR-column panels of out, so no two
//              threads write the same element and every sum keeps its k order:
//              the result does not depend on the number of threads.
namespace {

#if defined(__AVX512F__)
constexpr int MR = 6, NR = 32;  // 12 accumulators of 16 floats: 12 of the 32 zmm registers
#else
constexpr int MR = 6, NR = 16;  // 12 accumulators of 8 floats: 12 of the 16 ymm registers
#endif
// A KC×NR panel of B is 32 KB (AVX-512) or 16 KB, and a packed MR×KC tile of A
// 6 KB: both stay in L1/L2 while the micro-kernel streams through them.
constexpr int KC = 256;

// out[0:mr, 0:nr] += a_pack[kc, MR] · panel[kc, NR]
inline void micro_kernel(float* out, int64_t ldo, int mr, int nr, const float* a_pack, const float* panel, int kc) {
    float acc[MR][NR] = {};
    for (int k = 0; k < kc; k++) {
        const float* a_k = a_pack + k * MR;  // A[tile rows, k]
        const float* b_k = panel + k * NR;   // B[k, panel columns]
        // Both pragmas matter: without them GCC's generic x86-64 tuning
        // vectorises this nest 4 floats wide and keeps acc on the stack,
        // 20 times slower. With them, row i is NR/vector-width fused
        // multiply-adds of one broadcast a_ik into registers that stay put.
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const float a_ik = a_k[i];
#pragma omp simd
            for (int j = 0; j < NR; j++) acc[i][j] += a_ik * b_k[j];
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) out[i * ldo + j] += acc[i][j];
}

void gemm_accumulate(float* out, const float* a, const float* b, int64_t b_row, int64_t b_col,
                     int M, int N, int K) {
    const int panels = (N + NR - 1) / NR;
    // One team for all K blocks. A static schedule gives every thread the same
    // panels in every block, so no thread ever adds to another's columns and
    // the blocks need no barrier between them: only the one at the end.
    const int tiles = (M + MR - 1) / MR;
#pragma omp parallel if ((int64_t)M * N * K > 100000)
    {
    // This thread's copy of A[:, k0 : k0+kc], tile by tile, each tile k-major:
    // a_pack[t][k][i] = A[t·MR + i, k0 + k]. Rows past M repeat the last row;
    // their sums are computed and dropped.
    std::vector<float> a_pack((size_t)tiles * MR * KC);
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = std::min(KC, K - k0);
        for (int t = 0; t < tiles; t++)
            for (int i = 0; i < MR; i++) {
                const float* a_row = a + (int64_t)std::min(t * MR + i, M - 1) * K + k0;
                float* dst = &a_pack[(size_t)t * MR * KC + i];
                for (int k = 0; k < kc; k++) dst[k * MR] = a_row[k];
            }
#pragma omp for schedule(static) nowait
        for (int p = 0; p < panels; p++) {
            const int n0 = p * NR;
            const int nr = std::min(NR, N - n0);
            // Pack B[k0 : k0+kc, n0 : n0+NR], zero-filling columns past N.
            alignas(64) float panel[KC * NR];
            for (int k = 0; k < kc; k++) {
                const float* b_k = b + (k0 + k) * b_row;
                for (int j = 0; j < NR; j++)
                    panel[k * NR + j] = j < nr ? b_k[(n0 + j) * b_col] : 0.0f;
            }
            for (int t = 0; t < tiles; t++) {
                const int m0 = t * MR;
                micro_kernel(out + (int64_t)m0 * N + n0, N, std::min(MR, M - m0), nr, &a_pack[(size_t)t * MR * KC],
                             panel, kc);
            }
        }
    }
    }
}

}  // namespace

void matmul_nt(float* out, const float* a, const float* b, int M, int N, int K) {
    std::fill(out, out + (int64_t)M * N, 0.0f);
    gemm_accumulate(out, a, b, 1, K, M, N, K);
}

void matmul_nn(float* out, const float* a, const float* b, int M, int N, int K) {
    std::fill(out, out + (int64_t)M * N, 0.0f);
    gemm_accumulate(out, a, b, N, 1, M, N, K);
}

void linear(Tensor& y, const Tensor& x, const Linear& layer) {
    // A weight of more than two axes is read as [out, in] with in = the product
    // of the rest: a Conv2d weight [C, 3, P, P] on flattened patches [n, 3·P·P].
    const int out = static_cast<int>(layer.weight.dim(0));
    const int in = static_cast<int>(layer.weight.numel() / out);
    if (x.dim(-1) != in)
        throw Error(ErrorKind::Internal, "linear: input " + shape_str(x.shape) + " against weight " +
                                             shape_str(layer.weight.shape));
    const int rows = static_cast<int>(x.numel() / in);
    Shape y_shape = x.shape;
    y_shape.back() = out;
    count_macs((int64_t)rows * in * out);
    if (!prepare(y, y_shape, x)) return;

    // y[r, :] = bias, then y += x · weightᵀ
    for (int r = 0; r < rows; r++) {
        float* y_r = &y[(int64_t)r * out];  // y[r, :]
        if (layer.has_bias())
            std::copy(layer.bias.ptr(), layer.bias.ptr() + out, y_r);
        else
            std::fill(y_r, y_r + out, 0.0f);
    }
    gemm_accumulate(y.ptr(), x.ptr(), layer.weight.ptr(), 1, in, rows, out, in);
}

}  // namespace vitrace
