// The JSON trace, format "vitrace.trace/1" (docs/trace-format.md).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/model.h"
#include "core/trace.h"

namespace vitrace {

inline constexpr const char* kTraceFormat = "vitrace.trace/1";

// Where a model's weights came from.
struct WeightsInfo {
    std::string path;    // empty: seeded random weights
    std::string layout;  // how the checkpoint names its tensors ("timm", "microsoft")
    bool trained = false;
    uint64_t seed = 0;
};

// A config read back (core/config.h) as JSON.
nlohmann::ordered_json config_json(const ConfigRecord& r);
nlohmann::ordered_json config_json(const ConfigValue& v);

// The "model" object: name, family, config, parameter count and the weights.
nlohmann::ordered_json model_json(const ModelConfig& cfg, const WeightsInfo& weights);

// Writes the whole document. Values are written with the fewest digits that
// read back to the same float; NaN and infinities, which JSON lacks, as null.
// `extra`, when given, is an object whose fields are added at the top level
// (the lessons add "lesson").
// `output` holds the features always, and the logits and top-5 only when the
// model has a head.
void write_trace_json(std::FILE* f, const nlohmann::ordered_json& model, const nlohmann::ordered_json& input,
                      const Trace& trace, const ModelOutput& out, const std::vector<Prediction>& top,
                      const nlohmann::ordered_json* extra = nullptr);

}  // namespace vitrace
