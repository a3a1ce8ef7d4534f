// Swin's window operations against cases written out by hand.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "core/swin.h"
#include "core/vit.h"
#include "core/model.h"
#include "core/window.h"

using namespace vitrace;
using test::check_close;
using test::iota;

namespace {

// The mask a window must have, given the region label of each of its tokens.
std::vector<float> mask_from_labels(const std::vector<int>& labels) {
    std::vector<float> m;
    for (int a : labels)
        for (int b : labels) m.push_back(a == b ? 0.0f : -100.0f);
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(window)

BOOST_AUTO_TEST_CASE(partition_then_reverse_is_the_identity) {
    for (int M : {2, 4}) {
        const Tensor x = iota({8, 8, 3});
        Tensor windows, back;
        window_partition(windows, x, M);
        BOOST_REQUIRE(windows.shape == Shape({64 / (M * M), M * M, 3}));
        window_reverse(back, windows, 8, 8);
        check_close("reverse(partition(x)), M=" + std::to_string(M), back, x, test::kExact);
    }
}

BOOST_AUTO_TEST_CASE(partition_numbers_windows_and_tokens_row_by_row) {
    // x [4, 4, 1] holds its own flat index; M = 2 gives windows (0,0) (0,1) (1,0) (1,1).
    Tensor windows;
    window_partition(windows, iota({4, 4, 1}), 2);
    check_close("windows", windows,
                Tensor::from({4, 4, 1}, {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}), test::kExact);
}

BOOST_AUTO_TEST_CASE(cyclic_shift_rolls_like_torch) {
    // torch.roll(x, -1): out[i, j] = x[i + 1, j + 1], wrapping around
    const Tensor x = iota({3, 3, 1});
    Tensor out, back;
    cyclic_shift(out, x, -1);
    check_close("roll -1", out, Tensor::from({3, 3, 1}, {4, 5, 3, 7, 8, 6, 1, 2, 0}), test::kExact);
    cyclic_shift(back, out, 1);
    check_close("roll -1 then +1", back, x, test::kExact);
}

BOOST_AUTO_TEST_CASE(cyclic_shift_round_trip_on_a_feature_map) {
    const Tensor x = iota({8, 6, 4});
    Tensor shifted, back;
    cyclic_shift(shifted, x, -3);
    cyclic_shift(back, shifted, 3);
    check_close("shift round trip", back, x, test::kExact);
}

BOOST_AUTO_TEST_CASE(relative_coords_m2) {
    // tokens 0 = (0,0), 1 = (0,1), 2 = (1,0), 3 = (1,1); offsets[a, b] = (ya - yb, xa - xb)
    Tensor offsets;
    relative_coords(offsets, 2);
    check_close("offsets M=2", offsets,
                Tensor::from({4, 4, 2}, {0, 0,  0, -1, -1, 0,  -1, -1,  //
                                         0, 1,  0, 0,  -1, 1,  -1, 0,   //
                                         1, 0,  1, -1, 0,  0,  0,  -1,  //
                                         1, 1,  1, 0,  0,  1,  0,  0}),
                test::kExact);
}

BOOST_AUTO_TEST_CASE(relative_coords_m3_spans_minus_two_to_two) {
    Tensor offsets;
    relative_coords(offsets, 3);
    BOOST_REQUIRE(offsets.shape == Shape({9, 9, 2}));
    // token 8 = (2,2) seen from token 0 = (0,0), and the other way round
    BOOST_CHECK_EQUAL(offsets[(8 * 9 + 0) * 2], 2);
    BOOST_CHECK_EQUAL(offsets[(8 * 9 + 0) * 2 + 1], 2);
    BOOST_CHECK_EQUAL(offsets[(0 * 9 + 8) * 2], -2);
    BOOST_CHECK_EQUAL(offsets[(0 * 9 + 8) * 2 + 1], -2);
    // token 5 = (1,2) from token 1 = (0,1): one down, one right
    BOOST_CHECK_EQUAL(offsets[(5 * 9 + 1) * 2], 1);
    BOOST_CHECK_EQUAL(offsets[(5 * 9 + 1) * 2 + 1], 1);
}

BOOST_AUTO_TEST_CASE(relative_position_index_m2) {
    // tokens (0,0) (0,1) (1,0) (1,1); index = (dy + 1)·3 + (dx + 1)
    Tensor index;
    relative_position_index(index, 2);
    check_close("index M=2", index, Tensor::from({4, 4}, {4, 3, 1, 0,  //
                                                          5, 4, 2, 1,  //
                                                          7, 6, 4, 3,  //
                                                          8, 7, 5, 4}),
                test::kExact);
}

BOOST_AUTO_TEST_CASE(relative_position_index_m3) {
    // tokens (0,0) (0,1) (0,2) (1,0) ... (2,2); index = (dy + 2)·5 + (dx + 2)
    Tensor index;
    relative_position_index(index, 3);
    check_close("index M=3", index,
                Tensor::from({9, 9}, {12, 11, 10, 7,  6,  5,  2,  1,  0,   //
                                      13, 12, 11, 8,  7,  6,  3,  2,  1,   //
                                      14, 13, 12, 9,  8,  7,  4,  3,  2,   //
                                      17, 16, 15, 12, 11, 10, 7,  6,  5,   //
                                      18, 17, 16, 13, 12, 11, 8,  7,  6,   //
                                      19, 18, 17, 14, 13, 12, 9,  8,  7,   //
                                      22, 21, 20, 17, 16, 15, 12, 11, 10,  //
                                      23, 22, 21, 18, 17, 16, 13, 12, 11,  //
                                      24, 23, 22, 19, 18, 17, 14, 13, 12}),
                test::kExact);
}

BOOST_AUTO_TEST_CASE(relative_position_bias_gathers_from_the_table) {
    // M = 2: the table has 9 rows; with 2 heads, row r is {r, 10 + r}.
    Tensor table = Tensor::zeros({9, 2});
    for (int r = 0; r < 9; r++) {
        table[r * 2] = static_cast<float>(r);
        table[r * 2 + 1] = static_cast<float>(10 + r);
    }
    Tensor index, bias;
    relative_position_index(index, 2);
    relative_position_bias(bias, table, index);
    BOOST_REQUIRE(bias.shape == Shape({2, 4, 4}));
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            BOOST_CHECK_EQUAL(bias[a * 4 + b], index[a * 4 + b]);
            BOOST_CHECK_EQUAL(bias[16 + a * 4 + b], 10 + index[a * 4 + b]);
        }
}

BOOST_AUTO_TEST_CASE(shifted_window_regions_8x8_window4_shift2) {
    // Rows and columns fall in [0, 4) -> 0, [4, 6) -> 1, [6, 8) -> 2; label = 3·row region + column region.
    Tensor labels;
    shifted_window_regions(labels, 8, 8, 4, 2);
    check_close("regions", labels,
                Tensor::from({8, 8}, {0, 0, 0, 0, 1, 1, 2, 2,  //
                                      0, 0, 0, 0, 1, 1, 2, 2,  //
                                      0, 0, 0, 0, 1, 1, 2, 2,  //
                                      0, 0, 0, 0, 1, 1, 2, 2,  //
                                      3, 3, 3, 3, 4, 4, 5, 5,  //
                                      3, 3, 3, 3, 4, 4, 5, 5,  //
                                      6, 6, 6, 6, 7, 7, 8, 8,  //
                                      6, 6, 6, 6, 7, 7, 8, 8}),
                test::kExact);
}

BOOST_AUTO_TEST_CASE(shifted_window_regions_6x9_window3_shift1) {
    // Not square: rows cut at 3 and 5, columns at 6 and 8.
    Tensor labels;
    shifted_window_regions(labels, 6, 9, 3, 1);
    check_close("regions", labels,
                Tensor::from({6, 9}, {0, 0, 0, 0, 0, 0, 1, 1, 2,  //
                                      0, 0, 0, 0, 0, 0, 1, 1, 2,  //
                                      0, 0, 0, 0, 0, 0, 1, 1, 2,  //
                                      3, 3, 3, 3, 3, 3, 4, 4, 5,  //
                                      3, 3, 3, 3, 3, 3, 4, 4, 5,  //
                                      6, 6, 6, 6, 6, 6, 7, 7, 8}),
                test::kExact);
}

BOOST_AUTO_TEST_CASE(shifted_window_mask_8x8_window4_shift2) {
    // Rows and columns fall in regions [0, 4) -> 0, [4, 6) -> 1, [6, 8) -> 2;
    // a token's label is 3·region(row) + region(column). Window by window:
    const std::vector<std::vector<int>> labels = {
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},  // rows 0-3, columns 0-3: one region
        {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2},  // rows 0-3, columns 4-7: split between columns 5 and 6
        {3, 3, 3, 3, 3, 3, 3, 3, 6, 6, 6, 6, 6, 6, 6, 6},  // rows 4-7, columns 0-3: split between rows 5 and 6
        {4, 4, 5, 5, 4, 4, 5, 5, 7, 7, 8, 8, 7, 7, 8, 8},  // rows 4-7, columns 4-7: four regions
    };
    Tensor mask;
    shifted_window_mask(mask, 8, 8, 4, 2);
    BOOST_REQUIRE(mask.shape == Shape({4, 16, 16}));
    for (int w = 0; w < 4; w++) {
        const std::vector<float> want = mask_from_labels(labels[w]);
        check_close("mask window " + std::to_string(w), &mask[w * 256], want.data(), 256, test::kExact);
    }
    // Spelled out: the first row of window 1 (token (0,0) sees columns 0-1 of each row, not 2-3),
    // and the count of masked pairs in each window.
    const std::vector<float> row = {0, 0, -100, -100, 0, 0, -100, -100, 0, 0, -100, -100, 0, 0, -100, -100};
    check_close("window 1, row 0", &mask[256], row.data(), 16, test::kExact);
    const int masked_pairs[4] = {0, 128, 128, 192};
    for (int w = 0; w < 4; w++) {
        int n = 0;
        for (int i = 0; i < 256; i++) n += mask[w * 256 + i] != 0;
        BOOST_CHECK_EQUAL(n, masked_pairs[w]);
    }
}

