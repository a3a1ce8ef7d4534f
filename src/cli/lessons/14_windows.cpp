// Lesson 14: window partition and W-MSA (lessons/14-windows.md).
// Source to read: src/core/window.cpp, window_partition and window_reverse;
// src/core/swin.cpp, swin_block; src/core/attention.cpp, multi_head_attention.
#include <algorithm>
#include <cstdint>
#include <string>

#include "cli/lesson.h"
#include "core/swin.h"
#include "cli/lessons/grid_map.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/window.h"

namespace vitrace::cli {

namespace {

// "  label   v0 v1 ... v(C-1)": the C channels of token `n` of a step whose last axis is C.
std::string channels(const std::string& label, const Step& s, int64_t n, int64_t C) {
    std::string out = "  " + label + std::string(std::max<int>(1, 28 - (int)label.size()), ' ');
    for (int64_t c = 0; c < C; c++) out += pad_left(fixed(s.values[n * C + c]), 8);
    return out;
}

std::string at(const std::string& step, int i, int j) {
    return step + "[" + std::to_string(i) + ", " + std::to_string(j) + ", :]";
}

// Multiply-adds of one attention layer over an h×w grid of C channels: qkv and
// proj (4HWC²), then q·kᵀ and attn·v, globally or within windows of M×M.
int64_t global_attention_macs(int64_t hw, int64_t C) { return 4 * hw * C * C + 2 * hw * hw * C; }
int64_t window_attention_macs(int64_t hw, int64_t C, int64_t M) { return 4 * hw * C * C + 2 * M * M * hw * C; }

}  // namespace

void lesson_14(Lesson& l) {
    const SwinConfig tiny = find_model("swin_tiny_patch4_window7_224").as<SwinConfig>();
    const int64_t side0 = tiny.resolution(0), hw0 = side0 * side0;
    l.say("In ViT every token attends to every token: N tokens give an N x N map of scores per head, and the "
          "cost grows with the square of the number of tokens. Swin's first stage at " +
          std::to_string(tiny.image_size) + "x" + std::to_string(tiny.image_size) + " has a " +
          std::to_string(side0) + "x" + std::to_string(side0) + " grid, " + std::to_string(hw0) + " tokens: one " +
          std::to_string(hw0) + " x " + std::to_string(hw0) + " map per head. Swin cuts the grid into windows of "
          "M x M tokens and lets attention run only inside each window (W-MSA, window multi-head self-attention).");
    l.run(kSmallSwin);
    l.line();

    const SwinConfig cfg = config_from_flags(kSmallSwin).as<SwinConfig>();
    const int H = cfg.resolution(0), M = cfg.window_at(0), C = cfg.channels(0);
    const int nWx = H / M, nW = nWx * nWx, T = M * M;
    l.say("This model's first stage is an " + std::to_string(H) + "x" + std::to_string(H) + " grid of C = " +
          std::to_string(C) + " channels, cut into windows of M = " + std::to_string(M) + ": (" + std::to_string(H) +
          "/" + std::to_string(M) + ")^2 = " + std::to_string(nW) + " windows of M^2 = " + std::to_string(T) +
          " tokens. window_partition numbers the windows row by row, and the tokens inside each window row by "
          "row. Each cell below is window:token, where token (y, x) of the grid ends up:");

    // Where window_partition puts each token: partition a grid of token indices.
    Tensor windows;  // [nW, T, 1]
    window_partition(windows, token_index_grid(H, H), M);
    std::vector<int> window_of(H * H), slot_of(H * H);
    for (int w = 0; w < nW; w++)
        for (int t = 0; t < T; t++) {
            const int id = static_cast<int>(windows[w * T + t]);
            window_of[id] = w;
            slot_of[id] = t;
        }
    for (const std::string& s : grid_map(H, H, M, 5, [&](int y, int x) {
             return std::to_string(window_of[y * H + x]) + ":" + std::to_string(slot_of[y * H + x]);
         }))
        l.line(s);
    l.line();
    l.say("Token (y, x) goes to window w and position t with");
    l.line("  w = (y / M) * (W / M) + x / M      t = (y % M) * M + x % M      (integer division)");
    l.line();
    l.say("Nothing is computed, values only move: the [H, W, C] grid becomes [windows, T, C], with T = M^2 tokens per window.");
    l.command(trace_command("layers.0.blocks.0.norm1,layers.0.blocks.0.window_partition", kSmallSwin));
    l.summary("layers.0.blocks.0.norm1");
    l.summary("layers.0.blocks.0.window_partition");
    l.line();

    // One token followed, with its real channels.
    const int y = 2, x = 5;  // its indexes change: (2, 5) on the grid, (1, 9) after the partition
    const int w = window_of[y * H + x], t = slot_of[y * H + x];
    const Step& norm1 = l.step("layers.0.blocks.0.norm1");
    const Step& part = l.step("layers.0.blocks.0.window_partition");
    l.say("Token (" + std::to_string(y) + ", " + std::to_string(x) + ") is token " + std::to_string(t) +
          " of window " + std::to_string(w) + ":");
    l.line(channels(at("norm1", y, x), norm1, y * H + x, C));
    l.line(channels(at("window_partition", w, t), part, w * T + t, C));
    l.line();

    l.say("Attention then runs in each window as in ViT, with the window's " + std::to_string(T) +
          " tokens as the sequence: every tensor has a windows axis in front, and the scores are [windows, "
          "heads, T_q, T_k]: T_q for the query, T_k for the key tokens of the window:");
    l.command(trace_command("layers.0.blocks.0.attn.scores,layers.0.blocks.0.attn.softmax", kSmallSwin));
    l.summary("layers.0.blocks.0.attn.scores");
    l.summary("layers.0.blocks.0.attn.softmax");
    l.line();

    // The cost, from the formulas and from the trace's own counts.
    const int64_t hw = (int64_t)H * H;
    int64_t measured = 0;
    for (const Step& s : l.last().trace.steps())  // qkv, q·kᵀ, attn·v and proj of block 0
        if (s.at.stage == 0 && s.at.block == 0 && cost_kind(s.at.role) != CostKind::Mlp) measured += s.macs;
    l.say("Scores per head: " + std::to_string(nW) + " windows x " + std::to_string(T) + " x " +
          std::to_string(T) + " = " + std::to_string(nW * T * T) + ", against " + std::to_string(hw) + " x " +
          std::to_string(hw) + " = " + std::to_string(hw * hw) + " for global attention. Multiply-adds of one "
          "attention layer on the H x W grid (qkv and proj cost 4HWC^2 either way):");
    l.line("  global  4HWC^2 + 2(HW)^2 C = " + std::to_string(4 * hw * C * C) + " + " +
           std::to_string(2 * hw * hw * C) + " = " + std::to_string(global_attention_macs(hw, C)));
    l.line("  window  4HWC^2 + 2M^2 HWC  = " + std::to_string(4 * hw * C * C) + " + " +
           std::to_string(2 * (int64_t)T * hw * C) + " = " + std::to_string(window_attention_macs(hw, C, M)));
    l.line("  the trace: qkv + scores + weighted_sum + proj = " + std::to_string(measured));
    l.line();
    const int64_t C0 = tiny.channels(0), M0 = tiny.window_at(0);
    l.say("The score term shrinks by HW / M^2, the number of windows, and the cost becomes linear in the number "
          "of tokens. For swin_tiny_patch4_window7_224's first stage (HW = " + std::to_string(hw0) + ", C = " +
          std::to_string(C0) + ", M = " + std::to_string(M0) + "), one attention layer:");
    const int64_t nW0 = hw0 / (M0 * M0);
    l.line("  scores per head  global " + std::to_string(hw0 * hw0) + "    window " + std::to_string(nW0) + " x " +
           std::to_string(M0 * M0) + " x " + std::to_string(M0 * M0) + " = " + std::to_string(nW0 * M0 * M0 * M0 * M0));
    l.line("  multiply-adds    global " + human_count((double)global_attention_macs(hw0, C0)) + "       window " +
           human_count((double)window_attention_macs(hw0, C0, M0)));
    l.line();

    const Step& proj = l.step("layers.0.blocks.0.attn.proj");
    const Step& rev = l.step("layers.0.blocks.0.window_reverse");
    l.say("window_reverse is the inverse rearrangement: it puts each window's tokens back on the grid, [H, W, C], "
          "for the residual add. The same token, after attention:");
    l.line(channels(at("attn.proj", w, t), proj, w * T + t, C));
    l.line(channels(at("window_reverse", y, x), rev, y * H + x, C));
    l.line();

    // Untrained against trained: how peaked a window's rows are.
    Table focus = attention_focus_table();
    add_attention_focus(focus, "untrained", l.step("layers.0.blocks.0.attn.softmax"));
    l.run("--model swin_shapes");
    const Step& trained = l.step("layers.0.blocks.0.attn.softmax");
    add_attention_focus(focus, "swin_shapes", trained);
    l.say("Inside a window, attention is a softmax over the window's T tokens. The small model is untrained, so "
          "its rows are near uniform, 1/T each; swin_shapes, trained on data/shapes.py with windows of " +
          std::to_string(trained.shape.back()) + " tokens too, looks at a few. Per head, averaged over the "
          "windows' rows:");
    show_table(l, focus);

    l.exercise("Which window and which position in it does token (y=5, x=2) of the grid go to? Find its " +
                   std::to_string(C) + " channels in norm1 and in window_partition.",
               trace_command("layers.0.blocks.0.norm1,layers.0.blocks.0.window_partition", kSmallSwin));
}

}  // namespace vitrace::cli
