// The model a checkpoint holds, read from the file alone: which layout names
// its tensors, the config its shapes imply, and what a config.json beside it
// (Hugging Face's or timm's hub files) or its metadata adds.
//
//   --weights model.safetensors          model.json beside it (the file's name with .json), else
//                                        config.json, is read when there
//   --weights DIR                        DIR/model.safetensors, DIR/config.json,
//                                        DIR/preprocessor_config.json (the hub's layout)
//
// Heads, dim_head, LayerNorm eps, the pooling and the activation, which no
// shape shows, come from the first that has them: the JSON beside the file,
// the safetensors __metadata__, --heads and --dim-head, the layout's convention.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model.h"
#include "io/layout.h"
#include "io/safetensors.h"

namespace vitrace {

// The files of one checkpoint.
struct CheckpointFiles {
    std::string weights;                        // the .safetensors file
    std::optional<nlohmann::json> config;       // config.json
    std::string config_path;
    std::optional<nlohmann::json> preprocessor; // preprocessor_config.json
    std::string preprocessor_path;
};
// Throws Error(Checkpoint) for a folder without model.safetensors and for a
// config.json that is no JSON object.
CheckpointFiles find_checkpoint(const std::string& weights);

// What the command line says that no tensor does: --heads, --dim-head.
struct GivenHints {
    std::vector<int> heads;         // empty: not given
    std::optional<int> dim_head;
};

struct CheckpointModel {
    ModelConfig config;               // named after the file (or the hub config's architecture)
    const Layout* layout = nullptr;
    std::vector<std::string> markers; // the names that identified the layout
    std::vector<std::string> notes;   // what was guessed, and where heads and eps came from
};

// The model the file holds. `given` is --heads and --dim-head.
// Throws Error(Checkpoint): a file of no layout (naming the closest), of
// several layouts at once, or whose config.json contradicts its tensors;
// Error(Config) for what only a flag or a JSON beside the file can say and
// none did (vit-pytorch's heads and dim_head).
CheckpointModel model_from_checkpoint(const SafetensorsFile& file, const CheckpointFiles& files,
                                      const GivenHints& given);

// The differences between the config a file implies and `cfg`, one line each
// ("width: the file 384, the model 192"); empty when the file's config cannot
// be read or they agree.
std::vector<std::string> config_differences(const SafetensorsFile& file, const CheckpointFiles& files,
                                            const ModelConfig& cfg);

// Preprocessing that the hub files ask for.
struct PreprocessingHints {
    std::optional<std::array<float, 3>> mean, std;
    std::string source;  // "preprocessor_config.json" or "config.json (pretrained_cfg)"
};
PreprocessingHints preprocessing_hints(const CheckpointFiles& files);

// Class names from config.json: Hugging Face's id2label, or timm's label_names.
std::vector<std::string> config_labels(const nlohmann::json& config, const std::string& what);

}  // namespace vitrace
