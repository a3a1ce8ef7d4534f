// Lesson 10: the MLP and GELU (lessons/10-mlp.md).
// Source to read: src/core/activation.cpp, gelu and gelu_tanh; src/core/vit.cpp, vit_block.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/activation.h"

namespace vitrace::cli {

namespace {

// Multiply-adds of one block's attention (qkv, q·kᵀ, attn·v, proj) and of its MLP (fc1, fc2).
struct BlockMacs {
    int64_t attention = 0, mlp = 0;
};

BlockMacs block0_macs(const Trace& trace) {
    BlockMacs m;
    for (const Step& s : trace.steps()) {
        if (s.at.block != 0) continue;
        const CostKind kind = cost_kind(s.at.role);
        if (kind == CostKind::Projection || kind == CostKind::Attention) m.attention += s.macs;
        if (kind == CostKind::Mlp) m.mlp += s.macs;
    }
    return m;
}

// The steps and MACs of a model as `vitrace shapes` has them: shape-only, nothing computed.
Trace shapes_of(const std::string& model_flags) {
    const Model m = make_model(config_from_flags(model_flags));
    const int S = m.config.image_size();
    Trace trace;
    forward(m, Tensor::shape_only({3, S, S}), trace);
    return trace;
}

std::string percent(double part, double whole) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * part / whole);
    return buf;
}

}  // namespace

