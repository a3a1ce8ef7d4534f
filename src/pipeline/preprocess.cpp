#include "pipeline/preprocess.h"

#include <stb_image_resize.h>

#include <algorithm>

namespace vitrace {

CropBox centre_square(int width, int height) {
    const int side = std::min(width, height);
    return {(width - side) / 2, (height - side) / 2, side};
}

std::string resize_filter(int side, int S) { return side > S ? "mitchell" : side < S ? "catmull-rom" : "none"; }

std::string preprocessing_line(const DecodedImage& img, int S) {
    const auto size = [](int w, int h) { return std::to_string(w) + "x" + std::to_string(h); };
    if (img.width == S && img.height == S) return "input: " + size(S, S) + ", the model's size: used as it is";
    const CropBox box = centre_square(img.width, img.height);
    std::string line = "input: " + size(img.width, img.height);
    if (img.width != img.height) line += " -> centre " + size(box.side, box.side);
    line += " -> " + size(S, S);
    if (box.side == S) return line;
    char factor[32];
    std::snprintf(factor, sizeof factor, "%.1fx", box.side > S ? (double)box.side / S : (double)S / box.side);
    return line + (box.side > S ? " (shrunk " + std::string(factor) + ", Mitchell filter)"
                                : " (enlarged " + std::string(factor) + ", Catmull-Rom filter)");
}

nlohmann::ordered_json input_json(const std::string& path, const DecodedImage& img, int S,
                                  const Normalization& norm) {
    const bool untouched = img.width == S && img.height == S;
    const CropBox box = centre_square(img.width, img.height);
    nlohmann::ordered_json resize = untouched
        ? nlohmann::ordered_json{{"method", "none"}}
        : nlohmann::ordered_json{{"method", "centre_crop_resize"},
                                 {"crop", {{"x", box.x0}, {"y", box.y0}, {"side", box.side}}},
                                 {"filter", resize_filter(box.side, S) + " (stb_image_resize)"}};
    return {{"path", path},
            {"format", img.format},
            {"original_size", {{"width", img.width}, {"height", img.height}}},
            {"channels_in_file", img.channels_in_file},
            {"preprocessing",
             {{"image_size", S},
              {"resize", resize},
              {"scale", "1/255"},
              {"mean", norm.mean},
              {"std", norm.std},
              {"mean_source", norm.mean_source},
              {"std_source", norm.std_source}}}};
}

Tensor preprocess(const DecodedImage& img, int S, const Normalization& norm, Trace& trace) {
    const int w = img.width, h = img.height;
    Tensor decoded = Tensor::zeros({h, w, 3});  // [img_h, img_w, rgb], 0..255
    std::copy(img.rgb.begin(), img.rgb.end(), decoded.data.begin());
    trace.record(StepAt{Role::InputDecode}, "decode", decoded, {"img_h", "img_w", "rgb"});

    std::vector<uint8_t> square;  // [S, S, rgb]
    const bool untouched = (w == S && h == S);
    if (untouched) {
        square = img.rgb;
    } else {
        // The centred square of side min(h, w), resized to S×S: the same region as
        // resizing the shorter side to S and cropping the centre, without ever
        // holding the larger resized image.
        const CropBox box = centre_square(w, h);
        square.resize((size_t)S * S * 3);
        const uint8_t* src = img.rgb.data() + ((size_t)box.y0 * w + box.x0) * 3;
        if (!stbir_resize_uint8(src, box.side, box.side, w * 3, square.data(), S, S, S * 3, 3))
            throw Error(ErrorKind::Internal, "stb_image_resize failed");
    }
    Tensor resized = Tensor::zeros({S, S, 3});  // [img_h, img_w, rgb]
    std::copy(square.begin(), square.end(), resized.data.begin());
    trace.record(StepAt{Role::InputResize}, untouched ? "none" : "resize", resized, {"img_h", "img_w", "rgb"});

    // torchvision: ToTensor(), pixels / 255 with the channel axis first
    Tensor x = Tensor::zeros({3, S, S});  // [rgb, img_h, img_w]
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++)
                x[((int64_t)c * S + y) * S + xx] = resized[((int64_t)y * S + xx) * 3 + c] / 255.0f;
    trace.record(StepAt{Role::InputScale}, "scale", x, {"rgb", "img_h", "img_w"});

    // torchvision: Normalize(mean, std)
    for (int c = 0; c < 3; c++) {
        float* x_c = &x[(int64_t)c * S * S];  // x[c, :, :]
        for (int64_t i = 0; i < (int64_t)S * S; i++) x_c[i] = (x_c[i] - norm.mean[c]) / norm.std[c];
    }
    trace.record(StepAt{Role::InputNormalize}, "normalize", x, {"rgb", "img_h", "img_w"});
    return x;
}

}  // namespace vitrace
