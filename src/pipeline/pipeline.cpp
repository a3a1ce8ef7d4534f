#include "pipeline/pipeline.h"

#include <cstdlib>
#include <filesystem>

#include "io/checkpoint.h"

namespace vitrace {

LoadedModel load_model(const ModelConfig& cfg, const WeightOptions& w) {
    LoadedModel lm;
    lm.model = make_model(cfg);
    lm.weights.seed = w.seed;
    std::string path = w.weights;
    if (path.empty() && !w.untrained && !cfg.weights_file.empty()) path = data_dir() + "/" + cfg.weights_file;
    if (!path.empty()) {
        LoadOptions lo;
        lo.allow_nonfinite = w.allow_nonfinite;
        lm.weights.layout = load_checkpoint(lm.model, path, lo).layout;
        lm.weights.path = path;
        lm.weights.trained = true;
    } else {
        init_random(lm.model, w.seed);
    }
    return lm;
}

std::string data_dir() {
    if (const char* env = std::getenv("VITRACE_DATA"); env && *env) return env;
    return VITRACE_DATA_DIR;
}

std::string resolve_data_path(const std::string& path) {
    std::error_code ec;  // a path that cannot even be looked at is left for the reader to report
    if (std::filesystem::exists(path, ec) || path.rfind("data/", 0) != 0) return path;
    const std::string in_data = data_dir() + "/" + path.substr(5);
    return std::filesystem::exists(in_data, ec) ? in_data : path;
}

DecodedImage read_input(const std::string& path, std::string* warning) {
    return read_image(resolve_data_path(path), warning);
}

ImageRun run_model(const LoadedModel& lm, DecodedImage image, const Normalization& norm, const TraceOptions& options,
                   const std::function<void(const Step&)>& on_step) {
    ImageRun run{std::move(image), Trace(options), {}, {}, {}};
    run.trace.on_step = on_step;
    const Tensor x = preprocess(run.image, lm.model.config.image_size(), norm, run.trace);
    ModelOutput out = forward(lm.model, x, run.trace);
    run.features = std::move(out.features);
    run.logits = std::move(out.logits);
    run.trace.on_step = nullptr;
    run.top = top_k(run.logits, 5, lm.model.config.class_names);
    return run;
}

}  // namespace vitrace
