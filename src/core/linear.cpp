#include "core/linear.h"

#include <algorithm>

#include "core/parallel.h"
#include "core/workspace.h"
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
//              tile of a streams past it. a is read where it is: per k the
//              kernel reads one float from each of MR rows, MR streams that
//              the caches follow. Packing a as well, which the textbook
//              blocking does, cost more than it saved here: up to a fifth of
//              a product whose B is narrow (mlp.fc2: K = 4·C, N = C).
//   threads    each thread takes whole NR-column panels of out, so no two
//              threads write the same element and every sum keeps its k order:
//              the result does not depend on the number of threads.
namespace {

#if defined(__AVX512F__)
constexpr int MR = 6, NR = 32;  // 12 accumulators of 16 floats: 12 of the 32 zmm registers
#else
constexpr int MR = 6, NR = 16;  // 12 accumulators of 8 floats: 12 of the 16 ymm registers
#endif
// A KC×NR panel of B is 32 KB (AVX-512) or 16 KB, and an MR×KC tile of A
// 6 KB: both stay in L1/L2 while the micro-kernel streams through them.
constexpr int KC = 256;

// out[0:mr, 0:nr] += A[0:MR, 0:kc] · panel[kc, NR], or with `first`,
// out[0:mr, 0:nr] = bias[0:nr] + A · panel (bias null: zeros), so that a
// product's first K block sets out rather than adding to a pass of its own
// that filled it. A is the rows of a itself, A[i, k] = a[i·lda + k] (Direct),
// or, for a last tile short of MR rows, a packed copy A[i, k] = a[k·MR + i]
// whose missing rows repeat the last one.
template <bool Direct = false>
inline void micro_kernel(float* out, int64_t ldo, int mr, int nr, const float* a, const float* panel, int kc,
                         bool first, const float* bias, int64_t lda = 0) {
    float acc[MR][NR] = {};
    for (int k = 0; k < kc; k++) {
        const float* b_k = panel + k * NR;  // B[k, panel columns]
        // Both pragmas matter: without them GCC's generic x86-64 tuning
        // vectorises this nest 4 floats wide and keeps acc on the stack,
        // 20 times slower. With them, row i is NR/vector-width fused
        // multiply-adds of one broadcast a_ik into registers that stay put.
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const float a_ik = Direct ? a[i * lda + k] : a[k * MR + i];  // A[i, k]
#pragma omp simd
            for (int j = 0; j < NR; j++) acc[i][j] += a_ik * b_k[j];
        }
    }
    if (!first) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) out[i * ldo + j] += acc[i][j];
    } else {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++) out[i * ldo + j] = (bias ? bias[j] : 0.0f) + acc[i][j];
    }
}

// The packed copy of A's last, short tile for one K block, MR rows of KC,
// shared by the threads of one product and kept from call to call (each
// calling thread has its own: the attention products call this from inside
// their own parallel loops). 6 KB with AVX-512, in the thread's own storage:
// it ties no workspace's memory to the thread.
float* a_pack_buffer() {
    alignas(64) thread_local float buffer[MR * KC];
    return buffer;
}

// How the threads share out the product: in items of one column panel by one
// range of rows. With more rows than columns (Swin's early stages: 3136 rows,
// 96 to 384 columns) each thread takes one range of rows for all the panels:
// it reads only its own rows of A, which stay in its own cache. Otherwise
// (ViT: 197 rows, 768 to 3072 columns) the threads split the panels, and cut
// each panel into row ranges only when the panels do not share out evenly.
struct Split {
    int ranges = 1;          // row ranges
    bool rows_first = false; // items numbered range by range (true) or panel by panel
};
Split split_for(int M, int N, int panels, int tiles, int threads) {
    if (threads <= 1) return {};
    if (M > N) return {std::min(threads, tiles), true};
    if (panels % threads == 0 || panels >= 16 * threads) return {};
    return {std::min(threads, tiles), false};
}

