#include "cli/common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/cost.h"
#include "io/checkpoint.h"

namespace vitrace::cli {

int exit_code(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Usage: return 2;
        case ErrorKind::Input: return 3;
        case ErrorKind::Checkpoint: return 4;
        case ErrorKind::Config: return 5;
        case ErrorKind::Output: return 6;
        case ErrorKind::Internal: return 1;
    }
    return 1;
}

namespace {

std::string one_line(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\n' || c == '\r' || c == '\t') {
            out += ' ';
        } else if (c < 0x20 || c == 0x7F) {
            char tmp[8];
            std::snprintf(tmp, sizeof tmp, "\\x%02x", c);
            out += tmp;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

void print_error(const std::string& message) {
    std::fprintf(stderr, "vitrace: error: %s\n", one_line(message).c_str());
}

void print_warning(const std::string& message) {
    std::fprintf(stderr, "vitrace: warning: %s\n", one_line(message).c_str());
}

void add_model_options(CLI::App& cmd, ModelOptions& o, const char* default_model) {
    CLI::Option* model = cmd.add_option("--model", o.model, "Model name (see `vitrace models`)");
    if (default_model) {
        o.model = default_model;
        model->capture_default_str();
    } else {
        model->required();
    }
    cmd.add_option("--image-size", o.image_size, "Input image side S in pixels");
    cmd.add_option("--patch", o.patch, "Patch side P in pixels");
    cmd.add_option("--width,--embed-dim", o.width, "Embedding width C (Swin: of the first stage)");
    cmd.add_option("--depth,--depths", o.depth, "Blocks (Swin: per stage, e.g. 2,2,6,2)")->delimiter(',');
    cmd.add_option("--heads", o.heads, "Attention heads (Swin: per stage, e.g. 3,6,12,24)")->delimiter(',');
    cmd.add_option("--window", o.window, "Swin window side M");
    cmd.add_option("--mlp-ratio", o.mlp_ratio, "MLP hidden width as a multiple of C");
    cmd.add_option("--pool", o.pool, "ViT pooling before the head: token (cls) or mean");
    cmd.add_option("--classes", o.classes, "Outputs of the classifier head");
}

ModelConfig resolve_config(const ModelOptions& o) {
    ModelConfig cfg = find_model(o.model);
    ConfigOverrides ov;
    ov.image_size = o.image_size;
    ov.patch = o.patch;
    ov.width = o.width;
    ov.classes = o.classes;
    ov.window = o.window;
    ov.mlp_ratio = o.mlp_ratio;
    if (!o.depth.empty()) ov.depths = o.depth;
    if (!o.heads.empty()) ov.heads = o.heads;
    if (!o.pool.empty()) {
        if (o.pool == "token" || o.pool == "cls")
            ov.pool = Pool::Token;
        else if (o.pool == "mean" || o.pool == "avg")
            ov.pool = Pool::Mean;
        else
            throw Error(ErrorKind::Usage, "--pool: expected token or mean, got '" + o.pool + "'");
    }
    apply_overrides(cfg, ov);
    return cfg;
}

void add_weight_options(CLI::App& cmd, WeightOptions& o) {
    cmd.add_option("--weights", o.weights, "safetensors checkpoint with timm's parameter names");
    cmd.add_option("--seed", o.seed, "Seed of the random weights used without --weights")
        ->capture_default_str();
    cmd.add_flag("--untrained", o.untrained, "Use seeded random weights even for a model that ships trained ones");
    cmd.add_flag("--allow-nonfinite", o.allow_nonfinite, "Load a checkpoint even if it has NaN or inf values");
}

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

void add_memory_options(CLI::App& cmd, MemoryOptions& o) {
    cmd.add_option("--max-memory", o.max_memory,
                   "Refuse runs estimated to need more memory than this (e.g. 4G, 500M; default: 80% of RAM)");
}

namespace {

int64_t parse_size(const std::string& text) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    const std::string unit = text.substr(used);
    const double scale = unit.empty() || unit == "B" ? 1.0
                         : unit == "K" || unit == "KB" ? 1024.0
                         : unit == "M" || unit == "MB" ? 1048576.0
                         : unit == "G" || unit == "GB" ? 1073741824.0
                         : unit == "T" || unit == "TB" ? 1099511627776.0
                                                       : -1.0;
    if (used == 0 || scale < 0 || !(v > 0) || v * scale > 9.0e18)
        throw Error(ErrorKind::Usage, "--max-memory: expected a size such as 4G or 500M, got '" + text + "'");
    return static_cast<int64_t>(v * scale);
}

std::string gigabytes(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, bytes >= (1LL << 30) ? "%.1f GB" : "%.0f MB",
                  bytes >= (1LL << 30) ? bytes / 1073741824.0 : bytes / 1048576.0);
    return buf;
}

}  // namespace

