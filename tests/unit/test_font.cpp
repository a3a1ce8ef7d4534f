// The bitmap font: every glyph well formed and distinct, text sizes, drawing and clipping.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "io/font.h"

using namespace vitrace;

namespace {

constexpr std::array<uint8_t, 3> kBlack = {0, 0, 0};

bool inked(const Picture& p, int x, int y) { return p.at(x, y)[0] == 0; }

int count_inked(const Picture& p) {
    int n = 0;
    for (int y = 0; y < p.height; y++)
        for (int x = 0; x < p.width; x++) n += inked(p, x, y);
    return n;
}

int count_ink(const Glyph& g) {
    int n = 0;
    for (std::string_view row : g) n += static_cast<int>(std::count(row.begin(), row.end(), '#'));
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(font)

BOOST_AUTO_TEST_CASE(every_printable_character_has_a_5x7_glyph) {
    for (int c = 32; c <= 126; c++) {
        const Glyph& g = glyph(static_cast<char>(c));
        BOOST_TEST_CONTEXT("character '" << static_cast<char>(c) << "' (" << c << ")") {
            BOOST_CHECK_EQUAL(g.size(), static_cast<size_t>(kGlyphHeight));
            for (std::string_view row : g) {
                BOOST_CHECK_EQUAL(row.size(), static_cast<size_t>(kGlyphWidth));
                BOOST_CHECK_MESSAGE(row.find_first_not_of("#.") == std::string_view::npos, "row \"" << row << "\" has a character other than '#' and '.'");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(only_space_is_blank) {
    BOOST_CHECK_EQUAL(count_ink(glyph(' ')), 0);
    for (int c = 33; c <= 126; c++) BOOST_CHECK_MESSAGE(count_ink(glyph(static_cast<char>(c))) > 0, "character '" << static_cast<char>(c) << "' has no ink");
}

BOOST_AUTO_TEST_CASE(no_two_glyphs_are_alike) {
    std::set<Glyph> seen;
    for (int c = 32; c <= 126; c++)
        BOOST_CHECK_MESSAGE(seen.insert(glyph(static_cast<char>(c))).second, "character '" << static_cast<char>(c) << "' looks like an earlier one");
    BOOST_CHECK_EQUAL(seen.size(), 95u);
}

BOOST_AUTO_TEST_CASE(characters_outside_printable_ascii_draw_as_question_mark) {
    BOOST_CHECK(glyph('\n') == glyph('?'));
    BOOST_CHECK(glyph('\x7f') == glyph('?'));
    BOOST_CHECK(glyph('\xe9') == glyph('?'));  // a byte of UTF-8, negative as a signed char
}

BOOST_AUTO_TEST_CASE(text_sizes_leave_no_trailing_gap) {
    BOOST_CHECK_EQUAL(text_width("", 1), 0);
    BOOST_CHECK_EQUAL(text_width("a", 1), 5);
    BOOST_CHECK_EQUAL(text_width("ab", 1), 11);
    BOOST_CHECK_EQUAL(text_width("ab", 3), 33);
    BOOST_CHECK_EQUAL(text_height(1), 7);
    BOOST_CHECK_EQUAL(text_height(2), 14);
}

BOOST_AUTO_TEST_CASE(draw_text_inks_exactly_the_glyph) {
    Picture p = Picture::blank(kGlyphWidth, kGlyphHeight);
    draw_text(p, 0, 0, "1", kBlack);
    const Glyph& g = glyph('1');
    for (int y = 0; y < kGlyphHeight; y++)
        for (int x = 0; x < kGlyphWidth; x++)
            BOOST_CHECK_MESSAGE(inked(p, x, y) == (g[y][x] == '#'), "pixel (" << x << ", " << y << ")");
}

BOOST_AUTO_TEST_CASE(draw_text_clips_to_the_picture) {
    // "W" at (-2, -3) puts glyph pixels (2..4, 3..5) on the 3x3 picture.
    Picture p = Picture::blank(3, 3);
    draw_text(p, -2, -3, "W", kBlack);
    const Glyph& g = glyph('W');
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) BOOST_CHECK_MESSAGE(inked(p, x, y) == (g[y + 3][x + 2] == '#'), "pixel (" << x << ", " << y << ")");
    BOOST_CHECK_GT(count_inked(p), 0);

    // Wholly outside, on every side: nothing drawn, nothing written out of bounds.
    Picture q = Picture::blank(3, 3);
    const int w = text_width("#@", 2), h = text_height(2);
    for (auto [x, y] : {std::pair{-w, 0}, {3, 0}, {0, -h}, {0, 3}, {3, 3}, {-w, -h}, {-100, 100}}) draw_text(q, x, y, "#@", kBlack, 2);
    BOOST_CHECK_EQUAL(count_inked(q), 0);
}

BOOST_AUTO_TEST_CASE(scale_draws_each_pixel_as_a_block) {
    const std::string text = "Head 7: 0.25";
    Picture p1 = Picture::blank(text_width(text, 1), text_height(1));
    Picture p2 = Picture::blank(text_width(text, 2), text_height(2));
    draw_text(p1, 0, 0, text, kBlack, 1);
    draw_text(p2, 0, 0, text, kBlack, 2);
    BOOST_CHECK_EQUAL(count_inked(p2), 4 * count_inked(p1));  // twice as wide and twice as tall
    for (int y = 0; y < p2.height; y++)
        for (int x = 0; x < p2.width; x++) BOOST_CHECK(inked(p2, x, y) == inked(p1, x / 2, y / 2));
}

BOOST_AUTO_TEST_SUITE_END()
