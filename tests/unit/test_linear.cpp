// Matrix products and nn.Linear: hand-computed cases, and the fast kernels
// held to their naive twins on shapes that hit every edge of the blocking.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../test_util.h"
#include "core/linear.h"

using namespace vitrace;
using test::check_close;

namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n);
    for (auto& x : v) x = d(gen);
    return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(linear_products)

BOOST_AUTO_TEST_CASE(matmul_nt_by_hand) {
    // a [2, 3] · b [2, 3]ᵀ
    const float a[] = {1, 2, 3, 4, 5, 6};
    const float b[] = {1, 0, -1, 2, 1, 0};
    const float want[] = {1 - 3, 2 + 2, 4 - 6, 8 + 5};
    float naive[4], fast[4];
    matmul_nt_naive(naive, a, b, 2, 2, 3);
    matmul_nt(fast, a, b, 2, 2, 3);
    check_close("matmul_nt_naive", naive, want, 4, test::kExact);
    check_close("matmul_nt", fast, want, 4, test::kExact);
}

BOOST_AUTO_TEST_CASE(matmul_nn_by_hand) {
    // a [2, 2] · b [2, 3]
    const float a[] = {1, 2, 3, 4};
    const float b[] = {1, 0, 2, 0, 1, -1};
    const float want[] = {1, 2, 0, 3, 4, 2};
    float naive[6], fast[6];
    matmul_nn_naive(naive, a, b, 2, 3, 2);
    matmul_nn(fast, a, b, 2, 3, 2);
    check_close("matmul_nn_naive", naive, want, 6, test::kExact);
    check_close("matmul_nn", fast, want, 6, test::kExact);
}

BOOST_AUTO_TEST_CASE(fast_kernels_equal_naive_twins) {
    // Sizes below, at and past every block edge (MR, NR, KC), and the real ViT-B/16 shapes.
    const int shapes[][3] = {{1, 1, 1},   {1, 37, 5},    {7, 1, 300},    {9, 33, 257},  {17, 64, 256},
                             {197, 197, 64}, {197, 64, 197}, {49, 96, 32}, {197, 2304, 768},
                             // more rows than columns: the threads split the rows (Swin's stage 0: 3136 x 288 x 96)
                             {50, 9, 300}, {3136, 288, 96}, {787, 96, 384},
                             // many rows (2053: 342 whole tiles and a last tile of one row), K past a K block
                             {2053, 40, 300},
                             // A's rows are read in place but for a short last tile, packed; small products
                             // read B in place where it is one exact panel (nn with N = 32 or 16): a
                             // window's attention, and fewer rows than a tile
                             {49, 49, 32}, {49, 32, 49}, {5, 32, 7}, {12, 16, 3}, {6, 32, 300}};
    for (const auto& s : shapes) {
        const int M = s[0], N = s[1], K = s[2];
        const auto a = random_values((size_t)M * K, 1);
        const auto b_nt = random_values((size_t)N * K, 2);
        const auto b_nn = random_values((size_t)K * N, 3);
        std::vector<float> naive((size_t)M * N), fast((size_t)M * N);
        // Sums of K unit-variance products have size about sqrt(K).
        const float tol = test::kFastVsNaive * std::sqrt((float)K);
        const std::string dims = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
        matmul_nt_naive(naive.data(), a.data(), b_nt.data(), M, N, K);
        matmul_nt(fast.data(), a.data(), b_nt.data(), M, N, K);
        check_close("matmul_nt " + dims, fast.data(), naive.data(), naive.size(), tol);
        matmul_nn_naive(naive.data(), a.data(), b_nn.data(), M, N, K);
        matmul_nn(fast.data(), a.data(), b_nn.data(), M, N, K);
        check_close("matmul_nn " + dims, fast.data(), naive.data(), naive.size(), tol);
    }
}

