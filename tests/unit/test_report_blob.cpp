// The HTML page's number encodings (report/blob): base64 against RFC 4648's
// test vectors, float16 against IEEE 754's bit patterns, block means and
// 8-bit rows on cases worked out by hand.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <limits>

#include "report/blob.h"
#include "report/collector.h"

using namespace vitrace;
using namespace vitrace::report;

BOOST_AUTO_TEST_SUITE(report_blob)

BOOST_AUTO_TEST_CASE(base64_of_the_rfc_4648_vectors) {
    const std::pair<std::string, std::string> cases[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [in, out] : cases) BOOST_TEST(base64(in.data(), in.size()) == out);
    const unsigned char high[] = {0xfb, 0xff, 0xbf};  // the digits 62 and 63
    BOOST_TEST(base64(high, 3) == "+/+/");
}

BOOST_AUTO_TEST_CASE(float16_bit_patterns) {
    BOOST_TEST(to_half(0.0f) == 0x0000);
    BOOST_TEST(to_half(-0.0f) == 0x8000);
    BOOST_TEST(to_half(1.0f) == 0x3c00);
    BOOST_TEST(to_half(-2.0f) == 0xc000);
    BOOST_TEST(to_half(0.5f) == 0x3800);
    BOOST_TEST(to_half(0.1f) == 0x2e66);              // 0.0999755859375, the nearest half
    BOOST_TEST(to_half(65504.0f) == 0x7bff);          // the largest half
    BOOST_TEST(to_half(65520.0f) == 0x7c00);          // halfway to the next: rounds to even, which is inf
    BOOST_TEST(to_half(1e6f) == 0x7c00);              // too large: inf
    BOOST_TEST(to_half(std::ldexp(1.0f, -14)) == 0x0400);  // the smallest normal half
    BOOST_TEST(to_half(std::ldexp(1.0f, -24)) == 0x0001);  // the smallest subnormal
    BOOST_TEST(to_half(std::ldexp(1.0f, -26)) == 0x0000);  // a quarter of it: rounds to 0
    BOOST_TEST(to_half(std::ldexp(3.0f, -25)) == 0x0002);  // 1.5 of the smallest: ties to even (2)
    BOOST_TEST(to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // halfway between 1 and 1+2^-10: even
    BOOST_TEST(to_half(1.0f + std::ldexp(3.0f, -11)) == 0x3c02);  // halfway between 1+2^-10 and 1+2^-9: even
    BOOST_TEST(to_half(std::numeric_limits<float>::infinity()) == 0x7c00);
    const uint16_t nan = to_half(std::numeric_limits<float>::quiet_NaN());
    BOOST_TEST(((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0));
}

BOOST_AUTO_TEST_CASE(every_half_reads_back_to_itself) {
    int checked = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaNs have many patterns
        const float x = from_half((uint16_t)h);
        if (to_half(x) != h) BOOST_FAIL("half " << h << " reads as " << x << " and encodes as " << to_half(x));
        checked++;
    }
    BOOST_TEST(checked == 65536 - 2 * 1023);
    BOOST_TEST(from_half(0x3555) == 0.333251953125f);
    BOOST_TEST(from_half(0x0001) == std::ldexp(1.0f, -24));
}

BOOST_AUTO_TEST_CASE(block_means_by_hand) {
    // x [2, 5] = 0 1 2 3 4 / 5 6 7 8 9, blocks of 1 row and 2 columns: the last block has one column.
    const float x[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    BOOST_TEST(pooled_shape({2, 5}, {1, 2}) == Shape({2, 3}));
    const std::vector<float> by_two = pool_means(x, {2, 5}, {1, 2});
    BOOST_TEST(by_two == std::vector<float>({0.5f, 2.5f, 4.0f, 5.5f, 7.5f, 9.0f}), boost::test_tools::per_element());
    // 2x2 blocks: rows 0-1 together.
    const std::vector<float> square = pool_means(x, {2, 5}, {2, 2});
    BOOST_TEST(square == std::vector<float>({3.0f, 5.0f, 6.5f}), boost::test_tools::per_element());
    // A non-finite value is left out of its block's mean; a block of nothing but NaN stays NaN.
    const float holes[] = {1, NAN, NAN, NAN};
    const std::vector<float> h = pool_means(holes, {4}, {2});
    BOOST_TEST(h[0] == 1.0f);
    BOOST_TEST(std::isnan(h[1]));
}

BOOST_AUTO_TEST_CASE(pool_to_fit_uses_one_block_length_for_the_long_axes) {
    // [12, 197, 197] in 16384 values: f = 5 leaves 12 x 40 x 40 = 19200, f = 6 leaves 12 x 33 x 33 = 13068.
    BOOST_TEST(pool_to_fit({12, 197, 197}, 16384) == std::vector<int64_t>({1, 6, 6}), boost::test_tools::per_element());
    // [197, 3072]: f = 7 gives 29 x 439 = 12731 (f = 6: 33 x 512 = 16896 is too many).
    BOOST_TEST(pool_to_fit({197, 3072}, 16384) == std::vector<int64_t>({7, 7}), boost::test_tools::per_element());
    BOOST_TEST(pool_to_fit({3, 4}, 16384) == std::vector<int64_t>({1, 1}), boost::test_tools::per_element());
    // Nothing long to shrink: the short axes shrink, the longest first (of equals, the first):
    // 16^3 -> 8 x 16 x 16 = 2048 -> 8 x 8 x 16 = 1024.
    BOOST_TEST(pool_to_fit({16, 16, 16}, 1024) == std::vector<int64_t>({2, 2, 1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(eight_bit_rows_keep_each_rows_range) {
    const float x[] = {0, 1, 2, -100, 0, 0};  // two rows of 3
    const nlohmann::ordered_json b = u8_rows_blob(x, {2, 3});
    BOOST_TEST(b["dtype"] == "u8");
    // row 0: lo 0, hi 2, so 1 is 127.5 levels: 128. Row 1: lo -100, hi 0.
    BOOST_TEST(b["data"] == base64(std::array<uint8_t, 6>{0, 128, 255, 0, 255, 255}.data(), 6));
    const float lo[] = {0, -100}, hi[] = {2, 0};
    BOOST_TEST(b["lo"]["data"] == base64(lo, sizeof lo));
    BOOST_TEST(b["hi"]["data"] == base64(hi, sizeof hi));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report_attention)

BOOST_AUTO_TEST_CASE(pooled_attention_by_hand) {
    // One cls token and a 2x2 patch grid (N = 5) on one cell of 2x2 patches (Nc = 2).
    std::vector<float> a(25);
    for (int i = 0; i < 25; i++) a[i] = (float)i;  // a[q, k] = 5q + k
    const std::vector<float> out = vitrace::report::pool_attention(a.data(), 1, 5, 1, 2, 2);
    BOOST_REQUIRE_EQUAL(out.size(), 4u);
    BOOST_TEST(out[0] == 0.0f);                 // cls -> cls
    BOOST_TEST(out[1] == 1.0f + 2 + 3 + 4);     // cls -> the cell: the sum over its patches
    BOOST_TEST(out[2] == (5.0f + 10 + 15 + 20) / 4);  // the cell's patches -> cls: their mean
    // the cell -> the cell: the mean over queries 1..4 of the sum over keys 1..4
    BOOST_TEST(out[3] == ((6.0f + 7 + 8 + 9) + (11 + 12 + 13 + 14) + (16 + 17 + 18 + 19) + (21 + 22 + 23 + 24)) / 4);
}

BOOST_AUTO_TEST_CASE(uneven_cells_keep_every_row_summing_to_one) {
    // A 3x3 grid in cells of 2: cells of 4, 2, 2 and 1 patches; no prefix.
    const int N = 9;
    std::vector<float> a(N * N, 1.0f / N);
    a[0 * N + 8] += 0.5f, a[0 * N + 0] -= 0.5f;  // query 0 moves half its attention to patch 8
    const std::vector<float> out = vitrace::report::pool_attention(a.data(), 1, N, 0, 3, 2);
    BOOST_REQUIRE_EQUAL(out.size(), 16u);
    for (int q = 0; q < 4; q++) {
        float sum = 0;
        for (int k = 0; k < 4; k++) sum += out[q * 4 + k];
        BOOST_TEST(sum == 1.0f, boost::test_tools::tolerance(1e-6f));
    }
    // Cell 3 is patch 8 alone: it gets 1/9 from everyone, and query 0's extra half
    // shared among the 4 queries of cell 0.
    BOOST_TEST(out[0 * 4 + 3] == 1.0f / 9 + 0.5f / 4, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(out[1 * 4 + 3] == 1.0f / 9, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(out[1 * 4 + 0] == 4.0f / 9, boost::test_tools::tolerance(1e-6f));
}

BOOST_AUTO_TEST_SUITE_END()
