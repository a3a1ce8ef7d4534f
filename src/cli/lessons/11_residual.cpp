// Lesson 11: residual connections and pre-norm (lessons/11-residual.md).
// Source to read: src/core/vit.cpp, vit_block; src/core/tokens.cpp, add.
#include <cmath>
#include <cstdio>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

namespace {

// kSmallVit with another depth. Repeating --depth would give the ViT two depths, so the value is replaced.
std::string small_vit_with_depth(int depth) {
    std::string flags = kSmallVit;
    const std::string key = "--depth 1";
    flags.replace(flags.find(key), key.size(), "--depth " + std::to_string(depth));
    return flags;
}

// Population variance of one row, as LayerNorm computes it.
double row_variance(const float* x, int n) {
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i] / n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean) / n;
    return var;
}

}  // namespace

void lesson_11(Lesson& l) {
    l.say("A ViT block never replaces its input. Each of its two halves reads a normalised copy of x, the "
          "residual stream, and adds what it computes back onto x:");
    l.line("  residual1 = x + attn(norm1(x))                 timm: x = x + self.attn(self.norm1(x))");
    l.line("  residual2 = residual1 + mlp(norm2(residual1))  timm: x = x + self.mlp(self.norm2(x))");
    l.line();
    l.command(trace_command("pos_embed,blocks.0.attn.proj,blocks.0.residual1"));
    l.run(kSmallVit);
    l.say("In block 0, x is pos_embed, the tokens with their positions added:");
    l.show("pos_embed");
    l.show("blocks.0.attn.proj");
    l.show("blocks.0.residual1");

    const Step& x = l.step("pos_embed");
    const Step& proj = l.step("blocks.0.attn.proj");
    const Step& r1 = l.step("blocks.0.residual1");
    const Step& fc2 = l.step("blocks.0.mlp.fc2");
    const Step& r2 = l.step("blocks.0.residual2");
    const int C = static_cast<int>(x.shape[1]);
    const int n = 2, c = 5, i = n * C + c;
    auto sum = [&](const std::string& what, float a, float b, const std::string& result, float recorded) {
        const std::string b_text = b < 0 ? "(" + fixed(b) + ")" : fixed(b);
        l.line("  " + what + " = " + fixed(a) + " + " + b_text + " = " + fixed(a + b) + "    " + result + " = " +
               fixed(recorded));
    };
    sum("pos_embed[2, 5] + attn.proj[2, 5]", x.values[i], proj.values[i], "residual1[2, 5]", r1.values[i]);
    sum("residual1[2, 5] + mlp.fc2[2, 5]  ", r1.values[i], fc2.values[i], "residual2[2, 5]", r2.values[i]);
    l.line();

    l.say("Where the LayerNorm sits is a choice. The original Transformer (2017) normalised after the "
          "addition, post-norm: x = LN(x + attn(x)). ViT, like GPT-2, normalises inside the branch, "
          "pre-norm: x = x + attn(LN(x)). Then nothing but additions lies on the path from the block's input "
          "to its output, and through all blocks:");
    l.line("  x_out = x_in + f_1(...) + f_2(...) + ... + f_2L(...)     (2 branches per block)");
    l.line();
    l.say("This identity path carries the input forward, and the gradient back, through any depth "
          "unchanged. That is why deep pre-norm stacks train stably. It does not make warm-up useless: "
          "Xiong et al. (2020) show that a pre-norm Transformer can train without it, where post-norm "
          "needs it, yet ViT and DeiT both train with a learning-rate warm-up. The price of pre-norm: nothing "
          "rescales the stream, which grows as the branches add to it; the final norm before the head brings "
          "it back to scale.");

    // A deeper model: the stream's spread per block against the spread of what norm1 hands the branch.
    const int depth = 6;
    const std::string deep = small_vit_with_depth(depth);
    l.command("vitrace trace " + deep + " --image " + kLessonImage);
    l.run(deep);
    l.say("The same model with " + std::to_string(depth) + " blocks. The std of each step, from the trace:");
    char row[160];
    std::snprintf(row, sizeof row, "  %5s  %9s  %9s  %9s  %9s  %9s  %9s", "block", "stream in", "norm1", "attn.proj",
                  "residual1", "mlp.fc2", "residual2");
    l.line(row);
    const double first = l.step("pos_embed").stats.std;
    for (int b = 0; b < depth; b++) {
        auto std_of = [&](Role role, int block) { return fixed(l.step(step_name({role, -1, block})).stats.std); };
        const std::string in = b == 0 ? fixed(first) : std_of(Role::Residual2, b - 1);
        std::snprintf(row, sizeof row, "  %5d  %9s  %9s  %9s  %9s  %9s  %9s", b, in.c_str(),
                      std_of(Role::Norm1, b).c_str(), std_of(Role::Proj, b).c_str(), std_of(Role::Residual1, b).c_str(),
                      std_of(Role::Fc2, b).c_str(), std_of(Role::Residual2, b).c_str());
        l.line(row);
    }
    l.line();
    const double last = l.step(step_name({Role::Residual2, -1, depth - 1})).stats.std;
    l.say("The residual stream goes from std " + fixed(first) + " to " + fixed(last) + ": each block adds "
          "its two branch outputs (the attn.proj and mlp.fc2 columns), which do not always point the same way "
          "as the stream, so the growth is uneven. norm1 hands every block's attention an input of std 1 "
          "whatever the stream's scale, so the branches work on the same footing in block 0 and in block " +
          std::to_string(depth - 1) + ".");

    // Block 0's norm1 is 0.9998, not 1: LayerNorm's eps against the cls token's tiny spread.
    const Step& x0 = l.step("pos_embed");
    const Step& norm1 = l.step("blocks.0.norm1");
    const double var_in = row_variance(&x0.values[0], C);
    const double var_out = row_variance(&norm1.values[0], C);
    l.say("Why " + fixed(norm1.stats.std) + " in block 0? Row 0 of pos_embed is the cls token, still tiny: its variance is " +
          fixed(var_in, 6) + ". LayerNorm divides by sqrt(variance + eps) with eps = 1e-6, which leaves that row "
          "a std of " + fixed(std::sqrt(var_out)) + " instead of 1.");

    l.exercise("Predict, for 12 blocks: is blocks.11.norm1 still at std 1.0000? Is blocks.11.residual2 larger "
               "or smaller than blocks.5.residual2?",
               "vitrace trace " + small_vit_with_depth(12) + " --image " + kLessonImage +
                   " | grep -E 'norm1|residual2'");
}

}  // namespace vitrace::cli
