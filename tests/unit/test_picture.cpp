// Pictures: the colour ramp, enlarging, tiling and overlays.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "io/picture.h"

using namespace vitrace;

BOOST_AUTO_TEST_SUITE(picture)

BOOST_AUTO_TEST_CASE(heat_colour_runs_from_dark_to_bright) {
    const auto lo = heat_colour(0.0f), hi = heat_colour(1.0f), mid = heat_colour(0.5f);
    BOOST_CHECK(lo == (std::array<uint8_t, 3>{0, 0, 4}));
    BOOST_CHECK(hi == (std::array<uint8_t, 3>{252, 255, 164}));
    BOOST_CHECK(mid == (std::array<uint8_t, 3>{188, 55, 84}));
    auto brightness = [](std::array<uint8_t, 3> c) { return c[0] + c[1] + c[2]; };
    for (float t = 0.05f; t <= 1.0f; t += 0.05f) BOOST_CHECK(brightness(heat_colour(t)) >= brightness(heat_colour(t - 0.05f)));
    BOOST_CHECK(heat_colour(-3.0f) == lo);  // clamped
    BOOST_CHECK(heat_colour(NAN) == lo);
}

BOOST_AUTO_TEST_CASE(heat_map_blocks_and_tiling) {
    const float v[] = {0, 1, 1, 0};
    const Picture p = heat_map(v, 2, 2, 0, 1, 3);
    BOOST_CHECK_EQUAL(p.width, 6);
    BOOST_CHECK_EQUAL(p.height, 6);
    BOOST_CHECK(p.at(2, 2)[0] == 0 && p.at(3, 0)[0] == 252 && p.at(5, 5)[0] == 0);
    const Picture t = tile({p, p, p}, 2, 1);
    BOOST_CHECK_EQUAL(t.width, 13);
    BOOST_CHECK_EQUAL(t.height, 13);
    BOOST_CHECK_EQUAL(t.at(6, 0)[0], 255);  // the white gap
    BOOST_CHECK_EQUAL(enlarge(p, 2).width, 12);
}

BOOST_AUTO_TEST_CASE(overlay_puts_the_brightest_cell_over_its_region) {
    const Picture base = Picture::blank(8, 8, {100, 100, 100});
    const float v[] = {0, 0, 0, 5};  // bottom-right cell of a 2x2 grid
    const Picture o = overlay(base, v, 2, 2);
    BOOST_CHECK_GT(o.at(6, 6)[0], o.at(1, 1)[0]);
    BOOST_CHECK_EQUAL(o.at(1, 1)[0], o.at(2, 5)[0]);  // equal cells look alike
}

BOOST_AUTO_TEST_SUITE_END()