// Where the product finds B: strided in memory (b, b_row, b_col) and packed
// panel by panel as it goes, or already packed (a weight, by pack_linear).
struct BSource {
    const float* b = nullptr;
    int64_t b_row = 0, b_col = 0;
    const float* packed = nullptr;  // pack_weight_panels' layout, or null
};

// What out starts from: what it holds (accumulate), or a row repeated down
// its rows, the bias [N] or zeros (set).
struct Start {
    bool set = false;
    const float* bias = nullptr;  // with set: null for zeros
};

void gemm(float* out, int64_t ldo, const float* a, int64_t lda, const BSource& B, int M, int N, int K,
          const Start& start) {
    if (K == 0) {  // no K block to set out: the start alone
        if (start.set)
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) out[(int64_t)m * ldo + n] = start.bias ? start.bias[n] : 0.0f;
        return;
    }
    const float* b = B.b;
    const int64_t b_row = B.b_row, b_col = B.b_col;
    const int panels = (N + NR - 1) / NR;
    const int tiles = (M + MR - 1) / MR;
    // A is read in place, all but a last tile short of MR rows. A small
    // product (an attention head's in a window: 49 x 49 x 32) reads B in
    // place too where B's rows already are one exact panel (attn·v with
    // head_dim = NR: v is [T, NR], row after row).
    const int full_tiles = M / MR;
    const bool direct_b = (int64_t)M * K <= 16384 && (int64_t)M * N * K <= 1000000 && !B.packed && b_col == 1 &&
                          b_row == NR && N == NR;
    // a_pack[k][i] = A[full_tiles·MR + i, k0 + k] for one K block: the short
    // last tile, k-major. Rows past M repeat the last row; their sums are
    // computed and dropped.
    float* a_pack = a_pack_buffer();
    // The work of thread `id` of `threads`; `barrier` waits for the others.
    // The cuts are computed here rather than by `omp for`, so that the same
    // code runs as one thread, with no parallel region at all, when the
    // product is small or is called from inside another parallel loop (each
    // attention head's product is): entering even a one-thread region per
    // call cost more than a 49 x 49 x 32 product itself.
    auto work = [&](int id, int threads, auto&& barrier) {
        const Split split = split_for(M, N, panels, tiles, threads);
        const int ranges = split.ranges;
        const int items = panels * ranges;
        // Thread id's share of n things: [first(n), first(n) + chunk) in one cut.
        auto share = [&](int n) {
            const int chunk = (n + threads - 1) / threads;
            return std::pair<int, int>{std::min(n, id * chunk), std::min(n, (id + 1) * chunk)};
        };
        // With rows_first, range r is thread r's (the items go range by
        // range), so each thread reads only its own rows of A.
        const int tiles_per_range = (tiles + ranges - 1) / ranges;
        alignas(64) float panel[KC * NR];  // this thread's packed B[k0 : k0+kc, n0 : n0+NR]
        for (int k0 = 0; k0 < K; k0 += KC) {
            const int kc = std::min(KC, K - k0);
            // 1. The thread whose share of the tiles holds the short last
            // tile packs it; the full tiles are read in place.
            const auto [t_begin, t_end] = share(tiles);
            if (full_tiles < tiles && t_begin <= full_tiles && full_tiles < t_end)
                for (int i = 0; i < MR; i++) {
                    const float* a_row = a + (int64_t)std::min(full_tiles * MR + i, M - 1) * lda + k0;
                    for (int k = 0; k < kc; k++) a_pack[k * MR + i] = a_row[k];
                }
            barrier();  // the short tile is packed before anyone reads it

            // 2. Each thread takes whole (panel, row range) items, so no two
            // threads write the same element and every sum keeps its k order:
            // the result does not depend on the number of threads. A thread
            // gets the same items in every K block.
            const auto [i_begin, i_end] = share(items);
            for (int item = i_begin; item < i_end; item++) {
                const int p = split.rows_first ? item % panels : item / ranges;
                const int r = split.rows_first ? item / panels : item % ranges;
                const int n0 = p * NR;
                const int nr = std::min(NR, N - n0);
                // B[k0 : k0+kc, n0 : n0+NR], zero past N. A packed weight has
                // it ready, contiguous. Otherwise it is packed here, reading b
                // in its own row order: a weight [N, K] (nt) one row n at a
                // time, so that no read strides across rows (for K = 3072 that
                // stride is 12 KB, and 32 rows that far apart share one set of
                // the L1 cache).
                const float* panel_k0 = panel;
                if (B.packed) {
                    panel_k0 = B.packed + ((size_t)p * K + k0) * NR;
                } else if (direct_b) {
                    panel_k0 = b + (int64_t)k0 * b_row;  // B's rows are the panel's: [K, NR], contiguous
                } else if (b_row == 1) {
                    for (int j = 0; j < NR; j++) {
                        const float* b_j = b + (int64_t)(n0 + std::min(j, nr - 1)) * b_col + k0;  // B[k0:, n0 + j]
                        const float keep = j < nr ? 1.0f : 0.0f;
                        for (int k = 0; k < kc; k++) panel[k * NR + j] = keep * b_j[k];
                    }
                } else {
                    for (int k = 0; k < kc; k++) {
                        const float* b_k = b + (k0 + k) * b_row;  // B[k0 + k, :]
                        float* p_k = panel + k * NR;
                        if (b_col == 1) {  // a row of B is contiguous (nn): one copy, then zeros past N
                            std::copy(b_k + n0, b_k + n0 + nr, p_k);
                            std::fill(p_k + nr, p_k + NR, 0.0f);
                        } else {
                            for (int j = 0; j < NR; j++) p_k[j] = j < nr ? b_k[(n0 + j) * b_col] : 0.0f;
                        }
                    }
                }
                // Ask for the next panel's part of a weight now, so that it
                // arrives from memory while this panel's products run: a
                // forward pass reads each weight once, from DRAM, and the
                // hardware's own prefetcher does not look that far ahead.
                if ((B.packed || b_row == 1) && item + 1 < i_end) {
                    const int p_next = split.rows_first ? (item + 1) % panels : (item + 1) / ranges;
                    if (p_next != p && B.packed) {
                        const float* next = B.packed + ((size_t)p_next * K + k0) * NR;  // kc x NR floats
                        for (int f = 0; f < kc * NR; f += 16) __builtin_prefetch(next + f);
                    } else if (p_next != p) {
                        for (int j = p_next * NR; j < std::min(N, (p_next + 1) * NR); j++)
                            for (int k = 0; k < kc; k += 16) __builtin_prefetch(b + (int64_t)j * b_col + k0 + k);
                    }
                }
                const int tr_end = std::min(tiles, (r + 1) * tiles_per_range);
                for (int t = r * tiles_per_range; t < tr_end; t++) {
                    const int m0 = t * MR;
                    const bool set = start.set && k0 == 0;
                    const float* bias = start.bias ? start.bias + n0 : nullptr;
                    if (t < full_tiles)
                        micro_kernel<true>(out + (int64_t)m0 * ldo + n0, ldo, MR, nr, a + (int64_t)m0 * lda + k0,
                                           panel_k0, kc, set, bias, lda);
                    else
                        micro_kernel(out + (int64_t)m0 * ldo + n0, ldo, M - m0, nr, a_pack, panel_k0, kc, set, bias);
                }
            }
            barrier();  // nobody packs the next K block's A while this one is read
        }
    };
    if ((int64_t)M * N * K > 100000 && !omp_in_parallel_region()) {
#pragma omp parallel
        work(omp_thread_id(), omp_threads(), [] {
#pragma omp barrier
        });
    } else {
        work(0, 1, [] {});
    }
}

}  // namespace

