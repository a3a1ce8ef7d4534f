// vitrace bench: time the forward pass.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace vitrace::cli {

CLI::App* setup_bench(CLI::App& app, BenchCommand& o) {
    CLI::App* cmd = app.add_subcommand("bench", "Time the forward pass (values none, after one warm-up)");
    add_model_options(*cmd, o.model);
    add_weight_options(*cmd, o.weights);
    add_memory_options(*cmd, o.memory);
    cmd->add_option("--repeat", o.repeat, "Timed forward passes")->capture_default_str();
    cmd->add_flag("--json", o.json, "Print the result as JSON");
    return cmd;
}

int run_bench(const BenchCommand& o) {
    if (o.repeat < 1) throw Error(ErrorKind::Usage, "--repeat: expected at least 1, got " + std::to_string(o.repeat));
    const ModelConfig cfg = resolve_config(o.model);
    TraceOptions topts;
    topts.values = ValuesMode::None;
    check_memory(cfg, topts, o.memory);
    const LoadedModel lm = load_model(cfg, o.weights);

    // A fixed input: the forward pass costs the same for any image.
    const int S = cfg.image_size();
    Tensor x = Tensor::zeros({3, S, S});
    for (int64_t i = 0; i < x.numel(); i++) x[i] = static_cast<float>((i * 7919) % 255) / 127.5f - 1.0f;

    std::vector<double> ms;
    int64_t macs = 0;
    for (int r = 0; r <= o.repeat; r++) {
        Trace trace(topts);
        const auto t0 = std::chrono::steady_clock::now();
        forward(lm.model, x, trace);
        const auto t1 = std::chrono::steady_clock::now();
        if (r == 0) {  // warm-up
            for (const Step& s : trace.steps()) macs += s.macs;
            continue;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    const double gflop = 2.0 * macs / 1e9;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double peak_rss_mb = ru.ru_maxrss / 1024.0;

    if (o.json) {
        nlohmann::ordered_json j = {{"model", cfg.name},
                                    {"forward_ms", {{"median", median}, {"min", ms.front()}}},
                                    {"gflops", gflop},
                                    {"gflop_per_s", gflop / (median / 1000.0)},
                                    {"peak_rss_mb", peak_rss_mb},
                                    {"repeat", o.repeat}};
        std::printf("%s\n", j.dump(2).c_str());
    } else {
        std::printf("%s: forward %.1f ms median, %.1f ms min over %d runs; %.2f GFLOP per image, %.1f GFLOP/s; peak RSS %.0f MB\n",
                    cfg.name.c_str(), median, ms.front(), o.repeat, gflop, gflop / (median / 1000.0), peak_rss_mb);
    }
    return 0;
}

}  // namespace vitrace::cli
