// GELU, the exact form and its tanh approximation: values worked out by hand,
// the fast kernel against its naive twin, and the gap between the two forms.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "core/activation.h"

using namespace vitrace;
using test::check_close;

BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(gelu_exact_values) {
    // x·Φ(x) with Φ the standard normal CDF: Φ(1) = 0.8413447, Φ(2) = 0.9772499
    Tensor y;
    gelu(y, Tensor::from({5}, {0, 1, -1, 2, -2}));
    check_close("gelu", y, Tensor::from({5}, {0, 0.8413447f, -0.1586553f, 1.9544997f, -0.0455003f}),
                test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(gelu_equals_its_naive_twin) {
    Tensor x = Tensor::zeros({4001});
    for (int i = 0; i < 4001; i++) x[i] = -20.0f + i * 0.01f;
    Tensor fast, naive;
    gelu(fast, x);
    gelu_naive(naive, x);
    // erfc's error is absolute; gelu multiplies it by x/2, up to 10 here.
    test::check_close("gelu", fast, naive, 2e-6f);
}

BOOST_AUTO_TEST_CASE(gelu_tanh_by_hand) {
    // u = √(2/π)·(x + 0.044715·x³); at x = 1, u = 0.8335620 and tanh(u) = 0.6823840,
    // so y = 0.5·(1 + 0.6823840) = 0.8411920. Odd u makes y(-x) = y(x) - x.
    Tensor y;
    gelu_tanh(y, Tensor::from({7}, {0, 1, -1, 2, -2, 3, -3}));
    check_close("gelu_tanh", y,
                Tensor::from({7}, {0, 0.8411920f, -0.1588080f, 1.9545977f, -0.0454023f, 2.9963626f, -0.0036374f}),
                test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(gelu_tanh_stays_within_a_thousandth_of_the_exact_form) {
    // The largest gap between the two forms is about 4.7e-4, near |x| = 2.7.
    Tensor x = Tensor::zeros({121});
    for (int64_t i = 0; i < x.numel(); i++) x[i] = -6.0f + 0.1f * static_cast<float>(i);
    Tensor approx, exact;
    gelu_tanh(approx, x);
    gelu(exact, x);
    check_close("gelu_tanh against gelu", approx, exact, 1e-3f);
}

BOOST_AUTO_TEST_CASE(gelu_tanh_in_place_and_shape_only) {
    Tensor x = Tensor::from({2, 2}, {1, -1, 2, -2});
    gelu_tanh(x, x);
    check_close("gelu_tanh in place", x, Tensor::from({2, 2}, {0.8411920f, -0.1588080f, 1.9545977f, -0.0454023f}),
                test::kHandComputed);
    Tensor y;
    gelu_tanh(y, Tensor::shape_only({3, 4}));
    BOOST_CHECK(y.shape == (Shape{3, 4}));
    BOOST_CHECK(y.data.empty());
}

BOOST_AUTO_TEST_SUITE_END()
