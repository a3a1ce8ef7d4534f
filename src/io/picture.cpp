#include "io/picture.h"

#include <stb_image_write.h>

#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "io/output_file.h"

namespace vitrace {

Picture Picture::blank(int width, int height, std::array<uint8_t, 3> colour) {
    Picture p{width, height, std::vector<uint8_t>((size_t)width * height * 3)};
    for (size_t i = 0; i < p.rgb.size(); i++) p.rgb[i] = colour[i % 3];
    return p;
}

std::array<uint8_t, 3> heat_colour(float t) {
    // Control points of the ramp, evenly spaced over [0, 1].
    static const float stops[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    t = std::clamp(std::isfinite(t) ? t : 0.0f, 0.0f, 1.0f) * 4.0f;
    const int i = std::min(3, static_cast<int>(t));
    const float f = t - i;
    std::array<uint8_t, 3> c{};
    for (int k = 0; k < 3; k++) c[k] = static_cast<uint8_t>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
    return c;
}

Picture heat_map(const float* values, int rows, int cols, float lo, float hi, int scale) {
    Picture p = Picture::blank(cols * scale, rows * scale);
    const float span = hi > lo ? hi - lo : 1.0f;
    for (int y = 0; y < p.height; y++)
        for (int x = 0; x < p.width; x++) {
            const auto c = heat_colour((values[(y / scale) * cols + x / scale] - lo) / span);
            std::copy(c.begin(), c.end(), p.at(x, y));
        }
    return p;
}

Picture enlarge(const Picture& p, int factor) {
    Picture out = Picture::blank(p.width * factor, p.height * factor);
    for (int y = 0; y < out.height; y++)
        for (int x = 0; x < out.width; x++) std::copy(p.at(x / factor, y / factor), p.at(x / factor, y / factor) + 3, out.at(x, y));
    return out;
}

Picture overlay(const Picture& base, const float* values, int rows, int cols) {
    const auto [lo, hi] = std::minmax_element(values, values + (size_t)rows * cols);
    const float span = *hi > *lo ? *hi - *lo : 1.0f;
    Picture out = base;
    for (int y = 0; y < base.height; y++)
        for (int x = 0; x < base.width; x++) {
            const uint8_t* b = base.at(x, y);
            const float gray = 0.299f * b[0] + 0.587f * b[1] + 0.114f * b[2];
            const int r = std::min(rows - 1, y * rows / base.height), c = std::min(cols - 1, x * cols / base.width);
            const auto h = heat_colour((values[r * cols + c] - *lo) / span);
            // Mostly heat, with enough of the image left to see what lies under it.
            for (int k = 0; k < 3; k++) out.at(x, y)[k] = static_cast<uint8_t>(std::lround(0.35f * gray + 0.65f * h[k]));
        }
    return out;
}

Picture tile(const std::vector<Picture>& pictures, int columns, int gap) {
    if (pictures.empty()) return {};
    const int w = pictures[0].width, h = pictures[0].height;
    const int n = static_cast<int>(pictures.size());
    const int rows = (n + columns - 1) / columns, cols = std::min(columns, n);
    Picture out = Picture::blank(cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap);
    for (int i = 0; i < n; i++) {
        const int x0 = (i % columns) * (w + gap), y0 = (i / columns) * (h + gap);
        for (int y = 0; y < h; y++)
            std::copy(pictures[i].at(0, y), pictures[i].at(0, y) + (size_t)w * 3, out.at(x0, y0 + y));
    }
    return out;
}

void write_png(const std::string& path, const Picture& p) {
    std::string bytes;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
    };
    if (!stbi_write_png_to_func(append, &bytes, p.width, p.height, 3, p.rgb.data(), p.width * 3))
        throw Error(ErrorKind::Output, "output '" + path + "': PNG encoding failed");
    write_file_atomically(path, bytes);
}

}  // namespace vitrace
