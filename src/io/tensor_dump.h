// Tensor dumps, format "vitrace.tensors/1" (docs/trace-format.md): every step's
// values as one safetensors file, written step by step; and reading a trace
// back, from a dump or from a JSON trace with full values, for `vitrace diff`.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/trace.h"
#include "io/output_file.h"
#include "io/safetensors.h"

namespace vitrace {

inline constexpr const char* kTensorsFormat = "vitrace.tensors/1";

// Values go to a scratch file as the steps come; finish() writes the header
// and then the values to the target, through an OutputFile, so the dump
// appears whole or not at all.
class TensorDumpWriter {
public:
    explicit TensorDumpWriter(const std::string& path);  // fails at once on an unusable path
    ~TensorDumpWriter();
    TensorDumpWriter(const TensorDumpWriter&) = delete;
    TensorDumpWriter& operator=(const TensorDumpWriter&) = delete;

    void add(const Step& s, const Tensor& t);
    // `model` and `input` as in the JSON trace; `producer` names the writer.
    void finish(const nlohmann::ordered_json& model, const nlohmann::ordered_json& input, const std::string& producer);
    const std::string& path() const { return out_.path(); }

private:
    OutputFile out_;
    std::FILE* scratch_ = nullptr;
    std::vector<TensorEntry> entries_;
    nlohmann::ordered_json steps_ = nlohmann::ordered_json::array();
};

// A trace read back: its steps in order, and each step's values on demand.
class TraceFile {
public:
    struct StepInfo {
        std::string name, op;
        Shape shape;
        std::vector<std::string> dims;
        bool has_values = false;  // all numel(shape) values are there
    };

    // A tensor dump or a JSON trace; throws Error(Input) naming the file and the fault.
    static TraceFile open(const std::string& path);

    const std::string& path() const { return path_; }
    const char* kind() const { return dump_ ? "tensor dump" : "JSON trace"; }
    const nlohmann::json& model() const { return model_; }  // the trace's model object (may be empty)
    const std::vector<StepInfo>& steps() const { return steps_; }
    const StepInfo* find(const std::string& name) const;
    // Why the producer could not record a step it lacks (a dump's __metadata__.unseen,
    // globs of step names with a reason); "" when it does not say.
    std::string unseen_reason(const std::string& name) const;
    // All the values of step i (has_values must be true).
    std::vector<float> values(size_t i) const;

private:
    std::string path_;
    nlohmann::json model_;
    std::vector<StepInfo> steps_;
    std::vector<std::pair<std::string, std::string>> unseen_;  // glob, why
    std::shared_ptr<SafetensorsFile> dump_;      // a dump: values read when asked
    std::vector<std::vector<float>> json_values_;  // a JSON trace: the full values it holds
};

}  // namespace vitrace
