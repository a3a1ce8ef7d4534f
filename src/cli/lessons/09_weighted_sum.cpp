// Lesson 9: the weighted sum and merging the heads (lessons/09-weighted-sum.md).
// Source to read: src/core/attention.cpp, weighted_sum and merge_heads.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

namespace {

// split_heads [qkv=3, heads, N, head_dim], with its sizes.
struct Qkvh {
    const Step& s;
    int H = static_cast<int>(s.shape[1]), N = static_cast<int>(s.shape[2]), hd = static_cast<int>(s.shape[3]);
    float v(int h, int j, int d) const { return s.values[((2 * H + h) * N + j) * hd + d]; }  // v[h, j, d]
};

// v alone, laid out as show() lays out a step, so that it reads like the matrices around it.
void show_v(Lesson& l, const Qkvh& q) {
    l.line("v = blocks.0.attn.split_heads[qkv=2]  [heads=" + std::to_string(q.H) + ", N=" + std::to_string(q.N) +
           ", head_dim=" + std::to_string(q.hd) + "]");
    char cell[32];
    for (int h = 0; h < q.H; h++) {
        l.line("  heads=" + std::to_string(h));
        std::string header = "       ";
        for (int d = 0; d < q.hd; d++) {
            std::snprintf(cell, sizeof cell, " %10s", ("head_dim=" + std::to_string(d)).c_str());
            header += cell;
        }
        l.line(header);
        for (int j = 0; j < q.N; j++) {
            std::string row = "    N=" + std::to_string(j);
            for (int d = 0; d < q.hd; d++) {
                std::snprintf(cell, sizeof cell, " %10s", fixed(q.v(h, j, d)).c_str());
                row += cell;
            }
            l.line(row);
        }
    }
    l.line();
}

}  // namespace

