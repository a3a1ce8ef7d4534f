// Lesson 18: ViT against Swin, side by side (lessons/18-vit-vs-swin.md).
// Source to read: src/core/vit.cpp, vit_forward and vit_block, and src/core/swin.cpp,
// swin_forward and swin_block: the two forward passes, step for step;
// src/core/attention.cpp, multi_head_attention, the attention they share.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "core/cost.h"

namespace vitrace::cli {

namespace {

// One row per ViT block or Swin stage: what its attention looks like and costs.
void add_rows(Table& t, const char* family, const ModelCost& c) {
    for (const LayerCost& r : c.layers)
        t.rows.push_back({family, r.name, std::to_string(r.blocks), std::to_string(r.tokens), std::to_string(r.channels),
                          std::to_string(r.matrices) + " x " + std::to_string(r.matrix_side) + "x" +
                              std::to_string(r.matrix_side),
                          human_count((double)(r.attention_macs / r.blocks)),
                          human_count((double)(r.total_macs() / r.blocks))});
}

Table cost_table() {
    return {{"model", "layer", "blocks", "tokens", "C", "matrices/block", "attention/block", "total/block"},
            {false, false, true, true, true, true, true, true},
            {}};
}

}  // namespace

void lesson_18(Lesson& l) {
    l.say("Both models cut the image into patches and run pre-norm blocks of attention and MLP with "
          "residuals. They differ in what a token may attend to. In ViT every token attends to all N "
          "tokens at once, at one scale, with learned absolute positions and a cls token. In Swin a "
          "token attends only to the M*M tokens of its window; every other block shifts the windows "
          "so that information crosses their borders; positions enter as a learned bias per relative "
          "offset; and patch merging halves the grid and doubles the channels between stages, so the "
          "model sees coarser and coarser scales. The head then averages all tokens.");

    l.say("The two small models of the course, on the same image:");
    l.run(kSmallVit);
    l.run(kSmallSwin);
    Table small = cost_table();
    add_rows(small, "vit", model_cost(config_from_flags(kSmallVit)));
    add_rows(small, "swin", model_cost(config_from_flags(kSmallSwin)));
    show_table(l, small);
    l.say("One ViT attention map is [N_q, N_k] over the whole image; Swin's are [T_q, T_k], "
          "one per window and head. Compare the attention steps of the two runs:");
    l.command(trace_command("layers.0.blocks.1.attn.softmax,layers.1.blocks.0.attn.softmax", kSmallSwin));
    l.summary("layers.0.blocks.1.attn.softmax");
    l.summary("layers.1.blocks.0.attn.softmax");
    l.line();

    l.say("At real sizes, ViT-B/16 against Swin-T at 224x224 (ViT-B's blocks are all alike; one is shown). "
          "vitrace compare prints the same figures in full, split into projections, attention and MLP; the "
          "exercise below runs it:");
    const ModelCost vit = model_cost(find_model("vit_base_patch16_224"));
    const ModelCost swin = model_cost(find_model("swin_tiny_patch4_window7_224"));
    Table real = cost_table();
    ModelCost one_block = vit;
    one_block.layers.resize(1);
    add_rows(real, "vit", one_block);
    add_rows(real, "swin", swin);
    show_table(l, real);
    l.line("  multiply-adds per image: ViT-B/16 " + human_count((double)vit.total_macs) + ", Swin-T " +
           human_count((double)swin.total_macs));
    l.line();

    // How much of the gap is attention, and how much is model size.
    auto attention_of = [](const ModelCost& c) {
        int64_t a = 0;
        for (const LayerCost& r : c.layers) a += r.attention_macs;
        return a;
    };
    auto share = [](int64_t part, int64_t whole) { return fixed(100.0 * (double)part / (double)whole, 1) + " %"; };
    const ModelConfig vit_s = find_model("vit_small_patch16_224"), swin_b = find_model("swin_base_patch4_window7_224");
    const ModelCost small_vit = model_cost(vit_s), big_swin = model_cost(swin_b);
    l.say("ViT-B/16 costs " + fixed((double)vit.total_macs / (double)swin.total_macs, 2) +
          " times Swin-T, but that is mostly model size, not global attention: at 224x224 the attention "
          "products (q*k^T and attn*v) are " + share(attention_of(vit), vit.total_macs) + " of ViT-B/16's "
          "multiply-adds and " + share(attention_of(swin), swin.total_macs) + " of Swin-T's. ViT-B/16 has " +
          human_count((double)param_count(find_model("vit_base_patch16_224"))) + " parameters, Swin-T " +
          human_count((double)param_count(find_model("swin_tiny_patch4_window7_224"))) +
          ". Models of a like size cost about the same:");
    Table pairs{{"ViT", "params", "MACs", "Swin", "params", "MACs", "ViT / Swin"},
                {false, true, true, false, true, true, true}};
    auto pair = [&](const ModelConfig& v, const ModelCost& vc, const ModelConfig& w, const ModelCost& wc) {
        pairs.rows.push_back({v.name, human_count((double)param_count(v)), human_count((double)vc.total_macs), w.name,
                              human_count((double)param_count(w)), human_count((double)wc.total_macs),
                              fixed((double)vc.total_macs / (double)wc.total_macs, 2)});
    };
    pair(vit_s, small_vit, find_model("swin_tiny_patch4_window7_224"), swin);
    pair(find_model("vit_base_patch16_224"), vit, swin_b, big_swin);
    show_table(l, pairs);
    l.say("(vit_small_patch16_224 is the size of DeiT-S.) Where the two designs part is the growth with the "
          "image.");

    l.say("And as the image grows, doubling its side each time:");
    Table grow{{"image", "ViT-B/16", "Swin-T"}, {false, true, true}, {}};
    int64_t vit_896 = 0;
    ModelCost vit_block_896;
    for (int S : {224, 448, 896}) {
        const ConfigOverrides o = {{"--image-size", FlagValue{S}}};
        ModelConfig v = find_model("vit_base_patch16_224"), w = find_model("swin_tiny_patch4_window7_224");
        apply_overrides(v, o);
        apply_overrides(w, o);
        vit_block_896 = model_cost(v);
        vit_896 = vit_block_896.total_macs;
        grow.rows.push_back({std::to_string(S) + "x" + std::to_string(S), human_count((double)vit_896),
                             human_count((double)model_cost(w).total_macs)});
    }
    show_table(l, grow);
    const LayerCost& b896 = vit_block_896.layers.front();
    l.say("Swin's cost grows with the number of tokens (4 times per doubling); ViT's attention grows with "
          "their square. At 896x896 it becomes the largest single term of a ViT-B/16 block: " +
          share(b896.attention_macs, b896.total_macs()) + " of it, against " +
          share(b896.mlp_macs, b896.total_macs()) + " for the MLP and " +
          share(b896.projection_macs, b896.total_macs()) + " for the projections. One ViT-B/16 image at "
          "896x896 costs as much as " + fixed((double)vit_896 / (double)swin.total_macs, 0) +
          " Swin-T images at 224x224. That is why Swin can serve as a backbone for detection and "
          "segmentation at high resolution.");
    l.say("To see the difference rather than count it, `vitrace attention` draws the trained vit_shapes' "
          "attention over an image, and swin_shapes' attention of one token in a regular and a shifted "
          "window (lessons/18-vit-vs-swin.md shows the pictures).");

    l.exercise("How many attention matrices does one block of Swin-T's first stage compute, and of what "
               "size? How many does one ViT-B/16 block compute? Which block computes more multiply-adds "
               "in attention?",
               "vitrace compare --vit vit_base_patch16_224 --swin swin_tiny_patch4_window7_224");
}

}  // namespace vitrace::cli
