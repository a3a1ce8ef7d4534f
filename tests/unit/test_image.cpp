// Reading images: every PNG and JPEG flavour becomes RGB with the pixels its
// generator wrote (tests/data/images/make_images.py), every damaged file is
// refused with a message naming the file and the fault, and the four input.*
// steps give the values worked out by hand.
#include <boost/test/unit_test.hpp>

#include <array>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/image.h"
#include "pipeline/preprocess.h"
#include "../test_util.h"

using namespace vitrace;
using namespace vitrace::test;

namespace {

// A quality-95 JPEG of one colour decodes to within a few levels of it.
constexpr float kJpegLevels = 3.0f;

std::string image_path(const std::string& name) { return std::string(VITRACE_TEST_DATA) + "/data/images/" + name; }

std::vector<uint8_t> file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(f, "cannot open the fixture " << path << "; run tests/data/images/make_images.py");
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void check_pixels(const std::string& what, const DecodedImage& img, int width, int height,
                  const std::vector<uint8_t>& rgb, float tol = kExact) {
    BOOST_TEST(img.width == width);
    BOOST_TEST(img.height == height);
    BOOST_REQUIRE_EQUAL(img.rgb.size(), rgb.size());
    const std::vector<float> actual(img.rgb.begin(), img.rgb.end()), expected(rgb.begin(), rgb.end());
    check_close(what, actual.data(), expected.data(), expected.size(), tol);
}

void check_bad_file(const std::string& name, const std::string& phrase) {
    const std::string path = image_path(name);
    check_error(ErrorKind::Input, [&] { read_image(path); }, {path, phrase});
}

// A w×h image of colour `outside` with the square `box` painted `inside`.
DecodedImage painted(int w, int h, const CropBox& box, std::array<uint8_t, 3> inside, std::array<uint8_t, 3> outside) {
    DecodedImage img{w, h, 3, "png", {}};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const bool in = x >= box.x0 && x < box.x0 + box.side && y >= box.y0 && y < box.y0 + box.side;
            img.rgb.insert(img.rgb.end(), (in ? inside : outside).begin(), (in ? inside : outside).end());
        }
    return img;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image)

// ---------------------------------------------------------------- decoding

BOOST_AUTO_TEST_CASE(gray_odd_size_becomes_rgb) {
    const DecodedImage img = read_image(image_path("gray_3x7.png"));
    std::vector<uint8_t> rgb;
    for (int i = 0; i < 21; i++) rgb.insert(rgb.end(), 3, static_cast<uint8_t>(10 * i + 5));  // (x, y) = 10(3y + x) + 5
    check_pixels("gray_3x7.png", img, 3, 7, rgb);
    BOOST_TEST(img.channels_in_file == 1);
    BOOST_TEST(img.format == "png");
}

BOOST_AUTO_TEST_CASE(gray_alpha_drops_alpha) {
    const DecodedImage img = read_image(image_path("gray_alpha.png"));
    check_pixels("gray_alpha.png", img, 2, 2, {0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255});
    BOOST_TEST(img.channels_in_file == 2);
}

BOOST_AUTO_TEST_CASE(rgba_drops_alpha_without_blending) {
    // The third pixel has alpha 0: its blue must survive, not turn black.
    const DecodedImage img = read_image(image_path("rgba.png"));
    check_pixels("rgba.png", img, 2, 2, {255, 0, 0, 0, 255, 0, 0, 0, 255, 12, 34, 56});
    BOOST_TEST(img.channels_in_file == 4);
}

BOOST_AUTO_TEST_CASE(palette_indices_become_palette_colours) {
    // indices 3, 0, 1, 2 into red, green, blue, (12, 34, 56), stored as 2-bit indices
    const DecodedImage img = read_image(image_path("palette.png"));
    check_pixels("palette.png", img, 4, 1, {12, 34, 56, 255, 0, 0, 0, 255, 0, 0, 0, 255});
    BOOST_TEST(img.channels_in_file == 3);  // stb reports the palette's colour channels
}

