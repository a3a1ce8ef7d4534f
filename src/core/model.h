// Models by timm name: the built-in configurations, overrides, weights and the
// forward pass of either family behind one interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/swin.h"
#include "core/trace.h"
#include "core/vit.h"

namespace vitrace {

enum class Family { ViT, Swin };
const char* family_name(Family f);

struct ModelConfig {
    std::string name;       // timm name, e.g. "vit_base_patch16_224"
    Family family = Family::ViT;
    VitConfig vit;    // used when family is ViT
    SwinConfig swin;  // used when family is Swin
    std::vector<std::string> class_names;  // empty: labels are null in the output
    std::string summary;                   // one line for `vitrace models`
    std::string weights_file;              // trained weights shipped in data/, loaded by default; "" for none

    int image_size() const { return family == Family::ViT ? vit.image_size : swin.image_size; }
    int patch() const { return family == Family::ViT ? vit.patch : swin.patch; }
    int classes() const { return family == Family::ViT ? vit.classes : swin.classes; }
};

const std::vector<ModelConfig>& builtin_models();
// Throws Error(Config) listing the known names when `name` is not one.
ModelConfig find_model(std::string_view name);

// Flags that override fields of a built-in configuration. Unset fields keep it.
struct ConfigOverrides {
    std::optional<int> image_size, patch, width, classes, window;
    std::optional<std::vector<int>> depths, heads;  // one number for ViT, one per stage for Swin
    std::optional<double> mlp_ratio;
    std::optional<Pool> pool;  // ViT only
};

// Applies the overrides and validates the result. Throws Error(Config) and
// leaves cfg as it was when the result is not a valid model.
void apply_overrides(ModelConfig& cfg, const ConfigOverrides& o);

struct Model {
    ModelConfig config;
    VitWeights vit;    // when config.family is ViT
    SwinWeights swin;  // when config.family is Swin
};

// A model with shape-only weights: enough for `vitrace shapes`.
Model make_model(const ModelConfig& cfg);

// fn(name, tensor, kind, fan_in) for every parameter, with timm's names.
using ParamFn = std::function<void(const std::string&, Tensor&, ParamKind, int64_t)>;
void visit_params(Model& m, const ParamFn& fn);
int64_t param_count(const ModelConfig& cfg);

// The documented seeded initialisation, the same on every machine:
// element i of the tensor named T gets u = hash(seed, T, i) in [0, 1) and
//   Matrix, Bias       (2u - 1) / sqrt(fan_in)     as a fresh nn.Linear / nn.Conv2d
//   Embedding          (2u - 1) · 0.02 · sqrt(3)    uniform with std 0.02
//   NormScale 1, NormShift 0                        as a fresh nn.LayerNorm
void init_random(Model& m, uint64_t seed);

struct Prediction {
    int index = 0;
    std::string label;  // empty when the model has no class names
    double score = 0;   // softmax probability
};

// The k most likely classes, best first.
std::vector<Prediction> top_k(const Tensor& logits, int k, const std::vector<std::string>& class_names);

// logits [classes] <- image [3, S, S], normalised. A shape-only image or
// shape-only weights give shape-only steps: shapes and MACs, no values.
Tensor forward(const Model& m, const Tensor& image, Trace& trace);

}  // namespace vitrace
