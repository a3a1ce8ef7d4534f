// The costs that `vitrace compare` prints, counted by the loops, against the
// closed forms of multi-head and window attention.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "core/swin.h"
#include "core/vit.h"
#include "core/cost.h"

using namespace vitrace;

BOOST_AUTO_TEST_SUITE(cost)

BOOST_AUTO_TEST_CASE(vit_msa_is_4NC2_plus_2N2C) {
    for (const char* name : {"vit_tiny_patch16_224", "vit_base_patch16_224", "vit_base_patch32_224"}) {
        const ModelConfig cfg = find_model(name);
        const ModelCost c = model_cost(cfg);
        const int64_t N = cfg.as<VitConfig>().tokens(), C = cfg.as<VitConfig>().width, hidden = cfg.as<VitConfig>().hidden();
        BOOST_REQUIRE_EQUAL(c.layers.size(), (size_t)cfg.as<VitConfig>().depth);
        for (const LayerCost& l : c.layers) {
            BOOST_CHECK_EQUAL(l.projection_macs + l.attention_macs, 4 * N * C * C + 2 * N * N * C);
            BOOST_CHECK_EQUAL(l.attention_macs, 2 * N * N * C);
            BOOST_CHECK_EQUAL(l.mlp_macs, 2 * N * C * hidden);
            BOOST_CHECK_EQUAL(l.matrices, cfg.as<VitConfig>().heads);
            BOOST_CHECK_EQUAL(l.matrix_side, N);
        }
    }
}

BOOST_AUTO_TEST_CASE(swin_wmsa_is_4hwC2_plus_2M2hwC) {
    for (const char* name : {"swin_tiny_patch4_window7_224", "swin_base_patch4_window12_384"}) {
        const ModelConfig cfg = find_model(name);
        const SwinConfig& w = cfg.as<SwinConfig>();
        const ModelCost c = model_cost(cfg);
        BOOST_REQUIRE_EQUAL(c.layers.size(), (size_t)w.stages());
        for (int s = 0; s < w.stages(); s++) {
            const LayerCost& l = c.layers[s];
            const int64_t hw = (int64_t)w.resolution(s) * w.resolution(s), C = w.channels(s), M = w.window_at(s);
            BOOST_CHECK_EQUAL(l.blocks, w.depths[s]);
            BOOST_CHECK_EQUAL(l.projection_macs + l.attention_macs, w.depths[s] * (4 * hw * C * C + 2 * M * M * hw * C));
            BOOST_CHECK_EQUAL(l.matrices, (hw / (M * M)) * w.heads[s]);
            BOOST_CHECK_EQUAL(l.matrix_side, M * M);
            // patch merging: (hw) tokens of 4·(C/2) channels reduced to C
            BOOST_CHECK_EQUAL(l.other_macs, s == 0 ? 0 : hw * 2 * C * C);
        }
    }
}

BOOST_AUTO_TEST_CASE(totals_match_the_published_figures) {
    const ModelCost vit = model_cost(find_model("vit_base_patch16_224"));
    const ModelCost swin = model_cost(find_model("swin_tiny_patch4_window7_224"));
    BOOST_CHECK_CLOSE(vit.total_macs / 1e9, 17.56, 1.0);  // percent
    BOOST_CHECK_CLOSE(swin.total_macs / 1e9, 4.49, 1.0);
    for (const ModelCost* c : {&vit, &swin}) {
        int64_t sum = c->embed_macs + c->head_macs;
        for (const LayerCost& l : c->layers) sum += l.total_macs();
        BOOST_CHECK_EQUAL(sum, c->total_macs);
    }
}

BOOST_AUTO_TEST_CASE(counted_macs_equal_a_real_run) {
    // The shape-only count and a run that computes every value count the same.
    ModelConfig cfg = find_model("swin_tiny_patch4_window7_224");
    ConfigOverrides o;
    o["--image-size"] = FlagValue{32};
    o["--patch"] = FlagValue{2};
    o["--width"] = FlagValue{8};
    o["--depth"] = FlagValue{2, 2};
    o["--heads"] = FlagValue{2, 2};
    o["--window"] = FlagValue{4};
    apply_overrides(cfg, o);
    Model m = make_model(cfg);
    init_random(m, 1);
    Trace trace;
    forward(m, Tensor::zeros({3, 32, 32}), trace);
    int64_t counted = 0;
    for (const Step& s : trace.steps()) counted += s.macs;
    BOOST_CHECK_EQUAL(counted, model_cost(cfg).total_macs);
}

BOOST_AUTO_TEST_SUITE_END()
