// Lesson 5: the QKV projection (lessons/05-qkv.md).
// Source to read: src/core/linear.cpp, linear; src/core/attention.cpp, multi_head_attention
// (the attn.qkv step), called by vit_block in src/core/vit.cpp.
#include <utility>
#include <vector>

#include "cli/lesson.h"
#include "core/vit.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

void lesson_05(Lesson& l) {
    l.say("Attention needs three things from every token: a query q (what it looks for), a key k (what it "
          "offers to be found by) and a value v (what it passes on when found). Each is a linear function "
          "of the normalised token. timm computes all three with one linear layer from C to 3C channels, "
          "nn.Linear(C, 3C): weight [3C, C] and bias [3C].");
    l.line("  qkv[t, j] = bias[j] + sum over c of x[t, c] * weight[j, c]      (t: a token)");
    l.line();
    l.command(trace_command("blocks.0.norm1,blocks.0.attn.qkv"));
    l.run(kSmallVit);
    l.line();

    const ModelConfig cfg = config_from_flags(kSmallVit);
    const LoadedModel lm = load_model(cfg, WeightOptions{});
    const Linear& w = lm.model.as<VitWeights>().blocks[0].qkv;
    const int C = cfg.as<VitConfig>().width, hd = cfg.as<VitConfig>().head_dim();
    const std::string Cs = std::to_string(C);
    auto rows = [&](int s) { return std::to_string(s * C) + "-" + std::to_string((s + 1) * C - 1); };

    l.say("The input, blocks.0.norm1: N tokens of C = " + Cs + " channels.");
    l.show("blocks.0.norm1");
    l.say("The output, blocks.0.attn.qkv: N tokens of 3C = " + std::to_string(3 * C) +
          " channels. Weight rows " + rows(0) + " make q, rows " + rows(1) + " make k, rows " + rows(2) +
          " make v, so the columns of qkv are q, then k, then v; inside each, the heads' head_dim = " +
          std::to_string(hd) + " channels follow each other. It is three C -> C layers stacked into one "
          "matrix: one large product instead of three small ones, the same numbers.");
    l.show("blocks.0.attn.qkv");

    // One entry recomputed from its row of x and its row of the weight.
    const int n = 2, s = 1, h = 1, d = 1;
    const int j = s * C + h * hd + d;
    const float* x_n = &l.step("blocks.0.norm1").values[n * C];  // norm1[n, :]
    const float* w_j = &w.weight[(int64_t)j * C];                // weight[j, :]
    Tensor products = Tensor::zeros({C});
    float sum = 0.0f;
    for (int c = 0; c < C; c++) {
        products[c] = x_n[c] * w_j[c];
        sum += products[c];
    }
    const std::string ns = std::to_string(n), js = std::to_string(j);
    l.say("One entry by hand: qkv[" + ns + ", " + js + "], column " + js + " = " + std::to_string(s) + "*" + Cs +
          " + " + std::to_string(h) + "*" + std::to_string(hd) + " + " + std::to_string(d) +
          ", is k of head " + std::to_string(h) + ", dim " + std::to_string(d) + ", for token " + ns + ":");
    const std::string entry = "qkv[" + ns + ", " + js + "]";
    const std::vector<std::pair<std::string, std::string>> rows_shown = {
        {"x[" + ns + ", :]", values_str(x_n, C)},
        {"weight[" + js + ", :]", values_str(w_j, C)},
        {"products", values_str(products.ptr(), C)},
        {"sum", fixed(sum)},
        {"sum + bias[" + js + "]", fixed(sum) + " + " + fixed(w.bias[j]) + " = " + fixed(sum + w.bias[j])},
        {entry + " in the trace", fixed(l.step("blocks.0.attn.qkv").values[n * 3 * C + j])},
    };
    for (const auto& [label, value] : rows_shown) l.line(labelled(label, value, 26));
    l.line();

    const Step& qkv = l.step("blocks.0.attn.qkv");
    const int64_t N = qkv.shape[0];
    l.say("The cost: each of the N*3C outputs is a dot product of length C, so N*C*3C multiply-adds. The "
          "trace counts them in the step's macs:");
    l.line("  N*C*3C = " + std::to_string(N) + "*" + Cs + "*" + std::to_string(3 * C) + " = " +
           std::to_string(N * C * 3 * C) + "    blocks.0.attn.qkv macs = " + std::to_string(qkv.macs));
    l.line();
    l.say("Like every linear layer it grows with N and with the square of the width: at ViT-B's size "
          "(N = 197, C = 768) it is the largest of the four products inside attention.");

    l.exercise("How many multiply-adds does the qkv projection of vit_base_patch16_224 (N = 197, C = 768) "
               "take in each block?",
               "vitrace shapes --model vit_base_patch16_224 | grep blocks.0.attn.qkv");
}

}  // namespace vitrace::cli