BOOST_AUTO_TEST_CASE(strided_product_adds_to_its_output) {
    // gemm_accumulate on a window of larger matrices: a's rows are lda apart and
    // out's ldo apart (as when attention reads q and k out of qkv's rows), and
    // it adds to what out holds. The naive twin runs on packed copies.
    const int M = 61, N = 45, K = 70, lda = 3 * K + 5, ldo = N + 11;
    const auto a_big = random_values((size_t)M * lda, 4);
    const auto b = random_values((size_t)N * K, 5);
    const auto start = random_values((size_t)M * ldo, 6);
    std::vector<float> out = start;
    gemm_accumulate(out.data(), ldo, a_big.data() + 7, lda, b.data(), 1, K, M, N, K);
    std::vector<float> a((size_t)M * K), want((size_t)M * N);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) a[(size_t)m * K + k] = a_big[(size_t)m * lda + 7 + k];
    matmul_nt_naive(want.data(), a.data(), b.data(), M, N, K);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < ldo; n++) {
            const float expect = n < N ? start[(size_t)m * ldo + n] + want[(size_t)m * N + n] : start[(size_t)m * ldo + n];
            BOOST_TEST_CONTEXT("out[" << m << ", " << n << "]") {
                BOOST_TEST(std::fabs(out[(size_t)m * ldo + n] - expect) <= test::kFastVsNaive * std::sqrt((float)K));
            }
        }
}

#ifdef _OPENMP
BOOST_AUTO_TEST_CASE(result_does_not_depend_on_the_thread_count) {
    // Each output element is summed by one thread in one k order, however the
    // threads split the work: 1 and 2 threads give the same bits.
    const int shapes[][3] = {{197, 2304, 768}, {3136, 288, 96}, {197, 300, 600}};
    const int threads = omp_get_max_threads();
    for (const auto& s : shapes) {
        const int M = s[0], N = s[1], K = s[2];
        const auto a = random_values((size_t)M * K, 7);
        const auto b = random_values((size_t)N * K, 8);
        std::vector<float> one((size_t)M * N), two((size_t)M * N);
        omp_set_num_threads(1);
        matmul_nt(one.data(), a.data(), b.data(), M, N, K);
        omp_set_num_threads(2);
        matmul_nt(two.data(), a.data(), b.data(), M, N, K);
        omp_set_num_threads(threads);
        BOOST_TEST(one == two, "matmul_nt " << M << "x" << N << "x" << K << " differs between 1 and 2 threads");
    }
}
#endif

BOOST_AUTO_TEST_CASE(packed_weight_product_equals_naive_twin) {
    // A weight packed ahead (pack_weight_panels) read by gemm_accumulate_packed:
    // held to the naive product on shapes whose N is and is not a whole number
    // of panels (16 and 32 floats wide), with K across the 256-wide K blocks,
    // both ways of splitting the threads, and the 1024-row blocks.
    const int shapes[][3] = {{1, 1, 1},       {7, 32, 300},  {9, 33, 257},    {197, 96, 64}, {197, 2304, 768},
                             {50, 1000, 40},  {3136, 288, 96}, {2053, 40, 300}, {49, 17, 513}};
    for (const auto& s : shapes) {
        const int M = s[0], N = s[1], K = s[2];
        const auto a = random_values((size_t)M * K, 11);
        const auto w = random_values((size_t)N * K, 12);
        const auto start = random_values((size_t)M * N, 13);
        Floats packed(packed_weight_floats(N, K), -1.0f);
        pack_weight_panels(packed.data(), w.data(), N, K);
        std::vector<float> out = start, want((size_t)M * N);
        gemm_accumulate_packed(out.data(), N, a.data(), K, packed.data(), M, N, K);
        matmul_nt_naive(want.data(), a.data(), w.data(), M, N, K);
        for (size_t i = 0; i < want.size(); i++) want[i] += start[i];
        check_close("packed " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K), out.data(),
                    want.data(), want.size(), test::kFastVsNaive * std::sqrt((float)K));
        // The same bits as the product that packs as it goes: one kernel, one k order.
        std::vector<float> unpacked = start;
        gemm_accumulate(unpacked.data(), N, a.data(), K, w.data(), 1, K, M, N, K);
        BOOST_TEST(out == unpacked, "packed and unpacked products differ at " << M << "x" << N << "x" << K);
    }
}