void check_memory(const ModelConfig& cfg, const TraceOptions& options, const MemoryOptions& o) {
    int64_t budget = 0;
    if (!o.max_memory.empty()) {
        budget = parse_size(o.max_memory);
    } else {
        const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
        if (pages <= 0 || page <= 0) return;  // unknown RAM: no default budget
        budget = static_cast<int64_t>(0.8 * (double)pages * (double)page);
    }
    const MemoryEstimate e = estimate_memory(cfg, options);
    if (e.total() > budget)
        throw Error(ErrorKind::Config, cfg.name + " at " + std::to_string(cfg.image_size()) + "x" +
                                           std::to_string(cfg.image_size()) + " needs about " + gigabytes(e.total()) +
                                           " (weights " + gigabytes(e.weights_bytes) + ", activations " +
                                           gigabytes(e.activation_bytes) + ", recorded values " +
                                           gigabytes(e.trace_bytes) + "), above the memory budget of " +
                                           gigabytes(budget) + "; raise --max-memory, or trace fewer values");
}

void add_norm_options(CLI::App& cmd, NormOptions& o) {
    cmd.add_option("--mean", o.mean, "Per-channel mean, r,g,b")->delimiter(',')->capture_default_str();
    cmd.add_option("--std", o.std, "Per-channel std, r,g,b")->delimiter(',')->capture_default_str();
}

Normalization normalization(const NormOptions& o) {
    if (o.mean.size() != 3) throw Error(ErrorKind::Usage, "--mean: expected 3 numbers r,g,b, got " + std::to_string(o.mean.size()));
    if (o.std.size() != 3) throw Error(ErrorKind::Usage, "--std: expected 3 numbers r,g,b, got " + std::to_string(o.std.size()));
    Normalization n;
    for (int c = 0; c < 3; c++) {
        if (!(o.std[c] > 0) || !std::isfinite(o.std[c]) || !std::isfinite(o.mean[c]))
            throw Error(ErrorKind::Usage, "--mean/--std: expected finite numbers and std > 0");
        n.mean[c] = o.mean[c];
        n.std[c] = o.std[c];
    }
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

ModelConfig config_from_flags(const std::string& flags) {
    CLI::App app;
    ModelOptions o;
    add_model_options(app, o);
    try {
        app.parse(flags, false);
    } catch (const CLI::ParseError& e) {
        throw Error(ErrorKind::Internal, "model flags '" + flags + "': " + e.what());
    }
    return resolve_config(o);
}

ImageRun run_on_image(const LoadedModel& lm, const std::string& image_path, const Normalization& norm,
                      const TraceOptions& options) {
    ImageRun run{{}, Trace(options), {}, {}};
    std::string warning;
    run.image = read_image(resolve_data_path(image_path), &warning);
    if (!warning.empty()) print_warning(warning);
    {
        Progress progress(run.trace, "trace " + lm.model.config.name);
        const Tensor x = preprocess(run.image, lm.model.config.image_size(), norm, run.trace);
        run.logits = forward(lm.model, x, run.trace);
    }
    run.top = top_k(run.logits, 5, lm.model.config.class_names);
    return run;
}

Progress::Progress(Trace& trace, const std::string& label) {
    if (!isatty(STDERR_FILENO)) return;
    active_ = true;
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    trace.on_step = [=](const Step& s) mutable {
        const auto now = std::chrono::steady_clock::now();
        if (now - start < std::chrono::milliseconds(300) || now - last < std::chrono::milliseconds(100)) return;
        last = now;
        std::fprintf(stderr, "\r\033[K%s: step %d %s", label.c_str(), s.index, s.name.c_str());
        std::fflush(stderr);
    };
}

Progress::~Progress() {
    if (active_) std::fprintf(stderr, "\r\033[K");
}

std::string human_count(double n) {
    const char* units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (std::abs(n) >= 1000 && u < 4) {
        n /= 1000;
        u++;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.2f%s", n, units[u]);
    return buf;
}

}  // namespace vitrace::cli
