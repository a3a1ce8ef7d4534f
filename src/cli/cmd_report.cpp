// vitrace report: one self-contained HTML page of a run (docs/report.md).
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "io/output_file.h"
#include "io/picture.h"
#include "pipeline/attention_pictures.h"
#include "pipeline/preprocess.h"
#include "report/blob.h"
#include "report/collector.h"
#include "report/page.h"

namespace vitrace::cli {

namespace {

// The image as the model saw it: input.resize [S, S, 3], 0..255.
nlohmann::ordered_json input_picture(const Trace& trace) {
    const Step* s = trace.find(StepAt{Role::InputResize});
    if (!s) throw Error(ErrorKind::Internal, "report: no step input.resize");
    std::vector<uint8_t> rgb(s->values.size());
    for (size_t i = 0; i < rgb.size(); i++) rgb[i] = (uint8_t)std::clamp(std::lround(s->values[i]), 0L, 255L);
    return report::u8_blob(rgb.data(), s->shape);
}

nlohmann::ordered_json output_json(const ModelConfig& cfg, const ImageRun& run) {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const Prediction& p : run.top) top.push_back({{"index", p.index}, {"label", p.label}, {"score", p.score}});
    return {{"top5", top}, {"features", run.features.numel()}, {"classes", cfg.classes()}};
}

}  // namespace

CLI::App* setup_report(CLI::App& app, ReportCommand& o) {
    CLI::App* cmd = app.add_subcommand("report", "Write one self-contained, interactive HTML page of a run");
    add_model_options(*cmd, o.model, nullptr, true);
    add_weight_options(*cmd, o.weights);
    add_norm_options(*cmd, o.norm);
    add_memory_options(*cmd, o.memory);
    cmd->add_option("--image", o.image, "PNG or JPEG image")->required();
    cmd->add_option("-o,--output", o.output, "The HTML page to write")->required();
    cmd->add_option("--steps", o.steps, "Comma-separated globs of steps whose full values go into the page, whatever their size");
    cmd->add_flag("-q,--quiet", o.quiet, "Print nothing but warnings and errors");
    return cmd;
}

int run_report(const ReportCommand& o) {
    const ModelConfig cfg = resolve_config(o.model, &o.weights);
    const Normalization norm = normalization(o.norm, o.weights);
    report::Collector collector(cfg);
    const std::vector<std::string> steps_patterns = split_commas(o.steps);
    TraceOptions topts = collector.trace_options(steps_patterns);
    topts.full_roles = {Role::InputResize};  // the picture at the top of the page
    // The attention pictures (the same as `vitrace attention` draws) need the
    // full attention maps of every block: kept unless they would take more
    // than kPictureBytes, which the page then says.
    constexpr int64_t kPictureBytes = int64_t(512) << 20;
    TraceOptions with_pictures = topts;
    with_pictures.full_roles = attention_picture_roles();
    const int64_t picture_bytes = estimate_memory(cfg, with_pictures).trace_bytes - estimate_memory(cfg, topts).trace_bytes;
    const bool pictures = picture_bytes <= kPictureBytes;
    if (pictures) topts = with_pictures;
    check_memory(cfg, topts, o.memory);
    OutputFile out(o.output);  // an unusable path fails here, before any work

    LoadedModel lm = load_model(cfg, o.weights, Packing::Packed);
    pack_weights(lm.model);  // a checkpoint's: random weights are made packed
    const ImageRun run = run_on_image(lm, o.image, norm, topts);
    const Trace& trace = run.trace;
    warn_unmatched(trace, steps_patterns, "--steps");

    report::Sources sources;
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    int64_t macs = 0;
    double forward_ms = 0;  // the steps' own times: what the page gathers between them is not counted
    for (const Step& s : trace.steps()) {
        steps.push_back(report::step_json(s, collector.values(s.index), sources, cfg.family->name));
        macs += s.macs;
        forward_ms += s.time_ms;
    }
    nlohmann::ordered_json drawn = {{"files", nlohmann::ordered_json::array()}, {"notes", nlohmann::ordered_json::array()}};
    if (pictures) {
        const AttentionPictures made = attention_pictures(cfg, trace, {});
        for (const AttentionPicture& p : made.pictures) {
            const std::string png = png_bytes(p.picture);
            drawn["files"].push_back({{"file", p.file},
                                      {"caption", p.caption},
                                      {"width", p.picture.width},
                                      {"height", p.picture.height},
                                      {"png", report::base64(png.data(), png.size())}});
        }
        for (const std::string& n : made.notes) drawn["notes"].push_back(n);
    } else {
        drawn["notes"].push_back("the attention pictures are left out: their maps would take " +
                                 human((double)picture_bytes, Units::RoundBytes) +
                                 "; vitrace attention draws them (with --max-memory if need be)");
    }
    nlohmann::ordered_json input = input_json(o.image, run.image, cfg.image_size(), norm);
    input["picture"] = input_picture(trace);
    const Family& family = *cfg.family;
    const nlohmann::ordered_json data = {
        {"format", report::kReportFormat},
        {"kind", "run"},
        {"vitrace", VITRACE_VERSION},
        {"command", o.command},
        {"model", model_json(cfg, lm.weights)},
        {"family",
         {{"name", family.name},
          {"display", family.display},
          {"reach", family.reach == AttentionReach::Global ? "global" : "windowed"},
          {"layer_word", family.layer_word}}},
        {"input", input},
        {"output", output_json(cfg, run)},
        {"totals", {{"macs", macs}, {"parameters", param_count(cfg)}, {"forward_ms", forward_ms}, {"steps", steps.size()}}},
        {"steps", steps},
        {"sources", sources.json()},
        {"attention", collector.attention()},
        {"pictures", drawn},
        {"cost", report::cost_panel({cfg})}};
    report::write_page(out.file(), data);
    out.commit();

    if (!o.quiet) {
        print_predictions(lm, run, stdout);
        std::printf("report written to %s (%zu steps): open it in a web browser\n", out.path().c_str(),
                    trace.steps().size());
    }
    keep_until_exit(std::move(lm));
    return 0;
}

}  // namespace vitrace::cli
