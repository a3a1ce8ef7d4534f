// Pictures: the colour maps and scales, enlarging, tiling, overlays, outlines,
// grid lines and legends.
#include <boost/test/unit_test.hpp>

#include "../test_util.h"
#include "io/font.h"
#include "io/picture.h"

using namespace vitrace;

namespace {

bool same(const uint8_t* px, Rgb c) { return px[0] == c[0] && px[1] == c[1] && px[2] == c[2]; }
int brightness(Rgb c) { return c[0] + c[1] + c[2]; }

}  // namespace

BOOST_AUTO_TEST_SUITE(picture)

// The stops are the page's too (util.js reads them from the report's data).
BOOST_AUTO_TEST_CASE(colour_maps_hit_their_stops_and_clamp) {
    for (ColourMap map : {ColourMap::Sequential, ColourMap::Diverging})
        for (const ColourStop& s : colour_stops(map)) BOOST_CHECK(map_colour(map, s.t) == s.colour);
    BOOST_CHECK(map_colour(ColourMap::Sequential, -3.0f) == (Rgb{30, 22, 78}));
    BOOST_CHECK(map_colour(ColourMap::Sequential, 7.0f) == (Rgb{250, 230, 90}));
    BOOST_CHECK(map_colour(ColourMap::Sequential, NAN) == (Rgb{30, 22, 78}));
    // halfway between the stops at 0.3 and 0.6: (38+42)/2, (92+160)/2, (140+128)/2
    BOOST_CHECK(map_colour(ColourMap::Sequential, 0.45f) == (Rgb{40, 126, 134}));
    // sequential: more is brighter
    for (float t = 0.05f; t <= 1.0f; t += 0.05f)
        BOOST_CHECK(brightness(map_colour(ColourMap::Sequential, t)) >= brightness(map_colour(ColourMap::Sequential, t - 0.05f)));
}

BOOST_AUTO_TEST_CASE(scales_are_diverging_only_across_zero) {
    const ColourScale a = ColourScale::of(-2.0f, 0.5f);
    BOOST_CHECK(a.map == ColourMap::Diverging);
    BOOST_CHECK_EQUAL(a.lo, -2.0f);
    BOOST_CHECK_EQUAL(a.hi, 2.0f);               // symmetric about 0
    BOOST_CHECK(a.colour(0.0f) == (Rgb{246, 246, 244}));  // 0 is the middle, near-white
    const ColourScale b = ColourScale::of(-100.0f, 0.0f);
    BOOST_CHECK(b.map == ColourMap::Sequential);
    BOOST_CHECK(b.colour(0.0f) == (Rgb{250, 230, 90}));
    const ColourScale flat = ColourScale::of(3.0f, 3.0f);  // one value: still a range
    BOOST_CHECK_GT(flat.hi, flat.lo);
}

BOOST_AUTO_TEST_CASE(heat_map_blocks_and_tiling) {
    const float v[] = {0, 1, 1, 0};
    const ColourScale s{ColourMap::Sequential, 0, 1};
    const Picture p = heat_map(v, 2, 2, s, 3);
    BOOST_CHECK_EQUAL(p.width, 6);
    BOOST_CHECK_EQUAL(p.height, 6);
    BOOST_CHECK(same(p.at(2, 2), {30, 22, 78}) && same(p.at(3, 0), {250, 230, 90}) && same(p.at(5, 5), {30, 22, 78}));
    const Picture t = tile({p, p, p}, 2, 1);
    BOOST_CHECK_EQUAL(t.width, 13);
    BOOST_CHECK_EQUAL(t.height, 13);
    BOOST_CHECK_EQUAL(t.at(6, 0)[0], 255);  // the white gap
    BOOST_CHECK_EQUAL(enlarge(p, 2).width, 12);
}

BOOST_AUTO_TEST_CASE(overlay_puts_the_brightest_cell_over_its_region) {
    const Picture base = Picture::blank(8, 8, {100, 100, 100});
    const float v[] = {0, 0, 0, 5};  // bottom-right cell of a 2x2 grid
    const Picture o = overlay(base, v, 2, 2, ColourScale::of(0, 5));
    BOOST_CHECK_GT(o.at(6, 6)[0], o.at(1, 1)[0]);
    BOOST_CHECK_EQUAL(o.at(1, 1)[0], o.at(2, 5)[0]);  // equal cells look alike
}

