// The flags that several subcommands share: the model and its config, the
// weights, the normalisation, the memory budget.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cost.h"
#include "core/model.h"
#include "pipeline/pipeline.h"

namespace CLI {
class App;  // CLI11's: only the files that set up flags include it, not every lesson
}

namespace vitrace::cli {

// --model and the config flags of every family (core/family.h): each field's
// flag is declared once, by the field.
struct ModelOptions {
    std::string model;
    struct Slot {  // where CLI11 puts the flag's value, by the field's kind
        FlagKind kind = FlagKind::Int;
        std::optional<int> one;
        std::vector<int> many;
        std::optional<double> number;
        std::optional<std::string> word;
        bool on = false;  // a switch
    };
    std::map<std::string, Slot> flags;  // by the flag's first spelling, "--width"
};
// default_model: the --model a command uses when none is given (none: --model is
// required, unless `weights_name_it`: then --weights may name the model instead).
void add_model_options(CLI::App& cmd, ModelOptions& o, const char* default_model = nullptr,
                       bool weights_name_it = false);
// --model with its flags; without --model, the model that --weights holds
// (its guesses are printed as warnings), with the flags applied to it.
ModelConfig resolve_config(const ModelOptions& o, const WeightOptions* w = nullptr);

// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_commas(const std::string& s);

// The model configuration that a string of model flags selects, as the command
// line would read it: "--model vit_tiny_patch16_224 --image-size 8 --patch 4".
ModelConfig config_from_flags(const std::string& flags);

// --weights, --seed, --untrained, --allow-nonfinite
void add_weight_options(CLI::App& cmd, WeightOptions& o);

// --max-memory: the most a run may allocate, checked against an estimate
// before any weight or activation is allocated.
struct MemoryOptions {
    std::string max_memory;  // "12G", "800M", bytes; empty: 80 % of physical RAM
};
void add_memory_options(CLI::App& cmd, MemoryOptions& o);
// Throws Error(Config) with the estimate when the run would not fit.
void check_memory(const ModelConfig& cfg, const TraceOptions& options, const MemoryOptions& o);

// --mean and --std; unset, they come from the checkpoint's hub files or are ImageNet's.
struct NormOptions {
    std::vector<float> mean, std;
};
void add_norm_options(CLI::App& cmd, NormOptions& o);
Normalization normalization(const NormOptions& o, const WeightOptions& w);

}  // namespace vitrace::cli
