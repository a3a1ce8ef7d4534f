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

BOOST_AUTO_TEST_CASE(erfc_fast_matches_std_erfc) {
    double worst = 0;
    for (float z = -10.0f; z <= 10.0f; z += 0.0031f) worst = std::max(worst, std::fabs(erfc_fast(z) - std::erfc((double)z)));
    BOOST_CHECK_MESSAGE(worst < 3e-7, "worst absolute error " << worst);  // a float ulp near 2 is 2.4e-7
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