BOOST_AUTO_TEST_CASE(sixteen_bit_keeps_the_high_byte) {
    const DecodedImage gray = read_image(image_path("gray16.png"));  // 0xABCD, 0x1234
    check_pixels("gray16.png", gray, 2, 1, {0xAB, 0xAB, 0xAB, 0x12, 0x12, 0x12});
    BOOST_TEST(gray.channels_in_file == 1);

    const DecodedImage rgb = read_image(image_path("rgb16.png"));  // (ABCD, 1234, FF00), (0001, 8080, 7FFF)
    check_pixels("rgb16.png", rgb, 2, 1, {0xAB, 0x12, 0xFF, 0x00, 0x80, 0x7F});
    BOOST_TEST(rgb.channels_in_file == 3);
}

BOOST_AUTO_TEST_CASE(one_pixel) {
    check_pixels("one_pixel.png", read_image(image_path("one_pixel.png")), 1, 1, {7, 8, 9});
}

BOOST_AUTO_TEST_CASE(rgb_odd_size_is_row_major) {
    const DecodedImage img = read_image(image_path("rgb_7x3.png"));
    std::vector<uint8_t> rgb;  // [3, 7, rgb]: pixel (x, y) = (40x, 100y, 10(7y + x))
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 7; x++)
            rgb.insert(rgb.end(), {uint8_t(40 * x), uint8_t(100 * y), uint8_t(10 * (7 * y + x))});
    check_pixels("rgb_7x3.png", img, 7, 3, rgb);
}

BOOST_AUTO_TEST_CASE(jpeg) {
    const DecodedImage img = read_image(image_path("solid.jpg"));
    std::vector<uint8_t> rgb;
    for (int i = 0; i < 64; i++) rgb.insert(rgb.end(), {200, 100, 50});
    check_pixels("solid.jpg", img, 8, 8, rgb, kJpegLevels);
    BOOST_TEST(img.format == "jpeg");
    BOOST_TEST(img.channels_in_file == 3);
}

BOOST_AUTO_TEST_CASE(decode_from_memory_names_the_source) {
    const std::vector<uint8_t> bytes = file_bytes(image_path("one_pixel.png"));
    check_pixels("one_pixel.png from memory", decode_image(bytes.data(), bytes.size(), "<memory>"), 1, 1, {7, 8, 9});

    // The signature alone, and the JPEG start-of-image marker alone.
    check_error(ErrorKind::Input, [&] { decode_image(bytes.data(), 8, "<png start>"); }, {"<png start>", "truncated PNG"});
    const uint8_t soi[] = {0xFF, 0xD8, 0xFF};
    check_error(ErrorKind::Input, [&] { decode_image(soi, sizeof soi, "<jpeg start>"); }, {"<jpeg start>", "truncated JPEG"});
    check_error(ErrorKind::Input, [&] { decode_image(nullptr, 0, "<nothing>"); }, {"<nothing>", "is empty"});
}

// ---------------------------------------------------------------- bad files

BOOST_AUTO_TEST_CASE(bad_files_are_refused_by_name) {
    check_bad_file("empty.png", "is empty");
    check_bad_file("truncated.png", "truncated PNG");
    check_bad_file("truncated.jpg", "truncated JPEG");
    check_bad_file("bad_crc.png", "'IDAT'");
    check_bad_file("bad_crc.png", "CRC");
    check_bad_file("text.png", "not a PNG or JPEG");
    check_bad_file("does_not_exist.png", "cannot open");
}

BOOST_AUTO_TEST_CASE(impossible_huffman_tables_are_refused) {
    // solid.jpg with its first Huffman table's 16 code counts overwritten:
    // stb_image 2.27 would write past its tables for either of these.
    std::vector<uint8_t> bytes = file_bytes(image_path("solid.jpg"));
    size_t dht = 0;
    for (size_t i = 0; i + 1 < bytes.size(); i++)
        if (bytes[i] == 0xFF && bytes[i + 1] == 0xC4) {
            dht = i;
            break;
        }
    BOOST_REQUIRE(dht > 0);
    const size_t counts = dht + 5;  // marker, length (2), class/id, then the counts
    std::vector<uint8_t> too_many = bytes;
    for (int j = 0; j < 16; j++) too_many[counts + j] = 255;
    check_error(ErrorKind::Input, [&] { decode_image(too_many.data(), too_many.size(), "<dht>"); },
                {"<dht>", "Huffman table has more codes than its lengths allow"});
    std::vector<uint8_t> three_of_one_bit = bytes;
    for (int j = 0; j < 16; j++) three_of_one_bit[counts + j] = 0;
    three_of_one_bit[counts] = 3;  // three codes of length 1 cannot exist
    check_error(ErrorKind::Input, [&] { decode_image(three_of_one_bit.data(), three_of_one_bit.size(), "<dht>"); },
                {"corrupt JPEG"});
}

