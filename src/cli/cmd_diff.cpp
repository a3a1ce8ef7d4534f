// vitrace diff: two traces of one model, step by step; where do they part?
#include <cmath>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/diff_table.h"
#include "cli/table.h"
#include "io/output_file.h"
#include "pipeline/diff.h"

namespace vitrace::cli {

namespace {

// The table's last column: how the step compares.
std::string verdict(const StepDiff& d) {
    switch (d.status) {
        case DiffStatus::Compared: return d.within ? "ok" : "DIVERGES";
        case DiffStatus::ShapeMismatch:
            return "SHAPE: A " + multi_index_str(d.shape_a, d.dims) + ", B " + multi_index_str(d.shape_b, d.dims);
        case DiffStatus::NoValues: return "no values in one of them";
        case DiffStatus::OnlyInA: return d.unseen.empty() ? "only in A" : "only in A; B could not see it: " + d.unseen;
        case DiffStatus::OnlyInB: return d.unseen.empty() ? "only in B" : "only in B; A could not see it: " + d.unseen;
    }
    return "";
}

nlohmann::ordered_json number(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); }

nlohmann::ordered_json index_json(const StepDiff& d) {
    if (d.first_beyond.empty()) return nullptr;
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (int64_t i : d.first_beyond) j.push_back(i);
    return j;
}

nlohmann::ordered_json diff_json(const DiffCommand& o, const DiffResult& r) {
    nlohmann::ordered_json steps = nlohmann::ordered_json::array(), only_a = nlohmann::ordered_json::array(),
                           only_b = nlohmann::ordered_json::array(), no_values = nlohmann::ordered_json::array(),
                           unseen = nlohmann::ordered_json::array();
    for (const StepDiff& d : r.steps) {
        if (!d.unseen.empty()) unseen.push_back({{"name", d.name}, {"why", d.unseen}});
        if (d.status == DiffStatus::OnlyInA) only_a.push_back(d.name);
        if (d.status == DiffStatus::OnlyInB) only_b.push_back(d.name);
        if (d.status == DiffStatus::NoValues) no_values.push_back(d.name);
        if (d.status != DiffStatus::Compared && d.status != DiffStatus::ShapeMismatch) continue;
        const bool compared = d.status == DiffStatus::Compared;
        steps.push_back({{"name", d.name},
                         {"op", d.op},
                         {"dims", d.dims},
                         {"shape_a", d.shape_a},
                         {"shape_b", d.shape_b},
                         {"max_abs", compared ? number(d.max_abs) : nullptr},
                         {"max_rel", compared ? number(d.max_rel) : nullptr},
                         {"mean_abs", compared ? number(d.mean_abs) : nullptr},
                         {"cosine", compared ? number(d.cosine) : nullptr},
                         {"first_beyond", index_json(d)},
                         {"within", d.within},
                         {"hint", d.hint.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(d.hint)}});
    }
    nlohmann::ordered_json first = nullptr;
    if (r.first_divergence) {
        const StepDiff& d = r.steps[*r.first_divergence];
        first = {{"name", d.name},
                 {"op", d.op},
                 {"max_abs", d.status == DiffStatus::Compared ? number(d.max_abs) : nullptr},
                 {"index", index_json(d)},
                 {"dims", d.dims},
                 {"hint", d.hint.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(d.hint)}};
    }
    return {{"format", "vitrace.diff/1"}, {"a", o.a},           {"b", o.b},
            {"tolerance", r.tolerance},   {"compared", r.compared}, {"diverged", r.diverged},
            {"first_divergence", first},  {"steps", steps},     {"only_in_a", only_a},
            {"only_in_b", only_b},        {"no_values", no_values}, {"unseen", unseen}};
}

double parse_tolerance(const std::string& text) {
    size_t used = 0;
    double t = NAN;
    try {
        t = std::stod(text, &used);
    } catch (const std::exception&) {
    }
    if (used != text.size() || !std::isfinite(t) || t <= 0)
        throw Error(ErrorKind::Usage, "--tol: expected a positive number, such as 1e-4; got '" + text + "'");
    return t;
}

}  // namespace

CLI::App* setup_diff(CLI::App& app, DiffCommand& o) {
    CLI::App* cmd = app.add_subcommand("diff", "Compare two traces step by step and find where they part");
    cmd->add_option("A", o.a, "A trace: a tensor dump (trace --tensors) or a JSON trace with full values")->required();
    cmd->add_option("B", o.b, "The trace to compare with A")->required();
    cmd->add_option("--tol", o.tol, "Largest |a-b| a step may have and still agree")->capture_default_str();
    cmd->add_option("--json", o.json, "Also write the comparison as JSON to FILE (- for standard output)");
    return cmd;
}

Table diff_table() {
    return {{"", "step", "op", "max |a-b|", "max rel", "mean |a-b|", "cosine", ""},
            {false, false, false, true, true, true, true, false},
            {},
            1};
}

std::vector<std::string> diff_row(const DiffResult& r, size_t i) {
    const StepDiff& d = r.steps[i];
    const bool compared = d.status == DiffStatus::Compared;
    char cosine[32];
    std::snprintf(cosine, sizeof cosine, "%.6f", d.cosine);
    return {r.first_divergence == i ? ">>" : "",
            d.name,
            d.op,
            compared ? difference_str(d.max_abs) : "",
            compared ? difference_str(d.max_rel) : "",
            compared ? difference_str(d.mean_abs) : "",
            compared ? cosine : "",
            verdict(d)};
}

int run_diff(const DiffCommand& o) {
    const double tol = parse_tolerance(o.tol);
    std::unique_ptr<OutputFile> out;
    if (o.json) out = std::make_unique<OutputFile>(*o.json);
    const TraceFile a = TraceFile::open(o.a), b = TraceFile::open(o.b);
    const DiffResult r = diff_traces(a, b, tol);
    if (r.compared == 0)
        throw Error(ErrorKind::Input, "no step holds its full values in both '" + o.a + "' and '" + o.b +
                                          "': write them with `vitrace trace --tensors FILE` or `--values full`");

    std::FILE* text = o.json && *o.json == "-" ? stderr : stdout;
    std::fprintf(text, "A %s (%s, %zu steps)\nB %s (%s, %zu steps)\n\n", o.a.c_str(), a.kind(), a.steps().size(),
                 o.b.c_str(), b.kind(), b.steps().size());
    Table t = diff_table();
    for (size_t i = 0; i < r.steps.size(); i++) t.rows.push_back(diff_row(r, i));
    t.print(text);
    std::fprintf(text, "\n%d steps compared with tolerance %g: ", r.compared, tol);
    if (!r.first_divergence) {
        std::fprintf(text, "all within\n");
    } else {
        const StepDiff& d = r.steps[*r.first_divergence];
        std::fprintf(text, "%d diverge\nfirst divergence: %s (%s)", r.diverged, d.name.c_str(), d.op.c_str());
        if (d.status == DiffStatus::Compared)
            std::fprintf(text, ", max |a-b| %s, first beyond the tolerance at %s", difference_str(d.max_abs).c_str(),
                         multi_index_str(d.first_beyond, d.dims).c_str());
        std::fprintf(text, "\n");
        if (!d.hint.empty()) std::fprintf(text, "hint: %s\n", d.hint.c_str());
    }
    if (out) {
        const std::string s = diff_json(o, r).dump(2) + "\n";
        std::fwrite(s.data(), 1, s.size(), out->file());
        out->commit();
    }
    return r.first_divergence ? 1 : 0;
}

}  // namespace vitrace::cli
