// The antialiased bicubic resize (core/resample): small cases worked out by
// hand, and grids that PyTorch resized (tests/reference/make_resample_goldens.py).
#include <boost/test/unit_test.hpp>

#include <string>

#include "../test_util.h"
#include "core/resample.h"
#include "io/safetensors.h"

using namespace vitrace;
using test::check_close;

namespace {

// vitrace against F.interpolate itself, on values of order 1. Both compute in
// float with the same roundings (an upsampling matches bit for bit); a shrink
// may differ in the last bit.
constexpr float kTorchResize = 1e-6f;

Tensor read_tensor(const SafetensorsFile& file, const std::string& name) {
    const TensorEntry* e = file.find(name);
    BOOST_REQUIRE_MESSAGE(e, file.what() << " has no tensor " << name
                                         << "; remake it with tests/reference/make_resample_goldens.py");
    Tensor t = Tensor::zeros(e->shape);
    file.read_floats(*e, t.ptr());
    return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resample)

BOOST_AUTO_TEST_CASE(upsample_two_to_four_by_hand) {
    // in = 2, out = 4: scale 1/2, the kernel keeps its width. Output i is centred
    // at 0.5·(i + 0.5) in input pixels; only the two inputs exist, so each window
    // is cut to them and renormalised. With cubic(0.25) = 111/128,
    // cubic(0.75) = 29/128 and cubic(1.25) = -9/128:
    //   out[0] = (111·0 - 9·1) / (111 - 9) = -3/34    (the negative lobe overshoots)
    //   out[1] = (111·0 + 29·1) / (111 + 29) = 29/140
    // and out[2], out[3] mirror them. The single row stays a copy.
    Tensor y;
    resize_bicubic_antialias(y, Tensor::from({1, 1, 2}, {0, 1}), 1, 4);
    check_close("2 -> 4", y, Tensor::from({1, 1, 4}, {-3.0f / 34, 29.0f / 140, 111.0f / 140, 37.0f / 34}),
                test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(downsample_widens_the_kernel_by_hand) {
    // in = 4, out = 2: scale 2, so the kernel is stretched to support 4 and every
    // output reads all four inputs. Output 0 is centred at 1; input k sits at
    // k + 0.5, at kernel distance (k - 0.5) / 2 = -1/4, 1/4, 3/4, 5/4:
    // weights (111, 111, 29, -9) / 242, so out[0] = (111 + 2·29 - 3·9) / 242 = 71/121,
    // and out[1] = 3 - 71/121 by symmetry. The same along columns as along rows.
    const float want[] = {71.0f / 121, 3 - 71.0f / 121};
    Tensor y_rows, y_cols;
    resize_bicubic_antialias(y_rows, Tensor::from({1, 1, 4}, {0, 1, 2, 3}), 1, 2);
    resize_bicubic_antialias(y_cols, Tensor::from({1, 4, 1}, {0, 1, 2, 3}), 2, 1);
    check_close("4 -> 2 along a row", y_rows, Tensor::from({1, 1, 2}, {want[0], want[1]}), test::kHandComputed);
    check_close("4 -> 2 along a column", y_cols, Tensor::from({1, 2, 1}, {want[0], want[1]}), test::kHandComputed);
}

BOOST_AUTO_TEST_CASE(same_size_copies_exactly) {
    const Tensor x = test::iota({3, 5, 7});
    Tensor y;
    resize_bicubic_antialias(y, x, 5, 7);
    check_close("5x7 -> 5x7", y, x, test::kExact);
}

BOOST_AUTO_TEST_CASE(constant_grid_stays_constant) {
    // Every window's weights sum to 1, cut at the edges or not. Channel 0 holds
    // 0.75 everywhere, channel 1 holds -2.
    const auto constant_channels = [](int64_t h, int64_t w) {
        Tensor t = Tensor::zeros({2, h, w});
        for (int64_t i = 0; i < t.numel(); i++) t[i] = i < h * w ? 0.75f : -2.0f;
        return t;
    };
    const Tensor x = constant_channels(9, 6);
    for (const auto& [out_h, out_w] : {std::pair{13, 4}, std::pair{2, 30}, std::pair{9, 9}}) {
        const Tensor want = constant_channels(out_h, out_w);
        Tensor y;
        resize_bicubic_antialias(y, x, out_h, out_w);
        check_close("constant 9x6 -> " + std::to_string(out_h) + "x" + std::to_string(out_w), y, want,
                    test::kHandComputed);
    }
}

BOOST_AUTO_TEST_CASE(matches_pytorch) {
    const SafetensorsFile file =
        SafetensorsFile::open(std::string(VITRACE_TEST_DATA) + "/data/resample_goldens.safetensors");
    const char* cases[] = {"up_14_to_18", "up_14_to_24", "down_37_to_16", "same_7", "mixed_14x10_to_20x7"};
    for (const std::string name : cases) {
        const Tensor x = read_tensor(file, "input_" + name);
        const Tensor want = read_tensor(file, "output_" + name);
        Tensor y;
        resize_bicubic_antialias(y, x, (int)want.dim(1), (int)want.dim(2));
        check_close(name, y, want, name == "same_7" ? test::kExact : kTorchResize);
    }
}

BOOST_AUTO_TEST_CASE(shape_only_input_sets_the_shape) {
    Tensor y;
    take_macs();
    resize_bicubic_antialias(y, Tensor::shape_only({768, 14, 14}), 24, 24);
    BOOST_CHECK(y.shape == Shape({768, 24, 24}));
    BOOST_CHECK(y.data.empty());
    BOOST_CHECK_EQUAL(take_macs(), 0);
}

BOOST_AUTO_TEST_CASE(rejects_a_grid_without_channels) {
    Tensor y;
    test::check_error(ErrorKind::Internal, [&] { resize_bicubic_antialias(y, Tensor::zeros({14, 14}), 24, 24); },
                      {"expected x [C, h, w]", "got x [14, 14]"});
}

BOOST_AUTO_TEST_SUITE_END()
