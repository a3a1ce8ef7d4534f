// The pipeline that the command line, the lessons and the tests share:
// a model with its weights, an image made into its input, a traced run.
//
//   load_model     config + --weights (or data/'s trained weights, or seeded random)
//   read_input     the image file, found in data/ when given as data/...
//   run_model      preprocess (pipeline/preprocess.h), forward, top-5
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/model.h"
#include "io/checkpoint_config.h"
#include "io/image.h"
#include "io/trace_json.h"
#include "pipeline/preprocess.h"

namespace vitrace {

struct WeightOptions {
    std::string weights;     // a safetensors file, or a folder with model.safetensors (and config.json);
                             // empty: data/'s trained weights, else random
    std::string labels;      // class names: "" (from the checkpoint, else ImageNet's for 1000 classes),
                             // "none", or a file: one name a line, or a config.json with id2label
    uint64_t seed = 0;
    bool untrained = false;  // seeded random weights even for a model that ships trained ones
    bool allow_nonfinite = false;
};

// The model with its weights: from --weights, else the trained weights a
// built-in model ships in data/, else seeded random; and its class names.
// A checkpoint that does not fit cfg is refused with the differences between
// cfg and the config the file holds.
// With Packing::Packed, random weights are made straight into the layout the
// fast product reads (init_random); a checkpoint's are read as they are named,
// and pack_weights packs them after.
struct LoadedModel {
    Model model;
    WeightsInfo weights;
};
LoadedModel load_model(const ModelConfig& cfg, const WeightOptions& w, Packing packing = Packing::None);

// vitrace's data directory: $VITRACE_DATA if set, else the repository's data/
// that the build was configured from.
std::string data_dir();
// A path as a person writes it ("data/images/ring.png"): used as given when it
// exists, else found in data_dir() when it starts with "data/" and is there.
std::string resolve_data_path(const std::string& path);

// The model config that --weights holds (io/checkpoint_config.h), with
// `heads` as --heads and --dim-head give them (empty when not given); notes says what was guessed.
ModelConfig config_from_checkpoint(const std::string& weights, const GivenHints& heads,
                                   std::vector<std::string>& notes);

// Normalisation: the flags' values where given (empty: not given), else what
// the checkpoint's hub files ask for, else ImageNet's; each with its source.
Normalization normalization_for(const std::vector<float>& mean, const std::vector<float>& std,
                                const std::string& weights);

// Decodes the image at `path` (resolve_data_path); a warning about it, if any, in `warning`.
DecodedImage read_input(const std::string& path, std::string* warning);

// A run of a model on an image, every step recorded.
struct ImageRun {
    DecodedImage image;
    Trace trace;
    Tensor features;              // [C], what the head reads
    Tensor logits;                // [classes]; empty without a head
    std::vector<Prediction> top;  // the five most likely classes; none without a head
};
// on_step, when given, is called after each step (a progress line).
ImageRun run_model(const LoadedModel& lm, DecodedImage image, const Normalization& norm, const TraceOptions& options,
                   const std::function<void(const Step&)>& on_step = {});

}  // namespace vitrace
