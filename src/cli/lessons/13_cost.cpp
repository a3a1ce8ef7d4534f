// Lesson 13: the cost of global attention (lessons/13-cost.md).
// Source to read: src/core/attention.cpp, attention_scores and weighted_sum;
// src/core/cost.cpp, model_cost; src/core/step.cpp, cost_kind.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "core/cost.h"

namespace vitrace::cli {

void lesson_13(Lesson& l) {
    l.say("Every token attends to every token. With N tokens of C channels, one block computes q*k^T "
          "(N x N dot products of length C) and attn*v (another N*N*C), so attention costs 2*N^2*C "
          "multiply-adds, against 4*N*C^2 for the four projections (qkv and proj) and 8*N*C^2 for the MLP "
          "with mlp_ratio 4. The projections grow with N; attention grows with N squared. The scores take "
          "memory too: heads*N*N floats per block.");
    l.run(kSmallVit);
    const Step& scores = l.step("blocks.0.attn.scores");
    const Step& qkv = l.step("blocks.0.attn.qkv");
    l.say("The small model, N = 5 and C = 8: the trace counts the multiply-adds of every step.");
    l.line("  blocks.0.attn.qkv     " + human_count((double)qkv.macs) + " multiply-adds = N*C*3C = 5*8*24");
    l.line("  blocks.0.attn.scores  " + human_count((double)scores.macs) + " multiply-adds = N*N*C = 5*5*8");
    l.line();

    l.say("At real sizes the quadratic term matters. ViT-B/16 has C = 768 and 12 heads; a 224x224 image "
          "gives 14x14 patches, N = 197; at 384x384 it is 24x24 patches, N = 577. One block at each size (vitrace "
          "compare --image-size 384 prints the whole model, beside a Swin that runs at 384):");
    Table t{{"image", "N", "projections", "attention", "MLP", "attention share", "scores/block"},
            {false, true, true, true, true, true, true},
            {}};
    std::vector<LayerCost> blocks;
    for (int S : {224, 384}) {
        ModelConfig cfg = find_model("vit_base_patch16_224");
        const ConfigOverrides o = {{"--image-size", FlagValue{S}}};
        apply_overrides(cfg, o);
        const LayerCost b = model_cost(cfg).layers.front();  // one block: they are all alike
        blocks.push_back(b);
        char share[16], mem[32];
        std::snprintf(share, sizeof share, "%.1f%%", 100.0 * b.attention_macs / b.total_macs());
        std::snprintf(mem, sizeof mem, "%.1f MiB", b.score_bytes / 1048576.0);
        t.rows.push_back({std::to_string(S) + "x" + std::to_string(S), std::to_string(b.tokens),
                          human_count((double)b.projection_macs), human_count((double)b.attention_macs),
                          human_count((double)b.mlp_macs), share, mem});
    }
    show_table(l, t);
    const auto ratio = [](int64_t a, int64_t b) { return fixed((double)a / (double)b, 2); };
    l.say("From 224 to 384, N grows " + ratio(blocks[1].tokens, blocks[0].tokens) + " times; the projections cost " +
          ratio(blocks[1].projection_macs, blocks[0].projection_macs) + " times more, attention " +
          ratio(blocks[1].attention_macs, blocks[0].attention_macs) + " times more, and so does the memory of "
          "the scores. Attention overtakes the projections once 2*N^2*C > 4*N*C^2, that is once N > 2C.");

    l.exercise("Above which image size does one ViT-B/16 block spend more on attention than on its four "
               "projections? Find the smallest multiple of 16 with N = (S/16)^2 + 1 > 2*768, then compare "
               "blocks.0.attn.qkv + attn.proj with attn.scores + attn.weighted_sum at that size.",
               "vitrace shapes --model vit_base_patch16_224 --image-size 640");
}

}  // namespace vitrace::cli
