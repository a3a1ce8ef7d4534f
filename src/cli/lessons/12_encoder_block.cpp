// Lesson 12: the whole encoder block, and the classifier head (lessons/12-encoder-block.md).
// Source to read: src/core/vit.cpp, vit_block and vit_forward; src/core/tokens.cpp, pool_first_token
// and pool_mean.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

void lesson_12(Lesson& l) {
    l.say("Lessons 4 to 11 took one encoder block apart. Put back together, it is these steps, and a ViT is "
          "depth copies of it, each with its own weights:");
    // The table `vitrace shapes` prints for these steps, from the same function.
    l.command("vitrace shapes " + kSmallVit + " --steps 'blocks.0.*'");
    const ModelConfig small = config_from_flags(kSmallVit);
    const Trace shapes = shape_trace(small);
    const Table block = shapes_table(shapes, {"blocks.0.*"});
    show_table(l, block);
    const int in_block = static_cast<int>(block.rows.size());
    l.line("  " + shapes_footer(small, shapes, block.rows.size()));
    const ImageRun& token_run = l.run(kSmallVit);
    char row[160];
    l.line();
    l.say(std::to_string(in_block) + " steps: two halves, attention and MLP, each a LayerNorm, a branch and an "
          "addition to the residual stream. The block's input and output are both [N, C], which is what lets "
          "blocks be stacked.");

    l.say("After the last block the classifier head needs one vector for the whole image. timm's ViT, by "
          "default (global_pool='token'), normalises the tokens with the final norm and keeps row 0, the "
          "cls token, which attended to every patch in each block:");
    l.line("  norm [N, C] -> pool = norm[0, :] [C] -> head = pool * W^T + b [classes]");
    l.line();
    l.command(trace_command("norm,pool,head"));
    l.summary("norm");
    l.show("pool");
    l.show("head", 5);
    const Step& norm = l.step("norm");
    const Step& token_pool = l.step("pool");
    const int C = static_cast<int>(token_pool.shape[0]);
    float diff = 0;
    for (int c = 0; c < C; c++) diff = std::max(diff, std::fabs(token_pool.values[c] - norm.values[c]));
    l.line("  largest |pool[c] - norm[0, c]| over the " + std::to_string(C) + " channels: " + fixed(diff));
    l.line();

    const std::string mean_flags = kSmallVit + " --pool mean";
    l.say("With global_pool='avg' (--pool mean) the head reads the mean of the patch tokens, rows 1 to N-1 "
          "of the last block's output. The cls token is still there and still takes part in attention, but "
          "the head never reads it. timm then normalises the one pooled vector with fc_norm, instead of every "
          "token with norm:");
    l.line("  residual2 [N, C] -> pool = mean of rows 1..N-1 [C] -> fc_norm [C] -> head [classes]");
    l.line();
    l.command(trace_command("blocks.0.residual2,pool,fc_norm,head", mean_flags));
    const ImageRun& mean_run = l.run(mean_flags);
    l.show("pool");
    l.summary("fc_norm");
    l.show("head", 5);

    // One channel of the mean recomputed from the last block's output.
    const Step& x = l.step("blocks.0.residual2");
    const Step& mean_pool = l.step("pool");
    const int N = static_cast<int>(x.shape[0]), c = 2;
    std::string terms;
    double sum = 0;
    for (int n = 1; n < N; n++) {
        const float v = x.values[n * C + c];
        terms += (n > 1 ? " + " : "") + (v < 0 ? "(" + fixed(v) + ")" : fixed(v));
        sum += v;
    }
    l.line("  pool[" + std::to_string(c) + "] = (" + terms + ") / " + std::to_string(N - 1) + " = " +
           fixed(sum / (N - 1)) + "    recorded: " + fixed(mean_pool.values[c]));
    l.line();

    l.say("Both runs use the same seeded weights, blocks and head alike; only the pooled vector differs, and "
          "with it the ranking. The model is untrained, so the classes mean nothing: what matters is that the "
          "choice of pooling alone changes what the head sees.");
    std::snprintf(row, sizeof row, "  %-5s %-20s %s", "top-5", "--pool token", "--pool mean");
    l.line(row);
    for (size_t k = 0; k < std::min(token_run.top.size(), mean_run.top.size()); k++) {
        auto cell = [](const Prediction& p) { return "class " + std::to_string(p.index) + "  " + fixed(p.score); };
        std::snprintf(row, sizeof row, "  %-5s %-20s %s", (std::to_string(k + 1) + ".").c_str(),
                      cell(token_run.top[k]).c_str(), cell(mean_run.top[k]).c_str());
        l.line(row);
    }
    l.line();
    l.say("The original ViT classified from the cls token, as BERT did; its authors found that averaging the "
          "patch tokens works as well once the learning rate is tuned for it. Later models such as BEiT "
          "classify from the mean, and Swin, which has no cls token, always does.");

    l.exercise("With --pool mean, compute pool[0] from column C=0 of blocks.0.residual2. Which rows do you "
               "average, and which row do you leave out?",
               trace_command("blocks.0.residual2,pool", mean_flags));
}

}  // namespace vitrace::cli
