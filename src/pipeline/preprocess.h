// The model's input from a decoded image, step by step, as the trace records it.
//
//   input.decode     [img_h, img_w, rgb]  pixels 0..255 as decoded (gray, gray+alpha,
//                                         RGBA and palette images become RGB; alpha is dropped)
//   input.resize     [S, S, rgb]          unchanged when the image is already S×S; otherwise
//                                         the centred square of side min(h, w) is cut out and
//                                         resized to S×S with stb_image_resize (its Mitchell
//                                         filter to shrink, Catmull-Rom to enlarge)
//   input.scale      [rgb, S, S]          divided by 255, channels first (as torchvision's ToTensor)
//   input.normalize  [rgb, S, S]          (x - mean[c]) / std[c]
#pragma once

#include <array>
#include <string>

#include <nlohmann/json.hpp>

#include "core/trace.h"
#include "io/image.h"

namespace vitrace {

struct Normalization {
    std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};  // ImageNet
    std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
    // Where each came from: "default (ImageNet)", "--mean", "preprocessor_config.json", ...
    std::string mean_source = "default (ImageNet)", std_source = "default (ImageNet)";
};

// The square that input.resize cuts out: side min(h, w), centred.
struct CropBox {
    int x0 = 0, y0 = 0, side = 0;
};
CropBox centre_square(int width, int height);

// stb_image_resize's filter for a square of `side` made S: "mitchell" to
// shrink, "catmull-rom" to enlarge, "none" when it stays.
std::string resize_filter(int side, int S);

// What preprocessing did to the image, in one line for people:
// "input: 300x200 -> centre 200x200 -> 64x64 (shrunk 3.1x, Mitchell filter)".
std::string preprocessing_line(const DecodedImage& img, int S);

// The "input" object of the JSON trace: file, size and preprocessing applied.
nlohmann::ordered_json input_json(const std::string& path, const DecodedImage& img, int S,
                                  const Normalization& norm);

// The whole preprocessing: records input.decode, input.resize, input.scale and
// input.normalize, and returns the model input [3, S, S].
Tensor preprocess(const DecodedImage& img, int S, const Normalization& norm, Trace& trace);

}  // namespace vitrace
