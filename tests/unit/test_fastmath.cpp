// The vectorisable exp and erfc against the C library's, and softmax, built on
// exp, against its naive twin (GELU, built on erfc, meets its twin in test_gelu.cpp).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "../test_util.h"
#include "core/attention.h"
#include "core/fastmath.h"

using namespace vitrace;

BOOST_AUTO_TEST_SUITE(fastmath)

BOOST_AUTO_TEST_CASE(exp_fast_matches_std_exp) {
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        const double want = std::exp((double)x);
        worst = std::max(worst, std::fabs(exp_fast(x) - want) / want);
    }
    BOOST_CHECK_MESSAGE(worst < 3e-7, "worst relative error " << worst);
    BOOST_CHECK_EQUAL(exp_fast(0.0f), 1.0f);
    BOOST_CHECK(std::isnan(exp_fast(std::numeric_limits<float>::quiet_NaN())));
    BOOST_CHECK_LT(exp_fast(-1000.0f), 1e-37f);  // underflow: as good as zero
    BOOST_CHECK(std::isfinite(exp_fast(1000.0f)));
}

BOOST_AUTO_TEST_CASE(erf_fast_matches_std_erf) {
    // Every float from -6 to 6 a step of 0.00031 apart, and the clamp beyond.
    double worst = 0;
    for (float z = -6.0f; z <= 6.0f; z += 0.00031f) worst = std::max(worst, std::fabs(erf_fast(z) - std::erf((double)z)));
    BOOST_CHECK_MESSAGE(worst < 4e-7, "worst absolute error " << worst);  // a float ulp just below 1 is 6e-8
    BOOST_CHECK_EQUAL(erf_fast(0.0f), 0.0f);
    BOOST_CHECK_EQUAL(erf_fast(30.0f), 1.0f);
    BOOST_CHECK_EQUAL(erf_fast(-30.0f), -1.0f);
    BOOST_CHECK(std::isnan(erf_fast(std::nanf(""))));
    // Near 0 the relative error counts: erf(x) ≈ 2x/√π.
    for (const float z : {1e-3f, 1e-6f, -1e-20f})
        BOOST_CHECK_CLOSE(erf_fast(z), std::erf((double)z), 1e-4);  // percent: a relative 1e-6
}

BOOST_AUTO_TEST_CASE(softmax_equals_its_naive_twin) {
    // Rows of ViT's 197 keys and Swin's 49 (whole 16-lane blocks and a rest), and shorter than one block.
    for (const int64_t T : {197, 49, 5}) {
        Tensor x = Tensor::zeros({7, T});
        for (int64_t i = 0; i < x.numel(); i++) x[i] = std::sin(0.37f * i) * (1 + i % 13);
        Tensor naive = x;
        softmax_rows(x);
        softmax_rows_naive(naive);
        // exp_fast is within 3e-7 relative of std::exp, and the fast sum adds in
        // 16 lanes rather than in order: each probability (at most 1) within 3e-7.
        test::check_close("softmax T=" + std::to_string(T), x, naive, 3e-7f);
    }
}

BOOST_AUTO_TEST_SUITE_END()
