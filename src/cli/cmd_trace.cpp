// vitrace trace: run a model on an image, print the per-step table, write the JSON trace.
// vitrace shapes: the same steps with shapes and MACs only, computing nothing.
#include "cli/commands.h"

#include <algorithm>

#include <CLI/CLI.hpp>

#include "cli/print_tensor.h"
#include "cli/table.h"
#include "io/output_file.h"
#include "io/tensor_dump.h"
#include "io/trace_json.h"
#include "pipeline/preprocess.h"

namespace vitrace::cli {

CLI::App* setup_trace(CLI::App& app, TraceCommand& o) {
    CLI::App* cmd = app.add_subcommand("trace", "Run a model on an image and record every step");
    add_model_options(*cmd, o.model, nullptr, true);
    add_weight_options(*cmd, o.weights);
    add_norm_options(*cmd, o.norm);
    add_memory_options(*cmd, o.memory);
    cmd->add_option("--image", o.image, "PNG or JPEG image")->required();
    cmd->add_option("-o,--output", o.output, "Write the JSON trace to FILE (- for standard output)");
    cmd->add_option("--tensors", o.tensors,
                    "Also write every step's full values to FILE.safetensors, step by step, whatever --values says");
    cmd->add_option("--values", o.values, "Values each step carries in the JSON: none, summary or full")
        ->capture_default_str();
    cmd->add_option("--steps", o.steps, "Comma-separated globs of steps that carry all their values");
    cmd->add_option("--show", o.show,
                    "Comma-separated globs of steps to print as matrices instead of the table, each with an optional "
                    "slice over its axes: 'blocks.0.attn.softmax[0, 0, :8]' (heads 0, query 0, keys 0-7)");
    cmd->add_flag("--show-all", o.show_all,
                  "Print every value of the --show steps; without it a step of more than 2000 values prints its corners");
    cmd->add_flag("--wide", o.wide, "One line per step in the table, however long (by default lines keep to about 120 "
                                    "columns: a long step name stands on its own line)");
    cmd->add_flag("-q,--quiet", o.quiet, "Print no table");
    return cmd;
}

int run_trace(const TraceCommand& o) {
    TraceOptions topts;
    topts.values = parse_values_mode(o.values);
    const std::vector<std::string> steps_patterns = split_commas(o.steps);
    topts.full_steps = steps_patterns;
    const std::vector<ShowPattern> show = parse_show(o.show);
    std::vector<std::string> show_globs;
    for (const ShowPattern& p : show) show_globs.push_back(p.glob);
    topts.full_steps.insert(topts.full_steps.end(), show_globs.begin(), show_globs.end());
    if (!steps_patterns.empty() && !o.output)
        print_warning("--steps gives steps all their values in the JSON trace, but there is no -o FILE to write it to; "
                      "add -o FILE, or use --show to print them");
    const ModelConfig cfg = resolve_config(o.model, &o.weights);
    const Normalization norm = normalization(o.norm, o.weights);
    check_memory(cfg, topts, o.memory);

    // Fail on an unusable output path before any work is done.
    std::unique_ptr<OutputFile> out;
    if (o.output) out = std::make_unique<OutputFile>(*o.output);
    std::unique_ptr<TensorDumpWriter> dump;
    if (o.tensors) {
        dump = std::make_unique<TensorDumpWriter>(*o.tensors);
        topts.on_values = [&dump](const Step& s, const Tensor& t) { dump->add(s, t); };
    }
    const bool json_to_stdout = o.output == "-";
    std::FILE* text = json_to_stdout ? stderr : stdout;

    LoadedModel lm = load_model(cfg, o.weights, Packing::Packed);
    pack_weights(lm.model);  // a checkpoint's: random weights are made packed
    const ImageRun run = run_on_image(lm, o.image, norm, topts);
    const Trace& trace = run.trace;
    warn_unmatched(trace, steps_patterns, "--steps");
    warn_unmatched(trace, show_globs, "--show");
    const std::vector<Prediction>& top = run.top;
    // Every slice is checked before anything is printed.
    std::vector<std::pair<const Step*, std::vector<AxisRange>>> shown;
    for (const Step& s : trace.steps())
        for (const ShowPattern& pattern : show)
            if (glob_match(pattern.glob, s.name)) {
                shown.push_back({&s, slice_of(pattern, s)});
                break;
            }

    if (!o.quiet && !json_to_stdout) {
        std::printf("%s\n", preprocessing_line(run.image, cfg.image_size()).c_str());
        if (show.empty()) {
            stats_table(trace).print(stdout, o.wide ? 0 : kTableWidth);
        } else {
            for (const auto& [s, view] : shown) print_step_values(stdout, *s, 8, view, o.show_all ? 0 : kShowLimit);
        }
    }
    if (out) {
        write_trace_json(out->file(), model_json(cfg, lm.weights), input_json(o.image, run.image, cfg.image_size(), norm),
                         trace, {run.features, run.logits}, top);
        out->commit();
    }
    if (dump) dump->finish(model_json(cfg, lm.weights), input_json(o.image, run.image, cfg.image_size(), norm),
                           std::string("vitrace ") + VITRACE_VERSION);
    if (!o.quiet || json_to_stdout) print_predictions(lm, run, text);
    if (out && !json_to_stdout && !o.quiet) std::fprintf(text, "trace written to %s (%zu steps)\n", out->path().c_str(), trace.steps().size());
    if (dump && !o.quiet)
        std::fprintf(text, "tensors written to %s (%zu steps, all values)\n", dump->path().c_str(), trace.steps().size());
    keep_until_exit(std::move(lm));
    return 0;
}

CLI::App* setup_shapes(CLI::App& app, ShapesCommand& o) {
    CLI::App* cmd = app.add_subcommand("shapes", "Print every step's shape and MACs without computing anything");
    add_model_options(*cmd, o.model);
    cmd->add_option("--steps", o.steps, "Comma-separated globs: print only these steps ('blocks.0.*,*.softmax')");
    cmd->add_option("--blocks", o.blocks,
                    "all: every block; first: one block of each kind, with a line saying which blocks repeat it")
        ->check(CLI::IsMember({"all", "first"}))
        ->capture_default_str();
    cmd->add_flag("--wide", o.wide, "One line per step, however long (by default lines keep to about 120 columns)");
    return cmd;
}

int run_shapes(const ShapesCommand& o) {
    const ModelConfig cfg = resolve_config(o.model);
    const Trace trace = shape_trace(cfg);
    const std::vector<std::string> globs = split_commas(o.steps);
    warn_unmatched(trace, globs, "--steps");
    const Table table = shapes_table(trace, globs, o.blocks == "first");
    table.print(stdout, o.wide ? 0 : kTableWidth);
    std::printf("%s\n", shapes_footer(cfg, trace, table.rows.size()).c_str());
    return 0;
}

}  // namespace vitrace::cli
