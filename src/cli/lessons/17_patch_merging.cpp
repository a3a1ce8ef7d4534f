// Lesson 17: patch merging and the hierarchy (lessons/17-patch-merging.md).
// Source to read: src/core/patch.cpp, patch_merge; src/core/swin.cpp,
// swin_forward (layers.S.downsample) and SwinConfig in src/core/swin.h.
#include <cstdio>
#include <string>

#include "cli/lesson.h"
#include "core/swin.h"
#include "cli/lessons/grid_map.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/patch.h"

namespace vitrace::cli {

namespace {

// One line per stage: grid, tokens, channels, heads, window, windows, shift,
// and the pixels of the input image one token stands for.
void print_stages(Lesson& l, const SwinConfig& c) {
    l.line("  stage   grid  tokens  channels  heads  window  windows  shift  blocks  pixels per token");
    for (int s = 0; s < c.stages(); s++) {
        const int r = c.resolution(s), M = c.window_at(s), px = c.patch << s;
        char row[128];
        std::snprintf(row, sizeof row, "  %5d  %2dx%-2d  %6d  %8d  %5d  %6d  %7d  %5d  %6d  %9dx%d", s, r, r, r * r,
                      c.channels(s), c.heads[s], M, (r / M) * (r / M), c.shift_at(s), c.depths[s], px, px);
        l.line(row);
    }
    l.line();
}

}  // namespace

void lesson_17(Lesson& l) {
    l.say("A convolutional network halves the resolution and widens the channels as it goes deeper. Swin does "
          "the same between its stages with patch merging (layers.S.downsample, from stage 1 on): every 2x2 "
          "group of neighbouring tokens becomes one token. Three steps, as timm's PatchMerging:");
    l.line("  merge      x0 = x[0::2, 0::2]  x1 = x[1::2, 0::2]  x2 = x[0::2, 1::2]  x3 = x[1::2, 1::2]");
    l.line("             cat([x0, x1, x2, x3], -1)           [H, W, C] -> [H/2, W/2, 4C]");
    l.line("  norm       LayerNorm over the 4C channels");
    l.line("  reduction  Linear(4C, 2C, bias=False)          [H/2, W/2, 4C] -> [H/2, W/2, 2C]");
    l.line();
    l.command(trace_command("layers.0.blocks.1.residual2,'layers.1.downsample.*'", kSmallSwin));
    l.run(kSmallSwin);
    l.line();

    const SwinConfig cfg = config_from_flags(kSmallSwin).as<SwinConfig>();
    const int H = cfg.resolution(0), C = cfg.channels(0), H2 = cfg.resolution(1);
    Tensor merged_ids;  // [H/2, W/2, 4]
    patch_merge(merged_ids, token_index_grid(H, H));
    l.say("Which tokens each merged token gathers, computed with patch_merge on the " + std::to_string(H) + "x" +
          std::to_string(H) + " grid of token indices (y * " + std::to_string(H) + " + x), in channel order x0 x1 "
          "x2 x3: top-left, bottom-left, top-right, bottom-right.");
    for (const std::string& s : grid_map(H2, H2, 0, 12, [&](int i, int j) {
             std::string cell;
             for (int part = 0; part < 4; part++)
                 cell += pad_left(std::to_string(static_cast<int>(merged_ids[(i * H2 + j) * 4 + part])), 3);
             return cell;
         }))
        l.line(s);
    l.line();

    // One merged token, channel block by channel block, with the real values.
    const Step& x = l.step("layers.0.blocks.1.residual2");
    const Step& merge = l.step("layers.1.downsample.merge");
    const int i = 0, j = 1;
    l.say("The input is stage 0's output, layers.0.blocks.1.residual2 [" + std::to_string(H) + ", " +
          std::to_string(H) + ", " + std::to_string(C) + "]. Merged token (" + std::to_string(i) + ", " +
          std::to_string(j) + ") on the real values:");
    bool all_equal = true;
    for (int part = 0; part < 4; part++) {
        const int id = static_cast<int>(merged_ids[(i * H2 + j) * 4 + part]);
        const int y = id / H, xx = id % H;
        char label[96];
        std::snprintf(label, sizeof label, "  merge[%d, %d, %2d:%2d] = x%d = x[%d, %d, :]", i, j, part * C,
                      (part + 1) * C, part, y, xx);
        std::string row = label;
        for (int c = 0; c < C; c++) {
            const float v = merge.values[(i * H2 + j) * 4 * C + part * C + c];
            all_equal = all_equal && v == x.values[id * C + c];
            row += pad_left(fixed(v), 8);
        }
        l.line(row);
    }
    l.line(std::string("  every channel equal to its source in residual2: ") + (all_equal ? "yes" : "no"));
    l.line();
    l.summary("layers.0.blocks.1.residual2");
    l.summary("layers.1.downsample.merge");
    l.summary("layers.1.downsample.norm");
    l.summary("layers.1.downsample.reduction");
    l.line();

    const Step& red = l.step("layers.1.downsample.reduction");
    l.say("norm normalises the " + std::to_string(4 * C) + " channels of each merged token; reduction is a linear "
          "layer without bias, weight [" + std::to_string(2 * C) + ", " + std::to_string(4 * C) + "], that mixes "
          "them down to " + std::to_string(2 * C) + ": " + std::to_string(H2 * H2) + " tokens x " +
          std::to_string(4 * C) + " x " + std::to_string(2 * C) + " = " +
          std::to_string(H2 * H2 * 4 * C * 2 * C) + " multiply-adds (the trace counts " +
          std::to_string(red.macs) + "). A quarter of the tokens, twice the channels.");

    l.say("The hierarchy of this small model, from its configuration:");
    print_stages(l, cfg);
    const SwinConfig tiny = find_model("swin_tiny_patch4_window7_224").as<SwinConfig>();
    l.say("And of swin_tiny_patch4_window7_224 at 224x224:");
    print_stages(l, tiny);
    l.say("The window stays M x M tokens while each token covers more of the image, so the same window sees a "
          "wider area at every stage; the last stage is a single window over the whole image, with nothing to "
          "shift. The pixels per token are the strides of the four feature maps, as in a CNN backbone, which is "
          "why Swin serves detection and segmentation as well as classification.");

    l.exercise("Merged token (1, 2) of layers.1.downsample.merge: which token of the " + std::to_string(H) + "x" +
                   std::to_string(H) + " grid fills its channels " + std::to_string(2 * C) + " to " +
                   std::to_string(3 * C - 1) + "? Find the same " + std::to_string(C) +
                   " values in layers.0.blocks.1.residual2.",
               trace_command("layers.0.blocks.1.residual2,layers.1.downsample.merge", kSmallSwin));
}

}  // namespace vitrace::cli
