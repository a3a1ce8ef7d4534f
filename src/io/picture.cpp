#include "io/picture.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "io/font.h"
#include "io/output_file.h"

namespace vitrace {

Picture Picture::blank(int width, int height, Rgb colour) {
    Picture p{width, height, std::vector<uint8_t>((size_t)width * height * 3)};
    for (size_t i = 0; i < p.rgb.size(); i++) p.rgb[i] = colour[i % 3];
    return p;
}

void Picture::set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::copy(c.begin(), c.end(), at(x, y));
}

// ---------------------------------------------------------------- colour

const std::vector<ColourStop>& colour_stops(ColourMap map) {
    static const std::vector<ColourStop> sequential = {
        {0.0f, {30, 22, 78}}, {0.3f, {38, 92, 140}}, {0.6f, {42, 160, 128}}, {0.8f, {140, 200, 80}}, {1.0f, {250, 230, 90}}};
    static const std::vector<ColourStop> diverging = {
        {0.0f, {35, 70, 150}}, {0.25f, {110, 160, 210}}, {0.5f, {246, 246, 244}}, {0.75f, {232, 135, 105}}, {1.0f, {160, 25, 40}}};
    return map == ColourMap::Sequential ? sequential : diverging;
}

const char* colour_map_name(ColourMap map) { return map == ColourMap::Sequential ? "sequential" : "diverging"; }

Rgb map_colour(ColourMap map, float t) {
    const std::vector<ColourStop>& stops = colour_stops(map);
    t = std::clamp(std::isfinite(t) ? t : 0.0f, 0.0f, 1.0f);
    size_t k = 0;
    while (k + 2 < stops.size() && t > stops[k + 1].t) k++;
    const float f = (t - stops[k].t) / (stops[k + 1].t - stops[k].t);
    Rgb c{};
    for (int i = 0; i < 3; i++)
        c[i] = static_cast<uint8_t>(std::lround(stops[k].colour[i] + f * (stops[k + 1].colour[i] - stops[k].colour[i])));
    return c;
}

ColourScale ColourScale::of(float lo, float hi) {
    if (!(hi > lo)) hi = lo + (lo == 0 ? 1.0f : std::fabs(lo));
    if (lo < 0 && hi > 0) {
        const float m = std::max(-lo, hi);
        return {ColourMap::Diverging, -m, m};
    }
    return {ColourMap::Sequential, lo, hi};
}

Rgb ColourScale::colour(float v) const { return map_colour(map, (v - lo) / (hi - lo)); }

// ---------------------------------------------------------------- maps

Picture heat_map(const float* values, int rows, int cols, const ColourScale& colours, int scale) {
    Picture p = Picture::blank(cols * scale, rows * scale);
    for (int y = 0; y < p.height; y++)
        for (int x = 0; x < p.width; x++) p.set(x, y, colours.colour(values[(y / scale) * cols + x / scale]));
    return p;
}

Picture enlarge(const Picture& p, int factor) {
    Picture out = Picture::blank(p.width * factor, p.height * factor);
    for (int y = 0; y < out.height; y++)
        for (int x = 0; x < out.width; x++) std::copy(p.at(x / factor, y / factor), p.at(x / factor, y / factor) + 3, out.at(x, y));
    return out;
}

Picture overlay(const Picture& base, const float* values, int rows, int cols, const ColourScale& colours) {
    Picture out = base;
    for (int y = 0; y < base.height; y++)
        for (int x = 0; x < base.width; x++) {
            const uint8_t* b = base.at(x, y);
            const float gray = 0.299f * b[0] + 0.587f * b[1] + 0.114f * b[2];
            const int r = std::min(rows - 1, y * rows / base.height), c = std::min(cols - 1, x * cols / base.width);
            const Rgb h = colours.colour(values[r * cols + c]);
            // Mostly colour, with enough of the image left to see what lies under it.
            for (int k = 0; k < 3; k++) out.at(x, y)[k] = static_cast<uint8_t>(std::lround(0.3f * gray + 0.7f * h[k]));
        }
    return out;
}

// ---------------------------------------------------------------- marks

void outline_rect(Picture& p, int x, int y, int w, int h, Rgb colour, int thickness) {
    for (int t = 0; t < thickness; t++) {
        for (int i = x; i < x + w; i++) {
            p.set(i, y + t, colour);
            p.set(i, y + h - 1 - t, colour);
        }
        for (int j = y; j < y + h; j++) {
            p.set(x + t, j, colour);
            p.set(x + w - 1 - t, j, colour);
        }
    }
}

namespace {

// Pixel edges of cell (r, c) of a rows×cols grid over a width×height picture.
int edge(int i, int n, int size) { return i * size / n; }

}  // namespace

void outline_cells(Picture& p, const std::vector<bool>& in, int rows, int cols, Rgb colour, int thickness) {
    auto inside = [&](int r, int c) { return r >= 0 && c >= 0 && r < rows && c < cols && in[(size_t)r * cols + c]; };
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            if (!inside(r, c)) continue;
            const int x0 = edge(c, cols, p.width), x1 = edge(c + 1, cols, p.width);
            const int y0 = edge(r, rows, p.height), y1 = edge(r + 1, rows, p.height);
            for (int t = 0; t < thickness; t++) {
                if (!inside(r - 1, c))
                    for (int x = x0; x < x1; x++) p.set(x, y0 + t, colour);
                if (!inside(r + 1, c))
                    for (int x = x0; x < x1; x++) p.set(x, y1 - 1 - t, colour);
                if (!inside(r, c - 1))
                    for (int y = y0; y < y1; y++) p.set(x0 + t, y, colour);
                if (!inside(r, c + 1))
                    for (int y = y0; y < y1; y++) p.set(x1 - 1 - t, y, colour);
            }
        }
}

