// Attention rollout on cases small enough to work out by hand.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "core/rollout.h"

using namespace vitrace;
using test::check_close;

BOOST_AUTO_TEST_SUITE(rollout)

BOOST_AUTO_TEST_CASE(fusing_heads) {
    // two heads of [2, 2]
    const Tensor attn = Tensor::from({2, 2, 2}, {0.2f, 0.8f, 0.6f, 0.4f, 0.4f, 0.6f, 1.0f, 0.0f});
    Tensor f;
    fuse_heads(f, attn, HeadFusion::Mean);
    check_close("mean", f, Tensor::from({2, 2}, {0.3f, 0.7f, 0.8f, 0.2f}), test::kHandComputed);
    fuse_heads(f, attn, HeadFusion::Max);
    check_close("max", f, Tensor::from({2, 2}, {0.4f, 0.8f, 1.0f, 0.4f}), test::kExact);
    fuse_heads(f, attn, HeadFusion::Min);
    check_close("min", f, Tensor::from({2, 2}, {0.2f, 0.6f, 0.6f, 0.0f}), test::kExact);
}

BOOST_AUTO_TEST_CASE(one_layer_keeps_half_for_the_residual) {
    // A = [[0, 1], [1, 0]]: each token attends only to the other.
    // (A + I) / 2 = [[0.5, 0.5], [0.5, 0.5]], rows already sum to 1.
    Tensor r;
    attention_rollout(r, {Tensor::from({1, 2, 2}, {0, 1, 1, 0})}, HeadFusion::Mean);
    check_close("one layer", r, Tensor::from({2, 2}, {0.5f, 0.5f, 0.5f, 0.5f}), test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(two_layers_multiply) {
    // Layer 1: A = I, so Â = I.  Layer 2: A = [[0.5, 0.5], [0, 1]],
    // A + I = [[1.5, 0.5], [0, 2]], rows normalised [[0.75, 0.25], [0, 1]].
    // R = Â2 · Â1 = Â2.
    Tensor r;
    attention_rollout(r, {Tensor::from({1, 2, 2}, {1, 0, 0, 1}), Tensor::from({1, 2, 2}, {0.5f, 0.5f, 0, 1})},
                      HeadFusion::Mean);
    check_close("two layers", r, Tensor::from({2, 2}, {0.75f, 0.25f, 0, 1}), test::kHandComputed);
    // Rows of a rollout always sum to 1.
    for (int i = 0; i < 2; i++) BOOST_CHECK_CLOSE(r[i * 2] + r[i * 2 + 1], 1.0f, 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()
