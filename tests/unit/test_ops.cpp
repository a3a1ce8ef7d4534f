// Each operation on a small case worked out by hand.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "../test_util.h"
#include "core/swin.h"
#include "core/vit.h"
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
