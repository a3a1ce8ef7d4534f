// The subcommands. Each is an options struct with its defaults, a setup_…
// that declares its flags, and a run_… that does the work and returns the exit code.
#pragma once

#include "cli/errors.h"
#include "cli/format.h"
#include "cli/options.h"
#include "cli/run.h"

namespace vitrace::cli {

struct TraceCommand {
    ModelOptions model;
    WeightOptions weights;
    NormOptions norm;
    MemoryOptions memory;
    std::string image;
    std::optional<std::string> output;  // -o: unset writes no JSON; "" is refused, not ignored
    std::optional<std::string> tensors;  // --tensors: every step's values as a safetensors dump
    std::string values = "summary";
    std::string steps;
    std::string show;
    bool show_all = false;  // --show prints every value, however many
    bool wide = false;      // one line per step in the table, however long
    bool quiet = false;
};
CLI::App* setup_trace(CLI::App& app, TraceCommand& o);
int run_trace(const TraceCommand& o);

struct ReportCommand {
    ModelOptions model;
    WeightOptions weights;
    NormOptions norm;
    MemoryOptions memory;
    std::string image, output;
    std::string steps;
    bool quiet = false;
    std::string command;  // the command line as typed, which the page shows
};
CLI::App* setup_report(CLI::App& app, ReportCommand& o);
int run_report(const ReportCommand& o);

struct DiffCommand {
    std::string a, b;
    std::string tol = "1e-4";  // read by run_diff, which says what is wrong with it
    std::optional<std::string> json;
};
CLI::App* setup_diff(CLI::App& app, DiffCommand& o);
// 0 when every step agrees within the tolerance, 1 when one diverges.
int run_diff(const DiffCommand& o);

struct ShapesCommand {
    ModelOptions model;
    std::string steps;            // comma-separated globs: only these steps
    std::string blocks = "all";   // "first": one block of each kind, and how many repeat
    bool wide = false;            // one line per step, however long
};
CLI::App* setup_shapes(CLI::App& app, ShapesCommand& o);
int run_shapes(const ShapesCommand& o);

struct ModelsCommand {
    bool json = false;
};
CLI::App* setup_models(CLI::App& app, ModelsCommand& o);
int run_models(const ModelsCommand& o);

struct InspectCommand {
    std::string weights;
    std::vector<int> heads;
    std::optional<int> dim_head;
    bool json = false;
};
CLI::App* setup_inspect(CLI::App& app, InspectCommand& o);
int run_inspect(const InspectCommand& o);

struct CompareCommand {
    std::string vit = "vit_base_patch16_224";
    std::string swin = "swin_tiny_patch4_window7_224";
    std::optional<int> image_size;
    std::optional<std::string> json;
    // Pictures: with --image and --out, the attention pictures of two trained
    // models on that image, in OUT/<model>/.
    std::optional<std::string> image, out;
    std::string picture_vit = "vit_shapes";
    std::string picture_swin = "swin_shapes";
    std::optional<std::string> html;  // the cost panel as an HTML page
    std::string command;              // the command line as typed, which the page shows
};
CLI::App* setup_compare(CLI::App& app, CompareCommand& o);
int run_compare(const CompareCommand& o);

struct AttentionCommand {
    ModelOptions model;
    WeightOptions weights;
    NormOptions norm;
    MemoryOptions memory;
    std::string image, out;
    std::optional<int> layer, head;
    std::vector<int> query;
};
CLI::App* setup_attention(CLI::App& app, AttentionCommand& o);
int run_attention(const AttentionCommand& o);

struct LessonCommand {
    std::string number;  // empty: list the lessons; checked by run_lesson, which says what a lesson number is
    bool json = false;
};
CLI::App* setup_lesson(CLI::App& app, LessonCommand& o);
int run_lesson(const LessonCommand& o);

struct BenchCommand {
    ModelOptions model;
    WeightOptions weights;
    MemoryOptions memory;
    int repeat = 5;
    std::string values = "none";
    std::string write_trace;
    bool json = false;
    bool breakdown = false;
};
CLI::App* setup_bench(CLI::App& app, BenchCommand& o);
int run_bench(const BenchCommand& o);

}  // namespace vitrace::cli
