// vitrace bench: time the forward pass.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

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
    return cmd;
}

int run_bench(const BenchCommand& o) {
    if (o.repeat < 1) throw Error(ErrorKind::Usage, "--repeat: expected at least 1, got " + std::to_string(o.repeat));
    const ModelConfig cfg = resolve_config(o.model, &o.weights);
    TraceOptions topts;
    topts.values = parse_values_mode(o.values);
    check_memory(cfg, topts, o.memory);
    const LoadedModel lm = load_model(cfg, o.weights);

    // A fixed input: the forward pass costs the same for any image.
    const int S = cfg.image_size();
    Tensor x = Tensor::zeros({3, S, S});
    for (int64_t i = 0; i < x.numel(); i++) x[i] = static_cast<float>((i * 7919) % 255) / 127.5f - 1.0f;

    std::vector<double> ms;
    int64_t macs = 0;
    std::unique_ptr<Trace> last;
    ModelOutput output;
    for (int r = 0; r <= o.repeat; r++) {
        last = std::make_unique<Trace>(topts);
        const auto t0 = std::chrono::steady_clock::now();
        output = forward(lm.model, x, *last);
        const auto t1 = std::chrono::steady_clock::now();
        if (r == 0) {  // warm-up
            for (const Step& s : last->steps()) macs += s.macs;
            continue;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    const double median = median_of(ms), fastest = *std::min_element(ms.begin(), ms.end());
    const double gflop = 2.0 * macs / 1e9;

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
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s: forward %.1f ms median, %.1f ms min over %d runs (values %s); %.2f GFLOP per image, %.1f GFLOP/s; "
                    "peak RSS %.0f MB\n",
                    cfg.name.c_str(), median, fastest, o.repeat, o.values.c_str(), gflop, gflop / (median / 1000.0), rss);
        if (!o.write_trace.empty())
            std::printf("trace JSON: %.1f MB written in %.1f ms, %.0f MB/s\n", json_mb, json_ms, json_mb / (json_ms / 1000.0));
    }
    return 0;
}

}  // namespace vitrace::cli