void lesson_10(Lesson& l) {
    l.say("After attention, each block has a small two-layer network, the MLP, applied to every token on "
          "its own: a linear layer widens the token from C to hidden channels, GELU bends it, and a second "
          "linear layer brings it back to C.");
    l.line("  timm: x = x + mlp(norm2(x)),   mlp = fc2(act(fc1(x))),   hidden = int(C * mlp_ratio)");
    l.line();
    l.command(trace_command("blocks.0.norm2,blocks.0.mlp.fc1,blocks.0.mlp.act,blocks.0.mlp.fc2"));
    l.run(kSmallVit);
    const Step& fc1 = l.step("blocks.0.mlp.fc1");
    const int C = static_cast<int>(l.step("blocks.0.norm2").shape[1]);
    const int hidden = static_cast<int>(fc1.shape[1]);
    l.say("Here C = " + std::to_string(C) + " and mlp_ratio = 2, so hidden = " + std::to_string(hidden) +
          " (ViT-B/16: 768 * 4 = 3072). The input is norm2, the residual stream normalised again:");
    l.summary("blocks.0.norm2");
    l.line();
    l.show("blocks.0.mlp.fc1");

    l.say("mlp.act is GELU, element by element, in the exact form of PyTorch's nn.GELU(), which timm's ViT "
          "uses: x times the probability that a standard normal variable is below x,");
    l.line("  gelu(x) = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))");
    l.line();
    l.show("blocks.0.mlp.act");

    // Two entries of fc1 through the formula, next to what the trace recorded.
    const Step& act = l.step("blocks.0.mlp.act");
    char row[128];
    for (const int j : {4, 0}) {  // a positive and a negative entry of token 0
        const float x = fc1.values[j];
        const double phi = 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
        std::snprintf(row, sizeof row, "  fc1[0, %d] = %7s   Phi(x) = %6s   x * Phi(x) = %7s   act[0, %d] = %7s", j,
                      fixed(x).c_str(), fixed(phi).c_str(), fixed(x * phi).c_str(), j, fixed(act.values[j]).c_str());
        l.line(row);
    }
    l.line();
    l.say("Large positive inputs pass almost unchanged, large negative ones become almost 0, and in between "
          "GELU is smooth. Unlike ReLU it lets small negative values through, and it dips below zero:");

    // GELU's minimum, found on a fine grid of the core's own gelu.
    Tensor grid = Tensor::zeros({3001});
    for (int64_t i = 0; i < grid.numel(); i++) grid[i] = -3.0f + 0.001f * static_cast<float>(i);
    Tensor g;
    gelu(g, grid);
    const int64_t at = std::min_element(g.data.begin(), g.data.end()) - g.data.begin();
    std::snprintf(row, sizeof row, "  %-44s %7s  at x = %s", "smallest gelu(x) for x = -3, -2.999, ..., 0:",
                  fixed(g[at]).c_str(), fixed(grid[at], 3).c_str());
    l.line(row);
    std::snprintf(row, sizeof row, "  %-44s %7s", "smallest value of mlp.act above:", fixed(act.stats.min).c_str());
    l.line(row);
    l.line();

    l.say("BERT and GPT-2 used a tanh approximation, PyTorch's nn.GELU(approximate='tanh'); vitrace's "
          "models keep the exact form, as timm's ViT does. The two differ by less than a thousandth:");
    l.line("  gelu_tanh(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))");
    l.line();
    Tensor xs = Tensor::zeros({13});
    for (int64_t i = 0; i < xs.numel(); i++) xs[i] = -3.0f + 0.5f * static_cast<float>(i);
    Tensor exact, approx;
    gelu(exact, xs);
    gelu_tanh(approx, xs);
    l.line("      x     relu     gelu  gelu_tanh  gelu - relu  gelu_tanh - gelu");
    for (int64_t i = 0; i < xs.numel(); i++) {
        const float relu = std::max(0.0f, xs[i]);
        std::snprintf(row, sizeof row, "%7s  %7s  %7s  %9s  %11s  %16s", fixed(xs[i], 1).c_str(), fixed(relu).c_str(),
                      fixed(exact[i]).c_str(), fixed(approx[i]).c_str(), fixed(exact[i] - relu).c_str(),
                      fixed(approx[i] - exact[i], 6).c_str());
        l.line(row);
    }
    l.line();
    l.say("gelu - relu is the same at x and -x, because x * Phi(x) - x = -x * Phi(-x) = gelu(-x): GELU is "
          "ReLU plus a smooth, even dent around 0 that fades as |x| grows.");

    l.say("fc2 brings each token back to C channels; the block adds it to the residual stream:");
    l.summary("blocks.0.mlp.fc2");
    l.line();

    // Where the multiply-adds go: this model, and ViT-B/16 from a shape-only run.
    const BlockMacs small = block0_macs(l.last().trace);
    const std::string base = "--model vit_base_patch16_224";
    const BlockMacs big = block0_macs(shapes_of(base));
    l.say("fc1 and fc2 each do N * C * hidden multiply-adds, 2 * N * C * hidden together; attention does "
          "4 * N * C^2 in qkv and proj plus 2 * N^2 * C in q*k^T and attn*v. From the MACs the trace "
          "records for blocks.0:");
    std::snprintf(row, sizeof row, "  %-22s %12s %22s", "", "this model", "vit_base_patch16_224");
    l.line(row);
    std::snprintf(row, sizeof row, "  %-22s %12s %22s", "attention", human_count((double)small.attention).c_str(),
                  human_count((double)big.attention).c_str());
    l.line(row);
    std::snprintf(row, sizeof row, "  %-22s %12s %22s", "MLP", human_count((double)small.mlp).c_str(),
                  human_count((double)big.mlp).c_str());
    l.line(row);
    std::snprintf(row, sizeof row, "  %-22s %12s %22s", "MLP share of the block",
                  percent((double)small.mlp, double(small.mlp + small.attention)).c_str(),
                  percent((double)big.mlp, double(big.mlp + big.attention)).c_str());
    l.line(row);
    l.line();
    l.say("With mlp_ratio 4, the ratio of ViT-Ti, S, B and L, the MLP's 8 * N * C^2 outweighs attention: "
          "the MLP holds most of a ViT's multiply-adds, and two thirds of each block's weights (8 * C^2 "
          "against 4 * C^2). This small model uses mlp_ratio 2, so here the MLP is the smaller part.");

    l.exercise("How many multiply-adds does one block's MLP do in vit_small_patch16_224 (N = 197, C = 384, "
               "mlp_ratio 4)? Compute N * C * hidden for fc1, and the total for fc1 and fc2.",
               "vitrace shapes --model vit_small_patch16_224");
}

}  // namespace vitrace::cli