void gemm_accumulate(float* out, int64_t ldo, const float* a, int64_t lda, const float* b, int64_t b_row,
                     int64_t b_col, int M, int N, int K) {
    gemm(out, ldo, a, lda, BSource{b, b_row, b_col, nullptr}, M, N, K, Start{});
}

size_t packed_weight_floats(int N, int K) { return (size_t)((N + NR - 1) / NR) * K * NR; }
int weight_panel_rows() { return NR; }

namespace {

// Panel p of pack_weight_panels' layout from `rows`, the weight's rows p·NR to
// p·NR + nr - 1: dst[k][j] = rows[j][k], zero for j >= nr. Sixteen k at a time,
// so that the NR·16 floats written stay in L1 while each row is read a cache
// line at a time.
void pack_panel(float* dst, const float* rows, int nr, int K) {
    constexpr int kStep = 16;
    for (int k0 = 0; k0 < K; k0 += kStep) {
        const int k1 = std::min(K, k0 + kStep);
        for (int j = 0; j < NR; j++) {
            float* d = dst + (size_t)k0 * NR + j;  // dst[k0][j]
            for (int k = k0; k < k1; k++, d += NR) *d = j < nr ? rows[(int64_t)j * K + k] : 0.0f;
        }
    }
}

}  // namespace

