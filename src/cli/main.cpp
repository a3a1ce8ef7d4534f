// vitrace: see how vision transformers work, one explicit loop at a time.
//
// main only wires the subcommands together and turns errors into one line on
// stderr and an exit code (docs/cli.md).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/names.h"

using namespace vitrace;
using namespace vitrace::cli;

namespace {

// An argument as a shell would take it back: in single quotes when it holds
// spaces, quotes or characters the shell would read.
std::string shell_word(const std::string& a) {
    const bool plain = !a.empty() && a.find_first_of(" \t'\"$*?[]()&;|<>") == std::string::npos;
    if (plain) return a;
    std::string quoted;
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return "'" + quoted + "'";
}

// The command line as a shell would take it back.
std::string command_line(int argc, char** argv) {
    std::string line = "vitrace";
    for (int i = 1; i < argc; i++) line += " " + shell_word(argv[i]);
    return line;
}

// Words the parser would reject with a message about something else: an
// unknown subcommand ("A subcommand is required") or an unknown flag ("--image
// is required"). Throws Error(Usage) with the nearest known word.
void check_words(CLI::App& app, int argc, char** argv) {
    if (argc < 2 || argv[1][0] == '-') return;  // --help, --version, or no subcommand: the parser says it
    const std::string word = argv[1];
    std::vector<std::string> subcommands;
    CLI::App* sub = nullptr;
    for (CLI::App* s : app.get_subcommands({})) {
        subcommands.push_back(s->get_name());
        if (s->get_name() == word) sub = s;
    }
    if (!sub) {
        const std::string guess = did_you_mean(word, subcommands);
        std::string all;
        for (const std::string& n : subcommands) all += (all.empty() ? "" : ", ") + n;
        throw Error(ErrorKind::Usage, "unknown subcommand '" + word + "'; " +
                                          (guess.empty() ? "the subcommands: " : guess + " The subcommands: ") + all);
    }
    std::vector<std::string> flags = {"--help"};
    for (const CLI::Option* o : sub->get_options())
        for (const std::string& name : o->get_lnames()) flags.push_back("--" + name);
    for (int i = 2; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--") break;
        if (!a.starts_with("--")) continue;
        a = a.substr(0, a.find('='));
        if (std::find(flags.begin(), flags.end(), a) != flags.end()) continue;
        const std::string guess = did_you_mean(a, flags);
        throw Error(ErrorKind::Usage, "vitrace " + word + " has no flag " + a + (guess.empty() ? "" : "; " + guess) +
                                          " (vitrace " + word + " --help lists them)");
    }
    // Several images after --image: one run takes one image; say how to run
    // several, with the command as given, one output per image.
    for (int i = 2; i + 2 < argc; i++) {
        if (std::string(argv[i]) != "--image" || argv[i + 2][0] == '-') continue;
        int end = i + 1;
        std::string images;
        for (; end < argc && argv[end][0] != '-'; end++) images += (images.empty() ? "" : " ") + shell_word(argv[end]);
        std::string loop = "for f in " + images + "; do vitrace " + word;
        for (int j = 2; j < argc; j++) {
            if (j == i) {
                loop += " --image \"$f\"";
                j = end - 1;
                continue;
            }
            const std::string a = argv[j];
            const bool file_out = a == "-o" || a == "--output" || a == "--tensors";
            if ((file_out || a == "--out") && j + 1 < argc) {
                const std::string v = argv[++j];
                const auto dot = v.find_last_of('.'), slash = v.find_last_of('/');
                const std::string ext = dot != std::string::npos && (slash == std::string::npos || dot > slash) ? v.substr(dot) : "";
                loop += " " + a + (file_out ? " \"${f%.*}" + ext + "\"" : " " + shell_word(v) + "/\"$(basename \"${f%.*}\")\"");
                continue;
            }
            loop += " " + shell_word(a);
        }
        throw Error(ErrorKind::Usage, "--image takes one image, and got several (" + images +
                                          "); run once per image, for example:  " + loop + "; done");
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vitrace: trace Vision Transformers and Swin Transformers step by step", "vitrace"};
    app.set_version_flag("--version", VITRACE_VERSION);
    app.require_subcommand(1);

    TraceCommand trace;
    ShapesCommand shapes;
    ModelsCommand models;
    BenchCommand bench;
    LessonCommand lesson;
    CompareCommand compare;
    AttentionCommand attention;
    InspectCommand inspect;
    ReportCommand report;
    DiffCommand diff;
    struct Subcommand {
        const char* name;
        std::function<CLI::App*()> setup;
        std::function<int()> run;
        CLI::App* app = nullptr;  // once set up
    };
    std::vector<Subcommand> subcommands = {
        {"trace", [&] { return setup_trace(app, trace); }, [&] { return run_trace(trace); }},
        {"shapes", [&] { return setup_shapes(app, shapes); }, [&] { return run_shapes(shapes); }},
        {"models", [&] { return setup_models(app, models); }, [&] { return run_models(models); }},
        {"bench", [&] { return setup_bench(app, bench); }, [&] { return run_bench(bench); }},
        {"lesson", [&] { return setup_lesson(app, lesson); }, [&] { return run_lesson(lesson); }},
        {"compare", [&] { return setup_compare(app, compare); }, [&] { return run_compare(compare); }},
        {"attention", [&] { return setup_attention(app, attention); }, [&] { return run_attention(attention); }},
        {"inspect", [&] { return setup_inspect(app, inspect); }, [&] { return run_inspect(inspect); }},
        {"report", [&] { return setup_report(app, report); }, [&] { return run_report(report); }},
        {"diff", [&] { return setup_diff(app, diff); }, [&] { return run_diff(diff); }},
    };
    // Only the subcommand the command line names is set up, with its options:
    // setting up all ten took about 1.5 ms of every run. --help, --version, a
    // mistyped or a missing subcommand get them all, for the listing and the
    // suggestions.
    const auto named = std::find_if(subcommands.begin(), subcommands.end(),
                                    [&](const Subcommand& s) { return argc > 1 && argv[1] == std::string(s.name); });
    for (auto it = subcommands.begin(); it != subcommands.end(); ++it) {
        if (named != subcommands.end() && it != named) continue;
        it->app = it->setup();
        if (it->app->get_name() != it->name) {  // the table above and the setup functions disagree
            print_error("internal error: subcommand '" + it->app->get_name() + "' set up as '" + it->name + "'");
            return exit_code(ErrorKind::Internal);
        }
    }
    report.command = compare.command = command_line(argc, argv);

    try {
        check_words(app, argc, argv);
    } catch (const Error& e) {
        print_error(e.what());
        return exit_code(e.kind);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        print_error(std::string(e.what()) + " (see vitrace --help)");
        return exit_code(ErrorKind::Usage);
    }

    try {
        int code = exit_code(ErrorKind::Internal);
        for (const Subcommand& sub : subcommands)
            if (sub.app && sub.app->parsed()) code = sub.run();
        // Printed tables are output too: a full disk or closed pipe is an error.
        if (std::fflush(stdout) != 0 || std::ferror(stdout))
            throw Error(ErrorKind::Output, "cannot write to standard output");
        return code;
    } catch (const Error& e) {
        print_error(e.what());
        return exit_code(e.kind);
    } catch (const std::bad_alloc&) {
        print_error("out of memory");
        return exit_code(ErrorKind::Internal);
    } catch (const std::exception& e) {
        print_error(std::string("internal error: ") + e.what());
        return exit_code(ErrorKind::Internal);
    }
}
