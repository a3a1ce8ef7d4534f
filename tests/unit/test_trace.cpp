// The trace: globs, one-pass statistics, how many values each step keeps.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "../test_util.h"
#include "core/trace.h"

using namespace vitrace;

BOOST_AUTO_TEST_SUITE(trace)

BOOST_AUTO_TEST_CASE(glob_patterns) {
    BOOST_CHECK(glob_match("blocks.3.attn.softmax", "blocks.3.attn.softmax"));
    BOOST_CHECK(glob_match("blocks.*.attn.softmax", "blocks.11.attn.softmax"));
    BOOST_CHECK(glob_match("*softmax", "layers.1.blocks.0.attn.softmax"));
    BOOST_CHECK(glob_match("blocks.?.norm1", "blocks.3.norm1"));
    BOOST_CHECK(!glob_match("blocks.?.norm1", "blocks.10.norm1"));
    BOOST_CHECK(glob_match("*", ""));
    BOOST_CHECK(!glob_match("blocks.3.*", "blocks.30"));
    BOOST_CHECK(glob_match("a*b*c", "axxbyybzzc"));
    BOOST_CHECK(!glob_match("a*b*c", "axxbyybzz"));
}

BOOST_AUTO_TEST_CASE(stats_by_hand) {
    const float x[] = {1, 2, 3, 4};
    const Stats s = compute_stats(x, 4);
    BOOST_CHECK_EQUAL(s.min, 1);
    BOOST_CHECK_EQUAL(s.max, 4);
    BOOST_CHECK_CLOSE(s.mean, 2.5, 1e-9);
    BOOST_CHECK_CLOSE(s.std, std::sqrt(1.25), 1e-6);  // population std
    BOOST_CHECK_EQUAL(s.nonfinite, 0);
}

BOOST_AUTO_TEST_CASE(stats_leave_out_nonfinite_values) {
    const float x[] = {1, std::numeric_limits<float>::quiet_NaN(), 3, std::numeric_limits<float>::infinity()};
    const Stats s = compute_stats(x, 4);
    BOOST_CHECK_EQUAL(s.nonfinite, 2);
    BOOST_CHECK_EQUAL(s.min, 1);
    BOOST_CHECK_EQUAL(s.max, 3);
    BOOST_CHECK_CLOSE(s.mean, 2.0, 1e-9);
}

BOOST_AUTO_TEST_CASE(stats_of_many_values_in_parallel) {
    std::vector<float> x(1000003);
    for (size_t i = 0; i < x.size(); i++) x[i] = static_cast<float>(i % 7);  // 0..6, mean 3 (nearly)
    const Stats s = compute_stats(x.data(), (int64_t)x.size());
    double sum = 0, sq = 0;
    for (float v : x) sum += v;
    const double mean = sum / x.size();
    for (float v : x) sq += (v - mean) * (v - mean);
    BOOST_CHECK_CLOSE(s.mean, mean, 1e-9);
    BOOST_CHECK_CLOSE(s.std, std::sqrt(sq / x.size()), 1e-6);
    BOOST_CHECK_EQUAL(s.max, 6);
}

BOOST_AUTO_TEST_CASE(stats_of_pixel_values_keep_every_printed_digit) {
    // Raw pixel values: E[x²] − E[x]² cancels about one digit in three here, so
    // float partial sums would lose the fourth decimal of the std that the
    // trace table prints. The reference is the two-pass form in double.
    std::vector<float> x(64 * 64 * 3);
    uint32_t state = 12345;
    for (float& v : x) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<float>(28 + (state >> 8) % 228);  // 28..255
    }
    const Stats s = compute_stats(x.data(), (int64_t)x.size());
    double sum = 0, sq = 0;
    for (float v : x) sum += v;
    const double mean = sum / x.size();
    for (float v : x) sq += (v - mean) * (v - mean);
    BOOST_CHECK_SMALL(s.mean - mean, 1e-9);
    BOOST_CHECK_SMALL(s.std - std::sqrt(sq / x.size()), 1e-9);
}

BOOST_AUTO_TEST_CASE(values_modes) {
    const Tensor t = Tensor::from({2, 10}, std::vector<float>(20, 0.5f));
    for (ValuesMode mode : {ValuesMode::None, ValuesMode::Summary, ValuesMode::Full}) {
        TraceOptions o;
        o.values = mode;
        Trace tr(o);
        tr.record({Role::Norm}, "op", t, {"x", "y"});
        const size_t want = mode == ValuesMode::None ? 0 : mode == ValuesMode::Summary ? kSummaryValues : 20;
        BOOST_CHECK_EQUAL(tr.steps()[0].values.size(), want);
        BOOST_CHECK(tr.steps()[0].values_mode == mode);
    }
}