// A window that wraps around the grid (cells 0 and 3 of a row of 4) is
// outlined on each piece: left, top and bottom edges of cell 0's piece, and the
// edge where it leaves the grid; nothing inside the cells between.
BOOST_AUTO_TEST_CASE(outline_cells_draws_only_the_border_of_the_set) {
    Picture p = Picture::blank(40, 10);
    const Rgb c = {255, 0, 0};
    outline_cells(p, {true, false, false, true}, 1, 4, c, 1);  // cells are 10x10
    BOOST_CHECK(same(p.at(0, 5), c));   // left edge of cell 0
    BOOST_CHECK(same(p.at(9, 5), c));   // right edge of cell 0 (cell 1 is outside)
    BOOST_CHECK(same(p.at(5, 0), c) && same(p.at(5, 9), c));
    BOOST_CHECK(same(p.at(5, 5), {255, 255, 255}));   // inside cell 0
    BOOST_CHECK(same(p.at(15, 0), {255, 255, 255}));  // cell 1: not in the set
    BOOST_CHECK(same(p.at(30, 5), c) && same(p.at(39, 5), c));
    // Two neighbours in the set share no border line between them.
    Picture q = Picture::blank(20, 10);
    outline_cells(q, {true, true}, 1, 2, c, 1);
    BOOST_CHECK(same(q.at(9, 5), {255, 255, 255}) && same(q.at(10, 5), {255, 255, 255}));
}

BOOST_AUTO_TEST_CASE(grid_lines_fall_on_the_window_borders) {
    Picture p = Picture::blank(80, 80);
    grid_lines(p, 8, 8, 4, 0, {0, 0, 0});  // 8x8 cells of 10 px, windows of 4
    BOOST_CHECK(same(p.at(40, 13), {0, 0, 0}) && same(p.at(13, 40), {0, 0, 0}));
    BOOST_CHECK(same(p.at(20, 13), {255, 255, 255}));
    Picture s = Picture::blank(80, 80);
    grid_lines(s, 8, 8, 4, 2, {0, 0, 0});  // shifted by 2 cells
    BOOST_CHECK(same(s.at(20, 13), {0, 0, 0}) && same(s.at(60, 13), {0, 0, 0}));
    BOOST_CHECK(same(s.at(40, 13), {255, 255, 255}));
}

// The legend's bar runs the map from left to right, and it carries text.
BOOST_AUTO_TEST_CASE(legend_has_the_colour_bar_and_its_ends) {
    const ColourScale s{ColourMap::Sequential, 0, 1};
    const Picture l = legend(s, 200, "weight");
    BOOST_CHECK_EQUAL(l.width, 200);
    BOOST_CHECK(same(l.at(1, 5), map_colour(ColourMap::Sequential, 1.0f / 199)));
    BOOST_CHECK(same(l.at(198, 5), map_colour(ColourMap::Sequential, 198.0f / 199)));
    int ink = 0;  // the numbers and the caption, below the bar
    for (int y = 12; y < l.height; y++)
        for (int x = 0; x < l.width; x++) ink += l.at(x, y)[0] < 128;
    BOOST_CHECK_GT(ink, 20);
    const Picture big = legend(s, 400, "weight", 2);
    BOOST_CHECK_GT(big.height, l.height);
}

BOOST_AUTO_TEST_CASE(labelled_and_stacked_pictures_keep_their_pixels) {
    const Picture red = Picture::blank(30, 20, {255, 0, 0});
    const Picture l = labelled(red, "head 3");
    BOOST_CHECK_EQUAL(l.width, 30);
    BOOST_CHECK_GT(l.height, 20);
    BOOST_CHECK(same(l.at(29, l.height - 1), {255, 0, 0}));
    const Picture st = stack({red, Picture::blank(10, 5, {0, 0, 255})}, 2, 3);
    BOOST_CHECK_EQUAL(st.width, 36);
    BOOST_CHECK_EQUAL(st.height, 20 + 2 + 5 + 6);
    BOOST_CHECK(same(st.at(3, 3), {255, 0, 0}) && same(st.at(3, 25), {0, 0, 255}) && same(st.at(0, 0), {255, 255, 255}));
}

BOOST_AUTO_TEST_CASE(png_bytes_are_a_png) {
    const std::string b = png_bytes(Picture::blank(3, 2));
    BOOST_REQUIRE_GT(b.size(), 8u);
    BOOST_CHECK_EQUAL(b.substr(1, 3), "PNG");
}

BOOST_AUTO_TEST_SUITE_END()
