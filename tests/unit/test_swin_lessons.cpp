// The window functions the Swin lessons print, against cases written out by hand.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "core/window.h"

using namespace vitrace;
using test::check_close;

BOOST_AUTO_TEST_SUITE(swin_lessons)

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

BOOST_AUTO_TEST_SUITE_END()
