// The forward pass's memory: big blocks on 2 MiB boundaries, prepare()'s
// zeros, and the workspace that one forward pass leaves to the next.
#include <boost/test/unit_test.hpp>

#include <sys/mman.h>

#include <cstdint>
#include <vector>

#include "core/linear.h"
#include "core/model.h"
#include "core/params.h"
#include "core/swin.h"
#include "core/vit.h"

using namespace vitrace;

namespace {

// A small model of each family (vit_shapes and swin_shapes, 64 x 64), with seeded weights.
Model small_model(const char* name) {
    Model m = make_model(find_model(name));
    init_random(m, 3);
    return m;
}

Tensor test_image(int S) {
    Tensor x = Tensor::zeros({3, S, S});
    for (int64_t i = 0; i < x.numel(); i++) x[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
    return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(workspace)

BOOST_AUTO_TEST_CASE(big_blocks_start_on_a_huge_page_and_small_ones_work_as_usual) {
    const Tensor big = Tensor::zeros({1024, 1024});  // 4 MiB
    BOOST_CHECK_EQUAL(reinterpret_cast<uintptr_t>(big.ptr()) % (2u << 20), 0u);
    const Tensor odd = Tensor::zeros({300001});  // 1.2 MB: not a whole number of pages
    BOOST_CHECK_EQUAL(reinterpret_cast<uintptr_t>(odd.ptr()) % (2u << 20), 0u);
    BOOST_CHECK_EQUAL(odd[300000], 0.0f);
    const Tensor small = Tensor::from({3}, {1, 2, 3});
    BOOST_CHECK_EQUAL(small[2], 3.0f);
    for (int64_t i = 0; i < big.numel(); i += 4099) BOOST_REQUIRE_EQUAL(big[i], 0.0f);
}

BOOST_AUTO_TEST_CASE(prepare_zeroes_what_it_adds_and_keeps_its_allocation) {
    const Tensor like = Tensor::zeros({1});
    Tensor out;
    prepare(out, {600000}, like);
    for (int64_t i = 0; i < out.numel(); i += 997) out[i] = 5.0f;
    const float* at = out.ptr();
    prepare(out, {10}, like);       // smaller: the same block
    prepare(out, {600000}, like);   // back: the same block, and the new part is zero
    BOOST_CHECK(out.ptr() == at);
    BOOST_CHECK_EQUAL(out[5 * 997], 0.0f);
    BOOST_CHECK_EQUAL(out[0], 5.0f);  // the part that stayed keeps its value, as std::vector::resize does
}

BOOST_AUTO_TEST_CASE(a_planned_workspace_lies_side_by_side_from_a_huge_page) {
    // Three buffers planned as a forward pass plans them: `a` first small, then
    // grown after `b`, as Swin's `hidden` holds the patches before the MLP's
    // hidden layer. When planning ends they lie side by side, in the order they
    // were first planned, from a 2 MiB boundary: no gap where `a` first was.
    struct Buffers {
        Tensor a, b, c;
    };
    Workspace w;
    Buffers& t = w.as<Buffers>();
    const Tensor shapes = Tensor::shape_only({1});
    {
        PlanningScope planning(&w);
        prepare(t.a, {1000}, shapes);
        {
            Tensor elsewhere;  // not in the workspace: a temporary of the pass
            prepare(elsewhere, {5000}, shapes);
        }
        prepare(t.b, {300000}, shapes);
        prepare(t.a, {500000}, shapes);
        assign_zeros(t.c, {40});  // computed in the pass: its values stay
        t.c[3] = 7.0f;
        BOOST_CHECK_EQUAL(planning.bytes(), int64_t{4} * (1000 + 5000 + 300000 + 500000 + 40));
    }
    const auto at = [](const Tensor& x) { return reinterpret_cast<uintptr_t>(x.data.data()); };
    BOOST_CHECK_EQUAL(at(t.a) % (2u << 20), 0u);
    BOOST_CHECK_GE(t.a.data.capacity(), 500000u);
    BOOST_CHECK_GE(t.b.data.capacity(), 300000u);
    // Each block begins within two cache lines (an alignment and, under
    // AddressSanitizer, a poisoned line) of the end of the one before.
    BOOST_CHECK_GE(at(t.b), at(t.a) + 4 * 500000);
    BOOST_CHECK_LE(at(t.b), at(t.a) + 4 * 500000 + 128);
    BOOST_CHECK_GE(at(t.c), at(t.b) + 4 * 300000);
    BOOST_CHECK_LE(at(t.c), at(t.b) + 4 * 300000 + 128);
    BOOST_CHECK_EQUAL(t.c.numel(), 40);
    BOOST_CHECK_EQUAL(t.c[3], 7.0f);
    BOOST_CHECK_EQUAL(t.c[4], 0.0f);
    // The buffers work as any other: written, grown past their plan, freed.
    for (int64_t i = 0; i < 300000; i += 1009) t.b.data.push_back(1.0f);
    prepare(t.a, {600000}, Tensor::zeros({1}));
    BOOST_CHECK_EQUAL(t.a[599999], 0.0f);
}

BOOST_AUTO_TEST_CASE(a_workspace_larger_than_one_mapping_takes_more) {
    // A mapping holds 64 MiB: `a` (40 MB) and then `b` (32 MB) need two, and
    // `a` then grows, freeing its block in the first mapping, which is full.
    struct Buffers {
        Tensor a, b;
    };
    Workspace w;
    Buffers& t = w.as<Buffers>();
    const Tensor shapes = Tensor::shape_only({1});
    {
        PlanningScope planning(&w);
        prepare(t.a, {10'000'000}, shapes);
        prepare(t.b, {8'000'000}, shapes);
        prepare(t.a, {12'000'000}, shapes);
    }
    BOOST_CHECK_GE(t.a.data.capacity(), 12'000'000u);
    BOOST_CHECK_GE(t.b.data.capacity(), 8'000'000u);
    const Tensor like = Tensor::zeros({1});
    prepare(t.a, {12'000'000}, like);
    prepare(t.b, {8'000'000}, like);
    t.a[11'999'999] = 1.0f;
    t.b[7'999'999] = 2.0f;
    BOOST_CHECK_EQUAL(t.a[0], 0.0f);  // the planned block held NaN bytes; prepare zeroed what it gained
    BOOST_CHECK_EQUAL(t.a[11'999'999] + t.b[7'999'999], 3.0f);
    w.buffers.reset();  // both mappings given back: nothing left to check but that it does not fail
}

BOOST_AUTO_TEST_CASE(an_arena_scope_lays_its_blocks_side_by_side_and_unmaps_with_the_last) {
    // Blocks made under an ArenaScope (a model's weights) share one mapping
    // from a 2 MiB boundary, small ones too; a block freed while the scope
    // lives leaves a gap the next block that fits takes. The mapping goes back
    // to the kernel with its last block, whether freed in or after the scope.
    const auto at = [](const Floats& x) { return reinterpret_cast<uintptr_t>(x.data()); };
    const auto mapped = [](uintptr_t address) {  // mincore fails with ENOMEM on an unmapped page
        unsigned char resident = 0;
        return mincore(reinterpret_cast<void*>(address & ~uintptr_t{4095}), 4096, &resident) == 0;
    };
    std::vector<Floats> kept;
    uintptr_t base = 0;
    {
        const ArenaScope arena;
        Floats first(1000), temporary(70000), second(30000);  // 4 KB, 280 KB, 120 KB: below the big-block size
        base = at(first);
        BOOST_CHECK_EQUAL(base % (2u << 20), 0u);
        BOOST_CHECK_GE(at(temporary), base + 4 * 1000);
        BOOST_CHECK_LE(at(temporary), base + 4 * 1000 + 128);
        BOOST_CHECK_GE(at(second), at(temporary) + 4 * 70000);
        BOOST_CHECK_LE(at(second), at(temporary) + 4 * 70000 + 128);
        const uintptr_t gap = at(temporary);
        Floats().swap(temporary);
        Floats third(50000);  // 200 KB: fits where `temporary` was
        BOOST_CHECK_EQUAL(at(third), gap);
        for (size_t i = 0; i < third.size(); i++) third[i] = static_cast<float>(i);
        kept.push_back(std::move(first));
        kept.push_back(std::move(second));
        kept.push_back(std::move(third));
    }
    BOOST_CHECK_EQUAL(kept[2][49999], 49999.0f);
    {
        const ArenaScope next;  // a new scope starts a mapping of its own
        const Floats other(10);
        BOOST_CHECK_EQUAL(at(other) % (2u << 20), 0u);
        BOOST_CHECK_NE(at(other), base);
    }
    BOOST_CHECK(mapped(base));
    kept.pop_back();
    kept.pop_back();
    BOOST_CHECK(mapped(base));  // `first` still holds it
    kept.clear();
    BOOST_CHECK(!mapped(base));
}

BOOST_AUTO_TEST_CASE(planned_workspace_is_not_reallocated_by_any_forward_pass) {
    for (const char* name : {"vit_shapes", "swin_shapes"}) {
        BOOST_TEST_CONTEXT(name) {
            const Model m = small_model(name);
            const int S = m.config.image_size();
            const int64_t bytes = plan_workspace(m);
            BOOST_CHECK_GT(bytes, 0);
            // Every buffer's block, as the plan left it.
            auto blocks = [&] {
                std::vector<const float*> at;
                if (name[0] == 'v') {
                    const VitBuffers& b = m.workspace->as<VitBuffers>();
                    for (const Tensor* t : {&b.patches, &b.x, &b.xn, &b.attn.qkv, &b.attn.qkvh, &b.attn.attn,
                                            &b.attn.o, &b.attn.merged, &b.branch, &b.hidden})
                        at.push_back(t->data.data());
                } else {
                    const SwinBuffers& b = m.workspace->as<SwinBuffers>();
                    for (const Tensor* t : {&b.x, &b.xn, &b.windows, &b.attn.qkv,
                                            &b.attn.qkvh, &b.attn.attn, &b.attn.o, &b.attn.merged, &b.branch,
                                            &b.hidden})
                        at.push_back(t->data.data());
                }
                return at;
            };
            const std::vector<const float*> planned = blocks();
            for (const float* p : planned) BOOST_CHECK(p != nullptr);
            Trace first({.values = ValuesMode::None}), second({.values = ValuesMode::None});
            const ModelOutput a = forward(m, test_image(S), first);
            BOOST_CHECK(blocks() == planned);
            const ModelOutput b = forward(m, test_image(S), second);
            BOOST_CHECK(blocks() == planned);
            // The second pass, on buffers the first one left full, gives the same bits.
            BOOST_CHECK(a.logits.data == b.logits.data);
            // Planning fills its blocks with NaN bytes, and the operations that
            // prepare their output to overwrite it leave them unzeroed: an
            // element that one of them forgot would be NaN here, and differ
            // from a model that never planned.
            Model unplanned = m;
            unplanned.workspace = std::make_shared<Workspace>();
            Trace third({.values = ValuesMode::None});
            const ModelOutput c = forward(unplanned, test_image(S), third);
            BOOST_CHECK(a.logits.data == c.logits.data);
            for (const Step& s : first.steps())
                BOOST_CHECK_MESSAGE(s.stats.nonfinite == 0, s.name << " has non-finite values");
            BOOST_CHECK_EQUAL(first.steps().size(), second.steps().size());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_fresh_model_gives_the_same_output_as_a_reused_workspace) {
    // The workspace holds no state between passes: a model that has run on
    // another image gives the bits a fresh copy gives.
    const Model m = small_model("swin_shapes");
    Trace t1, t2, t3;
    Tensor other = test_image(64);
    for (int64_t i = 0; i < other.numel(); i++) other[i] = -other[i] * 0.5f;
    forward(m, other, t1);
    const ModelOutput reused = forward(m, test_image(64), t2);
    Model fresh = m;
    fresh.workspace = std::make_shared<Workspace>();
    const ModelOutput clean = forward(fresh, test_image(64), t3);
    BOOST_CHECK(reused.logits.data == clean.logits.data);
}

BOOST_AUTO_TEST_CASE(packed_weights_give_the_same_bits_and_keep_every_shape) {
    // pack_weights, as trace and bench run it after loading: every step of the
    // forward pass has the same statistics and the logits the same bits, and
    // every parameter keeps its timm name and shape.
    for (const char* name : {"vit_shapes", "swin_shapes", "vit_tiny_patch16_224"}) {
        BOOST_TEST_CONTEXT(name) {
            const Model plain = small_model(name);
            Model packed = plain;
            packed.workspace = std::make_shared<Workspace>();
            pack_weights(packed);
            int linears = 0;
            EachLinear each{[&](const std::string&, Linear& l) { linears += l.is_packed(); }};
            packed.config.family->visit_linears(packed.weights, packed.config.params, each);
            BOOST_CHECK_GT(linears, 0);
            std::vector<std::pair<std::string, Shape>> before, after;
            Model copy = plain;
            visit_params(copy, [&](const std::string& n, Tensor& t, ParamKind, int64_t) { before.push_back({n, t.shape}); });
            visit_params(packed, [&](const std::string& n, Tensor& t, ParamKind, int64_t) { after.push_back({n, t.shape}); });
            BOOST_CHECK(before == after);

            const int S = plain.config.image_size();
            Trace t1({.values = ValuesMode::None}), t2({.values = ValuesMode::None});
            const ModelOutput a = forward(plain, test_image(S), t1);
            const ModelOutput b = forward(packed, test_image(S), t2);
            BOOST_CHECK(a.logits.data == b.logits.data);
            BOOST_REQUIRE_EQUAL(t1.steps().size(), t2.steps().size());
            for (size_t i = 0; i < t1.steps().size(); i++) {
                BOOST_TEST_CONTEXT(t1.steps()[i].name) {
                    BOOST_CHECK_EQUAL(t1.steps()[i].stats.mean, t2.steps()[i].stats.mean);
                    BOOST_CHECK_EQUAL(t1.steps()[i].stats.std, t2.steps()[i].stats.std);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(weights_made_packed_are_the_bits_that_packing_gives) {
    // init_random with Packing::Packed, as trace and bench load random
    // weights, against init_random then pack_weights: the same floats in the
    // same places, padding included (vit_tiny's 1000-class head fills 31
    // panels and 8 rows of a 32nd; swin_shapes' widths are not whole panels).
    for (const char* name : {"vit_shapes", "swin_shapes", "vit_tiny_patch16_224"}) {
        BOOST_TEST_CONTEXT(name) {
            Model packed_after = make_model(find_model(name));
            init_random(packed_after, 11);
            pack_weights(packed_after);
            Model made_packed = make_model(find_model(name));
            init_random(made_packed, 11, Packing::Packed);

            std::vector<Linear*> a, b;
            EachLinear each_a{[&](const std::string&, Linear& l) { a.push_back(&l); }};
            EachLinear each_b{[&](const std::string&, Linear& l) { b.push_back(&l); }};
            packed_after.config.family->visit_linears(packed_after.weights, packed_after.config.params, each_a);
            made_packed.config.family->visit_linears(made_packed.weights, made_packed.config.params, each_b);
            BOOST_REQUIRE_EQUAL(a.size(), b.size());
            int partial = 0;
            for (size_t i = 0; i < a.size(); i++) {
                BOOST_CHECK(b[i]->is_packed());
                BOOST_CHECK(!b[i]->weight.has_data());
                BOOST_CHECK(a[i]->weight.shape == b[i]->weight.shape);
                BOOST_CHECK(a[i]->packed == b[i]->packed);
                partial += a[i]->weight.dim(0) % weight_panel_rows() != 0;
            }
            if (std::string(name) == "vit_tiny_patch16_224") BOOST_CHECK_GT(partial, 0);

            // Every other parameter (biases, norms, tokens, tables) as before.
            std::vector<std::vector<float>> rest_a, rest_b;
            visit_params(packed_after, [&](const std::string&, Tensor& t, ParamKind, int64_t) {
                rest_a.emplace_back(t.data.begin(), t.data.end());
            });
            visit_params(made_packed, [&](const std::string&, Tensor& t, ParamKind, int64_t) {
                rest_b.emplace_back(t.data.begin(), t.data.end());
            });
            BOOST_CHECK(rest_a == rest_b);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
