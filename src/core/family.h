// A model family (ViT, Swin) as one descriptor: its config fields, its
// weights and the order they are visited in, its forward pass, what its config
// shows beyond the fields, and the facts that commands ask of it. Commands,
// cost tables and writers ask the descriptor; none of them names a family.
//
// Adding a family: a file pair (core/NAME.h, core/NAME.cpp) that defines the
// config and weight structs, the forward pass and `const Family& NAME_family()`,
// and one line in families() (core/family.cpp).
#pragma once

#include <any>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/params.h"
#include "core/trace.h"
#include "core/workspace.h"

namespace vitrace {

// How far a token's attention reaches: the whole sequence, or its window.
enum class AttentionReach { Global, Windowed };

// One attention layer as `vitrace attention --layer L` picks it: a ViT block,
// or a Swin stage (all its blocks share heads, grid and window).
struct AttentionLayer {
    StepScope scope;  // stage and block of the layer's first block
    int blocks = 1;   // blocks in the layer
    int heads = 0;
    int grid = 0;     // the token grid's side: h = w (ViT), H = W (Swin)
    int window = 0;   // window side M; 0 for global attention
    int shift = 0;    // shift of the layer's odd blocks; 0 when none shifts
};

// Buffers that checkpoints may store beside the parameters. The model
// computes them; a loaded buffer must equal the computed one.
enum class BufferKind { RelativePositionIndex, AttentionMask };

// What a forward pass gives.
struct ModelOutput {
    Tensor features;  // [C]: what the head reads (timm's forward_head(pre_logits=True))
    Tensor logits;    // [classes]; empty for a model without a head
};

// What a checkpoint's shapes cannot tell, from wherever it is known
// (a config.json, the file's metadata, a flag); empty: the family's convention.
struct ConfigHints {
    std::vector<int> heads;           // one number (ViT) or one per stage (Swin)
    std::optional<double> norm_eps;
    std::optional<int> image_size;    // Swin: any size its windows divide would do
    std::optional<int> dim_head;      // ViT: channels per head, where heads x dim_head need not be the width
    std::optional<std::string> pool;  // ViT: a --pool word (token, mean, mean_all)
    std::optional<std::string> act;   // ViT: an --act word (gelu, silu, relu)
    std::string layout;               // the layout the file is read through ("timm", "vit-pytorch", ...)
};
// The shape of a parameter, by timm's name, in the file being read; nothing
// when the file does not have it.
using ShapeProbe = std::function<std::optional<Shape>(const std::string& name)>;

// The shape of `name`, which every model of the family has; throws
// Error(Checkpoint) naming it when the file does not.
Shape need_shape(const ShapeProbe& probe, const std::string& name, const std::string& family);
// patch_embed.proj.weight [C, 3, P, P]: the width C and the patch side P.
std::pair<int, int> patch_embed_shape(const ShapeProbe& probe, const std::string& family);

// fn(name, tensor, kind, fan_in) for every parameter, with timm's names.
using ParamFn = std::function<void(const std::string&, Tensor&, ParamKind, int64_t)>;

struct Family {
    std::string name;        // the trace's model.family: "vit", "swin"
    std::string display;     // in messages: "ViT", "Swin"
    AttentionReach reach = AttentionReach::Global;
    std::string layer_word;  // what --layer counts: "layer" (a block) or "stage"
    std::vector<ConfigField> fields;  // in the order model.config lists them

    // The config checked as a whole (fields against each other). Throws Error(Config).
    std::function<void(const std::any& cfg)> validate;
    // What model.config shows after the fields: derived sizes (tokens, stages, ...).
    std::function<ConfigRecord(const std::any& cfg)> derived;
    std::function<int(const std::any& cfg)> image_size, patch, classes;

    // Shape-only weights for cfg, every tensor with its timm shape.
    std::function<std::any(const std::any& cfg)> make_weights;
    // Every parameter in timm's state-dict order.
    std::function<void(std::any& weights, const std::any& cfg, const ParamFn& fn)> visit_params;
    // Every Linear of the same walk, whole (core/params.h).
    std::function<void(std::any& weights, const std::any& cfg, EachLinear& each)> visit_linears;
    // features and logits <- image [3, S, S], recording every step.
    std::function<ModelOutput(const std::any& cfg, const std::any& weights, const Tensor& image, Trace& trace,
                              Workspace& workspace)>
        forward;

    // The config that a checkpoint's shapes imply. `notes` gets a line for
    // every value that had to be guessed. Throws Error(Checkpoint).
    std::function<std::any(const ShapeProbe& probe, const ConfigHints& hints, std::vector<std::string>& notes)>
        infer;

    std::function<std::vector<AttentionLayer>(const std::any& cfg)> attention_layers;
    // The buffer the model computes for block `block` of stage `stage`; nothing
    // when that block has no such buffer.
    std::function<std::optional<Tensor>(const std::any& cfg, BufferKind kind, int stage, int block)> buffer;

    const ConfigField* field_by_flag(const std::string& flag) const;  // flag: any one of its spellings
    const ConfigField* field_by_json(const std::string& json) const;
};

// Fills the members that only pass a family's typed structs through: the
// config C (with image_size, patch and classes members) and the weights W.
template <class C, class W>
void bind_typed(Family& f, void (*validate)(const C&), W (*make_weights)(const C&),
                void (*visit_params)(W&, const C&, const ParamFn&), void (*visit_linears)(W&, const C&, EachLinear&),
                ModelOutput (*forward)(const C&, const W&, const Tensor&, Trace&, Workspace&)) {
    f.validate = [=](const std::any& cfg) { validate(config_as<C>(cfg)); };
    f.image_size = [](const std::any& cfg) { return config_as<C>(cfg).image_size; };
    f.patch = [](const std::any& cfg) { return config_as<C>(cfg).patch; };
    f.classes = [](const std::any& cfg) { return config_as<C>(cfg).classes; };
    f.make_weights = [=](const std::any& cfg) { return std::any(make_weights(config_as<C>(cfg))); };
    f.visit_params = [=](std::any& w, const std::any& cfg, const ParamFn& fn) {
        visit_params(config_as<W>(w), config_as<C>(cfg), fn);
    };
    f.visit_linears = [=](std::any& w, const std::any& cfg, EachLinear& each) {
        visit_linears(config_as<W>(w), config_as<C>(cfg), each);
    };
    f.forward = [=](const std::any& cfg, const std::any& w, const Tensor& image, Trace& trace, Workspace& ws) {
        return forward(config_as<C>(cfg), config_as<W>(w), image, trace, ws);
    };
}

// Every registered family, in the order `vitrace models` lists them.
const std::vector<const Family*>& families();
// Throws Error(Config) for an unknown name.
const Family& family_named(const std::string& name);

}  // namespace vitrace