BOOST_AUTO_TEST_CASE(oversized_headers_are_refused_before_decoding) {
    // Valid chunks and segments around a header claiming 10^10 and 1.6·10^9
    // pixels: only the pixel limit may refuse them.
    check_bad_file("huge.png", "100000x100000 pixels is above the limit");
    check_bad_file("huge.jpg", "40000x40000 pixels is above the limit");
}

BOOST_AUTO_TEST_CASE(content_wins_over_extension) {
    std::string warning;
    const DecodedImage img = read_image(image_path("png_named.jpg"), &warning);
    check_pixels("png_named.jpg", img, 1, 1, {7, 8, 9});
    BOOST_TEST(img.format == "png");
    BOOST_TEST(warning.find("png_named.jpg") != std::string::npos, warning);
    BOOST_TEST(warning.find("png file despite its .jpg extension") != std::string::npos, warning);

    std::string no_warning;
    read_image(image_path("solid.jpg"), &no_warning);
    read_image(image_path("one_pixel.png"), &no_warning);
    BOOST_TEST(no_warning.empty(), no_warning);
}

// ---------------------------------------------------------------- preprocessing

BOOST_AUTO_TEST_CASE(centre_square_geometry) {
    auto check = [](int w, int h, CropBox want) {
        const CropBox got = centre_square(w, h);
        BOOST_TEST((got.x0 == want.x0 && got.y0 == want.y0 && got.side == want.side),
                   w << "x" << h << ": got x0 " << got.x0 << " y0 " << got.y0 << " side " << got.side);
    };
    check(4, 4, {0, 0, 4});
    check(7, 3, {2, 0, 3});
    check(3, 7, {0, 2, 3});
    check(8, 3, {2, 0, 3});  // 5 spare columns: 2 left, 3 right
    check(1, 1, {0, 0, 1});
    check(640, 480, {80, 0, 480});
}

