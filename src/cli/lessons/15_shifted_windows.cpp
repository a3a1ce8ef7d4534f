// Lesson 15: shifted windows, the cyclic shift and the attention mask
// (lessons/15-shifted-windows.md).
// Source to read: src/core/window.cpp, cyclic_shift, shifted_window_regions and
// shifted_window_mask; src/core/swin.cpp, swin_block; src/core/attention.cpp,
// multi_head_attention (the attn_mask step).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "cli/lesson.h"
#include "core/swin.h"
#include "cli/lessons/grid_map.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/window.h"

namespace vitrace::cli {

namespace {

bool same_values(const float* a, const float* b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

}  // namespace

void lesson_15(Lesson& l) {
    l.say("Windows make attention cheap, but a token never sees past its window's border, however many blocks "
          "are stacked: the windows are islands. Swin therefore alternates two blocks. Even blocks use the "
          "regular windows (W-MSA); odd blocks move the window grid by M/2 tokens (SW-MSA), so that each new "
          "window straddles the old borders and information crosses them.");
    l.say("Moving the windows would leave thin windows at the edges. timm moves the image instead: it rolls "
          "the grid by -M/2 along both axes, torch.roll(x, shifts=(-s, -s)), a cyclic shift. The token at "
          "(y, x) goes to ((y - s) mod H, (x - s) mod W), and the same regular windows are cut from the result.");
    l.command(trace_command(
        "layers.0.blocks.1.cyclic_shift,layers.0.blocks.1.attn_mask,layers.0.blocks.1.attn.softmax", kSmallSwin));
    l.run(kSmallSwin);
    l.line();

    // Which blocks shift: from the configuration, then from the steps the trace holds.
    const SwinConfig cfg = config_from_flags(kSmallSwin).as<SwinConfig>();
    l.say("Which blocks shift, from the configuration (a stage whose grid is no larger than the window uses "
          "the whole grid as one window and has nothing to shift):");
    l.line("  stage  grid  window  shift of the odd blocks (even blocks never shift)");
    for (int s = 0; s < cfg.stages(); s++) {
        char row[96];
        std::snprintf(row, sizeof row, "  %5d  %2dx%-2d %6d  %6d", s, cfg.resolution(s), cfg.resolution(s),
                      cfg.window_at(s), cfg.shift_at(s));
        l.line(row);
    }
    l.line();
    l.say("The trace agrees: only a shifted block has a cyclic_shift step.");
    for (int s = 0; s < cfg.stages(); s++)
        for (int b = 0; b < cfg.depths[s]; b++) {
            const StepAt at{Role::CyclicShift, s, b};
            l.line("  " + step_name(at) + (l.last().trace.find(at) ? "  recorded" : "  absent"));
        }
    l.line();

    const int H = cfg.resolution(0), M = cfg.window_at(0), shift = cfg.shift_at(0);
    const int T = M * M, nW = (H / M) * (H / M);
    const Tensor ids = token_index_grid(H, H);
    Tensor shifted_ids;  // [H, H, 1]
    cyclic_shift(shifted_ids, ids, -shift);
    l.say("The cyclic shift by -" + std::to_string(shift) + ", computed with cyclic_shift on a grid where each "
          "token holds its index y * " + std::to_string(H) + " + x. Each cell is the index of the token that lands "
          "there; the lines are the windows that block 1 cuts:");
    for (const std::string& s : grid_map(H, H, M, 3, [&](int y, int x) {
             return std::to_string(static_cast<int>(shifted_ids[y * H + x]));
         }))
        l.line(s);
    l.line();
    const int C = cfg.channels(0);
    const Step& norm1 = l.step("layers.0.blocks.1.norm1");
    const Step& cyc = l.step("layers.0.blocks.1.cyclic_shift");
    l.say("Window 0 now holds the tokens of rows and columns " + std::to_string(shift) + " to " +
          std::to_string(shift + M - 1) + " of the image, across the old borders. On the real values, cyclic_shift[0, 0, :] is norm1[" + std::to_string(shift) +
          ", " + std::to_string(shift) + ", :]: " +
          yes_no(same_values(&cyc.values[0], &norm1.values[(shift * H + shift) * C], C)) + ".");
    l.say("But the windows along the right and bottom edges now hold tokens that wrapped around from the "
          "opposite side of the image, and window 3 holds tokens from all four corners. These were never "
          "neighbours, so they must not attend to each other. timm labels the shifted grid with 9 regions "
          "(shifted_window_regions), cutting each axis at H - s = " +
          std::to_string(H - shift) + ", which sets the wrapped tokens apart, and at H - M = " +
          std::to_string(H - M) + ", a window border. Within a window, two tokens carry the same label exactly "
          "when they were neighbours before the shift:");
    Tensor labels;  // [H, H]
    shifted_window_regions(labels, H, H, M, shift);
    for (const std::string& s : grid_map(H, H, M, 1, [&](int y, int x) {
             return std::to_string(static_cast<int>(labels[y * H + x]));
         }))
        l.line(s);
    l.line();

    // The mask as a character map, the windows side by side: '.' may attend, 'x' may not.
    const Step& mask = l.step("layers.0.blocks.1.attn_mask");
    l.say("The mask: for window w, query a and key b, attn_mask[w, a, b] is 0 when a and b carry the same label "
          "and -100 otherwise. Below, layers.0.blocks.1.attn_mask with '.' for 0 and 'x' for -100: rows are "
          "queries a, columns keys b, one window after the other:");
    std::vector<std::string> maps;
    for (int w = 0; w < nW; w++) {
        std::vector<std::string> m = {"window " + std::to_string(w)};
        for (int a = 0; a < T; a++) {
            std::string row;
            for (int b = 0; b < T; b++) row += mask.values[(w * T + a) * T + b] == 0.0f ? '.' : 'x';
            m.push_back(row);
        }
        maps = maps.empty() ? m : side_by_side(maps, m, 2);
    }
    for (const std::string& s : maps) l.line("  " + s);
    l.line();
    l.say("Window 0 lies inside region 0 and needs no mask; in window 3, four regions see only themselves.");
    l.summary("layers.0.blocks.1.attn_mask");
    l.line();

    // Why -100 is enough: the largest softmax weight that any masked pair receives.
    const Step& soft = l.step("layers.0.blocks.1.attn.softmax");
    const int heads = cfg.heads[0];
    double masked_max = 0;
    for (int w = 0; w < nW; w++)
        for (int h = 0; h < heads; h++)
            for (int ab = 0; ab < T * T; ab++)
                if (mask.values[w * T * T + ab] != 0.0f)
                    masked_max = std::max<double>(masked_max, soft.values[(w * heads + h) * T * T + ab]);
    char tiny[32];
    std::snprintf(tiny, sizeof tiny, "%.1e", std::exp(-100.0));
    l.say("The mask is added to the scores before the softmax. Scores are of order 1, so a masked pair's weight "
          "is multiplied by about exp(-100) = " + std::string(tiny) + ": zero in all but name, while every row keeps "
          "at least its own token. The largest softmax weight on a masked pair in this block is " +
          fixed(masked_max) + ".");
    l.summary("layers.0.blocks.1.attn.softmax");
    l.line();

    // The reverse shift: roll by +s, on the index grid and on the real values.
    Tensor back;  // [H, H, 1]
    cyclic_shift(back, shifted_ids, shift);
    const Step& rev = l.step("layers.0.blocks.1.window_reverse");
    const Step& unshift = l.step("layers.0.blocks.1.reverse_cyclic_shift");
    l.say("After attention, window_reverse puts the windows back on the shifted grid and reverse_cyclic_shift "
          "rolls it by +" + std::to_string(shift) + ": every token returns to its place. Rolling the map above by +" +
          std::to_string(shift) + " gives every cell its own index again: " +
          yes_no(same_values(back.ptr(), ids.ptr(), H * H)) + ". On the real values, reverse_cyclic_shift[" +
          std::to_string(shift) + ", " + std::to_string(shift) + ", :] is window_reverse[0, 0, :]: " +
          yes_no(same_values(&unshift.values[(shift * H + shift) * C], &rev.values[0], C)) + ".");

    // Across the borders: how much of a token's attention in the shifted block
    // goes to tokens of another regular window, untrained and trained.
    auto across = [](const Step& soft, const Step& mask, const SwinConfig& c) {
        const int H = c.resolution(0), M = c.window_at(0), sh = c.shift_at(0), T = M * M, nWx = H / M;
        const int heads = (int)soft.shape[1], windows = nWx * nWx;
        auto regular = [&](int w, int t) {  // the regular window of token t of shifted window w
            const int y = ((w / nWx) * M + t / M + sh) % H, x = ((w % nWx) * M + t % M + sh) % H;
            return (y / M) * nWx + x / M;
        };
        double got = 0, even = 0;
        for (int w = 0; w < windows; w++)
            for (int a = 0; a < T; a++) {
                int allowed = 0, other = 0;
                for (int b = 0; b < T; b++)
                    if (mask.values[((size_t)w * T + a) * T + b] == 0) {
                        allowed++;
                        other += regular(w, b) != regular(w, a);
                    }
                even += (double)other / allowed;
                for (int h = 0; h < heads; h++)
                    for (int b = 0; b < T; b++)
                        if (regular(w, b) != regular(w, a)) got += soft.values[(((size_t)w * heads + h) * T + a) * T + b] / heads;
            }
        return std::pair{got / (windows * T), even / (windows * T)};
    };
    const auto [untrained_got, untrained_even] =
        across(l.step("layers.0.blocks.1.attn.softmax"), l.step("layers.0.blocks.1.attn_mask"), cfg);
    l.run("--model swin_shapes");
    const SwinConfig trained_cfg = config_from_flags("--model swin_shapes").as<SwinConfig>();
    const auto [trained_got, trained_even] =
        across(l.step("layers.0.blocks.1.attn.softmax"), l.step("layers.0.blocks.1.attn_mask"), trained_cfg);
    l.say("This is how information crosses the regular windows' borders. In the shifted block, the share of "
          "a token's attention (mean of the heads and tokens of stage 0) that goes to tokens of another regular "
          "window, against the share even weights over the keys the mask allows would give:");
    l.line("  untrained (this lesson's model)  " + fixed(untrained_got) + "   even weights " + fixed(untrained_even));
    l.line("  swin_shapes (trained)            " + fixed(trained_got) + "   even weights " + fixed(trained_even));
    l.line();
    l.say("In both, the share is close to what even weights give (within " +
          fixed(std::max(std::fabs(untrained_got - untrained_even), std::fabs(trained_got - trained_even)), 2) +
          "): what carries information across the borders is where the shifted windows lie, not what the "
          "model learned. Every other block regroups the tokens, and the next regular block passes what crossed "
          "on inside its own windows.");

    l.exercise("In window 1 of the shifted block, which of the 16 tokens may token 0 attend to? Read the labels "
               "of window 1 from the region map (rows 0-3, columns 4-7), then find row T_q=0 of "
               "windows=1 in the mask.",
               trace_command("layers.0.blocks.1.attn_mask", kSmallSwin));
}

}  // namespace vitrace::cli
