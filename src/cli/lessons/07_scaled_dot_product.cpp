// Lesson 7: scaled dot-product, why divide by the square root of d (lessons/07-scaled-dot-product.md).
// Source to read: src/core/attention.cpp, attention_scores and scale_scores, and
// multi_head_attention, where the scale 1 / sqrt(head_dim) is computed.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cli/lesson.h"
#include "core/vit.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/attention.h"

namespace vitrace::cli {

namespace {

// splitmix64: a tiny seeded generator whose numbers are the same on every machine.
struct Random {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform on [-sqrt(3), sqrt(3)]: mean 0, variance 1.
    float unit() { return static_cast<float>(((next() >> 11) * 0x1.0p-53 * 2.0 - 1.0) * std::sqrt(3.0)); }
};

double variance(const Tensor& t) {
    double sum = 0, sq = 0;
    for (float v : t.data) sum += v;
    const double mean = sum / t.numel();
    for (float v : t.data) sq += (v - mean) * (v - mean);
    return sq / t.numel();
}

// The mean over rows of the largest weight in the row: 1 for one-hot rows, 1/T for uniform ones.
double mean_row_max(const Tensor& attn) {
    const int64_t T = attn.dim(-1), rows = attn.numel() / T;
    double sum = 0;
    for (int64_t r = 0; r < rows; r++) sum += *std::max_element(&attn[r * T], &attn[r * T] + T);
    return sum / rows;
}

}  // namespace

void lesson_07(Lesson& l) {
    l.say("Each head compares every query with every key: scores = q * k^T, [heads, N_q, N_k], where entry "
          "(i, j) = q_i . k_j is a sum over the head's head_dim = d channels. Before the softmax the "
          "scores are divided by sqrt(d):");
    l.line("  attention(q, k, v) = softmax(q * k^T / sqrt(d)) * v");
    l.line();
    l.command(trace_command("blocks.0.attn.scores,blocks.0.attn.scale"));
    l.run(kSmallVit);
    l.line();

    const Step& scores = l.step("blocks.0.attn.scores");
    const Step& scaled = l.step("blocks.0.attn.scale");
    const int64_t T = scores.shape[1];
    const int d = config_from_flags(kSmallVit).as<VitConfig>().head_dim();
    l.say("blocks.0.attn.scores: row i of head h holds query i's score for each key j.");
    l.show("blocks.0.attn.scores");
    l.say("blocks.0.attn.scale: the same scores times 1/sqrt(" + std::to_string(d) + ") = " +
          fixed(1 / std::sqrt(d)) + ".");
    l.show("blocks.0.attn.scale");
    l.line("  std of scores / std of scale = " + fixed(scores.stats.std) + " / " + fixed(scaled.stats.std) + " = " +
           fixed(scores.stats.std / scaled.stats.std) + " = sqrt(head_dim) = sqrt(" + std::to_string(d) + ")");
    l.line();

    const int64_t queries = 2000;
    l.say("Why this factor? Take q and k with independent entries of mean 0 and variance 1. Each product "
          "q_c * k_c then has variance 1, and q . k adds d of them, so var(q . k) = d: the scores spread "
          "wider as heads get wider. Dividing by sqrt(d) divides the variance by d and brings it back to "
          "1, for any d. Here it is measured, with seeded random q and k of variance 1, " +
          std::to_string(T) + " keys per query and " + std::to_string(queries) + " queries for each d:");
    Random rng{2024};
    Table t{{"d", "var(q.k)", "var(q.k / sqrt(d))", "largest weight, unscaled", "scaled"},
            {true, true, true, true, true}, {}};
    Tensor example_raw, example_scaled;  // one softmax row of the largest d, both ways
    for (int dd : {4, 16, 64, 256}) {
        Tensor qkvh = Tensor::zeros({3, queries, T, dd});  // v is left at 0: only q and k matter here
        for (int64_t i = 0; i < 2 * queries * T * dd; i++) qkvh[i] = rng.unit();
        Tensor raw, attn_raw, attn;
        attention_scores(raw, qkvh);  // [queries, T, T]
        Tensor sc = raw;
        scale_scores(sc, 1.0f / std::sqrt(static_cast<float>(dd)));
        attn_raw = raw;
        softmax_rows(attn_raw);
        attn = sc;
        softmax_rows(attn);
        t.rows.push_back({std::to_string(dd), fixed(variance(raw), 2), fixed(variance(sc), 3),
                          fixed(mean_row_max(attn_raw), 3), fixed(mean_row_max(attn), 3)});
        example_raw = Tensor::from({T}, std::vector<float>(&attn_raw[0], &attn_raw[0] + T));
        example_scaled = Tensor::from({T}, std::vector<float>(&attn[0], &attn[0] + T));
    }
    show_table(l, t);
    l.say("The last two columns are the softmax rows' largest weight, averaged over the queries: 1 would "
          "be one-hot (all attention on one key), 1/" + std::to_string(T) + " = " + fixed(1.0 / T, 3) +
          " uniform. Unscaled, the wider the head, the more each row collapses onto a single key; scaled, "
          "the rows look alike for every d. The first query's row at d = 256:");
    l.line("  softmax(q.k)            = " + values_str(example_raw.ptr(), T));
    l.line("  softmax(q.k / sqrt(d))  = " + values_str(example_scaled.ptr(), T));
    l.line();
    l.say("A nearly one-hot softmax barely changes when its inputs change, so the gradients flowing back "
          "through it are tiny and learning slows down: the reason the Transformer paper (Vaswani et al., "
          "2017) gives for the scaling. "
          "timm multiplies q by head_dim^-0.5 before the product instead of scaling the scores after it; "
          "the result is the same up to rounding.");

    // A trained model: the scaled scores spread wider than the untrained ones.
    const double untrained_std = l.step("blocks.0.attn.scale").stats.std;
    l.run("--model vit_shapes");
    const Step& trained_scores = l.step("blocks.3.attn.scores");
    const Step& trained_scale = l.step("blocks.3.attn.scale");
    const int64_t trained_dim = l.step("blocks.3.attn.split_heads").shape.back();
    l.say("The scaling keeps the spread of the scores from growing with head_dim; what the spread then is, "
          "training decides. vit_shapes "
          "(trained on data/shapes.py, head_dim = " + std::to_string(trained_dim) + ", so the scores are divided by " +
          fixed(std::sqrt((double)trained_dim), 0) + "), in its last block: scores std " +
          fixed(trained_scores.stats.std) + ", scaled " + fixed(trained_scale.stats.std) + ", from " +
          fixed(trained_scale.stats.min) + " to " + fixed(trained_scale.stats.max) + ", against a scaled std of " +
          fixed(untrained_std) + " in the untrained model above. Scores a few units apart are what make its "
          "attention peaked, as lesson 8 shows.");

    l.exercise("With --heads 1 the single head has head_dim = 8. What ratio do you expect between the std of "
               "blocks.0.attn.scores and the std of blocks.0.attn.scale?",
               trace_command("blocks.0.attn.scores,blocks.0.attn.scale",
                             "--model vit_tiny_patch16_224 --image-size 8 --patch 4 --width 8 --depth 1 --heads 1 "
                             "--mlp-ratio 2 --classes 5"));
}

}  // namespace vitrace::cli
