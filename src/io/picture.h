// Pictures for people: heat maps over the input, tiled grids, PNG files.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vitrace {

struct Picture {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // [height, width, 3]

    static Picture blank(int width, int height, std::array<uint8_t, 3> colour = {255, 255, 255});
    uint8_t* at(int x, int y) { return &rgb[((size_t)y * width + x) * 3]; }
    const uint8_t* at(int x, int y) const { return &rgb[((size_t)y * width + x) * 3]; }
};

// A dark-to-bright colour ramp (black, purple, red, orange, pale yellow) for t in [0, 1].
std::array<uint8_t, 3> heat_colour(float t);

// values [rows, cols] as colours, each value scaled from [lo, hi] to [0, 1];
// every cell becomes a scale×scale block.
Picture heat_map(const float* values, int rows, int cols, float lo, float hi, int scale);

// Each pixel scaled up to a factor×factor block.
Picture enlarge(const Picture& p, int factor);

// The heat map of values [rows, cols] (scaled from their own min..max) laid
// over a grayscale copy of base; each cell covers base.width/cols × base.height/rows pixels.
Picture overlay(const Picture& base, const float* values, int rows, int cols);

// Pictures of the same size in a grid, `columns` wide, with `gap` white pixels between.
Picture tile(const std::vector<Picture>& pictures, int columns, int gap);

// Encodes as PNG with stb_image_write and writes it whole or not at all.
void write_png(const std::string& path, const Picture& p);

}  // namespace vitrace