BOOST_AUTO_TEST_CASE(square_image_is_scaled_and_normalised_untouched) {
    // 2x2, every level a multiple of 51 so that level/255 is a short decimal
    const DecodedImage img{2, 2, 3, "png", {0, 51, 102, 153, 204, 255, 255, 0, 51, 102, 153, 204}};
    const Normalization norm{{0.5f, 0.25f, 0.125f}, {0.5f, 0.25f, 2.0f}};
    TraceOptions options;
    options.values = ValuesMode::Full;
    Trace trace(options);
    const Tensor x = preprocess(img, 2, norm, trace);

    const std::vector<Step>& steps = trace.steps();
    BOOST_REQUIRE_EQUAL(steps.size(), 4u);
    const std::vector<std::string> hwc = {"img_h", "img_w", "rgb"}, chw = {"rgb", "img_h", "img_w"};
    const struct {
        const char* name;
        const char* op;
        Shape shape;
        std::vector<std::string> dims;
    } want[] = {{"input.decode", "decode", {2, 2, 3}, hwc},
                {"input.resize", "none", {2, 2, 3}, hwc},
                {"input.scale", "scale", {3, 2, 2}, chw},
                {"input.normalize", "normalize", {3, 2, 2}, chw}};
    for (size_t i = 0; i < 4; i++) {
        BOOST_TEST(steps[i].name == want[i].name);
        BOOST_TEST(steps[i].op == want[i].op);
        BOOST_TEST(steps[i].shape == want[i].shape, steps[i].name << " " << shape_str(steps[i].shape));
        BOOST_TEST(steps[i].dims == want[i].dims, steps[i].name);
    }

    const std::vector<float> pixels(img.rgb.begin(), img.rgb.end());
    check_close("input.decode", steps[0].values.data(), pixels.data(), 12, kExact);
    check_close("input.resize", steps[1].values.data(), pixels.data(), 12, kExact);

    // [rgb, img_h, img_w]: channel c of pixel (y, x) moves to c·4 + y·2 + x
    const std::vector<float> scaled = {0.0f, 0.6f, 1.0f, 0.4f,   // red
                                       0.2f, 0.8f, 0.0f, 0.6f,   // green
                                       0.4f, 1.0f, 0.2f, 0.8f};  // blue
    check_close("input.scale", steps[2].values.data(), scaled.data(), 12, kHandComputed);
    BOOST_TEST(steps[2].values[1] == 153.0f / 255.0f);  // x[0, 0, 1] = red of pixel (0, 1)
    BOOST_TEST(steps[2].values[4] == 51.0f / 255.0f);   // x[1, 0, 0] = green of pixel (0, 0)
    BOOST_TEST(steps[2].values[11] == 204.0f / 255.0f); // x[2, 1, 1] = blue of pixel (1, 1)

    // (x - mean[c]) / std[c]
    const std::vector<float> normalised = {-1.0f, 0.2f, 1.0f, -0.2f,             // (v - 0.5) / 0.5
                                           -0.2f, 2.2f, -1.0f, 1.4f,             // (v - 0.25) / 0.25
                                           0.1375f, 0.4375f, 0.0375f, 0.3375f};  // (v - 0.125) / 2
    check_close("input.normalize", steps[3].values.data(), normalised.data(), 12, kHandComputed);
    check_close("preprocess result", x, Tensor::from({3, 2, 2}, normalised), kHandComputed);
}

BOOST_AUTO_TEST_CASE(non_square_image_is_cropped_at_the_centre_then_resized) {
    // Only the centre square is painted; any pixel from outside it would show
    // in the resized image, whichever way the filter goes.
    const std::array<uint8_t, 3> inside = {200, 100, 50}, outside = {0, 255, 0};
    for (const auto& [w, h] : std::vector<std::pair<int, int>>{{7, 3}, {3, 7}, {8, 3}, {9, 16}}) {
        const DecodedImage img = painted(w, h, centre_square(w, h), inside, outside);
        for (int S : {2, 5}) {
            TraceOptions options;
            options.values = ValuesMode::Full;
            Trace trace(options);
            preprocess(img, S, Normalization{}, trace);
            const Step* resize = trace.find("input.resize");
            BOOST_REQUIRE(resize);
            BOOST_TEST(resize->op == "resize");
            BOOST_TEST(resize->shape == (Shape{S, S, 3}));
            BOOST_TEST(trace.find("input.decode")->shape == (Shape{h, w, 3}));
            std::vector<float> solid;
            for (int i = 0; i < S * S; i++) solid.insert(solid.end(), inside.begin(), inside.end());
            check_close("input.resize of " + std::to_string(w) + "x" + std::to_string(h) + " to " + std::to_string(S),
                        resize->values.data(), solid.data(), solid.size(), kExact);
        }
    }
}

BOOST_AUTO_TEST_CASE(input_json_describes_the_crop) {
    const DecodedImage wide = painted(7, 3, {0, 0, 0}, {1, 2, 3}, {1, 2, 3});
    const auto j = input_json("wide.png", wide, 2, Normalization{});
    BOOST_TEST(j["original_size"]["width"] == 7);
    BOOST_TEST(j["preprocessing"]["resize"]["method"] == "centre_crop_resize");
    BOOST_TEST(j["preprocessing"]["resize"]["crop"]["x"] == 2);
    BOOST_TEST(j["preprocessing"]["resize"]["crop"]["y"] == 0);
    BOOST_TEST(j["preprocessing"]["resize"]["crop"]["side"] == 3);

    const DecodedImage square = painted(2, 2, {0, 0, 0}, {1, 2, 3}, {1, 2, 3});
    BOOST_TEST(input_json("square.png", square, 2, Normalization{})["preprocessing"]["resize"]["method"] == "none");
}

BOOST_AUTO_TEST_SUITE_END()
