// Each operation on a small case worked out by hand.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "../test_util.h"
#include "core/swin.h"
#include "core/vit.h"
#include "core/activation.h"
#include "core/attention.h"
#include "core/layernorm.h"
#include "core/model.h"
#include "core/patch.h"
#include "core/tokens.h"

using namespace vitrace;
using test::check_close;
using test::iota;

BOOST_AUTO_TEST_SUITE(ops)

BOOST_AUTO_TEST_CASE(layernorm_by_hand) {
    // row [1, 2, 3, 4]: mean 2.5, variance 1.25
    LayerNorm ln{Tensor::from({4}, {1, 1, 2, 2}), Tensor::from({4}, {0, 0, 0, 1}), 1e-6f};
    Tensor y;
    layernorm(y, Tensor::from({1, 4}, {1, 2, 3, 4}), ln);
    const float r = 1.0f / std::sqrt(1.25f + 1e-6f);
    check_close("layernorm", y, Tensor::from({1, 4}, {-1.5f * r, -0.5f * r, 2 * 0.5f * r, 2 * 1.5f * r + 1}),
                test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(softmax_rows_by_hand) {
    // e^0 : e^1 : e^2 normalised; a row of huge values must not overflow.
    Tensor x = Tensor::from({2, 3}, {1, 2, 3, 1000, 1001, 1000});
    softmax_rows(x);
    const float e = std::exp(1.0f);
    const float z = 1 + e + e * e;
    check_close("softmax", x, Tensor::from({2, 3}, {1 / z, e / z, e * e / z, 1 / (2 + e), e / (2 + e), 1 / (2 + e)}),
                test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(split_heads_moves_every_value_where_timm_does) {
    // qkv [T=2, 3C] with C=4, heads=2, head_dim=2: out[s, h, t, d] = qkv[t, s·C + h·head_dim + d]
    const Tensor qkv = iota({2, 12});
    Tensor out;
    split_heads(out, qkv, 2);
    BOOST_REQUIRE(out.shape == Shape({3, 2, 2, 2}));
    for (int s = 0; s < 3; s++)
        for (int h = 0; h < 2; h++)
            for (int t = 0; t < 2; t++)
                for (int d = 0; d < 2; d++)
                    BOOST_CHECK_EQUAL(out[((s * 2 + h) * 2 + t) * 2 + d], qkv[t * 12 + s * 4 + h * 2 + d]);
}

BOOST_AUTO_TEST_CASE(split_heads_keeps_leading_window_axis) {
    Tensor out;
    split_heads(out, Tensor::shape_only({4, 49, 3 * 96}), 3);
    BOOST_CHECK(out.shape == Shape({3, 4, 3, 49, 32}));
}

BOOST_AUTO_TEST_CASE(merge_heads_undoes_the_head_split) {
    // o [heads=2, T=3, head_dim=2] -> out[t, h·2 + d] = o[h, t, d]
    const Tensor o = iota({2, 3, 2});
    Tensor out;
    merge_heads(out, o);
    BOOST_REQUIRE(out.shape == Shape({3, 4}));
    check_close("merge_heads", out, Tensor::from({3, 4}, {0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}), test::kExact);
}

BOOST_AUTO_TEST_CASE(attention_by_hand) {
    // one head, T=2, head_dim=2: q = [[1,0],[0,1]], k = [[1,1],[2,0]], v = [[1,2],[3,4]]
    const Tensor qkvh = Tensor::from({3, 1, 2, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 1, 2, 3, 4});
    Tensor scores;
    take_macs();
    attention_scores(scores, qkvh);
    BOOST_CHECK_EQUAL(take_macs(), 2 * 2 * 2);
    check_close("q·kᵀ", scores, Tensor::from({1, 2, 2}, {1, 2, 1, 0}), test::kExact);
    scale_scores(scores, 0.5f);
    check_close("scale", scores, Tensor::from({1, 2, 2}, {0.5f, 1, 0.5f, 0}), test::kExact);
    Tensor attn = Tensor::from({1, 2, 2}, {0.25f, 0.75f, 1, 0});
    Tensor o;
    weighted_sum(o, attn, qkvh);
    check_close("attn·v", o, Tensor::from({1, 2, 2}, {2.5f, 3.5f, 1, 2}), test::kExact);
}

BOOST_AUTO_TEST_CASE(patchify_orders_channel_row_column) {
    // image [3, 4, 4], P = 2: patch n = py·2 + px holds image[c, 2py + ky, 2px + kx] at (c·2 + ky)·2 + kx
    const Tensor img = iota({3, 4, 4});
    Tensor patches;
    patchify(patches, img, 2);
    BOOST_REQUIRE(patches.shape == Shape({4, 12}));
    // patch 1 is the top-right 2x2 block: columns 2..3 of rows 0..1
    check_close("patch 1", &patches[12], Tensor::from({12}, {2, 3, 6, 7, 18, 19, 22, 23, 34, 35, 38, 39}).ptr(),
                12, test::kExact);
}

BOOST_AUTO_TEST_CASE(patchify_hwc_orders_row_column_channel) {
    // The same image and patches as above, each flattened (ky, kx, c): column (ky·2 + kx)·3 + c.
    // Patch 1 (top-right): pixels (0, 2), (0, 3), (1, 2), (1, 3), each red, green, blue.
    const Tensor img = iota({3, 4, 4});
    Tensor patches;
    patchify_hwc(patches, img, 2);
    BOOST_REQUIRE(patches.shape == Shape({4, 12}));
    check_close("patch 1", &patches[12], Tensor::from({12}, {2, 18, 34, 3, 19, 35, 6, 22, 38, 7, 23, 39}).ptr(), 12,
                test::kExact);
}

BOOST_AUTO_TEST_CASE(conv_patches_without_padding_are_the_patches) {
    // kernel = stride = P, no padding, on an image: exactly patchify's patches
    const Tensor img = iota({3, 6, 6});
    Tensor a, b;
    patchify(a, img, 3);
    conv_patches(b, img, false, 3, 3, 0);
    BOOST_REQUIRE(b.shape == a.shape);
    check_close("conv_patches", b, a, test::kExact);
}

BOOST_AUTO_TEST_CASE(conv_patches_pad_with_zeros) {
    // ml-cvnets' first stem conv: kernel 4, stride 4, padding 1. A 6x6 map gives
    // (6 + 2 - 4) / 4 + 1 = 2 outputs a side; output (0, 0) reads rows and columns -1..2.
    const Tensor x = iota({6, 6, 1});  // channels-last, one channel: value 6·y + x
    Tensor cols;
    conv_patches(cols, x, true, 4, 4, 1);
    BOOST_REQUIRE(cols.shape == Shape({4, 16}));
    // output (0, 0): row -1 is padding; rows 0..2, columns -1..2
    check_close("output (0, 0)", &cols[0],
                Tensor::from({16}, {0, 0, 0, 0, 0, 0, 1, 2, 0, 6, 7, 8, 0, 12, 13, 14}).ptr(), 16, test::kExact);
    // output (1, 1): rows 3..6 and columns 3..6, the 7th row and column (index 6) are padding
    check_close("output (1, 1)", &cols[48],
                Tensor::from({16}, {21, 22, 23, 0, 27, 28, 29, 0, 33, 34, 35, 0, 0, 0, 0, 0}).ptr(), 16, test::kExact);
}

BOOST_AUTO_TEST_CASE(conv_patches_times_the_kernel_is_the_convolution) {
    // A padded, strided 2-channel convolution as im2col + linear, against the sum
    // out[co, oy, ox] = Σ_ci Σ_ky Σ_kx w[co, ci, ky, kx] · x[ci, oy·s - pad + ky, ox·s - pad + kx], written out here.
    const int Cin = 2, H = 7, k = 3, s = 2, pad = 1, Cout = 3;
    Tensor x = iota({H, H, Cin});  // channels-last
    for (int64_t i = 0; i < x.numel(); i++) x[i] = std::sin(0.7f * (float)i);
    Linear conv{iota({Cout, Cin, k, k}), {}};
    for (int64_t i = 0; i < conv.weight.numel(); i++) conv.weight[i] = std::cos(0.3f * (float)i);
    Tensor cols, out;
    conv_patches(cols, x, true, k, s, pad);
    linear(out, cols, conv);
    const int oh = (H + 2 * pad - k) / s + 1;
    BOOST_REQUIRE(out.shape == Shape({oh * oh, Cout}));
    for (int co = 0; co < Cout; co++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < oh; ox++) {
                double sum = 0;
                for (int ci = 0; ci < Cin; ci++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            const int y = oy * s - pad + ky, xx = ox * s - pad + kx;
                            if (y < 0 || y >= H || xx < 0 || xx >= H) continue;
                            sum += (double)conv.weight[((co * Cin + ci) * k + ky) * k + kx] * x[(y * H + xx) * Cin + ci];
                        }
                BOOST_CHECK_CLOSE_FRACTION(out[(oy * oh + ox) * Cout + co] + 10.0, sum + 10.0, 1e-6);
            }
}

BOOST_AUTO_TEST_CASE(batchnorm_by_hand) {
    // (x - mean) / sqrt(var + eps) · w + b per channel: channel 0 mean 1 var 4, channel 1 mean -1 var 0.25
    BatchNorm bn{Tensor::from({2}, {2, 1}), Tensor::from({2}, {0.5f, 0}), Tensor::from({2}, {1, -1}),
                 Tensor::from({2}, {4, 0.25f}), 0.0f};
    Tensor y;
    batchnorm(y, Tensor::from({2, 2}, {3, 0, -1, -1.5f}), bn);
    check_close("batchnorm", y, Tensor::from({2, 2}, {2 * 1 + 0.5f, 2, 2 * -1 + 0.5f, -1}), test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(silu_and_relu_by_hand) {
    Tensor y;
    silu(y, Tensor::from({4}, {0, 1, -2, 20}));
    // x / (1 + e^-x): 0, 1 / (1 + 1/e), -2 / (1 + e²), ~20
    check_close("silu", y, Tensor::from({4}, {0, 0.7310586f, -0.2384058f, 20.0f}), test::kHandComputed);
    relu(y, Tensor::from({3}, {-1, 0, 2.5f}));
    check_close("relu", y, Tensor::from({3}, {0, 0, 2.5f}), test::kExact);
}

BOOST_AUTO_TEST_CASE(attention_with_heads_apart_from_the_width) {
    // vit-pytorch's dim_head: width 2, 2 heads of 3 (inner 6), qkv [T, 18], proj [2, 6];
    // the scale is 3^-0.5 (dim_head, not width / heads). With proj weight = identity rows,
    // the output's channels are the first two merged channels.
    const int T = 2, C = 2, heads = 2, d = 3, inner = heads * d;
    Linear qkv{iota({3 * inner, C}), {}}, proj{Tensor::from({C, inner}, std::vector<float>(C * inner, 0.0f)), {}};
    for (int64_t i = 0; i < qkv.weight.numel(); i++) qkv.weight[i] = 0.1f * std::sin((float)i);
    proj.weight[0 * inner + 0] = 1, proj.weight[1 * inner + 4] = 1;  // out = merged[:, 0], merged[:, 4]
    const Tensor x = Tensor::from({T, C}, {1, -0.5f, 0.25f, 2});
    AttentionBuffers t;
    Trace trace;
    Tensor out;
    multi_head_attention(out, x, qkv, proj, heads, nullptr, {{}, "N"}, {}, t, trace);
    BOOST_REQUIRE(t.qkv.shape == Shape({T, 3 * inner}));
    BOOST_REQUIRE(t.merged.shape == Shape({T, inner}));
    BOOST_REQUIRE(out.shape == Shape({T, C}));
    // by hand, with the layout (3, heads, d) of qkv's columns
    for (int q = 0; q < T; q++)
        for (int c = 0; c < C; c++) {
            const int h = c == 0 ? 0 : 1, j = c == 0 ? 0 : 1;  // merged column 0 = head 0 dim 0; 4 = head 1 dim 1
            double s[2], z = 0, o = 0;
            for (int kk = 0; kk < T; kk++) {
                double dot = 0;
                for (int e = 0; e < d; e++) dot += (double)t.qkv[q * 3 * inner + h * d + e] * t.qkv[kk * 3 * inner + inner + h * d + e];
                s[kk] = std::exp(dot / std::sqrt(3.0));
                z += s[kk];
            }
            for (int kk = 0; kk < T; kk++) o += s[kk] / z * t.qkv[kk * 3 * inner + 2 * inner + h * d + j];
            BOOST_CHECK_CLOSE_FRACTION(out[q * C + c] + 10.0, o + 10.0, 1e-6);
        }
    // Without a proj (shape {}), the output is the merged heads.
    Tensor merged_only;
    multi_head_attention(merged_only, x, qkv, Linear{}, heads, nullptr, {{}, "N"}, {}, t, trace);
    check_close("no proj", merged_only, t.merged, test::kExact);
}

BOOST_AUTO_TEST_CASE(patch_merge_channel_order) {
    // x [2, 2, C=1] = [[a, b], [c, d]] -> [x[0,0], x[1,0], x[0,1], x[1,1]] = [a, c, b, d]
    Tensor out;
    patch_merge(out, Tensor::from({2, 2, 1}, {1, 2, 3, 4}));
    BOOST_REQUIRE(out.shape == Shape({1, 1, 4}));
    check_close("patch_merge", out, Tensor::from({1, 1, 4}, {1, 3, 2, 4}), test::kExact);
}

BOOST_AUTO_TEST_CASE(cls_token_position_embedding_and_pooling) {
    Tensor x;
    insert_tokens(x, Tensor::from({2, 2}, {1, 2, 3, 4}), Tensor::from({1, 1, 2}, {9, 8}), 0);
    check_close("cls", x, Tensor::from({3, 2}, {9, 8, 1, 2, 3, 4}), test::kExact);
    add(x, x, Tensor::from({1, 3, 2}, {1, 1, 1, 1, 1, 1}));
    check_close("pos", x, Tensor::from({3, 2}, {10, 9, 2, 3, 4, 5}), test::kExact);
    Tensor p;
    pool_first_token(p, x);
    check_close("pool token", p, Tensor::from({2}, {10, 9}), test::kExact);
    pool_mean(p, x, 1);
    check_close("pool mean", p, Tensor::from({2}, {3, 4}), test::kExact);
}

BOOST_AUTO_TEST_CASE(config_errors_name_the_problem) {
    auto message = [](auto&& mutate) -> std::string {
        VitConfig c;
        mutate(c);
        try {
            validate_config(vit_family(), c);
        } catch (const Error& e) {
            BOOST_CHECK(e.kind == ErrorKind::Config);
            return e.what();
        }
        return "";
    };
    BOOST_CHECK(message([](VitConfig& c) { c.image_size = 225; }).find("not divisible by patch size 16") != std::string::npos);
    BOOST_CHECK(message([](VitConfig& c) { c.heads = 5; }).find("heads 5 do not divide width 768") != std::string::npos);
    BOOST_CHECK(message([](VitConfig& c) { c.depth = 0; }).find("depth must be positive") != std::string::npos);
    BOOST_CHECK(message([](VitConfig& c) { c.patch = -4; }).find("patch size must be positive") != std::string::npos);
    BOOST_CHECK(message([](VitConfig&) {}).empty());
}

BOOST_AUTO_TEST_CASE(unknown_model_lists_the_known_ones) {
    try {
        find_model("vit_huge");
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_CHECK(e.kind == ErrorKind::Config);
        BOOST_CHECK(std::string(e.what()).find("vit_base_patch16_224") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(random_init_is_seeded_and_bounded) {
    ModelConfig cfg = find_model("vit_tiny_patch16_224");
    ConfigOverrides o;
    o["--image-size"] = FlagValue{32};
    o["--depth"] = FlagValue{1};
    apply_overrides(cfg, o);
    Model a = make_model(cfg), b = make_model(cfg), c = make_model(cfg);
    init_random(a, 7);
    init_random(b, 7);
    init_random(c, 8);
    BOOST_CHECK(a.as<VitWeights>().blocks[0].qkv.weight.data == b.as<VitWeights>().blocks[0].qkv.weight.data);
    BOOST_CHECK(a.as<VitWeights>().blocks[0].qkv.weight.data != c.as<VitWeights>().blocks[0].qkv.weight.data);
    // qkv: fan_in 192, so every weight lies within ±1/sqrt(192)
    float mx = 0;
    for (float v : a.as<VitWeights>().blocks[0].qkv.weight.data) mx = std::max(mx, std::fabs(v));
    BOOST_CHECK(mx <= 1 / std::sqrt(192.0f));
    BOOST_CHECK(mx > 0.9f / std::sqrt(192.0f));
    BOOST_CHECK(a.as<VitWeights>().blocks[0].norm1.weight.data == Floats(192, 1.0f));
}

BOOST_AUTO_TEST_CASE(top_k_orders_by_score) {
    const auto top = top_k(Tensor::from({4}, {0, 2, 1, 2}), 3, {"a", "b", "c", "d"});
    BOOST_REQUIRE_EQUAL(top.size(), 3u);
    BOOST_CHECK_EQUAL(top[0].index, 1);  // ties keep the lower index first
    BOOST_CHECK_EQUAL(top[1].index, 3);
    BOOST_CHECK_EQUAL(top[2].label, "c");
    const double z = 1 + 2 * std::exp(2.0) + std::exp(1.0);
    BOOST_CHECK_CLOSE(top[0].score, std::exp(2.0) / z, 1e-9);
}

BOOST_AUTO_TEST_CASE(shape_only_forward_gives_every_shape) {
    const ModelConfig cfg = find_model("vit_base_patch16_224");
    const Model m = make_model(cfg);
    Trace trace;
    const Tensor logits = forward(m, Tensor::shape_only({3, 224, 224}), trace).logits;
    BOOST_CHECK(logits.shape == Shape({1000}));
    BOOST_CHECK_EQUAL(trace.steps().size(), 4u + 12 * 15 + 3);  // embedding, 15 per block, norm + pool + head
    const Step* s = trace.find("blocks.11.attn.softmax");
    BOOST_REQUIRE(s);
    BOOST_CHECK(s->shape == Shape({12, 197, 197}));
    BOOST_CHECK(!s->computed);
    int64_t macs = 0;
    for (const Step& st : trace.steps()) macs += st.macs;
    // patch embedding 196·768·768, 12 blocks of 4NC² + 2N²C + 2·N·C·4C, head 768·1000
    const int64_t N = 197, C = 768;
    BOOST_CHECK_EQUAL(macs, 196 * C * C + 12 * (4 * N * C * C + 2 * N * N * C + 8 * N * C * C) + C * 1000);
}

BOOST_AUTO_TEST_SUITE_END()
