// Models by timm name: a configuration of some family, its weights, and the
// forward pass, all through the family's descriptor (core/family.h).
#pragma once

#include <any>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/family.h"
#include "core/trace.h"

namespace vitrace {

struct ModelConfig {
    std::string name;               // timm name, e.g. "vit_base_patch16_224"
    const Family* family = nullptr;
    std::any params;                // the family's config struct (VitConfig, SwinConfig)
    std::vector<std::string> class_names;  // empty: labels are null in the output
    std::string summary;                   // one line for `vitrace models`
    std::string weights_file;              // trained weights shipped in data/, loaded by default; "" for none

    template <class C> const C& as() const { return config_as<C>(params); }
    template <class C> C& as() { return config_as<C>(params); }

    int image_size() const { return family->image_size(params); }
    int patch() const { return family->patch(params); }
    int classes() const { return family->classes(params); }
    std::vector<AttentionLayer> attention_layers() const { return family->attention_layers(params); }
};

// A built-in model: its name, its family's config, a summary line.
template <class C>
ModelConfig model_config(std::string name, const Family& family, C params, std::string summary) {
    ModelConfig m;
    m.name = std::move(name);
    m.family = &family;
    m.params = std::move(params);
    m.summary = std::move(summary);
    return m;
}

// The built-in models, in the order `vitrace models` lists them (core/builtin_models.cpp).
const std::vector<ModelConfig>& builtin_models();
// Throws Error(Config) listing the known names when `name` is not one.
ModelConfig find_model(std::string_view name);

// Values from the command line, by flag (as a field spells it first:
// "--width"). Unset flags are absent.
using ConfigOverrides = std::map<std::string, FlagValue>;

// Every field's own check, then the family's checks between fields.
// Throws Error(Config) for the first problem.
void validate_config(const Family& family, const std::any& params);

// Applies the overrides through the family's fields and validates the result.
// Throws Error(Config) and leaves cfg as it was when the result is not a
// valid model.
void apply_overrides(ModelConfig& cfg, const ConfigOverrides& o);

// Why cfg does not run at image side S, its other settings unchanged; "" when it does.
std::string size_problem(const ModelConfig& cfg, int S);
bool runs_at(const ModelConfig& cfg, int S);
// The image sides nearest to S, one below and one above (when there are), at which cfg runs.
std::vector<int> nearest_image_sizes(const ModelConfig& cfg, int S);
// "swin_tiny_patch4_window7_224 runs at 224 or 448, the nearest image sizes that fit"; "" if none.
// `who` names the model in it instead of cfg.name.
std::string sizes_advice(const ModelConfig& cfg, int S, const std::string& who = "");

// The config read back, field by field, then what the family derives from it.
ConfigRecord config_record(const ModelConfig& cfg);

struct Model {
    ModelConfig config;
    std::any weights;  // the family's weights struct (VitWeights, SwinWeights)
    // The forward pass's buffers, kept between passes (core/workspace.h).
    // Copies of a model share them, which is safe as long as they run one
    // after the other, as everything in vitrace does.
    std::shared_ptr<Workspace> workspace = std::make_shared<Workspace>();

    template <class W> const W& as() const { return config_as<W>(weights); }
    template <class W> W& as() { return config_as<W>(weights); }
};

// A model with shape-only weights: enough for `vitrace shapes`.
Model make_model(const ModelConfig& cfg);

void visit_params(Model& m, const ParamFn& fn);

// Packs every Linear's weight for the fast product (pack_linear, core/linear.h),
// once: the commands that run forward passes call it after loading the
// weights. A packed Linear's weight keeps its shape but no values, so code
// that reads the weights themselves (the lessons) does not pack.
void pack_weights(Model& m);
int64_t param_count(const ModelConfig& cfg);

// The documented seeded initialisation, the same on every machine:
// element i of the tensor named T gets u = hash(seed, T, i) in [0, 1) and
//   Matrix, Bias       (2u - 1) / sqrt(fan_in)     as a fresh nn.Linear / nn.Conv2d
//   Embedding          (2u - 1) · 0.02 · sqrt(3)    uniform with std 0.02
//   NormScale 1, NormShift 0                        as a fresh nn.LayerNorm
// With Packing::Packed, every Linear's weight is written straight into the
// packed layout that pack_weights would give it, with the same values: no
// [out, in] copy is made and none is repacked.
enum class Packing { None, Packed };
void init_random(Model& m, uint64_t seed, Packing packing = Packing::None);

struct Prediction {
    int index = 0;
    std::string label;  // empty when the model has no class names
    double score = 0;   // softmax probability
};

// The k most likely classes, best first.
std::vector<Prediction> top_k(const Tensor& logits, int k, const std::vector<std::string>& class_names);

// features [C] and logits [classes] <- image [3, S, S], normalised. A
// shape-only image or shape-only weights give shape-only steps: shapes and
// MACs, no values.
ModelOutput forward(const Model& m, const Tensor& image, Trace& trace);

// Reserves every buffer of m's forward pass at its largest size, from the
// shape-only pass, and touches it once (core/workspace.h). Returns the bytes
// the workspace holds.
int64_t plan_workspace(const Model& m);

}  // namespace vitrace
