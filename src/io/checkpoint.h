// Loading a safetensors checkpoint into a model, through a layout (io/layout.h).
//
// The loader tries the layouts of the model's family that the file's names
// point to, and takes the first one that fits: every tensor the model needs
// is in the file, with its shape and a floating-point dtype (F32, F16, BF16 or
// F64), and no other tensor is, except the layout's buffers, which must equal
// what vitrace computes, and the tensors it ignores. When none fits, the
// closest one's problems are reported together, by name, with the expected
// and the actual shape. The model's weights change only when everything loaded.
#pragma once

#include <string>

#include "core/model.h"
#include "io/layout.h"
#include "io/safetensors.h"

namespace vitrace {

struct LoadOptions {
    bool allow_nonfinite = false;  // load NaN and inf values instead of refusing the file
};

struct LoadReport {
    std::string layout;  // the layout that matched: "timm", "microsoft", ...
    int64_t tensors = 0, values = 0;  // parameters filled, and their values
};

LoadReport load_checkpoint(Model& m, const std::string& path, const LoadOptions& opts = {});

// How a layout reads a file into a model's parameters.
struct LayoutUse {
    int as_is = 0, renamed = 0, split = 0, concatenated = 0;  // parameters
    int buffers_checked = 0;                                  // file tensors the model computes itself
    std::vector<std::string> ignored;                         // file tensors nobody reads
};
LayoutUse layout_use(Model& m, const SafetensorsFile& file, const Layout& layout);

// What keeps the file from filling m through `layout`, in words; "" when it fits.
// Reads no weights (only the small buffers it checks).
std::string layout_problems(Model& m, const SafetensorsFile& file, const Layout& layout);
// `candidates`: the layouts to try; layouts() when none are given.
LoadReport load_checkpoint(Model& m, const SafetensorsFile& file, const LoadOptions& opts = {},
                           const std::vector<Layout>* candidates = nullptr);

}  // namespace vitrace