BOOST_AUTO_TEST_CASE(packed_layout_by_hand) {
    // Every float of the packed layout is a weight value or a zero of padding,
    // and each weight value appears exactly once: the panels hold all of w.
    const int N = 70, K = 5;
    std::vector<float> w((size_t)N * K);
    for (size_t i = 0; i < w.size(); i++) w[i] = static_cast<float>(i + 1);  // w[n, k] = n·K + k + 1
    const size_t floats = packed_weight_floats(N, K);
    BOOST_TEST(floats % K == 0);
    const size_t width = floats / K;  // N rounded up to whole panels
    BOOST_TEST(width >= (size_t)N);
    BOOST_TEST(width < (size_t)N + 32);
    Floats packed(floats, -1.0f);
    pack_weight_panels(packed.data(), w.data(), N, K);
    std::vector<int> seen(w.size(), 0);
    size_t zeros = 0;
    for (float v : packed) {
        if (v == 0.0f) zeros++;
        else if (v >= 1 && v <= (float)w.size()) seen[(size_t)v - 1]++;
    }
    BOOST_TEST(zeros == (width - N) * K);
    BOOST_TEST(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
    // Panel 0 starts with w[0, 0], w[1, 0], ...: k-major, the rows side by side.
    BOOST_TEST(packed[0] == 1.0f);
    BOOST_TEST(packed[1] == 1.0f + K);
    BOOST_TEST(packed[2] == 1.0f + 2 * K);
}

BOOST_AUTO_TEST_CASE(packed_linear_gives_the_same_bits) {
    // pack_linear moves the weight into its packed form (in place when N is a
    // whole number of panels, 96 here; not for 70): linear() then gives the
    // same bits, and the weight keeps its shape.
    for (const int N : {96, 70}) {
        const int K = 40, rows = 13;
        Linear l{Tensor::from({N, K}, random_values((size_t)N * K, 14)), Tensor::from({N}, random_values(N, 15))};
        const Tensor x = Tensor::from({rows, K}, random_values((size_t)rows * K, 16));
        Tensor before, after;
        linear(before, x, l);
        pack_linear(l);
        BOOST_TEST(l.is_packed());
        BOOST_TEST(l.weight.shape == (Shape{N, K}));
        BOOST_TEST(!l.weight.has_data());
        take_macs();
        linear(after, x, l);
        BOOST_CHECK_EQUAL(take_macs(), (int64_t)rows * K * N);
        BOOST_TEST(before.data == after.data, "N = " << N);
    }
}

BOOST_AUTO_TEST_CASE(linear_adds_bias_and_counts_macs) {
    Linear l{Tensor::from({2, 3}, {1, 0, 0, 1, 1, 1}), Tensor::from({2}, {10, 20})};
    const Tensor x = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor y;
    take_macs();
    linear(y, x, l);
    BOOST_CHECK_EQUAL(take_macs(), 2 * 3 * 2);
    check_close("linear", y, Tensor::from({2, 2}, {11, 26, 14, 35}), test::kExact);
}

BOOST_AUTO_TEST_CASE(linear_without_bias) {
    Linear l{Tensor::from({1, 2}, {2, -1}), Tensor{}};
    Tensor y;
    linear(y, Tensor::from({1, 2}, {3, 4}), l);
    check_close("linear no bias", y, Tensor::from({1, 1}, {2}), test::kExact);
}

BOOST_AUTO_TEST_CASE(conv_weight_is_read_as_a_linear_layer) {
    // A Conv2d weight [C=2, 3, P=1, P=1] on a flattened 1x1 patch of 3 channels.
    Linear l{Tensor::from({2, 3, 1, 1}, {1, 2, 3, -1, 0, 1}), Tensor::from({2}, {0, 0.5f})};
    Tensor y;
    linear(y, Tensor::from({1, 3}, {1, 1, 2}), l);
    check_close("conv as linear", y, Tensor::from({1, 2}, {9, 1.5f}), test::kExact);
}

BOOST_AUTO_TEST_CASE(shape_only_input_counts_but_computes_nothing) {
    Linear l{Tensor::shape_only({768, 768}), Tensor::shape_only({768})};
    Tensor y;
    take_macs();
    linear(y, Tensor::shape_only({197, 768}), l);
    BOOST_CHECK(y.shape == Shape({197, 768}));
    BOOST_CHECK(y.data.empty());
    BOOST_CHECK_EQUAL(take_macs(), 197LL * 768 * 768);
}

BOOST_AUTO_TEST_SUITE_END()
