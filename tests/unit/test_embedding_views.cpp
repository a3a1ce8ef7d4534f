// Two views of the embeddings, each against hand-computed values: the patch
// embedding as a convolution (equal to patchify + linear), and the sinusoidal
// position table that ViT's learned pos_embed replaced.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "core/linear.h"
#include "core/patch.h"
#include "core/tokens.h"

using namespace vitrace;
using test::check_close;
using test::iota;

BOOST_AUTO_TEST_SUITE(embedding_views)

BOOST_AUTO_TEST_CASE(patch_embed_conv_by_hand) {
    // image [3, 4, 4] = 0..47, P = 2: four patches, two output channels.
    //   channel 0: every weight 1, bias 1 -> 1 + the sum of the patch over all channels,
    //              patch (0, 0): (0+1+4+5) + (16+17+20+21) + (32+33+36+37) = 222
    //   channel 1: only weight[1, 2, 1, 0] = 1, bias 0 -> image[2, 2·oy + 1, 2·ox],
    //              which checks the stride and the (channel, row, column) weight layout.
    Tensor weight = Tensor::zeros({2, 3, 2, 2});
    for (int i = 0; i < 12; i++) weight[i] = 1;
    weight[12 + (2 * 2 + 1) * 2 + 0] = 1;
    const Linear proj{weight, Tensor::from({2}, {1, 0})};
    Tensor out;
    patch_embed_conv(out, iota({3, 4, 4}), proj, 2);
    check_close("patch_embed_conv", out, Tensor::from({2, 2, 2}, {223, 247, 319, 343, 36, 38, 44, 46}), test::kExact);
}

BOOST_AUTO_TEST_CASE(patch_embed_conv_equals_patchify_then_linear) {
    // image [3, 8, 8], P = 4, C = 5: conv [C, h, w] against linear [h·w, C].
    Tensor image = Tensor::zeros({3, 8, 8});
    for (int64_t i = 0; i < image.numel(); i++) image[i] = static_cast<float>((i * 37) % 23) / 11.0f - 1.0f;
    Tensor weight = Tensor::zeros({5, 3, 4, 4});
    for (int64_t i = 0; i < weight.numel(); i++) weight[i] = static_cast<float>((i * 13) % 17) / 8.0f - 1.0f;
    const Linear proj{weight, Tensor::from({5}, {0.5f, -0.25f, 0, 1, -1})};

    Tensor conv, patches, tokens;
    patch_embed_conv(conv, image, proj, 4);
    patchify(patches, image, 4);
    linear(tokens, patches, proj);
    BOOST_REQUIRE(conv.shape == Shape({5, 2, 2}));
    // timm: x.flatten(2).transpose(1, 2), [C, h, w] -> [h·w, C]
    Tensor conv_as_tokens = Tensor::zeros({4, 5});
    for (int64_t c = 0; c < 5; c++)
        for (int64_t n = 0; n < 4; n++) conv_as_tokens[n * 5 + c] = conv[c * 4 + n];
    check_close("conv against patchify + linear", conv_as_tokens, tokens, test::kFastVsNaive);
}

BOOST_AUTO_TEST_CASE(patch_embed_conv_counts_macs_without_data) {
    Tensor out;
    take_macs();
    patch_embed_conv(out, Tensor::shape_only({3, 224, 224}), Linear{Tensor::shape_only({768, 3, 16, 16}), {}}, 16);
    BOOST_CHECK(out.shape == Shape({768, 14, 14}));
    BOOST_CHECK_EQUAL(take_macs(), int64_t{768} * 14 * 14 * 3 * 16 * 16);
}

BOOST_AUTO_TEST_CASE(sinusoidal_position_embedding_by_hand) {
    // C = 4: pair 0 has angle pos, pair 1 has angle pos / 10000^(2/4) = pos / 100.
    Tensor pe;
    sinusoidal_position_embedding(pe, 3, 4);
    check_close("sinusoidal_position_embedding", pe,
                Tensor::from({3, 4}, {0, 1, 0, 1,                                            // pos 0
                                      0.84147098f, 0.54030231f, 0.00999983f, 0.99995000f,    // pos 1
                                      0.90929743f, -0.41614684f, 0.01999867f, 0.99980001f}),  // pos 2
                test::kHandComputed);
}

BOOST_AUTO_TEST_SUITE_END()