BOOST_AUTO_TEST_CASE(mask_and_bias_add_per_window_and_head) {
    Tensor scores = Tensor::zeros({2, 3, 2, 2});  // [nW, heads, T, T]
    add_relative_position_bias(scores, Tensor::from({3, 2, 2}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
    add_attention_mask(scores, Tensor::from({2, 2, 2}, {0, 0, 0, 0, 0, -100, -100, 0}));
    BOOST_CHECK_EQUAL(scores[0], 1);                          // window 0, head 0
    BOOST_CHECK_EQUAL(scores[(1 * 3 + 2) * 4 + 1], 3 - 100);  // window 1, head 2, pair (0, 1)
    BOOST_CHECK_EQUAL(scores[(1 * 3 + 2) * 4 + 3], 3);        // window 1, head 2, pair (1, 1)
}

BOOST_AUTO_TEST_CASE(window_and_shift_follow_the_stage_size) {
    const SwinConfig c = find_model("swin_tiny_patch4_window7_224").as<SwinConfig>();
    const int res[4] = {56, 28, 14, 7}, window[4] = {7, 7, 7, 7}, shift[4] = {3, 3, 3, 0};
    for (int s = 0; s < 4; s++) {
        BOOST_CHECK_EQUAL(c.resolution(s), res[s]);
        BOOST_CHECK_EQUAL(c.window_at(s), window[s]);
        BOOST_CHECK_EQUAL(c.shift_at(s), shift[s]);
    }
    SwinConfig small = c;
    small.image_size = 64;
    small.window = 8;  // stage 2's grid of 4 is smaller than the window: window 4, no shift
    BOOST_CHECK_EQUAL(small.window_at(2), 4);
    BOOST_CHECK_EQUAL(small.shift_at(2), 0);
}

BOOST_AUTO_TEST_CASE(a_size_that_does_not_fit_names_the_stage) {
    ModelConfig cfg = find_model("swin_tiny_patch4_window7_224");
    ConfigOverrides o;
    o["--window"] = FlagValue{8};  // 56 divides by 8, but stage 1's 28 does not
    test::check_error(ErrorKind::Config, [&] { apply_overrides(cfg, o); }, {"stage 1", "28x28", "window 8"});
    ConfigOverrides odd;
    odd["--image-size"] = FlagValue{196};  // a 49x49 grid fits window 7, but patch merging cannot halve it
    test::check_error(ErrorKind::Config, [&] { apply_overrides(cfg, odd); }, {"stage", "odd"});
}

BOOST_AUTO_TEST_CASE(swin_tiny_macs_match_the_closed_forms) {
    const ModelConfig cfg = find_model("swin_tiny_patch4_window7_224");
    const Model m = make_model(cfg);
    Trace trace;
    forward(m, Tensor::shape_only({3, 224, 224}), trace);
    int64_t macs = 0;
    for (const Step& s : trace.steps()) macs += s.macs;
    // patch embedding; per block W-MSA 4hwC² + 2M²hwC and MLP 8hwC²; patch merging 2hwC² (hw before merging); head
    const SwinConfig& c = cfg.as<SwinConfig>();
    int64_t want = 56LL * 56 * 48 * 96;
    for (int s = 0; s < 4; s++) {
        const int64_t hw = (int64_t)c.resolution(s) * c.resolution(s), C = c.channels(s), M = c.window_at(s);
        if (s > 0) want += 2 * (4 * hw) * (C / 2) * (C / 2);
        want += c.depths[s] * (4 * hw * C * C + 2 * M * M * hw * C + 8 * hw * C * C);
    }
    want += 768LL * 1000;
    BOOST_CHECK_EQUAL(macs, want);
    BOOST_CHECK_CLOSE((double)macs / 1e9, 4.49, 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
