// What the subcommands share: the model flags, building a model, exit codes,
// messages and the progress line.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/model.h"
#include "io/image.h"
#include "io/trace_json.h"

namespace vitrace::cli {

// Exit codes, one per kind of failure (docs/cli.md).
int exit_code(ErrorKind kind);

// "vitrace: error: ..." on one line; control characters in the message are escaped.
void print_error(const std::string& message);
void print_warning(const std::string& message);

// --model and the flags that override its configuration.
struct ModelOptions {
    std::string model;
    std::optional<int> image_size, patch, width, classes, window;
    std::vector<int> depth, heads;  // one value for ViT, one per stage for Swin
    std::optional<double> mlp_ratio;
    std::string pool;  // token | mean
};
// default_model: the --model a command uses when none is given (none: --model is required).
void add_model_options(CLI::App& cmd, ModelOptions& o, const char* default_model = nullptr);
ModelConfig resolve_config(const ModelOptions& o);

// --weights, --seed, --untrained, --allow-nonfinite
struct WeightOptions {
    std::string weights;
    uint64_t seed = 0;
    bool untrained = false;  // seeded random weights even for a model that ships trained ones
    bool allow_nonfinite = false;
};
void add_weight_options(CLI::App& cmd, WeightOptions& o);

// The model with its weights: from --weights, else the trained weights a
// built-in model ships in data/, else seeded random.
struct LoadedModel {
    Model model;
    WeightsInfo weights;
};
LoadedModel load_model(const ModelConfig& cfg, const WeightOptions& w);

// --max-memory: the most a run may allocate, checked against an estimate
// before any weight or activation is allocated.
struct MemoryOptions {
    std::string max_memory;  // "12G", "800M", bytes; empty: 80 % of physical RAM
};
void add_memory_options(CLI::App& cmd, MemoryOptions& o);
// Throws Error(Config) with the estimate when the run would not fit.
void check_memory(const ModelConfig& cfg, const TraceOptions& options, const MemoryOptions& o);

// --mean and --std
struct NormOptions {
    std::vector<float> mean = {0.485f, 0.456f, 0.406f};
    std::vector<float> std = {0.229f, 0.224f, 0.225f};
};
void add_norm_options(CLI::App& cmd, NormOptions& o);
Normalization normalization(const NormOptions& o);

// vitrace's data directory: $VITRACE_DATA if set, else the repository's data/
// that the build was configured from.
std::string data_dir();
// A path as a person writes it ("data/images/ring.png"): used as given when it
// exists, else found in data_dir() when it starts with "data/" and is there.
std::string resolve_data_path(const std::string& path);

// The model configuration that a string of model flags selects, as the command
// line would read it: "--model vit_tiny_patch16_224 --image-size 8 --patch 4".
ModelConfig config_from_flags(const std::string& flags);

// Decodes the image, runs the model on it and records every step.
struct ImageRun {
    DecodedImage image;
    Trace trace;
    Tensor logits;
    std::vector<Prediction> top;
};
ImageRun run_on_image(const LoadedModel& lm, const std::string& image_path, const Normalization& norm,
                      const TraceOptions& options);

// A progress line on stderr while a trace runs, when stderr is a terminal.
class Progress {
public:
    explicit Progress(Trace& trace, const std::string& label);
    ~Progress();

private:
    bool active_ = false;
};

std::string human_count(double n);  // 17.56G, 5.72M, 8.1k

}  // namespace vitrace::cli
