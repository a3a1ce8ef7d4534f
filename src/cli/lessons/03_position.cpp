// Lesson 3: the cls token and position embeddings (lessons/03-position.md).
// Source to read: src/core/tokens.cpp, prepend_cls_token, add and sinusoidal_position_embedding.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cli/lesson.h"
#include "core/vit.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/tokens.h"

namespace vitrace::cli {

namespace {

// The image with the pixels of patches a and b exchanged: the same content, another arrangement.
Tensor swap_patches(const Tensor& image, int P, int grid, int a, int b) {
    Tensor out = image;
    const int64_t S = image.dim(1);
    const int ay = a / grid * P, ax = a % grid * P, by = b / grid * P, bx = b % grid * P;
    for (int64_t c = 0; c < 3; c++)
        for (int64_t ky = 0; ky < P; ky++)
            for (int64_t kx = 0; kx < P; kx++)
                std::swap(out[(c * S + ay + ky) * S + ax + kx], out[(c * S + by + ky) * S + bx + kx]);
    return out;
}

Tensor logits_of(const Model& m, const Tensor& image) {
    TraceOptions options;
    options.values = ValuesMode::None;
    Trace trace(options);
    return forward(m, image, trace).logits;
}

}  // namespace

void lesson_03(Lesson& l) {
    l.say("After the patch embedding the image is n tokens, one per patch. Before the first block, ViT "
          "makes two changes to that sequence: it puts one extra token in front, the cls token, and it "
          "adds a position embedding to every token.");
    l.command(trace_command("cls_token,pos_embed"));
    l.run(kSmallVit);
    l.line();

    const ModelConfig cfg = config_from_flags(kSmallVit);
    const LoadedModel lm = load_model(cfg, WeightOptions{});
    const int64_t N = cfg.as<VitConfig>().tokens(), C = cfg.as<VitConfig>().width;
    l.say("cls_token: timm's cls_token parameter, one vector of C = " + std::to_string(C) +
          " values, becomes row 0; the " + std::to_string(N - 1) + " patch tokens move to rows 1 to " +
          std::to_string(N - 1) + ". Row 0 is the same for every image: it carries no pixels.");
    l.show("cls_token");
    l.say("Why a token with no content? The classifier needs one vector for the whole image. Row 0 is a "
          "query like every other row, so in each block attention fills it with a weighted mix of all the "
          "patches: after the last block it is a summary of the image, and the head reads row 0 alone "
          "(timm's global_pool='token'). The other choice, --pool mean, averages the patch tokens instead.");

    l.say("pos_embed: x + pos_embed, a table [N, C] with one learned row per position, row 0 for the cls "
          "slot. This model is untrained, so its table is still the seeded random start (std 0.02):");
    const Floats& pos = lm.model.as<VitWeights>().pos_embed.data;
    const Tensor table = Tensor::from({N, C}, {pos.begin(), pos.end()});  // [1, N, C] without the 1
    show_tensor(l, "pos_embed (the parameter)", "parameter", table, {"N", "C"});
    l.show("pos_embed");

    // Attention without positions: the image with two patches swapped gives the same logits.
    const Step& img = l.step("input.normalize");
    const Tensor image = Tensor::from(img.shape, img.values);
    const Tensor swapped = swap_patches(image, cfg.as<VitConfig>().patch, cfg.as<VitConfig>().grid(), 0, 3);
    Model no_pos = lm.model;
    std::fill(no_pos.as<VitWeights>().pos_embed.data.begin(), no_pos.as<VitWeights>().pos_embed.data.end(), 0.0f);
    const Tensor with_a = logits_of(lm.model, image), with_b = logits_of(lm.model, swapped);
    const Tensor without_a = logits_of(no_pos, image), without_b = logits_of(no_pos, swapped);
    const double with_pos = max_abs_diff(with_a.ptr(), with_b.ptr(), with_a.numel());
    const double without_pos = max_abs_diff(without_a.ptr(), without_b.ptr(), without_a.numel());
    l.say("Why positions at all? Attention compares tokens by their content only: the score of token i "
          "for token j is q_i . k_j, whatever their places. Shuffle the patches and the outputs are the "
          "same, shuffled; row 0 and the prediction do not change at all. Here is that, computed: the image "
          "with patches 0 and 3 swapped, run through the model with its table and with the table set to 0.");
    l.line("  max |logits(image) - logits(swapped)|   with pos_embed: " + fixed(with_pos) +
           "   pos_embed = 0: " + fixed(without_pos));
    l.line();
    l.say("Without positions the model cannot tell a picture from a puzzle of its own pieces. Adding a "
          "different vector at each position makes the same patch content differ by where it is.");

    Tensor pe;  // [N, C]
    sinusoidal_position_embedding(pe, static_cast<int>(N), static_cast<int>(C));
    l.say("ViT learns its table as a plain 1-D list of N rows: it is never told that the patches form a "
          "grid, and training discovers it. The original Transformer used a fixed table instead, no "
          "parameters: channel pair (2i, 2i+1) is a sine and a cosine of the position at frequency "
          "1 / 10000^(2i/C), fast in the first channels, slow in the last.");
    l.line("  PE[pos, 2i] = sin(pos / 10000^(2i/C))    PE[pos, 2i+1] = cos(pos / 10000^(2i/C))");
    l.line();
    show_tensor(l, "sinusoidal_position_embedding (computed here)", "sin_cos", pe, {"N", "C"});

    // What training makes of the table: vit_shapes' learned rows, compared by cosine similarity.
    const LoadedModel shapes = load_model(config_from_flags("--model vit_shapes"), WeightOptions{});
    const VitConfig& sc = shapes.model.config.as<VitConfig>();
    const int g = sc.grid(), D = sc.width;
    const Floats& learned = shapes.model.as<VitWeights>().pos_embed.data;  // [1, 1 + g*g, D]
    auto cosine = [&](int a, int b) {  // rows a and b of the table (row 0 is the cls slot)
        double ab = 0, aa = 0, bb = 0;
        for (int c = 0; c < D; c++) {
            const double x = learned[(size_t)a * D + c], y = learned[(size_t)b * D + c];
            ab += x * y, aa += x * x, bb += y * y;
        }
        return ab / std::sqrt(aa * bb);
    };
    const int qr = 2, qc = 5, q = 1 + qr * g + qc;
    l.say("Training does discover the grid. vit_shapes, trained on data/shapes.py, cuts its image into a grid of " +
          std::to_string(g) + "x" + std::to_string(g) + " patches. The cosine similarity of its learned row for patch (" +
          std::to_string(qr) + ", " + std::to_string(qc) + ") with the row of every patch, laid out on the grid:");
    double near = 0, far = 0;
    int near_n = 0, far_n = 0;
    for (int r = 0; r < g; r++) {
        std::string line = "   ";
        for (int c = 0; c < g; c++) {
            const double v = cosine(q, 1 + r * g + c);
            char cell[16];
            std::snprintf(cell, sizeof cell, "%7s", fixed(v, 2).c_str());
            line += cell;
            const int d = std::max(std::abs(r - qr), std::abs(c - qc));
            if (d == 1) near += v, near_n++;
            if (d >= 4) far += v, far_n++;
        }
        l.line(line);
    }
    l.line();
    l.say("Its neighbours' rows point the same way (mean similarity " + fixed(near / near_n, 2) +
          " for the 8 patches around it) and far patches' less (" + fixed(far / far_n, 2) + " at 4 or more "
          "patches away), although nothing told the model that row " + std::to_string(q) + " and row " +
          std::to_string(q + 1) + " are neighbours, or that row " + std::to_string(q + g) + " lies below it.");

    l.exercise("This model has N = 5 rows in its position table. How many rows does it need for a 16x16 "
               "image with the same 4x4 patches? Why can a table learned at one image size not be used at "
               "another without resizing it?",
               "vitrace shapes --model vit_tiny_patch16_224 --image-size 16 --patch 4 --width 8 --depth 1 "
               "--heads 2 --mlp-ratio 2 --classes 5 | grep pos_embed");
}

}  // namespace vitrace::cli
