// Loading a safetensors checkpoint with timm's parameter names into a model.
//
// Every tensor the model needs must be in the file with its timm shape and a
// floating-point dtype (F32, F16, BF16 or F64); no other tensor may be, except
// Swin's relative_position_index and attn_mask buffers, which must then equal
// what vitrace computes. All
// problems are gathered and reported together, by name, with the expected and
// the actual shape. The model's weights change only when everything loaded.
#pragma once

#include <string>

#include "core/model.h"
#include "io/safetensors.h"

namespace vitrace {

struct LoadOptions {
    bool allow_nonfinite = false;  // load NaN and inf values instead of refusing the file
};

struct LoadReport {
    // How the file names its tensors: "timm", or for Swin possibly "microsoft"
    // (the original release: patch merging at the end of each stage, head.*).
    std::string layout;
    int64_t tensors = 0, values = 0;
};

LoadReport load_checkpoint(Model& m, const std::string& path, const LoadOptions& opts = {});
LoadReport load_checkpoint(Model& m, const SafetensorsFile& file, const LoadOptions& opts = {});

}  // namespace vitrace
