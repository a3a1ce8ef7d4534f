// Lesson 8: softmax and numerical stability (lessons/08-softmax.md).
// Source to read: src/core/attention.cpp, softmax_rows.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/attention.h"

namespace vitrace::cli {

namespace {

// The textbook formula, exp(x_j) / sum_k exp(x_k), with nothing subtracted: what softmax_rows avoids.
// exps [T], out [T] <- x [T]
void softmax_naive(Tensor& exps, float& sum, Tensor& out, const Tensor& x) {
    const int64_t T = x.numel();
    exps = Tensor::zeros({T});
    out = Tensor::zeros({T});
    sum = 0.0f;
    for (int64_t j = 0; j < T; j++) {
        exps[j] = std::exp(x[j]);
        sum += exps[j];
    }
    for (int64_t j = 0; j < T; j++) out[j] = exps[j] / sum;
}

// Large and small numbers in one notation: "2.198e+29", "inf".
std::string sci(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3e", v);
    return buf;
}

std::string sci_str(const Tensor& t) {
    std::string out = "[";
    for (int64_t i = 0; i < t.numel(); i++) out += (i ? ", " : "") + sci(t[i]);
    return out + "]";
}

}  // namespace

void lesson_08(Lesson& l) {
    l.say("The softmax turns each row of scores into weights: positive, summing to 1, and a score that is "
          "larger by 1 gets e = 2.718 times the weight.");
    l.line("  softmax(x)_j = exp(x_j) / sum over k of exp(x_k)");
    l.line();
    l.command(trace_command("blocks.0.attn.scale,blocks.0.attn.softmax"));
    l.run(kSmallVit);
    l.line();

    l.say("The input, the scaled scores: row i holds query i's score for every key j.");
    l.show("blocks.0.attn.scale");
    l.say("The output, the attention weights: the same shape, every row a distribution over the keys.");
    l.show("blocks.0.attn.softmax");

    const Step& scale = l.step("blocks.0.attn.scale");
    const Step& soft = l.step("blocks.0.attn.softmax");
    const int64_t H = soft.shape[0], T = soft.shape[2];
    l.say("Every row sums to 1, computed from the step:");
    for (int64_t h = 0; h < H; h++) {
        std::string sums;
        for (int64_t i = 0; i < T; i++) {
            double sum = 0;
            for (int64_t j = 0; j < T; j++) sum += soft.values[(h * T + i) * T + j];
            sums += " " + fixed(sum);
        }
        l.line("  heads=" + std::to_string(h) + ", rows N=0.." + std::to_string(T - 1) + ":" + sums);
    }
    l.line();

    // One row, followed through the formula with and without the max subtracted.
    const int64_t h = 1, i = 1;
    const Tensor x = Tensor::from({T}, std::vector<float>(&scale.values[(h * T + i) * T], &scale.values[(h * T + i + 1) * T]));
    const float mx = *std::max_element(x.data.begin(), x.data.end());
    Tensor shifted = x;
    for (float& v : shifted.data) v -= mx;
    Tensor exps, naive, exps_shifted, from_shifted;
    float sum = 0, sum_shifted = 0;
    softmax_naive(exps, sum, naive, x);
    softmax_naive(exps_shifted, sum_shifted, from_shifted, shifted);
    const std::string row = "[" + std::to_string(h) + ", " + std::to_string(i) + ", :]";
    l.say("Subtracting any number c from every score of a row changes nothing: exp(x_j - c) = exp(x_j) * "
          "exp(-c), and the factor exp(-c) cancels between numerator and denominator. Row N=" + std::to_string(i) + " of head " + std::to_string(h) + ", scale" + row +
          ", both ways, with c = max x = " + fixed(mx) + ":");
    l.line(labelled("x", values_str(x.ptr(), T)));
    l.line(labelled("exp(x)", values_str(exps.ptr(), T) + "  sum " + fixed(sum)));
    l.line(labelled("exp(x) / sum", values_str(naive.ptr(), T)));
    l.line(labelled("x - max", values_str(shifted.ptr(), T)));
    l.line(labelled("exp(x - max)", values_str(exps_shifted.ptr(), T) + "  sum " + fixed(sum_shifted)));
    l.line(labelled("exp(x - max) / sum", values_str(from_shifted.ptr(), T)));
    l.line(labelled("softmax" + row, values_str(&soft.values[(h * T + i) * T], T)));
    l.line();

    l.say("So why subtract? A float holds numbers up to about 3.4e38, so exp(x) overflows to inf for any x "
          "above 88.72. Scores that large are not rare: a wide head without the scaling of lesson 7, or a "
          "trained model that is very sure. Here is the same row times 100 and times 1000:");
    for (float factor : {100.0f, 1000.0f}) {
        Tensor big = x;
        for (float& v : big.data) v *= factor;
        Tensor big_exps, big_naive;
        float big_sum = 0;
        softmax_naive(big_exps, big_sum, big_naive, big);
        Tensor stable = big;
        softmax_rows(stable);
        const std::string f = fixed(factor, 0);
        l.line(labelled("x * " + f, values_str(big.ptr(), T, 2)));
        l.line(labelled("exp(x * " + f + ")", sci_str(big_exps) + "  sum " + sci(big_sum)));
        l.line(labelled("naive softmax", values_str(big_naive.ptr(), T)));
        l.line(labelled("softmax_rows", values_str(stable.ptr(), T)));
        l.line();
    }
    l.say("The naive formula divides inf by inf, which is nan (not a number), and one nan spreads through "
          "every later step. With the max subtracted, every exp() argument is at most 0, so nothing "
          "overflows, and the largest term is exp(0) = 1, so the sum is at least 1 and never 0. That is "
          "what softmax_rows in src/core/attention.cpp does, and what PyTorch's softmax does too. Scores "
          "this far apart give one-hot weights: exp(x_j - max) of every other key is tiny, or underflows to 0.");

    // Random weights against trained ones: how peaked the rows are.
    l.say("The small model is untrained, so its scores are close together and every row is close to "
          "uniform. A trained model's rows are not. Per head, the largest weight of a row (averaged over the "
          "rows) against the uniform 1/N, and the entropy of a row as a share of the uniform row's ln N (1 = "
          "spread evenly, 0 = all on one key):");
    Table focus = attention_focus_table();
    add_attention_focus(focus, "untrained", soft);
    const Step& untrained_scale = scale;
    l.run("--model vit_shapes");
    const Step& trained = l.step("blocks.3.attn.softmax");
    const std::vector<double> largest = add_attention_focus(focus, "vit_shapes", trained);
    show_table(l, focus);
    // the trained heads' largest weight, in units of the uniform 1/N
    const double n = (double)trained.shape.back();
    const double least = *std::min_element(largest.begin(), largest.end()) * n;
    const double most = *std::max_element(largest.begin(), largest.end()) * n;
    l.say("vit_shapes, trained on the shapes of data/shapes.py, puts " + fixed(least, 1) + " to " + fixed(most, 1) +
          " times the uniform weight on a row's favourite key, by head, in its last block: this is the peaked "
          "attention the pictures of lesson 18 draw. Its scaled scores are further apart (std " +
          fixed(l.step("blocks.3.attn.scale").stats.std) + ", against " + fixed(untrained_scale.stats.std) +
          " in the untrained model), and the softmax turns a spread of a few units into weights far from "
          "uniform.");

    l.exercise("Two weights of a row are in the ratio exp(difference of their scores), whatever the rest of "
               "the row. In head 1, row N=1, compute exp(scale[1, 1, 4] - scale[1, 1, 2]) and compare it "
               "with softmax[1, 1, 4] / softmax[1, 1, 2].",
               trace_command("blocks.0.attn.scale,blocks.0.attn.softmax"));
}

}  // namespace vitrace::cli
