// vitrace bench: time the forward pass.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <string_view>
#include <vector>
#include <string>

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "io/output_file.h"
#include "io/trace_json.h"

namespace vitrace::cli {

namespace {

// The process's peak resident memory, from /proc/self/status. (getrusage's
// ru_maxrss would count the parent's memory too when a large process, such
// as a Python benchmark script, started this one.)
double peak_rss_mb() {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
    return 0;
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The kinds of work --breakdown sorts a forward pass's steps into, by the op
// each step records (core/trace.h), in the order the table lists them.
struct OpKind {
    const char* name;
    std::vector<std::string_view> ops;
};
const std::vector<OpKind>& op_kinds() {
    static const std::vector<OpKind> kinds = {
        {"matrix products: linear layers", {"linear"}},
        {"matrix products: attention", {"matmul"}},
        {"softmax", {"softmax"}},
        {"layernorm", {"layernorm"}},
        {"activation (GELU)", {"gelu"}},
        {"window partition and reverse", {"window_partition", "window_reverse"}},
        {"cyclic shifts", {"cyclic_shift"}},
        {"copies (patchify, heads, tokens, merging)",
         {"patchify", "split_heads", "merge_heads", "concat", "patch_merge"}},
        {"element-wise (add, scale, bias, mask)",
         {"add", "scale", "layer_scale", "gather", "relative_position_index", "shifted_window_mask", "parameter"}},
    };
    return kinds;
}
constexpr const char* kOtherKind = "other (pooling, resampling)";
constexpr const char* kStatsKind = "statistics (the trace's record)";

const char* kind_of(const Step& s) {
    for (const OpKind& k : op_kinds())
        for (std::string_view op : k.ops)
            if (s.op == op) return k.name;
    return kOtherKind;
}

struct KindTotal {
    std::string name;
    double ms = 0;    // per forward pass, averaged over the timed passes
    int64_t macs = 0; // per forward pass
};

// What a run pays once, around the forward passes.
struct Setup {
    std::string weights_source;
    double weights_ms = 0;    // made or read
    double pack_ms = 0;       // packed for the matrix product (pack_weights)
    bool made_packed = false;  // random weights, made straight into the packed layout
    double workspace_ms = 0;  // planned, allocated and touched
    int64_t workspace_bytes = 0;
    double first_ms = 0;      // the first forward pass
};

void print_breakdown(const std::vector<KindTotal>& kinds, double mean_ms, const Setup& setup, double median) {
    std::printf("\nwhere a forward pass's time goes (the mean over the timed passes, %.1f ms):\n", mean_ms);
    std::printf("  %-44s %9s %7s %9s\n", "kind of work", "ms", "share", "GFLOP/s");
    double listed = 0;
    for (const KindTotal& k : kinds) {
        listed += k.ms;
        if (k.macs > 0)
            std::printf("  %-44s %9.2f %6.1f%% %9.1f\n", k.name.c_str(), k.ms, 100 * k.ms / mean_ms,
                        2.0 * k.macs / 1e6 / k.ms);
        else
            std::printf("  %-44s %9.2f %6.1f%% %9s\n", k.name.c_str(), k.ms, 100 * k.ms / mean_ms, "-");
    }
    std::printf("  %-44s %9.2f %6.1f%%\n", "between steps (the trace's own bookkeeping)", mean_ms - listed,
                100 * (mean_ms - listed) / mean_ms);
    std::printf("\nset-up, once per run:\n");
    std::printf("  %-44s %9.1f ms\n", ("weights: " + setup.weights_source).c_str(), setup.weights_ms);
    if (setup.made_packed)
        std::printf("  %-44s %9s\n", "weights: packed for the matrix product", "(as made)");
    else
        std::printf("  %-44s %9.1f ms\n", "weights: packed for the matrix product", setup.pack_ms);
    std::printf("  %-44s %9.1f ms  (%.1f MB, allocated and touched)\n", "workspace: planned from the shape-only pass",
                setup.workspace_ms, setup.workspace_bytes / 1e6);
    std::printf("  %-44s %9.1f ms  (%+.1f ms against the median)\n", "first forward pass (the warm-up)",
                setup.first_ms, setup.first_ms - median);
}

}  // namespace

CLI::App* setup_bench(CLI::App& app, BenchCommand& o) {
    CLI::App* cmd = app.add_subcommand("bench", "Time the forward pass (values none, after one warm-up)");
    add_model_options(*cmd, o.model, nullptr, true);
    add_weight_options(*cmd, o.weights);
    add_memory_options(*cmd, o.memory);
    cmd->add_option("--repeat", o.repeat, "Timed forward passes")->capture_default_str();
    cmd->add_option("--values", o.values, "Values the trace keeps while timing: none, summary or full")
        ->capture_default_str();
    cmd->add_option("--write-trace", o.write_trace, "Also time writing the last run's JSON trace to FILE");
    cmd->add_flag("--json", o.json, "Print the result as JSON");
    cmd->add_flag("--breakdown", o.breakdown,
                  "Also show where the time goes: each kind of work with its share and GFLOP/s, and the set-up "
                  "around the forward pass (weights, workspace, first pass)");
    return cmd;
}

int run_bench(const BenchCommand& o) {
    if (o.repeat < 1) throw Error(ErrorKind::Usage, "--repeat: expected at least 1, got " + std::to_string(o.repeat));
    const ModelConfig cfg = resolve_config(o.model, &o.weights);
    TraceOptions topts;
    topts.values = parse_values_mode(o.values);
    check_memory(cfg, topts, o.memory);

    // Set-up, timed apart from the forward passes.
    Setup setup;
    auto t0 = std::chrono::steady_clock::now();
    LoadedModel lm = load_model(cfg, o.weights, Packing::Packed);
    setup.weights_ms = ms_since(t0);
    setup.weights_source = lm.weights.path.empty()
                               ? "made (seeded random, seed " + std::to_string(lm.weights.seed) + ")"
                               : "read from " + lm.weights.path;
    setup.made_packed = lm.weights.path.empty();
    t0 = std::chrono::steady_clock::now();
    pack_weights(lm.model);
    setup.pack_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    setup.workspace_bytes = plan_workspace(lm.model);
    setup.workspace_ms = ms_since(t0);

    // A fixed input: the forward pass costs the same for any image.
    const int S = cfg.image_size();
    Tensor x = Tensor::zeros({3, S, S});
    for (int64_t i = 0; i < x.numel(); i++) x[i] = static_cast<float>((i * 7919) % 255) / 127.5f - 1.0f;

    std::vector<double> ms;
    int64_t macs = 0;
    std::unique_ptr<Trace> last;
    ModelOutput output;
    std::vector<KindTotal> kinds;
    for (const OpKind& k : op_kinds()) kinds.push_back({k.name});
    kinds.push_back({kOtherKind});
    kinds.push_back({kStatsKind});
    for (int r = 0; r <= o.repeat; r++) {
        last = std::make_unique<Trace>(topts);
        t0 = std::chrono::steady_clock::now();
        last->restart_clock();  // the first step's time starts with the pass
        output = forward(lm.model, x, *last);
        const double pass_ms = ms_since(t0);
        if (r == 0) {  // warm-up
            setup.first_ms = pass_ms;
            for (const Step& s : last->steps()) macs += s.macs;
            continue;
        }
        ms.push_back(pass_ms);
        for (const Step& s : last->steps()) {
            KindTotal& k = *std::find_if(kinds.begin(), kinds.end(), [&](const KindTotal& k) { return k.name == kind_of(s); });
            k.ms += s.time_ms / o.repeat;
            if (r == 1) k.macs += s.macs;
        }
        kinds.back().ms += last->recording_ms() / o.repeat;
    }
    const double median = median_of(ms), fastest = *std::min_element(ms.begin(), ms.end());
    const double gflop = 2.0 * macs / 1e9;
    double mean_ms = 0;
    for (double v : ms) mean_ms += v / o.repeat;

    // Writing the JSON trace: bytes per second of the whole document.
    double json_ms = 0, json_mb = 0;
    if (!o.write_trace.empty()) {
        OutputFile out(o.write_trace);
        const auto t0 = std::chrono::steady_clock::now();
        write_trace_json(out.file(), model_json(cfg, lm.weights), nlohmann::ordered_json::object(), *last, output,
                         top_k(output.logits, 5, cfg.class_names));
        out.commit();
        json_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::ifstream f(o.write_trace, std::ios::binary | std::ios::ate);
        json_mb = static_cast<double>(f.tellg()) / 1e6;
    }
    const double rss = peak_rss_mb();

    if (o.json) {
        nlohmann::ordered_json j = {{"model", cfg.name},
                                    {"forward_ms", {{"median", median}, {"min", fastest}}},
                                    {"gflops", gflop},
                                    {"gflop_per_s", gflop / (median / 1000.0)},
                                    {"peak_rss_mb", rss},
                                    {"repeat", o.repeat},
                                    {"values", o.values}};
        if (!o.write_trace.empty())
            j["trace_json"] = {{"megabytes", json_mb}, {"ms", json_ms}, {"megabytes_per_s", json_mb / (json_ms / 1000.0)}};
        j["setup"] = {{"weights", setup.weights_source},
                      {"weights_ms", setup.weights_ms},
                      {"pack_ms", setup.pack_ms},
                      {"workspace_ms", setup.workspace_ms},
                      {"workspace_mb", setup.workspace_bytes / 1e6},
                      {"first_forward_ms", setup.first_ms}};
        if (o.breakdown) {
            nlohmann::ordered_json rows = nlohmann::ordered_json::array();
            for (const KindTotal& k : kinds)
                rows.push_back({{"kind", k.name},
                                {"ms", k.ms},
                                {"share", k.ms / mean_ms},
                                {"gflop_per_s", k.macs > 0 && k.ms > 0 ? 2.0 * k.macs / 1e6 / k.ms : 0.0}});
            j["breakdown"] = rows;
        }
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s: forward %.1f ms median, %.1f ms min over %d runs (values %s); %.2f GFLOP per image, %.1f GFLOP/s; "
                    "peak RSS %.0f MB\n",
                    cfg.name.c_str(), median, fastest, o.repeat, o.values.c_str(), gflop, gflop / (median / 1000.0), rss);
        if (!o.write_trace.empty())
            std::printf("trace JSON: %.1f MB written in %.1f ms, %.0f MB/s\n", json_mb, json_ms, json_mb / (json_ms / 1000.0));
        if (o.breakdown) print_breakdown(kinds, mean_ms, setup, median);
    }
    return 0;
}

}  // namespace vitrace::cli
