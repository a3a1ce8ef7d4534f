// vitrace lesson [N] [--json]: the course at the terminal.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/lesson.h"
#include "cli/print_tensor.h"
#include "cli/table.h"
#include "core/trace.h"
#include "io/trace_json.h"

namespace vitrace::cli {

const std::vector<LessonInfo>& lessons() {
    static const std::vector<LessonInfo> all = {
        {1, "images", "images as tensors and preprocessing", lesson_01},
        {2, "patchify", "patchify: the conv view and the reshape+linear view", lesson_02},
        {3, "position", "the cls token and position embeddings", lesson_03},
        {4, "layernorm", "LayerNorm, and why not BatchNorm", lesson_04},
        {5, "qkv", "the QKV projection", lesson_05},
        {6, "heads", "into heads: the reshape and the transpose", lesson_06},
        {7, "scaled-dot-product", "scaled dot-product: why divide by the square root of d", lesson_07},
        {8, "softmax", "softmax and numerical stability", lesson_08},
        {9, "weighted-sum", "the weighted sum and merging the heads", lesson_09},
        {10, "mlp", "the MLP and GELU", lesson_10},
        {11, "residual", "residual connections and pre-norm", lesson_11},
        {12, "encoder-block", "the whole encoder block, and the classifier head", lesson_12},
        {13, "cost", "the cost of global attention", lesson_13},
        {14, "windows", "window partition and W-MSA", lesson_14},
        {15, "shifted-windows", "shifted windows, the cyclic shift and the attention mask", lesson_15},
        {16, "relative-position", "relative position bias", lesson_16},
        {17, "patch-merging", "patch merging and the hierarchy", lesson_17},
        {18, "vit-vs-swin", "ViT against Swin, side by side", lesson_18},
        {19, "resolution", "a new resolution: resampling the position embeddings", lesson_19},
        {20, "what-vit-learns", "what a ViT learns: positions, distances, filters, rollout", lesson_20},
        {21, "extra-tokens", "tokens beyond the patches: cls, mean, distillation, registers", lesson_21},
        {22, "checking", "checking an implementation against vitrace", lesson_22},
        {23, "inductive-bias", "windows and inductive bias: learning from little data", lesson_23},
    };
    return all;
}

void Lesson::say(const std::string& paragraph) {
    if (!text_) return;
    std::istringstream words(paragraph);
    std::string word, line;
    while (words >> word) {
        if (!line.empty() && line.size() + 1 + word.size() > 78) {
            std::fprintf(out_, "%s\n", line.c_str());
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    if (!line.empty()) std::fprintf(out_, "%s\n", line.c_str());
    std::fprintf(out_, "\n");
}

void Lesson::line(const std::string& text) {
    if (text_) std::fprintf(out_, "%s\n", text.c_str());
}

namespace {

// A command as a shell takes it, within about 100 columns: a long one is
// broken before its flags, each line but the last ending in " \\".
std::string wrapped_command(const std::string& cmd, const std::string& first, const std::string& indent) {
    constexpr size_t kWidth = 100;
    std::string out = first, line = first;
    size_t at = 0;
    while (at < cmd.size()) {
        size_t next = cmd.find(" --", at + 1);
        if (next == std::string::npos) next = cmd.size();
        const std::string piece = cmd.substr(at, next - at);  // " --flag value" (the first without its space)
        if (line.size() + piece.size() > kWidth && line.size() > first.size()) {
            out += " \\\n" + indent;
            line = indent;
            const std::string trimmed = piece.substr(piece.find_first_not_of(' '));
            out += trimmed;
            line += trimmed;
        } else {
            out += piece;
            line += piece;
        }
        at = next;
    }
    return out;
}

}  // namespace

void Lesson::command(const std::string& cmd) {
    last_command_ = cmd;
    // Indented, so that a lesson's output pasted into a document is not read as a new command.
    if (text_) std::fprintf(out_, "%s\n", wrapped_command(cmd, "  $ ", "      ").c_str());
}

bool Lesson::printed_by_last_command(const std::string& step_name) const {
    const std::string& cmd = last_command_;
    auto has = [&](const std::string& part) {
        const size_t at = cmd.find(part);
        return at != std::string::npos && (at + part.size() == cmd.size() || cmd[at + part.size()] == ' ');
    };
    if (cmd.rfind("vitrace trace ", 0) != 0 || runs_.empty() || !has(" " + flags_.back()) ||
        !has(" --image " + images_.back()))
        return false;
    const size_t show = cmd.find(" --show ");
    if (show == std::string::npos) return false;
    std::string globs = cmd.substr(show + 8, cmd.find(" --", show + 8) - (show + 8));
    std::erase(globs, '\'');
    std::istringstream list(globs);
    for (std::string glob; std::getline(list, glob, ',');) {
        glob = glob.substr(0, glob.find('['));  // a slice of the step still shows its header
        if (glob_match(glob, step_name)) return true;
    }
    return false;
}

const ImageRun& Lesson::run(const std::string& model_flags, const std::string& image, const std::string& weights) {
    const ModelConfig cfg = config_from_flags(model_flags);
    WeightOptions w;
    w.weights = weights;
    models_.push_back(std::make_unique<LoadedModel>(load_model(cfg, w)));
    TraceOptions opts;
    opts.values = ValuesMode::Full;
    runs_.push_back(std::make_unique<ImageRun>(run_on_image(*models_.back(), image, Normalization{}, opts)));
    flags_.push_back(model_flags);
    images_.push_back(image);
    return *runs_.back();
}

const ImageRun& Lesson::last() const {
    if (runs_.empty()) throw Error(ErrorKind::Internal, "lesson: no run yet");
    return *runs_.back();
}

const Step& Lesson::step(const std::string& name) const {
    const Step* s = last().trace.find(name);
    if (!s) throw Error(ErrorKind::Internal, "lesson: no step named " + name);
    return *s;
}

// A step a lesson prints stands under the command that prints it, so that a
// learner who runs the command sees the same lines (the doc tests run it).
static void require_printed(bool printed, const std::string& step_name, const std::string& cmd) {
    if (!printed)
        throw Error(ErrorKind::Internal, "lesson: step " + step_name + " is shown under a command that does not print it: " +
                                             (cmd.empty() ? "(none)" : cmd));
}

void Lesson::show(const std::string& step_name, int columns) {
    require_printed(printed_by_last_command(step_name), step_name, last_command_);
    const Step& s = step(step_name);
    if (runs_.size() == 1) shown_.push_back(step_name);
    if (text_) {
        print_step_values(out_, s, columns);
        std::fprintf(out_, "\n");
    }
}

void Lesson::summary(const std::string& step_name) {
    require_printed(printed_by_last_command(step_name), step_name, last_command_);
    const Step& s = step(step_name);
    if (text_) std::fprintf(out_, "%s\n", step_header(s).c_str());
}

void Lesson::exercise(const std::string& question, const std::string& cmd) {
    if (!text_) return;
    std::fprintf(out_, "Exercise.\n");
    say(question);
    std::fprintf(out_, "Check your answer with:\n%s\n", wrapped_command(cmd, "  ", "      ").c_str());
}

void Lesson::write_json(std::FILE* f, int number, const std::string& title) const {
    if (runs_.empty()) throw Error(ErrorKind::Internal, "lesson " + std::to_string(number) + " runs no model");
    const ImageRun& r = *runs_.front();
    const LoadedModel& lm = *models_.front();
    nlohmann::ordered_json extra = {
        {"lesson", {{"number", number}, {"title", title}, {"model_flags", flags_.front()}, {"shown_steps", shown_}}}};
    write_trace_json(f, model_json(lm.model.config, lm.weights),
                     input_json(images_.front(), r.image, lm.model.config.image_size(), Normalization{}), r.trace,
                     {r.features, r.logits}, r.top, &extra);
}

CLI::App* setup_lesson(CLI::App& app, LessonCommand& o) {
    CLI::App* cmd = app.add_subcommand("lesson", "The course: list the lessons, or run lesson N");
    cmd->add_option("number", o.number, "The lesson to run (1-" + std::to_string(lessons().size()) + ")");
    cmd->add_flag("--json", o.json, "Print the lesson's trace as JSON instead of the explanations");
    return cmd;
}

int run_lesson(const LessonCommand& o) {
    const auto& all = lessons();
    int number = 0;
    if (!o.number.empty()) {
        size_t used = 0;
        try {
            number = std::stoi(o.number, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != o.number.size()) {
            std::string list;
            for (const LessonInfo& l : all) list += (list.empty() ? "" : ", ") + std::to_string(l.number) + " " + l.slug;
            throw Error(ErrorKind::Usage, "lesson '" + o.number + "': lessons are numbered, as in vitrace lesson 2; they are " +
                                              list);
        }
    }
    if (number == 0 && o.number.empty()) {
        if (o.json) throw Error(ErrorKind::Usage, "--json needs a lesson number");
        Table t{{"#", "lesson", "file"}, {true, false, false}, {}};
        for (const LessonInfo& l : lessons()) {
            char file[64];
            std::snprintf(file, sizeof file, "lessons/%02d-%s.md", l.number, l.slug);
            t.rows.push_back({std::to_string(l.number), l.title, file});
        }
        t.print(stdout);
        std::printf("\nRun one with: vitrace lesson N\n");
        return 0;
    }
    const auto it = std::find_if(all.begin(), all.end(), [&](const LessonInfo& l) { return l.number == number; });
    if (it == all.end())
        throw Error(ErrorKind::Usage, "lesson " + o.number + " does not exist; there are lessons 1 to " +
                                          std::to_string(all.size()) + " (vitrace lesson lists them)");
    // The lesson writes into memory and reaches stdout only when it has run
    // to the end: a lesson that stops with an error prints nothing but the error.
    struct Buffer {
        char* data = nullptr;
        size_t size = 0;
        std::FILE* f = open_memstream(&data, &size);
        ~Buffer() {
            if (f) std::fclose(f);
            std::free(data);
        }
    } buffer;
    if (!buffer.f) throw Error(ErrorKind::Internal, "lesson: cannot open a memory stream");
    Lesson l(buffer.f, !o.json);
    if (!o.json) std::fprintf(buffer.f, "Lesson %d: %s\n\n", it->number, it->title);
    it->run(l);
    if (o.json) l.write_json(buffer.f, it->number, it->title);
    std::fclose(buffer.f);
    buffer.f = nullptr;
    std::fwrite(buffer.data, 1, buffer.size, stdout);
    return 0;
}

}  // namespace vitrace::cli
