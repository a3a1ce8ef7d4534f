// Lesson 4: LayerNorm, and why not BatchNorm (lessons/04-layernorm.md).
// Source to read: src/core/layernorm.cpp, layernorm.
#include <cmath>
#include <utility>
#include <vector>

#include "cli/lesson.h"
#include "core/vit.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

namespace {

// Mean and population standard deviation of n values.
void mean_std(const float* x, int64_t n, double& mean, double& std) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    mean = sum / n;
    for (int64_t i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
    std = std::sqrt(sq / n);
}

// BatchNorm's training-mode normalisation, for comparison: each channel c over
// every token of every image in the batch, without gamma and beta (1 and 0).
// PyTorch: nn.BatchNorm1d(C) on the tokens of the batch laid out as [B·N, C].
// out[b] [N, C] <- x[b] [N, C] for each image b
std::vector<Tensor> batchnorm_over_batch(const std::vector<Tensor>& x, float eps) {
    const int64_t N = x[0].dim(0), C = x[0].dim(1);
    std::vector<Tensor> out(x.size(), Tensor::zeros({N, C}));
    for (int64_t c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        for (const Tensor& xb : x)
            for (int64_t n = 0; n < N; n++) sum += xb[n * C + c];
        const double mean = sum / (x.size() * N);
        for (const Tensor& xb : x)
            for (int64_t n = 0; n < N; n++) sq += (xb[n * C + c] - mean) * (xb[n * C + c] - mean);
        const double rstd = 1.0 / std::sqrt(sq / (x.size() * N) + eps);
        for (size_t b = 0; b < x.size(); b++)
            for (int64_t n = 0; n < N; n++) out[b][n * C + c] = static_cast<float>((x[b][n * C + c] - mean) * rstd);
    }
    return out;
}

}  // namespace

void lesson_04(Lesson& l) {
    l.say("Every block starts by normalising its input. timm's ViT uses LayerNorm: each token t on its own, "
          "over its C channels, is shifted to mean 0 and scaled to standard deviation 1, then each channel "
          "gets a learned scale gamma and shift beta:");
    l.line("  mean_t = (1/C) sum_c x[t, c]      var_t = (1/C) sum_c (x[t, c] - mean_t)^2");
    l.line("  y[t, c] = (x[t, c] - mean_t) / sqrt(var_t + eps) * gamma[c] + beta[c]");
    l.line();
    l.command(trace_command("pos_embed,blocks.0.norm1"));
    l.run(kSmallVit);
    l.line();

    const ModelConfig cfg = config_from_flags(kSmallVit);
    const LoadedModel lm = load_model(cfg, WeightOptions{});
    const LayerNorm& ln = lm.model.as<VitWeights>().blocks[0].norm1;
    l.say("The input of blocks.0.norm1 is the token sequence x after pos_embed:");
    l.show("pos_embed");
    l.say("Its output. eps is " + fixed(ln.eps, 6) + ", and this untrained model has gamma and beta as "
          "nn.LayerNorm starts them:");
    l.line("  gamma = " + values_str(ln.weight.ptr(), ln.weight.numel(), 1));
    l.line("  beta  = " + values_str(ln.bias.ptr(), ln.bias.numel(), 1));
    l.line();
    l.show("blocks.0.norm1");

    const Step& x = l.step("pos_embed");
    const Step& y = l.step("blocks.0.norm1");
    const int64_t N = y.shape[0], C = y.shape[1];
    l.say("Row by row (per token), computed from the two steps:");
    Table t{{"token", "mean of x", "std of x", "mean of y", "std of y"}, {true, true, true, true, true}, {}};
    for (int64_t n = 0; n < N; n++) {
        double mx, sx, my, sy;
        mean_std(&x.values[n * C], C, mx, sx);
        mean_std(&y.values[n * C], C, my, sy);
        t.rows.push_back({"N=" + std::to_string(n), fixed(mx), fixed(sx), fixed(my), fixed(sy)});
    }
    show_table(l, t);
    l.say("Every token now has mean 0 and std 1, whatever its scale was before. The cls row N=0, with its "
          "small values, is stretched the most, and there eps shows: its variance is so small that adding "
          "eps to it leaves the std a little under 1.");

    // BatchNorm over a batch of two images, the ring with either of two others.
    const Tensor x_ring = Tensor::from(x.shape, x.values);
    const Tensor y_ring = Tensor::from(y.shape, y.values);
    l.run(kSmallVit, "data/images/square.png");
    const Tensor x_square = Tensor::from(x.shape, l.step("pos_embed").values);
    l.run(kSmallVit, "data/images/cross.png");
    const Tensor x_cross = Tensor::from(x.shape, l.step("pos_embed").values);
    const float bn_eps = 1e-5f;  // nn.BatchNorm1d's default
    const Tensor bn_with_square = batchnorm_over_batch({x_ring, x_square}, bn_eps)[0];
    const Tensor bn_with_cross = batchnorm_over_batch({x_ring, x_cross}, bn_eps)[0];
    const Tensor bn_alone = batchnorm_over_batch({x_ring}, bn_eps)[0];

    l.say("BatchNorm, the standard in CNNs, normalises the other way: each channel, over every token of "
          "every image in the batch. Computed here for the ring's token N=1, in a batch with "
          "data/images/square.png, in a batch with data/images/cross.png, and alone (over its own " + std::to_string(N) + " tokens):");
    const int64_t n = 1;
    Table cmp{{"token N=" + std::to_string(n)}, {false}, {}};
    for (int64_t c = 0; c < C; c++) {
        cmp.header.push_back("C=" + std::to_string(c));
        cmp.right.push_back(true);
    }
    const std::pair<std::string, const Tensor*> rows[] = {{"LayerNorm (any batch)", &y_ring},
                                                          {"BatchNorm, with square", &bn_with_square},
                                                          {"BatchNorm, with cross", &bn_with_cross},
                                                          {"BatchNorm, alone", &bn_alone}};
    for (const auto& [label, t] : rows) {
        std::vector<std::string> r = {label};
        for (int64_t c = 0; c < C; c++) r.push_back(fixed((*t)[n * C + c]));
        cmp.rows.push_back(std::move(r));
    }
    show_table(l, cmp);
    l.say("Under BatchNorm the same patch of the same image gets different numbers depending on which other "
          "images share its batch, and even alone it depends on the other tokens. So BatchNorm needs a large "
          "batch, and at inference it must switch to running averages saved from training: two behaviours. "
          "LayerNorm looks at one token only: it works for a batch of 1, for any sequence length, and "
          "computes the same thing in training and at inference.");

    l.exercise("Run the model on data/images/square.png instead of the ring. Which rows of blocks.0.norm1 "
               "change, and which row stays exactly the same? Why would that row change under BatchNorm?",
               trace_command("blocks.0.norm1", kSmallVit, "data/images/square.png"));
}

}  // namespace vitrace::cli