void grid_lines(Picture& p, int rows, int cols, int every, int offset, Rgb colour) {
    for (int c = offset % every; c <= cols; c += every) {
        const int x = std::min(p.width - 1, edge(c, cols, p.width));
        for (int y = 0; y < p.height; y++) p.set(x, y, colour);
    }
    for (int r = offset % every; r <= rows; r += every) {
        const int y = std::min(p.height - 1, edge(r, rows, p.height));
        for (int x = 0; x < p.width; x++) p.set(x, y, colour);
    }
}

// ---------------------------------------------------------------- text

namespace {

// A value as a learner reads it: 4 significant digits, an exponent when tiny
// or huge (the page's formatValue does the same).
std::string number_text(float v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+inf" : "-inf";
    if (v == 0) return "0";
    char buf[32];
    const float a = std::fabs(v);
    if (a >= 1e5f || a < 1e-3f)
        std::snprintf(buf, sizeof buf, "%.2e", v);
    else
        std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

int line_height(int scale) { return (kGlyphHeight + 4) * scale; }

std::string fit(const std::string& line, int width, int scale) {
    const int chars = std::max(0, (width + scale) / (kGlyphAdvance * scale));
    if ((int)line.size() <= chars) return line;
    return line.substr(0, std::max(0, chars - 2)) + "..";
}

}  // namespace

Picture text_block(const std::vector<std::string>& lines, int width, Rgb colour, int scale) {
    Picture p = Picture::blank(width, (int)lines.size() * line_height(scale));
    for (size_t i = 0; i < lines.size(); i++)
        draw_text(p, 0, (int)i * line_height(scale) + 2 * scale, fit(lines[i], width, scale), colour, scale);
    return p;
}

Picture legend(const ColourScale& colours, int width, const std::string& caption, int scale) {
    const int bar = 10 * scale;
    Picture p = Picture::blank(width, bar + 2 * line_height(scale) + 2);
    for (int x = 0; x < width; x++) {
        const Rgb c = map_colour(colours.map, width > 1 ? (float)x / (width - 1) : 0.0f);
        for (int y = 0; y < bar; y++) p.set(x, y, c);
    }
    outline_rect(p, 0, 0, width, bar, kMuted, 1);
    const int y = bar + 3 * scale;
    const std::string lo = number_text(colours.lo), hi = number_text(colours.hi);
    draw_text(p, 0, y, lo, kInk, scale);
    draw_text(p, width - text_width(hi, scale), y, hi, kInk, scale);
    if (colours.map == ColourMap::Diverging) draw_text(p, width / 2 - text_width("0", scale) / 2, y, "0", kInk, scale);
    draw_text(p, 0, y + line_height(scale), fit(caption, width, scale), kMuted, scale);
    return p;
}

Picture labelled(const Picture& p, const std::string& label, int scale) {
    return stack({text_block({label}, std::max(p.width, 1), kInk, scale), p}, 0);
}

Picture stack(const std::vector<Picture>& pictures, int gap, int margin) {
    int w = 0, h = 0;
    for (const Picture& p : pictures) {
        w = std::max(w, p.width);
        h += p.height;
    }
    if (!pictures.empty()) h += gap * ((int)pictures.size() - 1);
    Picture out = Picture::blank(w + 2 * margin, h + 2 * margin);
    int y0 = margin;
    for (const Picture& p : pictures) {
        for (int y = 0; y < p.height; y++) std::copy(p.at(0, y), p.at(0, y) + (size_t)p.width * 3, out.at(margin, y0 + y));
        y0 += p.height + gap;
    }
    return out;
}

Picture tile(const std::vector<Picture>& pictures, int columns, int gap) {
    if (pictures.empty()) return {};
    int w = 0, h = 0;
    for (const Picture& p : pictures) {
        w = std::max(w, p.width);
        h = std::max(h, p.height);
    }
    const int n = static_cast<int>(pictures.size());
    const int rows = (n + columns - 1) / columns, cols = std::min(columns, n);
    Picture out = Picture::blank(cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap);
    for (int i = 0; i < n; i++) {
        const int x0 = (i % columns) * (w + gap), y0 = (i / columns) * (h + gap);
        const Picture& p = pictures[i];
        for (int y = 0; y < p.height; y++) std::copy(p.at(0, y), p.at(0, y) + (size_t)p.width * 3, out.at(x0, y0 + y));
    }
    return out;
}

// ---------------------------------------------------------------- PNG

std::string png_bytes(const Picture& p) {
    std::string bytes;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
    };
    if (!stbi_write_png_to_func(append, &bytes, p.width, p.height, 3, p.rgb.data(), p.width * 3))
        throw Error(ErrorKind::Output, "PNG encoding failed");
    return bytes;
}

void write_png(const std::string& path, const Picture& p) { write_file_atomically(path, png_bytes(p)); }

}  // namespace vitrace
