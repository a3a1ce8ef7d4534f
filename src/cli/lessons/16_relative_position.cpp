// Lesson 16: relative position bias, the table, the index and how the index
// is built (lessons/16-relative-position.md).
// Source to read: src/core/window.cpp, relative_coords, relative_position_index,
// relative_position_bias and add_relative_position_bias; src/core/attention.cpp,
// multi_head_attention, which calls them.
#include <cstdio>
#include <string>
#include <vector>

#include <cmath>

#include "cli/lesson.h"
#include "core/swin.h"
#include "cli/lessons/grid_map.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/window.h"

namespace vitrace::cli {

namespace {

void print_lines(Lesson& l, const std::vector<std::string>& lines) {
    for (const std::string& s : lines) l.line(s);
    l.line();
}

// A [T_q, T_k] matrix of small integers over query a (rows) and key b (columns),
// with a border between the rows of the window (every M tokens), under a title.
std::vector<std::string> pair_map(const std::string& title, int M, int width, const std::function<int(int, int)>& v) {
    std::vector<std::string> lines = {"  " + title};
    for (const std::string& s : grid_map(M * M, M * M, M, width, [&](int a, int b) { return std::to_string(v(a, b)); }))
        lines.push_back(s);
    return lines;
}

// The flags with one flag's value replaced: the command line takes each flag only once.
std::string with_flag(std::string flags, const std::string& flag, const std::string& value) {
    const size_t at = flags.find(flag + " ");
    if (at == std::string::npos) throw Error(ErrorKind::Internal, "lesson 16: no " + flag + " in " + flags);
    const size_t begin = at + flag.size() + 1, end = flags.find(' ', begin);
    return flags.replace(begin, end == std::string::npos ? std::string::npos : end - begin, value);
}

}  // namespace

void lesson_16(Lesson& l) {
    l.say("Attention by itself does not know where tokens are: shuffle the tokens of a window and each output "
          "moves with its token, unchanged. ViT adds a position embedding to the tokens once, at the start. Swin "
          "instead adds a learned bias to every attention score, and the bias depends only on where the key is "
          "relative to the query, the offset (dy, dx):");
    l.line("  attn = softmax(q k^T / sqrt(head_dim) + B)      B[h, a, b] = table[index[a, b], h]");
    l.line();
    l.say("In an M x M window dy and dx each run from -(M-1) to M-1, so there are (2M-1)^2 offsets: the table "
          "has one row per offset and one column per head. It is a parameter, learned with the rest of the model. "
          "The index, which row each pair (a, b) reads, depends on M alone and is computed, never learned.");
    l.command(trace_command("'layers.0.blocks.0.attn.relative_position_*'", kSmallSwin));
    l.run(kSmallSwin);
    l.line();
    const SwinConfig small = config_from_flags(kSmallSwin).as<SwinConfig>();
    const int M4 = small.window_at(0);
    l.say("With M = " + std::to_string(M4) + " and " + std::to_string(small.heads[0]) + " heads: a table of (2M-1)^2 = " +
          std::to_string((2 * M4 - 1) * (2 * M4 - 1)) + " rows, an index over the " + std::to_string(M4 * M4) +
          " x " + std::to_string(M4 * M4) + " pairs of a window, and the gathered bias, one " +
          std::to_string(M4 * M4) + " x " + std::to_string(M4 * M4) + " map per head:");
    l.summary("layers.0.blocks.0.attn.relative_position_bias_table");
    l.summary("layers.0.blocks.0.attn.relative_position_index");
    l.summary("layers.0.blocks.0.attn.relative_position_bias");
    l.line();

    // The index built stage by stage, on a window small enough to print.
    const std::string flags3 = with_flag(with_flag(kSmallSwin, "--image-size", "12"), "--window", "3");
    const SwinConfig cfg = config_from_flags(flags3).as<SwinConfig>();
    const int M = cfg.window_at(0), T = M * M, side = 2 * M - 1, heads = cfg.heads[0];
    const int H = cfg.resolution(0), nW = (H / M) * (H / M);
    l.say("How the index is built, on windows of M = " + std::to_string(M) + " (the same model on a " +
          std::to_string(H) + "x" + std::to_string(H) + " grid: --image-size 12 --window 3):");
    l.command(trace_command("layers.0.blocks.0.attn.relative_position_index", flags3));
    l.run(flags3);
    l.line();

    l.line("1. Token t of a window sits at (y, x) = (t / M, t % M):");
    std::string ts = "     t", ys = "     y", xs = "     x";
    for (int t = 0; t < T; t++) {
        ts += pad_left(std::to_string(t), 3);
        ys += pad_left(std::to_string(t / M), 3);
        xs += pad_left(std::to_string(t % M), 3);
    }
    print_lines(l, {ts, ys, xs});

    Tensor offsets;  // [T, T, 2]
    relative_coords(offsets, M);
    const auto dy = [&](int a, int b) { return static_cast<int>(offsets[(a * T + b) * 2]); };
    const auto dx = [&](int a, int b) { return static_cast<int>(offsets[(a * T + b) * 2 + 1]); };
    l.line("2. The offset of query a (row) from key b (column), in [-" + std::to_string(M - 1) + ", " +
           std::to_string(M - 1) + "] (relative_coords):");
    print_lines(l, side_by_side(pair_map("dy = ya - yb", M, 2, dy), pair_map("dx = xa - xb", M, 2, dx)));

    l.line("3. Shifted by M - 1 = " + std::to_string(M - 1) + " into [0, " + std::to_string(2 * M - 2) + "]:");
    const auto dy_s = [&](int a, int b) { return dy(a, b) + M - 1; };
    const auto dx_s = [&](int a, int b) { return dx(a, b) + M - 1; };
    print_lines(l, side_by_side(pair_map("dy + " + std::to_string(M - 1), M, 2, dy_s),
                                pair_map("dx + " + std::to_string(M - 1), M, 2, dx_s)));

    const Step& index = l.step("layers.0.blocks.0.attn.relative_position_index");
    l.line("4. (dy + " + std::to_string(M - 1) + ") * (2M - 1) + (dx + " + std::to_string(M - 1) + "), with 2M - 1 = " +
           std::to_string(side) + ": one number per offset, its (row, column)");
    l.line("   in a " + std::to_string(side) + "x" + std::to_string(side) + " picture of all offsets:");
    const auto index_of = [&](int a, int b) { return static_cast<int>(index.values[a * T + b]); };
    print_lines(l, side_by_side(pair_map("(dy + " + std::to_string(M - 1) + ") * " + std::to_string(side), M, 2,
                                         [&](int a, int b) { return dy_s(a, b) * side; }),
                                pair_map("relative_position_index (the trace)", M, 2, index_of)));
    bool agrees = true;
    for (int a = 0; a < T; a++)
        for (int b = 0; b < T; b++) agrees = agrees && index_of(a, b) == dy_s(a, b) * side + dx_s(a, b);
    l.say(std::string("The recorded index is (dy + M-1) * (2M-1) + (dx + M-1) at every pair: ") +
          (agrees ? "yes" : "no") + ". Row " + std::to_string((side * side) / 2) +
          " (dy = dx = 0) fills the diagonal: each token with itself.");

    // The table as the picture of offsets it is, then the gather.
    const Step& table = l.step("layers.0.blocks.0.attn.relative_position_bias_table");
    const Step& bias = l.step("layers.0.blocks.0.attn.relative_position_bias");
    l.say("The table [" + std::to_string(side * side) + ", " + std::to_string(heads) + "], row r = (dy + " +
          std::to_string(M - 1) + ") * " + std::to_string(side) + " + (dx + " + std::to_string(M - 1) +
          "), drawn as that picture, dy down and dx across, head 0:");
    std::string columns = "          ";
    for (int c = 0; c < side; c++) columns += pad_left("dx=" + std::to_string(c - (M - 1)), 9);
    std::vector<std::string> picture = {columns};
    for (int r = 0; r < side; r++) {
        std::string row = "    dy=" + pad_left(std::to_string(r - (M - 1)), 2);
        for (int c = 0; c < side; c++) row += pad_left(fixed(table.values[(r * side + c) * heads]), 9);
        picture.push_back(row);
    }
    print_lines(l, picture);

    l.say("The gather: bias[h, a, b] = table[index[a, b], h], the [heads, T_q, T_k] map that every window adds to its "
          "scores. Three pairs of head 0:");
    for (const auto& [a, b] : std::vector<std::pair<int, int>>{{0, 0}, {0, 8}, {5, 1}}) {
        char row[160];
        std::snprintf(row, sizeof row, "  a=%d b=%d  (dy, dx) = (%2d, %2d)  index %2d  table[%2d, 0] = %8s  bias[0, %d, %d] = %8s",
                      a, b, dy(a, b), dx(a, b), index_of(a, b), index_of(a, b),
                      fixed(table.values[index_of(a, b) * heads]).c_str(), a, b, fixed(bias.values[a * T + b]).c_str());
        l.line(row);
    }
    l.line();

    // add_relative_position_bias: the same bias added to every window.
    const Step& scaled = l.step("layers.0.blocks.0.attn.scale");
    const Step& added = l.step("layers.0.blocks.0.attn.add_relative_position_bias");
    const int w = nW - 1, h = heads - 1, a = 5, b = 1;
    const int64_t k = ((int64_t)(w * heads + h) * T + a) * T + b;
    l.say("add_relative_position_bias adds it to the scaled scores of each of the " + std::to_string(nW) +
          " windows. Window " + std::to_string(w) + ", head " + std::to_string(h) + ", a=" + std::to_string(a) +
          " b=" + std::to_string(b) + ":");
    l.line("  scale " + fixed(scaled.values[k]) + " + bias " + fixed(bias.values[(h * T + a) * T + b]) + " = " +
           fixed(added.values[k]));
    l.line();

    // A learned table: swin_shapes, trained, beside the untrained small model's.
    const Step& random_table = l.step("layers.0.blocks.0.attn.relative_position_bias_table");
    l.run("--model swin_shapes");
    const Step& learned = l.step("layers.0.blocks.0.attn.relative_position_bias_table");
    // [(2M-1)^2, heads]: the side of the offset grid is the square root of the rows
    const int lside = (int)std::lround(std::sqrt((double)learned.shape[0])), lm = (lside + 1) / 2;
    const int lheads = (int)learned.shape[1];
    l.say("These tables are untrained: seeded random numbers, from " + fixed(random_table.stats.min) + " to " +
          fixed(random_table.stats.max) + " here. Trained, they learn where to look. swin_shapes (windows of M = " +
          std::to_string(lm) + ", trained on data/shapes.py) spans " + fixed(learned.stats.min) + " to " +
          fixed(learned.stats.max) + " in stage 0, block 0. Each head's table as a " + std::to_string(lside) +
          " x " + std::to_string(lside) + " grid of offsets, dy down and dx across, (0, 0) in the middle:");
    for (int hh = 0; hh < lheads; hh++) {
        l.line("  head " + std::to_string(hh) + "      dx: " + [&] {
            std::string head;
            for (int dx = -(lm - 1); dx <= lm - 1; dx++) {
                char cell[16];
                std::snprintf(cell, sizeof cell, "%8d", dx);
                head += cell;
            }
            return head;
        }());
        int best = 0;
        for (int r = 0; r < lside * lside; r++)
            if (learned.values[(size_t)r * lheads + hh] > learned.values[(size_t)best * lheads + hh]) best = r;
        for (int dy = -(lm - 1); dy <= lm - 1; dy++) {
            char line[256];
            int at = std::snprintf(line, sizeof line, "    dy = %2d        ", dy);
            for (int dx = -(lm - 1); dx <= lm - 1; dx++) {
                const int r = (dy + lm - 1) * lside + (dx + lm - 1);
                at += std::snprintf(line + at, sizeof line - at, "%8s", fixed(learned.values[(size_t)r * lheads + hh], 2).c_str());
            }
            l.line(line);
        }
        l.line("    largest at (dy, dx) = (" + std::to_string(best / lside - (lm - 1)) + ", " +
               std::to_string(best % lside - (lm - 1)) + ")");
    }
    l.line();
    l.say("Unlike the random table, the learned one has a shape: a few offsets stand out in each head, and what "
          "a head adds depends on where the key lies from the query, whatever the image. vitrace attention "
          "--model swin_shapes draws each head's table as a picture (swin_bias_table_stage0_headH.png), and "
          "vitrace report shows it too.");

    const std::string m4 = std::to_string(M4 - 1), side4 = std::to_string(2 * M4 - 1);
    l.exercise("Back to the lesson's model with M = " + std::to_string(M4) + ": what are "
               "relative_position_index[3, 12] and relative_position_index[12, 3]? Work out the two tokens' (y, x), "
               "the offset (dy, dx), then (dy + " + m4 + ") * " + side4 + " + (dx + " + m4 + ").",
               trace_command("layers.0.blocks.0.attn.relative_position_index", kSmallSwin));
}

}  // namespace vitrace::cli