void lesson_09(Lesson& l) {
    l.say("After the softmax, row i of a head's attention map holds N weights, each between 0 and 1, that "
          "sum to 1: how much query token i takes from each token j. The weighted sum applies them to the "
          "value vectors, for every head h at once:");
    l.line("  o[h, i, d] = sum over j of attn[h, i, j] * v[h, j, d]        timm: x = attn @ v");
    l.line();
    l.say("Weights that are non-negative and sum to 1 make each output row a convex combination of the "
          "rows of v: a weighted average. An average never leaves the range of what it averages, so "
          "o[h, i, d] lies between the smallest and the largest v[h, j, d].");
    l.command(trace_command("blocks.0.attn.softmax,blocks.0.attn.split_heads,blocks.0.attn.weighted_sum"));
    l.run(kSmallVit);
    l.show("blocks.0.attn.softmax", 5);
    const Qkvh q{l.step("blocks.0.attn.split_heads")};
    const int N = q.N, hd = q.hd, C = q.H * q.hd;
    show_v(l, q);
    l.show("blocks.0.attn.weighted_sum", 4);

    // One output entry recomputed term by term from its softmax row and its v column.
    const Step& attn = l.step("blocks.0.attn.softmax");
    const Step& o = l.step("blocks.0.attn.weighted_sum");
    const int h = 1, i = 1, d = 0;
    const std::string at = "[" + std::to_string(h) + ", " + std::to_string(i) + ", " + std::to_string(d) + "]";
    l.say("One entry by hand: head " + std::to_string(h) + ", token " + std::to_string(i) + ", dim " +
          std::to_string(d) + ". The weights are row N=" + std::to_string(i) + " of heads=" + std::to_string(h) +
          " in the softmax, the values are column head_dim=" + std::to_string(d) + " of v:");
    float sum = 0, lo = q.v(h, 0, d), hi = lo;
    for (int j = 0; j < N; j++) {
        const float w = attn.values[(h * N + i) * N + j], v = q.v(h, j, d);
        sum += w * v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        l.line(std::string(j == 0 ? "  o" + at + " =   " : "               + ") + fixed(w) + " * " + fixed(v));
    }
    l.line("               = " + fixed(sum) + "      weighted_sum" + at + " = " +
           fixed(o.values[(h * N + i) * hd + d]));
    l.line();
    float mean = 0;
    for (int j = 0; j < N; j++) mean += q.v(h, j, d) / N;
    l.say("It lies between " + fixed(lo) + " and " + fixed(hi) + ", the smallest and largest values of that "
          "column of v. The attention weights here are all close to 1/N = 0.2: the model's parameters are "
          "random, nothing has taught the heads where to look, so every output stays near the plain mean of "
          "its column of v (" + fixed(mean) + " for this one). A trained head puts most of a row's weight on "
          "a few tokens, and its output moves towards their values.");

    l.say("merge_heads undoes the split: the heads' outputs go back side by side, head h filling channels "
          "h*head_dim to h*head_dim + head_dim - 1 of each token's row.");
    l.line("  out[t, h*head_dim + d] = o[h, t, d]        timm: x.transpose(1, 2).reshape(B, N, C), B = 1");
    l.line();
    l.command(trace_command("blocks.0.attn.merge_heads,blocks.0.attn.proj"));
    l.show("blocks.0.attn.merge_heads");
    const Step& merged = l.step("blocks.0.attn.merge_heads");
    const int picks[2][3] = {{0, 2, 3}, {1, 4, 1}};  // h, n, d
    for (const auto& p : picks) {
        const int ph = p[0], pn = p[1], pd = p[2], col = ph * hd + pd;
        l.line("  o[" + std::to_string(ph) + ", " + std::to_string(pn) + ", " + std::to_string(pd) + "] = " +
               fixed(o.values[(ph * N + pn) * hd + pd]) + "  ->  merge_heads[" + std::to_string(pn) + ", " +
               std::to_string(ph) + "*" + std::to_string(hd) + " + " + std::to_string(pd) + "] = merge_heads[" +
               std::to_string(pn) + ", " + std::to_string(col) + "] = " + fixed(merged.values[pn * C + col]));
    }
    l.line();
    l.say("Up to here every head has worked on its own channels. attn.proj, a linear layer from C to C, "
          "is the first step where the heads' results are mixed: each output channel reads all " +
          std::to_string(C) + " channels of merge_heads.");
    l.summary("blocks.0.attn.proj");
    l.line();

    // A trained model: the cls token's output drawn from a few tokens.
    l.run("--model vit_shapes");
    const Step& soft3 = l.step("blocks.3.attn.softmax");
    const int64_t heads3 = soft3.shape[0], n3 = soft3.shape[2];
    const int grid3 = (int)std::lround(std::sqrt((double)(n3 - 1)));
    std::vector<std::string> lines;
    double least = 1, most = 0;
    for (int64_t hh = 0; hh < heads3; hh++) {
        const float* row = &soft3.values[(size_t)hh * n3 * n3];  // query 0, the cls token
        std::vector<int64_t> order(n3);
        for (int64_t j = 0; j < n3; j++) order[j] = j;
        std::partial_sort(order.begin(), order.begin() + 3, order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
        std::string keys;
        double top = 0;
        for (int k = 0; k < 3; k++) {
            const int64_t j = order[k];
            const std::string where = j == 0 ? "cls" : "(" + std::to_string((j - 1) / grid3) + ", " + std::to_string((j - 1) % grid3) + ")";
            keys += (k ? ", " : "") + fixed(row[j]) + " on " + where;
            top += row[j];
        }
        least = std::min(least, top);
        most = std::max(most, top);
        lines.push_back("  head " + std::to_string(hh) + ": " + keys + "; sum " + fixed(top));
    }
    l.say("In the untrained model every row spreads its weight nearly evenly, so o is close to the mean of v. "
          "In vit_shapes, trained on data/shapes.py, the cls token's row in the last block (row N_q=0 of "
          "blocks.3.attn.softmax) puts " + fixed(least, 2) + " to " + fixed(most, 2) + " of its weight, by head, on "
          "just three of its " + std::to_string(n3) + " keys, where even weights would give them " +
          fixed(3.0 / (double)n3, 2) + ": its output leans on those keys' v. Per head, the three largest weights "
          "and the patches they go to (row, column of the " + std::to_string(grid3) + "x" + std::to_string(grid3) +
          " grid):");
    for (const std::string& line : lines) l.line(line);
    l.line();

    l.exercise("Compute o[1, 3, 2], head 1, token 3, dim 2, from row N=3 of heads=1 in the softmax and column "
               "head_dim=2 of v for heads=1 above. In which column of merge_heads does it land?",
               trace_command("blocks.0.attn.weighted_sum,blocks.0.attn.merge_heads"));
}

}  // namespace vitrace::cli
