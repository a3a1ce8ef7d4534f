// Pictures for people: heat maps over the input, outlines, grids, legends,
// labelled grids of pictures, PNG files. `vitrace attention` writes them and
// the HTML report shows the same files, drawn by this code; the page's own
// canvases take their colour maps from colour_stops() below.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vitrace {

using Rgb = std::array<uint8_t, 3>;

struct Picture {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // [height, width, 3]

    static Picture blank(int width, int height, Rgb colour = {255, 255, 255});
    uint8_t* at(int x, int y) { return &rgb[((size_t)y * width + x) * 3]; }
    const uint8_t* at(int x, int y) const { return &rgb[((size_t)y * width + x) * 3]; }
    void set(int x, int y, Rgb c);  // skipped outside the picture
};

// Two colour maps. Sequential runs dark blue, teal, green to yellow (more =
// brighter); diverging runs blue, near-white at the middle, red.
enum class ColourMap { Sequential, Diverging };
struct ColourStop {
    float t;
    Rgb colour;
};
const std::vector<ColourStop>& colour_stops(ColourMap map);
const char* colour_map_name(ColourMap map);  // "sequential", "diverging"
// The map's colour at t in [0, 1] (clamped; NaN gives t = 0).
Rgb map_colour(ColourMap map, float t);

// How values become colours: diverging and symmetric about 0 when [lo, hi]
// has both signs, sequential from lo to hi otherwise.
struct ColourScale {
    ColourMap map = ColourMap::Sequential;
    float lo = 0, hi = 1;
    static ColourScale of(float lo, float hi);
    Rgb colour(float v) const;
};

// The colours a picture's marks use: the query (orange), its window (cyan),
// grid lines and text.
inline constexpr Rgb kQueryColour = {255, 122, 0}, kWindowColour = {0, 179, 255}, kGridColour = {255, 255, 255},
                     kInk = {31, 35, 40}, kMuted = {89, 99, 110};

// values [rows, cols] as colours; every cell becomes a scale×scale block.
Picture heat_map(const float* values, int rows, int cols, const ColourScale& colours, int scale);

// Each pixel scaled up to a factor×factor block.
Picture enlarge(const Picture& p, int factor);

// The heat map of values [rows, cols] laid over a grayscale copy of base;
// each cell covers base.width/cols × base.height/rows pixels.
Picture overlay(const Picture& base, const float* values, int rows, int cols, const ColourScale& colours);

// A rectangle's border, `thickness` pixels wide, inside (x, y, w, h).
void outline_rect(Picture& p, int x, int y, int w, int h, Rgb colour, int thickness = 2);
// The border of a set of cells of a rows×cols grid laid over the picture:
// every edge between a cell in the set and one outside it (or the picture's
// edge), so a window that wraps around the grid is outlined piece by piece.
void outline_cells(Picture& p, const std::vector<bool>& in, int rows, int cols, Rgb colour, int thickness = 2);
// Lines between the cells of a rows×cols grid every `every` cells, starting
// `offset` cells in (the shifted windows' borders), and around the edge.
void grid_lines(Picture& p, int rows, int cols, int every, int offset, Rgb colour);

// A legend strip `width` pixels wide: the colour bar, its two ends (and 0 on
// a diverging map) as numbers, and a caption line below.
// Text is drawn with the 5x7 font of io/font.h, each pixel text_scale×text_scale.
Picture legend(const ColourScale& colours, int width, const std::string& caption, int text_scale = 1);
// Text lines on white, `width` wide (lines longer than the width are cut with "..").
Picture text_block(const std::vector<std::string>& lines, int width, Rgb colour = kInk, int text_scale = 1);
// The picture with a label above it.
Picture labelled(const Picture& p, const std::string& label, int text_scale = 1);
// Pictures one under the other, left-aligned, `gap` white pixels apart, with a
// white margin around.
Picture stack(const std::vector<Picture>& pictures, int gap, int margin = 0);

// Pictures in a grid, `columns` wide, with `gap` white pixels between; each
// cell is as large as the largest picture.
Picture tile(const std::vector<Picture>& pictures, int columns, int gap);

// The PNG file's bytes (stb_image_write).
std::string png_bytes(const Picture& p);
// Encodes as PNG and writes it whole or not at all.
void write_png(const std::string& path, const Picture& p);

}  // namespace vitrace
