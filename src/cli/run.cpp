#include "cli/run.h"

#include "cli/format.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli/errors.h"
#include "core/names.h"
#include "cli/table.h"

namespace vitrace::cli {

void keep_until_exit(LoadedModel&& lm) {
    static auto* kept = new std::vector<LoadedModel>;  // never freed: the exit frees its memory
    kept->push_back(std::move(lm));
}

ImageRun run_on_image(const LoadedModel& lm, const std::string& image_path, const Normalization& norm,
                      const TraceOptions& options) {
    std::string warning;
    DecodedImage image = read_input(image_path, &warning);
    if (!warning.empty()) print_warning(warning);
    Progress progress("trace " + lm.model.config.name);
    return run_model(lm, std::move(image), norm, options, progress.on_step());
}

Progress::Progress(const std::string& label) : label_(label), active_(isatty(STDERR_FILENO)) {}

Progress::~Progress() {
    if (active_) std::fprintf(stderr, "\r\033[K");
}

std::function<void(const Step&)> Progress::on_step() const {
    if (!active_) return {};
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    return [label = label_, start, last](const Step& s) mutable {
        const auto now = std::chrono::steady_clock::now();
        if (now - start < std::chrono::milliseconds(300) || now - last < std::chrono::milliseconds(100)) return;
        last = now;
        std::fprintf(stderr, "\r\033[K%s: step %d %s", label.c_str(), s.index, s.name.c_str());
        std::fflush(stderr);
    };
}

void warn_unmatched(const Trace& trace, const std::vector<std::string>& patterns, const std::string& flag) {
    std::vector<std::string> names;
    for (const Step& s : trace.steps()) names.push_back(s.name);
    for (const std::string& p : patterns) {
        if (std::any_of(names.begin(), names.end(), [&](const std::string& n) { return glob_match(p, n); })) continue;
        std::string near;
        for (const std::string& n : closest_names(p, names, 3)) near += (near.empty() ? "" : ", ") + n;
        print_warning(flag + " pattern '" + p + "' matches no step; close names: " + near);
    }
}

Trace shape_trace(const ModelConfig& cfg) {
    const Model m = make_model(cfg);  // shape-only weights: nothing allocated, nothing computed
    Trace trace;
    const int S = cfg.image_size();
    const Tensor x = Tensor::shape_only({3, S, S});
    trace.record(StepAt{Role::InputNormalize}, "normalize", x, {"rgb", "img_h", "img_w"});
    forward(m, x, trace);
    return trace;
}

std::string shapes_footer(const ModelConfig& cfg, const Trace& trace, size_t shown) {
    int64_t macs = 0;
    for (const Step& s : trace.steps()) macs += s.macs;
    const std::string part = shown < trace.steps().size() ? " (" + std::to_string(shown) + " shown)" : "";
    return cfg.name + ": " + std::to_string(trace.steps().size()) + " steps" + part + ", " +
           human_count((double)param_count(cfg)) + " parameters, " + human_count((double)macs) + " multiply-adds per image";
}

void print_predictions(const LoadedModel& lm, const ImageRun& run, std::FILE* out) {
    const std::vector<Prediction>& top = run.top;
    if (!lm.weights.trained)
        std::fprintf(out, "%s is untrained (random weights, seed %llu); --weights FILE.safetensors gives real predictions\n",
                     lm.model.config.name.c_str(), (unsigned long long)lm.weights.seed);
    if (lm.model.config.classes() == 0) {
        std::fprintf(out, "%s has no head: its output is the features [%lld], in the JSON trace's output.features\n",
                     lm.model.config.name.c_str(), (long long)run.features.numel());
        return;
    }
    std::fprintf(out, "top-%zu:\n", top.size());
    for (size_t i = 0; i < top.size(); i++) {
        const std::string label = top[i].label.empty() ? "class " + std::to_string(top[i].index)
                                                       : top[i].label + " (" + std::to_string(top[i].index) + ")";
        std::fprintf(out, "  %zu. %-24s %s\n", i + 1, label.c_str(), fixed(top[i].score).c_str());
    }
}

}  // namespace vitrace::cli