void pack_weight_panels(float* dst, const float* w, int N, int K) {
    const int panels = (N + NR - 1) / NR;
#pragma omp parallel for schedule(static) if ((int64_t)N * K > 65536)
    for (int p = 0; p < panels; p++)
        pack_panel(dst + (size_t)p * K * NR, w + (int64_t)p * NR * K, std::min(NR, N - p * NR), K);
}

void gemm_accumulate_packed(float* out, int64_t ldo, const float* a, int64_t lda, const float* packed, int M, int N,
                            int K) {
    gemm(out, ldo, a, lda, BSource{nullptr, 0, 0, packed}, M, N, K, Start{});
}

void matmul_nt(float* out, const float* a, const float* b, int M, int N, int K) {
    gemm(out, N, a, K, BSource{b, 1, K, nullptr}, M, N, K, Start{.set = true});
}

void matmul_nn(float* out, const float* a, const float* b, int M, int N, int K) {
    gemm(out, N, a, K, BSource{b, N, 1, nullptr}, M, N, K, Start{.set = true});
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
    if (!prepare_to_overwrite(y, y_shape, x)) return;

    // y = bias + x · weightᵀ: the product's first K block writes each y[r, n]
    // as bias[n] + its sum, so y needs no pass of its own to hold the bias.
    const Start start{.set = true, .bias = layer.has_bias() ? layer.bias.ptr() : nullptr};
    if (layer.is_packed())
        gemm(y.ptr(), out, x.ptr(), in, BSource{.packed = layer.packed.data()}, rows, out, in, start);
    else
        gemm(y.ptr(), out, x.ptr(), in, BSource{.b = layer.weight.ptr(), .b_row = 1, .b_col = in}, rows, out, in, start);
}

void pack_linear(Linear& layer) {
    if (layer.is_packed() || !layer.weight.has_data() || layer.weight.numel() == 0) return;
    const int N = static_cast<int>(layer.weight.dim(0));
    const int K = static_cast<int>(layer.weight.numel() / N);
    const int panels = (N + NR - 1) / NR;
    if (N % NR == 0) {
        // Panel p takes the same floats in both layouts, the weight's rows
        // p·NR to p·NR + NR - 1: each panel is repacked in place, through a
        // copy of its own rows that stays in cache. No fresh memory is touched.
        float* w = layer.weight.ptr();
#pragma omp parallel if ((int64_t)N * K > 65536)
        {
            std::vector<float> rows((size_t)NR * K);
#pragma omp for schedule(static)
            for (int p = 0; p < panels; p++) {
                float* panel = w + (size_t)p * NR * K;
                std::copy(panel, panel + (size_t)NR * K, rows.data());
                pack_panel(panel, rows.data(), NR, K);
            }
        }
        layer.packed = std::move(layer.weight.data);
    } else {
        Floats packed(packed_weight_floats(N, K));
        pack_weight_panels(packed.data(), layer.weight.ptr(), N, K);
        layer.packed = std::move(packed);
    }
    layer.weight.data = Floats{};  // the shape stays: [out, in] is still what the layer is
}

}  // namespace vitrace
