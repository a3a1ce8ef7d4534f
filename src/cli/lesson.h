// The course at the terminal: `vitrace lesson N` runs lesson N's small example
// and prints its steps with short explanations. The long explanations live in
// lessons/NN-topic.md; the two show the same commands and the same numbers.
//
// A lesson is a function that talks through a Lesson object:
//
//   void lesson_05(Lesson& l) {
//       l.say("The qkv projection is one linear layer ...");
//       l.run(kSmallVit);                      // runs the model; every step keeps its values
//       l.show("blocks.0.attn.qkv");           // prints the step as matrices
//       l.exercise("...", "vitrace trace ... --show blocks.0.attn.qkv");
//   }
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/errors.h"
#include "cli/format.h"
#include "cli/options.h"
#include "cli/run.h"

namespace vitrace::cli {

// The small configurations the lessons use, as command-line flags: every
// number fits on a screen. An 8x8 image in 4x4 patches (4 patches + cls = 5
// tokens), width 8 in 2 heads of 4, one block, MLP hidden width 16.
inline const std::string kSmallVit =
    "--model vit_tiny_patch16_224 --image-size 8 --patch 4 --width 8 --depth 1 --heads 2 --mlp-ratio 2 --classes 5";
// A 16x16 image in 2x2 patches: an 8x8 grid of width 8, windows of 4x4 (4 windows,
// the second block shifted by 2), then patch merging to a 4x4 grid of width 16
// that is a single window.
inline const std::string kSmallSwin =
    "--model swin_tiny_patch4_window7_224 --image-size 16 --patch 2 --width 8 --depths 2,2 --heads 2,2 --window 4 "
    "--mlp-ratio 2 --classes 5";
inline const std::string kLessonImage = "data/images/ring.png";

class Lesson {
public:
    // text: print the explanations and values; off for --json, which prints only the trace.
    Lesson(std::FILE* out, bool text) : out_(out), text_(text) {}

    // A paragraph, wrapped at 78 columns, followed by a blank line.
    void say(const std::string& paragraph);
    // A line as is (tables, computed results), no wrapping.
    void line(const std::string& text = "");
    // Shows a command that reproduces what follows: "  $ vitrace ...".
    void command(const std::string& cmd);

    // Runs a model, given as command-line flags, on an image; every step keeps
    // all its values. The first run is the one `--json` writes.
    const ImageRun& run(const std::string& model_flags, const std::string& image = kLessonImage,
                        const std::string& weights = "");
    const ImageRun& last() const;
    const Step& step(const std::string& name) const;  // from the latest run

    // Prints a step of the latest run: its stats, then its values as matrices.
    // The latest command() must be the `vitrace trace` of that run whose --show
    // prints the step, so that what a lesson shows is what its command prints;
    // otherwise the lesson stops with an internal error.
    void show(const std::string& step_name, int columns = 8);
    // Prints only the step's first line: name, op, shape and stats (same rule).
    void summary(const std::string& step_name);
    // The exercise: a question, and the command whose output answers it.
    void exercise(const std::string& question, const std::string& cmd);

    // The primary run's trace, with a "lesson" object, for --json.
    void write_json(std::FILE* f, int number, const std::string& title) const;

private:
    std::FILE* out_;
    bool text_;
    std::vector<std::string> flags_, images_;
    std::vector<std::unique_ptr<LoadedModel>> models_;
    std::vector<std::unique_ptr<ImageRun>> runs_;
    std::vector<std::string> shown_;
    std::string last_command_;  // the latest command(): the steps show() and summary() print must be its output

    // Whether the latest command, run as shown, prints this step of the latest run.
    bool printed_by_last_command(const std::string& step_name) const;
};

struct LessonInfo {
    int number;
    const char* slug;   // lessons/NN-slug.md
    const char* title;
    void (*run)(Lesson&);
};

const std::vector<LessonInfo>& lessons();

// The lessons themselves, one per file in src/cli/lessons/.
void lesson_01(Lesson& l);
void lesson_02(Lesson& l);
void lesson_03(Lesson& l);
void lesson_04(Lesson& l);
void lesson_05(Lesson& l);
void lesson_06(Lesson& l);
void lesson_07(Lesson& l);
void lesson_08(Lesson& l);
void lesson_09(Lesson& l);
void lesson_10(Lesson& l);
void lesson_11(Lesson& l);
void lesson_12(Lesson& l);
void lesson_13(Lesson& l);
void lesson_14(Lesson& l);
void lesson_15(Lesson& l);
void lesson_16(Lesson& l);
void lesson_17(Lesson& l);
void lesson_18(Lesson& l);
void lesson_19(Lesson& l);
void lesson_20(Lesson& l);
void lesson_21(Lesson& l);
void lesson_22(Lesson& l);
void lesson_23(Lesson& l);

}  // namespace vitrace::cli
