// Reading an image file: PNG or JPEG bytes decoded to RGB pixels. What the
// model then makes of the pixels is pipeline/preprocess.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace vitrace {

// Images above this many pixels are refused before any pixel is decoded.
inline constexpr int64_t kMaxImagePixels = 64LL * 1024 * 1024;
inline constexpr int kMaxImageSide = 32768;

struct DecodedImage {
    int width = 0, height = 0;
    int channels_in_file = 0;   // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    std::string format;         // "png" or "jpeg"
    std::vector<uint8_t> rgb;   // [height, width, 3]
};

// Decodes PNG or JPEG bytes. `what` names the source in error messages.
// Throws Error(Input) for anything that is not a whole, decodable image.
DecodedImage decode_image(const uint8_t* bytes, size_t size, const std::string& what);

// Reads and decodes a file; a file whose extension disagrees with its content
// is decoded by its content, with a warning in `warning`.
DecodedImage read_image(const std::string& path, std::string* warning = nullptr);

}  // namespace vitrace
