// vitrace compare: ViT's global attention beside Swin's windowed attention,
// layer by layer, and how their cost grows with the image.
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/table.h"
#include "core/cost.h"
#include "io/image.h"
#include "io/output_file.h"
#include "report/page.h"

namespace vitrace::cli {

namespace {

std::string macs_str(int64_t m) { return m ? human_count((double)m) : "-"; }

// Consecutive ViT blocks with the same figures are one row, "blocks.0-11".
std::vector<LayerCost> merge_identical(const std::vector<LayerCost>& layers) {
    std::vector<LayerCost> out;
    std::vector<int> last;  // the index of the last layer merged into each row
    for (const LayerCost& l : layers) {
        if (!out.empty()) {
            LayerCost& prev = out.back();
            const int64_t per_block = prev.total_macs() / prev.blocks;
            if (prev.tokens == l.tokens && prev.channels == l.channels && prev.matrices == l.matrices &&
                prev.matrix_side == l.matrix_side && per_block == l.total_macs() && l.other_macs == 0 &&
                prev.other_macs == 0) {
                prev.blocks += l.blocks;
                prev.projection_macs += l.projection_macs;
                prev.attention_macs += l.attention_macs;
                prev.mlp_macs += l.mlp_macs;
                last.back() = l.index;
                continue;
            }
        }
        out.push_back(l);
        last.push_back(l.index);
    }
    for (size_t i = 0; i < out.size(); i++)
        if (last[i] != out[i].index) out[i].name += "-" + std::to_string(last[i]);
    return out;
}

void add_rows(Table& t, const std::string& family, const ModelCost& c, bool merge) {
    for (const LayerCost& l : merge ? merge_identical(c.layers) : c.layers)
        t.rows.push_back({family, l.name, std::to_string(l.blocks), std::to_string(l.tokens), std::to_string(l.channels),
                          std::to_string(l.heads),
                          std::to_string(l.matrices) + " x " + std::to_string(l.matrix_side) + "x" +
                              std::to_string(l.matrix_side),
                          human((double)l.score_bytes, Units::Bytes), macs_str(l.projection_macs), macs_str(l.attention_macs),
                          macs_str(l.mlp_macs), macs_str(l.other_macs), macs_str(l.total_macs())});
    t.rows.push_back({family, "embed+head", "", "", "", "", "", "", "", "", "", macs_str(c.embed_macs + c.head_macs),
                      macs_str(c.embed_macs + c.head_macs)});
    t.rows.push_back({family, "total", "", "", "", "", "", "", "", "", "", "", macs_str(c.total_macs)});
}

ModelConfig at_size(ModelConfig cfg, int S) {
    FlagValue size;
    size.ints = {S};
    apply_overrides(cfg, {{"--image-size", size}});
    return cfg;
}

// The model named by `flag`, which must attend globally (a ViT) or in windows (a Swin).
ModelConfig model_for(const std::string& flag, const std::string& name, AttentionReach reach) {
    ModelConfig cfg = find_model(name);
    if (cfg.family->reach != reach)
        throw Error(ErrorKind::Usage, flag + ": " + name + " is not a " +
                                          (reach == AttentionReach::Global ? "ViT" : "Swin") + " model");
    return cfg;
}

// Both models must run at S. If one does not: which, why, the nearest sizes
// at which both run, and the built-in Swin models that run at S.
void check_image_size(const ModelConfig& vit, const ModelConfig& swin, int S) {
    std::string problems;
    for (const ModelConfig* m : {&vit, &swin}) {
        std::string why = size_problem(*m, S);
        const std::string prefix = "image size " + std::to_string(S) + ": ";
        if (why.starts_with(prefix)) why = why.substr(prefix.size());
        if (!why.empty()) problems += (problems.empty() ? "" : "; ") + m->name + " does not run at " + std::to_string(S) + " (" + why + ")";
    }
    if (problems.empty()) return;
    std::optional<int> below, above;
    for (int k = 1; k <= 4096 && !(above && (below || S - k < 1)); k++) {
        if (!below && S - k >= 1 && runs_at(vit, S - k) && runs_at(swin, S - k)) below = S - k;
        if (!above && runs_at(vit, S + k) && runs_at(swin, S + k)) above = S + k;
    }
    std::string advice;
    if (below || above)
        advice = "; both run at " + (below ? std::to_string(*below) : "") + (below && above ? " or " : "") +
                 (above ? std::to_string(*above) : "");
    std::vector<std::string> fit;  // the Swin models made for S first, then the others that run at S
    for (bool made_for : {true, false})
        for (const ModelConfig& m : builtin_models())
            if (m.family->reach == AttentionReach::Windowed && (m.image_size() == S) == made_for && runs_at(m, S) &&
                m.name != swin.name)
                fit.push_back(m.name);
    if (!runs_at(swin, S) && !fit.empty()) {
        std::string names;
        for (size_t i = 0; i < fit.size() && i < 3; i++) names += (i ? ", " : "") + fit[i];
        advice += "; Swin models that run at " + std::to_string(S) + ": " + names;
    }
    throw Error(ErrorKind::Config, "--image-size " + std::to_string(S) + ": " + problems + advice);
}

}  // namespace

CLI::App* setup_compare(CLI::App& app, CompareCommand& o) {
    CLI::App* cmd = app.add_subcommand("compare", "ViT's global attention against Swin's windowed attention, layer by layer");
    cmd->add_option("--vit", o.vit, "ViT model")->capture_default_str();
    cmd->add_option("--swin", o.swin, "Swin model")->capture_default_str();
    cmd->add_option("--image-size", o.image_size, "Image side for both models (default: the ViT's)");
    cmd->add_option("--json", o.json, "Also write the figures as JSON to FILE (- for standard output)");
    cmd->add_option("--html", o.html, "Also write the cost panel as a self-contained HTML page to FILE");
    cmd->add_option("--image", o.image, "Also draw the attention of two trained models on this PNG or JPEG image");
    cmd->add_option("--out", o.out, "Directory for the pictures: OUT/<model>/*.png (with --image)");
    cmd->add_option("--picture-vit", o.picture_vit, "ViT model that draws the pictures")->capture_default_str();
    cmd->add_option("--picture-swin", o.picture_swin, "Swin model that draws the pictures")->capture_default_str();
    return cmd;
}

int run_compare(const CompareCommand& o) {
    ModelConfig vit = model_for("--vit", o.vit, AttentionReach::Global);
    ModelConfig swin = model_for("--swin", o.swin, AttentionReach::Windowed);
    if (o.image.has_value() != o.out.has_value())
        throw Error(ErrorKind::Usage, o.image ? "--image needs --out DIR for the pictures" : "--out needs --image IMG to draw on");
    if (o.image) {
        model_for("--picture-vit", o.picture_vit, AttentionReach::Global);
        model_for("--picture-swin", o.picture_swin, AttentionReach::Windowed);
        read_image(*o.image);  // a bad image fails here, before anything is printed
    }
    const int S = o.image_size.value_or(vit.image_size());
    check_image_size(vit, swin, S);
    vit = at_size(vit, S);
    swin = at_size(swin, S);
    std::unique_ptr<OutputFile> out, html;
    if (o.json) out = std::make_unique<OutputFile>(*o.json);
    if (o.html) html = std::make_unique<OutputFile>(*o.html);

    const ModelCost vc = model_cost(vit), sc = model_cost(swin);
    // The same models with the image side doubled twice: tokens grow 4x each time.
    std::vector<std::pair<ModelCost, ModelCost>> scaling;
    for (int f : {1, 2, 4}) scaling.push_back({model_cost(at_size(vit, S * f)), model_cost(at_size(swin, S * f))});

    std::FILE* text = o.json && *o.json == "-" ? stderr : stdout;
    std::fprintf(text, "%s (global attention) against %s (windowed attention), %dx%d input\n\n", vit.name.c_str(),
                 swin.name.c_str(), S, S);
    Table t{{"model", "layer", "blocks", "tokens", "C", "heads", "matrices", "scores/block",
             "projections", "attention", "MLP", "other", "total"},
            {false, false, true, true, true, true, true, true, true, true, true, true, true},
            {}};
    add_rows(t, vit.family->name, vc, true);
    add_rows(t, swin.family->name, sc, false);
    t.print(text);
    std::fprintf(text, "\nMultiply-adds per image: %s %s, %s %s (ViT / Swin = %.2f)\n", vit.name.c_str(),
                 macs_str(vc.total_macs).c_str(), swin.name.c_str(), macs_str(sc.total_macs).c_str(),
                 (double)vc.total_macs / (double)sc.total_macs);

    std::fprintf(text, "\nWhen the image side doubles, the tokens grow 4x. Swin's windows keep each token's\n"
                       "attention the same size, so its cost grows with the tokens (linear); every ViT token\n"
                       "attends to every other, so its attention grows with their square (quadratic).\n\n");
    Table g{{"image", "ViT tokens", "ViT MACs", "growth", "Swin tokens", "Swin MACs", "growth"},
            {false, true, true, true, true, true, true},
            {}};
    for (const auto& [v, s] : scaling) {
        char vg[32], sg[32];
        std::snprintf(vg, sizeof vg, "%.2fx", (double)v.total_macs / scaling[0].first.total_macs);
        std::snprintf(sg, sizeof sg, "%.2fx", (double)s.total_macs / scaling[0].second.total_macs);
        g.rows.push_back({std::to_string(v.image_size) + "x" + std::to_string(v.image_size),
                          std::to_string(v.layers.front().tokens), macs_str(v.total_macs), vg,
                          std::to_string(s.layers.front().tokens), macs_str(s.total_macs), sg});
    }
    g.print(text);

    if (o.image) {
        // The pictures come from small trained models, run on the image at
        // their own input size: untrained big models would show only noise.
        for (const std::string& name : {o.picture_vit, o.picture_swin}) {
            std::printf("\n");
            std::fflush(stdout);
            AttentionCommand a;
            a.model.model = name;
            a.image = *o.image;
            a.out = (std::filesystem::path(*o.out) / name).string();
            run_attention(a);
        }
    }

    if (out) {
        nlohmann::ordered_json grow = nlohmann::ordered_json::array();
        for (const auto& [v, s] : scaling)
            grow.push_back({{"image_size", v.image_size}, {"vit_total_macs", v.total_macs}, {"swin_total_macs", s.total_macs}});
        const nlohmann::ordered_json j = {{"format", "vitrace.compare/1"},
                                          {"image_size", S},
                                          {"vit", report::cost_json(vc)},
                                          {"swin", report::cost_json(sc)},
                                          {"scaling", grow}};
        const std::string s = j.dump(2) + "\n";
        std::fwrite(s.data(), 1, s.size(), out->file());
        out->commit();
    }
    if (html) {
        report::write_page(html->file(), {{"format", report::kReportFormat},
                                          {"kind", "cost"},
                                          {"vitrace", VITRACE_VERSION},
                                          {"command", o.command},
                                          {"cost", report::cost_panel({vit, swin})}});
        html->commit();
        std::fprintf(text, "\ncost panel written to %s: open it in a web browser\n", html->path().c_str());
    }
    return 0;
}

}  // namespace vitrace::cli
