// Reading an image file into the model's input tensor, step by step.
//
//   input.decode     [img_h, img_w, rgb]  pixels 0..255 as decoded (gray, gray+alpha,
//                                         RGBA and palette images become RGB; alpha is dropped)
//   input.resize     [S, S, rgb]          unchanged when the image is already S×S; otherwise
//                                         the centred square of side min(h, w) is cut out and
//                                         resized to S×S with stb_image_resize
//   input.scale      [rgb, S, S]          divided by 255, channels first (as torchvision's ToTensor)
//   input.normalize  [rgb, S, S]          (x - mean[c]) / std[c]
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/trace.h"

namespace vitrace {

// Images above this many pixels are refused before any pixel is decoded.
inline constexpr int64_t kMaxImagePixels = 64LL * 1024 * 1024;
inline constexpr int kMaxImageSide = 32768;

struct Normalization {
    std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};  // ImageNet
    std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
};

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

// The square that input.resize cuts out: side min(h, w), centred.
struct CropBox {
    int x0 = 0, y0 = 0, side = 0;
};
CropBox centre_square(int width, int height);

// The "input" object of the JSON trace: file, size and preprocessing applied.
nlohmann::ordered_json input_json(const std::string& path, const DecodedImage& img, int S,
                                  const Normalization& norm);

// The whole preprocessing: records input.decode, input.resize, input.scale and
// input.normalize, and returns the model input [3, S, S].
Tensor preprocess(const DecodedImage& img, int S, const Normalization& norm, Trace& trace);

}  // namespace vitrace
