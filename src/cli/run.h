// Running a model on an image from the command line: the pipeline's run
// (pipeline/pipeline.h) with its warnings on stderr and a progress line.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "pipeline/pipeline.h"

namespace vitrace::cli {

// Keeps a command's model until the process exits, which gives its memory back
// all at once: freeing it piece by piece just before took about 1 ms of a
// Swin-T trace. For the last use of a model, when the command's work is done.
void keep_until_exit(LoadedModel&& lm);

// Decodes the image (a warning about it goes to stderr), runs the model on it
// and records every step.
ImageRun run_on_image(const LoadedModel& lm, const std::string& image_path, const Normalization& norm,
                      const TraceOptions& options);

// A warning for each pattern of `flag` ("--steps", "--show") that matched no
// step, with the closest names.
void warn_unmatched(const Trace& trace, const std::vector<std::string>& patterns, const std::string& flag);

// The top-5 (or what the model gives instead), as `trace` prints it.
// The trace of `vitrace shapes`: the forward pass on shape-only tensors from
// input.normalize on, nothing allocated or computed.
Trace shape_trace(const ModelConfig& cfg);
// Its last line: "vit_base_patch16_224: 188 steps (13 shown), 86.57M parameters, 17.56G multiply-adds per image".
std::string shapes_footer(const ModelConfig& cfg, const Trace& trace, size_t shown);

void print_predictions(const LoadedModel& lm, const ImageRun& run, std::FILE* out);

// A progress line on stderr while a trace runs, when stderr is a terminal;
// cleared when the Progress goes.
class Progress {
public:
    explicit Progress(const std::string& label);
    ~Progress();
    // What the trace calls after each step; empty when stderr is no terminal.
    std::function<void(const Step&)> on_step() const;

private:
    std::string label_;
    bool active_ = false;
};

}  // namespace vitrace::cli
