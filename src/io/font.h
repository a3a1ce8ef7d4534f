// A 5x7 bitmap font, so that pictures can carry their own labels: head numbers,
// legend values, captions. Printable ASCII only; anything else draws as '?'.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/picture.h"

namespace vitrace {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kGlyphAdvance = 6;  // 1 px gap between characters

// A character as kGlyphHeight rows of kGlyphWidth characters, '#' for ink and '.' for empty.
using Glyph = std::array<std::string_view, kGlyphHeight>;

// The glyph of c; the glyph of '?' for characters outside 32..126.
const Glyph& glyph(char c);

// Size in pixels of text drawn at `scale`: no trailing gap after the last character; 0 for "".
int text_width(const std::string& text, int scale = 1);
int text_height(int scale = 1);

// Draws text with its top-left corner at (x, y), each glyph pixel a scale×scale block.
// Pixels that fall outside the picture are skipped, so x and y may be negative.
void draw_text(Picture& p, int x, int y, const std::string& text, std::array<uint8_t, 3> colour, int scale = 1);

}  // namespace vitrace
