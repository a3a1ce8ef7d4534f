#include "pipeline/pipeline.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <fstream>

#include "io/checkpoint.h"
#include "io/checkpoint_config.h"

namespace vitrace {

namespace {

// Names from a file: one a line, or a config.json's id2label.
std::vector<std::string> read_labels(const std::string& path) {
    if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
        std::ifstream in(path);
        require(in.good(), ErrorKind::Usage, "--labels: cannot open '" + path + "'");
        const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
        require(j.is_object(), ErrorKind::Usage, "--labels: '" + path + "' is no JSON object");
        return config_labels(j, "'" + path + "'");
    }
    std::ifstream in(path);
    require(in.good(), ErrorKind::Usage, "--labels: cannot open '" + path + "'");
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        names.push_back(line);
    }
    while (!names.empty() && names.back().empty()) names.pop_back();
    return names;
}

// The class names a model gets (WeightOptions::labels).
std::vector<std::string> class_names_for(const ModelConfig& cfg, const WeightOptions& w,
                                         const CheckpointFiles* files) {
    const int classes = cfg.classes();
    if (w.labels == "none" || classes == 0) return {};
    std::vector<std::string> names;
    std::string from;
    if (!w.labels.empty()) {
        names = read_labels(w.labels);
        from = "--labels '" + w.labels + "'";
    } else if (files && files->config && !(names = config_labels(*files->config, files->config_path)).empty()) {
        from = "'" + files->config_path + "'";
    } else if (!cfg.class_names.empty()) {
        return cfg.class_names;
    } else if (classes == 1000) {
        names = read_labels(data_dir() + "/imagenet_classes.txt");
        from = "data/imagenet_classes.txt";
    } else {
        return {};
    }
    require((int)names.size() == classes, ErrorKind::Config,
            from + " names " + std::to_string(names.size()) + " classes, but " + cfg.name + " has " +
                std::to_string(classes));
    return names;
}

}  // namespace

LoadedModel load_model(const ModelConfig& cfg, const WeightOptions& w, Packing packing) {
    const ArenaScope arena;  // the weights side by side, in huge pages
    LoadedModel lm;
    lm.model = make_model(cfg);
    lm.weights.seed = w.seed;
    std::optional<CheckpointFiles> files;
    std::string path;
    if (!w.weights.empty()) {
        files = find_checkpoint(w.weights);
        path = files->weights;
    } else if (!w.untrained && !cfg.weights_file.empty()) {
        path = data_dir() + "/" + cfg.weights_file;
    }
    if (!path.empty()) {
        LoadOptions lo;
        lo.allow_nonfinite = w.allow_nonfinite;
        const SafetensorsFile file = SafetensorsFile::open(path);
        try {
            lm.weights.layout = load_checkpoint(lm.model, file, lo).layout;
        } catch (const Error& e) {
            if (e.kind != ErrorKind::Checkpoint || !files) throw;
            std::string held;
            for (const std::string& d : config_differences(file, *files, cfg)) held += (held.empty() ? "" : "; ") + d;
            if (held.empty()) throw;
            throw Error(e.kind, std::string(e.what()) + "; the file holds another config (" + held + ")");
        }
        lm.weights.path = path;
        lm.weights.trained = true;
    } else {
        init_random(lm.model, w.seed, packing);
    }
    lm.model.config.class_names = class_names_for(cfg, w, files ? &*files : nullptr);
    return lm;
}

ModelConfig config_from_checkpoint(const std::string& weights, const GivenHints& heads,
                                   std::vector<std::string>& notes) {
    const CheckpointFiles files = find_checkpoint(weights);
    const CheckpointModel held = model_from_checkpoint(SafetensorsFile::open(files.weights), files, heads);
    notes = held.notes;
    return held.config;
}

Normalization normalization_for(const std::vector<float>& mean, const std::vector<float>& std,
                                const std::string& weights) {
    Normalization n;
    PreprocessingHints hints;
    if (!weights.empty()) hints = preprocessing_hints(find_checkpoint(weights));
    auto pick = [&](const std::vector<float>& flag, const char* name, const std::optional<std::array<float, 3>>& hint,
                    std::array<float, 3>& value, std::string& source) {
        if (!flag.empty()) {
            require(flag.size() == 3, ErrorKind::Usage,
                    std::string(name) + ": expected 3 numbers r,g,b, got " + std::to_string(flag.size()));
            std::copy(flag.begin(), flag.end(), value.begin());
            source = name;
        } else if (hint) {
            value = *hint;
            source = hints.source;
        }
    };
    pick(mean, "--mean", hints.mean, n.mean, n.mean_source);
    pick(std, "--std", hints.std, n.std, n.std_source);
    for (int c = 0; c < 3; c++)
        require(n.std[c] > 0 && std::isfinite(n.std[c]) && std::isfinite(n.mean[c]), ErrorKind::Usage,
                "--mean/--std: expected finite numbers and std > 0");
    return n;
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
    plan_workspace(lm.model);  // every buffer of the forward pass, allocated and touched before it starts
    ImageRun run{std::move(image), Trace(options), {}, {}, {}};
    run.trace.on_step = on_step;
    const Tensor x = [&] {
        const ArenaScope arena;  // the input's tensors side by side, in huge pages
        return preprocess(run.image, lm.model.config.image_size(), norm, run.trace);
    }();
    ModelOutput out = forward(lm.model, x, run.trace);
    run.features = std::move(out.features);
    run.logits = std::move(out.logits);
    run.trace.on_step = nullptr;
    run.top = top_k(run.logits, 5, lm.model.config.class_names);
    return run;
}

}  // namespace vitrace