BOOST_AUTO_TEST_CASE(steps_patterns_pick_full_values) {
    TraceOptions o;
    o.values = ValuesMode::Full;
    o.full_steps = {"blocks.1.*", "nothing.matches"};
    Trace tr(o);
    const Tensor t = Tensor::from({20}, std::vector<float>(20, 1.0f));
    tr.record({Role::Norm1, -1, 0}, "layernorm", t, {"C"});
    tr.record({Role::Norm1, -1, 1}, "layernorm", t, {"C"});
    BOOST_CHECK(tr.steps()[0].values_mode == ValuesMode::Summary);  // never more than summary outside the patterns
    BOOST_CHECK_EQUAL(tr.steps()[0].values.size(), (size_t)kSummaryValues);
    BOOST_CHECK(tr.steps()[1].values_mode == ValuesMode::Full);
    BOOST_CHECK_EQUAL(tr.steps()[1].values.size(), 20u);
    BOOST_CHECK(tr.unmatched_patterns() == std::vector<std::string>{"nothing.matches"});
}

BOOST_AUTO_TEST_CASE(each_step_gets_its_own_macs) {
    Trace tr;
    count_macs(100);
    tr.record({Role::Patchify}, "op", Tensor::zeros({1}), {"x"});
    tr.record({Role::PatchProj}, "op", Tensor::zeros({1}), {"x"});
    BOOST_CHECK_EQUAL(tr.steps()[0].macs, 100);
    BOOST_CHECK_EQUAL(tr.steps()[1].macs, 0);
    BOOST_CHECK_EQUAL(tr.steps()[1].index, 1);
}

BOOST_AUTO_TEST_CASE(dims_must_name_every_axis) {
    Trace tr;
    BOOST_CHECK_THROW(tr.record({Role::Head}, "op", Tensor::zeros({2, 3}), {"x"}), Error);
}

BOOST_AUTO_TEST_CASE(shape_only_steps_have_no_values) {
    Trace tr;
    tr.record({Role::Pool}, "op", Tensor::shape_only({3, 4}), {"a", "b"});
    BOOST_CHECK(!tr.steps()[0].computed);
    BOOST_CHECK(tr.steps()[0].values.empty());
}

BOOST_AUTO_TEST_CASE(step_names_are_timm_module_paths) {
    BOOST_CHECK_EQUAL(step_name({Role::PatchProj}), "patch_embed.proj");
    BOOST_CHECK_EQUAL(step_name({Role::Qkv, -1, 3}), "blocks.3.attn.qkv");
    BOOST_CHECK_EQUAL(step_name({Role::Mask, 1, 0}), "layers.1.blocks.0.attn_mask");
    BOOST_CHECK_EQUAL(step_name({Role::Merge, 2}), "layers.2.downsample.merge");
    BOOST_CHECK_EQUAL(step_name({Role::HeadFc}), "head.fc");
    BOOST_CHECK_EQUAL(layer_name({Role::Softmax, 1, 0}), "layers.1");
    BOOST_CHECK_EQUAL(layer_name({Role::Softmax, -1, 7}), "blocks.7");
    BOOST_CHECK_EQUAL(layer_name({Role::Norm}), "");
}

BOOST_AUTO_TEST_CASE(steps_carry_where_they_stand) {
    Trace tr;
    tr.record({Role::Softmax, 1, 1, 7, 3}, "softmax", Tensor::zeros({1}), {"x"});
    const Step& s = tr.steps()[0];
    BOOST_CHECK_EQUAL(s.name, "layers.1.blocks.1.attn.softmax");
    BOOST_CHECK(s.at == (StepAt{Role::Softmax, 1, 1, 7, 3}));
    BOOST_CHECK(tr.find(StepAt{Role::Softmax, 1, 1, 7, 3}) == &s);
}

BOOST_AUTO_TEST_CASE(roles_pick_full_values) {
    TraceOptions o;
    o.values = ValuesMode::None;
    o.full_roles = {Role::Softmax};
    Trace tr(o);
    const Tensor t = Tensor::from({20}, std::vector<float>(20, 1.0f));
    tr.record({Role::Scale, -1, 0}, "scale", t, {"C"});
    tr.record({Role::Softmax, -1, 0}, "softmax", t, {"C"});
    BOOST_CHECK(tr.steps()[0].values_mode == ValuesMode::None);
    BOOST_CHECK(tr.steps()[1].values_mode == ValuesMode::Full);
    BOOST_CHECK_EQUAL(tr.steps()[1].values.size(), 20u);
}

BOOST_AUTO_TEST_CASE(values_mode_names) {
    BOOST_CHECK(parse_values_mode("full") == ValuesMode::Full);
    BOOST_CHECK_THROW(parse_values_mode("all"), Error);
}

BOOST_AUTO_TEST_SUITE_END()
