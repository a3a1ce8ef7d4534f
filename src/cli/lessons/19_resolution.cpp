// Lesson 19: a new resolution, resampling the position embeddings (lessons/19-resolution.md).
// Source to read: src/core/vit.cpp, resample_pos_embed, called from vit_forward when the
// table's grid is not the image's; src/core/resample.cpp, resize_bicubic_antialias and its
// axis_taps, the weights of each output sample.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/resample.h"
#include "core/vit.h"

namespace vitrace::cli {

namespace {

const std::vector<std::string> kSamples = {"circle", "square", "triangle", "cross", "ring"};

// The weights of a resize from `in` samples to `out` along one axis, [out, in]:
// column k is the resize of the unit vector e_k, so row i holds the weight
// each input sample gets in output sample i.
std::vector<std::vector<double>> axis_weights(int in, int out) {
    std::vector<std::vector<double>> w(out, std::vector<double>(in, 0.0));
    for (int k = 0; k < in; k++) {
        Tensor unit = Tensor::zeros({1, 1, in});  // [C=1, h=1, w=in]
        unit[k] = 1.0f;
        Tensor resized;  // [1, 1, out]
        resize_bicubic_antialias(resized, unit, 1, out);
        for (int i = 0; i < out; i++) w[i][k] = resized[i];
    }
    return w;
}

// Keys' cubic kernel with parameter a.
double cubic(double t, double a) {
    const double x = std::fabs(t);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return a * (((x - 5) * x + 8) * x - 4);
    return 0;
}

std::string cell(double v, int decimals = 4) { return v == 0 ? "." : fixed(v, decimals); }

// "square 0.9014": the top-1 class of a run and its probability.
std::string top1(const ImageRun& r) { return r.top[0].label + " " + fixed(r.top[0].score); }

ImageRun quiet_run(const LoadedModel& lm, const std::string& image) {
    TraceOptions opts;
    opts.values = ValuesMode::None;
    return run_on_image(lm, image, Normalization{}, opts);
}

// vit_shapes at 128 px with patch 16: the 8x8 grid of the checkpoint, and a
// 16x16 patch kernel that spreads each trained weight over 2x2 pixels (divided
// by 4). On the image enlarged 2x, a patch then reads what the 8x8 patch read
// at 64 px: only the enlarging differs, nothing is resampled.
LoadedModel vit_patch16(const LoadedModel& trained) {
    LoadedModel lm = trained;
    lm.model.config = config_from_flags("--model vit_shapes --image-size 128 --patch 16");
    const Tensor& k8 = trained.model.as<VitWeights>().patch_embed.weight;  // [C, 3, 8, 8]
    const int64_t C = k8.dim(0), P = k8.dim(2);
    Tensor k16 = Tensor::zeros({C, 3, 2 * P, 2 * P});  // [C, 3, 16, 16]
    for (int64_t c = 0; c < C * 3; c++)
        for (int64_t y = 0; y < 2 * P; y++)
            for (int64_t x = 0; x < 2 * P; x++)
                k16[(c * 2 * P + y) * 2 * P + x] = k8[(c * P + y / 2) * P + x / 2] / 4.0f;
    lm.model.as<VitWeights>().patch_embed.weight = k16;
    return lm;
}

}  // namespace

void lesson_19(Lesson& l) {
    const LoadedModel trained = load_model(config_from_flags("--model vit_shapes"), WeightOptions{});
    const VitConfig& vc = trained.model.config.as<VitConfig>();
    const int g = vc.grid(), C = vc.width, P = vc.patch, S = vc.image_size;
    const int S2 = 2 * S, h = S2 / P;
    const std::string gs = std::to_string(g), hs = std::to_string(h);
    l.say("A ViT's position table has one row per patch of the grid it was trained on, and one for the cls "
          "token. vit_shapes was trained on " + std::to_string(S) + "x" + std::to_string(S) + " images in " +
          std::to_string(P) + "x" + std::to_string(P) + " patches: a grid of " + gs + "x" + gs + ", " +
          std::to_string(1 + g * g) + " rows. At " + std::to_string(S2) + "x" + std::to_string(S2) +
          " with the same patches the grid is " + hs + "x" + hs + " and the model needs " +
          std::to_string(1 + h * h) + " rows. timm's resample_abs_pos_embed makes them: it keeps the cls row, "
          "lays the " + std::to_string(g * g) + " grid rows out as the " + gs + "x" + gs + " picture they are "
          "(one picture per channel), resizes each picture to " + hs + "x" + hs + " with a bicubic filter, and "
          "puts the cls row back in front:");
    l.line("  pos_embed [1, 1 + " + gs + "*" + gs + ", C]  ->  cls row  +  resize [C, " + gs + ", " + gs + "] to [C, " +
           hs + ", " + hs + "]  ->  [1, 1 + " + hs + "*" + hs + ", C]");
    l.line();
    const std::string flags128 = "--model vit_shapes --image-size " + std::to_string(S2);
    l.command(trace_command("patch_embed.proj,pos_embed.resample,cls_token,pos_embed", flags128));
    l.run(flags128);
    l.line();
    l.summary("patch_embed.proj");
    l.summary("pos_embed.resample");
    l.summary("cls_token");
    l.summary("pos_embed");
    l.line();

    // The cls row is copied: after pos_embed, row 0 is the same at both sizes, bit for bit.
    // The grid rows are new: the resampled corner is not the trained corner.
    const Tensor& table = trained.model.as<VitWeights>().pos_embed;  // [1, 1 + g*g, C]
    const Step& pos128 = l.step("pos_embed");
    const std::vector<float> row0_128(pos128.values.begin(), pos128.values.begin() + C);
    const std::vector<float> corner128(l.step("pos_embed.resample").values.begin(),
                                       l.step("pos_embed.resample").values.begin() + C);  // resampled[0, 0, :]
    l.run("--model vit_shapes");
    const Step& pos64 = l.step("pos_embed");
    double d0 = 0, d1 = 0;
    for (int c = 0; c < C; c++) {
        d0 = std::max(d0, (double)std::fabs(row0_128[c] - pos64.values[c]));
        d1 = std::max(d1, (double)std::fabs(corner128[c] - table[C + c]));
    }
    l.say("The cls row is copied, not resampled: row 0 after pos_embed (the cls token plus its position row) "
          "is the same at " + std::to_string(S) + " and at " + std::to_string(S2) + " px. The grid rows are all "
          "new: the top-left patch's row of the checkpoint against the resampled one:");
    l.line(labelled("row 0 at " + std::to_string(S) + " px", values_str(pos64.values.data(), 4) + " ..."));
    l.line(labelled("row 0 at " + std::to_string(S2) + " px", values_str(row0_128.data(), 4) + " ...") +
           "   max difference " + fixed(d0));
    l.line(labelled("grid[0, 0], trained", values_str(table.ptr() + C, 4) + " ..."));
    l.line(labelled("resampled[0, 0]", values_str(corner128.data(), 4) + " ...") + "   max difference " + fixed(d1));
    l.line();

    // The kernel: the weights along one axis, g -> h.
    const auto w = axis_weights(g, h);
    l.say("The resize works along one axis at a time. Input sample k sits at k + 0.5 (in input samples), "
          "output sample i at centre_i = (" + gs + "/" + hs + ") (i + 0.5). Output i is a weighted sum of the "
          "inputs within 2 samples of its centre, each weighted by Keys' cubic kernel of its distance t = "
          "k + 0.5 - centre_i, and the weights are divided by their sum:");
    l.line("  cubic(t) = (a + 2)|t|^3 - (a + 3)|t|^2 + 1      |t| < 1");
    l.line("           = a (|t|^3 - 5|t|^2 + 8|t| - 4)        1 <= |t| < 2,   0 beyond");
    l.line();
    l.say("timm calls F.interpolate(..., mode='bicubic', antialias=True), align_corners left at its default, "
          "False. With antialias "
          "PyTorch uses Pillow's kernel, a = -0.5; its bicubic without antialias uses a = -0.75. Antialias "
          "also widens the kernel when a grid shrinks, so that each output averages all the inputs it covers; "
          "enlarging " + gs + " -> " + hs + ", it keeps its reach of 2 samples each side. align_corners=False is the k + 0.5 above: "
          "samples are the centres of cells, and the two grids' outer edges meet.");
    l.say("All the weights of the " + gs + " -> " + hs + " resize: resize_bicubic_antialias applied to each "
          "unit vector e_k gives column k (rows: output samples; '.' is 0):");
    std::vector<std::string> header = {"i", "centre"};
    for (int k = 0; k < g; k++) header.push_back("k=" + std::to_string(k));
    header.push_back("sum");
    Table weights(header, std::vector<bool>(header.size(), true));
    for (int i = 0; i < h; i++) {
        std::vector<std::string> row = {std::to_string(i), fixed((double)g / h * (i + 0.5), 2)};
        double sum = 0;
        for (int k = 0; k < g; k++) row.push_back(cell(w[i][k])), sum += w[i][k];
        row.push_back(fixed(sum));
        weights.rows.push_back(row);
    }
    show_table(l, weights);

    // One interior row and one border row, by hand.
    const int i5 = 5;
    const double c5 = (double)g / h * (i5 + 0.5);
    l.say("Row " + std::to_string(i5) + " by hand: centre " + fixed(c5, 2) + ", so inputs 1 to 4 at t = -1.25, "
          "-0.25, 0.75 and 1.75:");
    for (int k = 1; k <= 4; k++) {
        const double t = k + 0.5 - c5;
        char line[160];
        std::snprintf(line, sizeof line, "  k=%d  t = %5s   cubic(t, a=-0.5) = %7s   table %7s   (a=-0.75: %7s)", k,
                      fixed(t, 2).c_str(), fixed(cubic(t, -0.5)).c_str(), fixed(w[i5][k]).c_str(),
                      fixed(cubic(t, -0.75)).c_str());
        l.line(line);
    }
    l.line();
    const double e0 = cubic(0.25, -0.5), e1 = cubic(1.25, -0.5);
    l.say("They sum to 1 already. At the border the window is cut: row 0 (centre 0.25) has inputs 0 and 1 "
          "only, cubic " + fixed(e0) + " and " + fixed(e1) + ", sum " + fixed(e0 + e1) + "; divided by it, " +
          fixed(e0 / (e0 + e1)) + " and " + fixed(e1 / (e0 + e1)) + ", the table's row 0. Dividing by the sum "
          "keeps a constant table constant, edges included.");

    // Both axes: a value of the resampled grid from the weights and the trained table.
    l.run(flags128);
    const Step& resampled = l.step("pos_embed.resample");  // [h, w, C]
    const int yi = 5, xj = 10, ch = 0;
    double by_hand = 0;
    for (int ky = 0; ky < g; ky++)
        for (int kx = 0; kx < g; kx++) by_hand += w[yi][ky] * w[xj][kx] * table[(1 + ky * g + kx) * C + ch];
    l.say("Both axes: resampled[i, j, c] = sum over ky, kx of w[i, ky] w[j, kx] grid[ky, kx, c], the rows of "
          "the table above for i and for j. For (i, j, c) = (" + std::to_string(yi) + ", " + std::to_string(xj) +
          ", " + std::to_string(ch) + "), from the trained table:");
    l.line("  by the formula " + fixed(by_hand) + "    pos_embed.resample[" + std::to_string(yi) + ", " +
           std::to_string(xj) + ", " + std::to_string(ch) + "] " +
           fixed(resampled.values[((size_t)yi * h + xj) * C + ch]));
    l.line();

    // What it does to the predictions: the five samples at three sizes, and with patch 16.
    const int S3 = S * 3 / 2;
    const LoadedModel at96 = load_model(config_from_flags("--model vit_shapes --image-size " + std::to_string(S3)),
                                        WeightOptions{});
    const LoadedModel at128 = load_model(config_from_flags(flags128), WeightOptions{});
    const LoadedModel p16 = vit_patch16(trained);
    l.say("What it does to the model: vit_shapes' top-1 on the five sample images (64x64 files, enlarged by "
          "vitrace for the larger sizes). The last column keeps the " + gs + "x" + gs + " grid at " +
          std::to_string(S2) + " px by doubling the patch to 16 (each weight of its 8x8 kernel spread over 2x2 pixels, divided by 4): "
          "the image is enlarged the same way, but nothing is resampled.");
    Table vit_table({"image", std::to_string(S) + " px, " + gs + "x" + gs,
                     std::to_string(S3) + " px, " + std::to_string(S3 / P) + "x" + std::to_string(S3 / P),
                     std::to_string(S2) + " px, " + hs + "x" + hs, std::to_string(S2) + " px, patch 16, " + gs + "x" + gs},
                    {false, false, false, false, false});
    int right[4] = {0, 0, 0, 0};
    for (const std::string& name : kSamples) {
        const std::string image = "data/images/" + name + ".png";
        std::vector<std::string> row = {name};
        const LoadedModel* models[] = {&trained, &at96, &at128, &p16};
        for (int m = 0; m < 4; m++) {
            const ImageRun r = quiet_run(*models[m], image);
            row.push_back(top1(r));
            right[m] += r.top[0].label == name;
        }
        vit_table.rows.push_back(row);
    }
    vit_table.rows.push_back({"right", std::to_string(right[0]) + " of 5", std::to_string(right[1]) + " of 5",
                              std::to_string(right[2]) + " of 5", std::to_string(right[3]) + " of 5"});
    show_table(l, vit_table);
    l.say("Enlarged but on the trained grid, the model stays right. On the " + hs + "x" + hs + " grid it "
          "errs on some of the shapes. Two things changed there together, and these runs cannot split them: "
          "the positions are interpolated rows the model never saw, and each patch covers a quarter of the "
          "part of the shape it covered in training. The ViT paper fine-tunes at the higher resolution after resampling "
          "(Dosovitskiy et al. 2021, section 3.2); vit_shapes was not fine-tuned. Five images are few: lessons/19-resolution.md "
          "counts the same settings on fresh images.");

    // Swin: nothing to resample.
    l.say("Swin has no table of absolute positions. Its relative position bias table has one row per offset "
          "inside a window, (2M-1)^2 rows, whatever the image size; the index depends on M alone. At a new "
          "size with the same windows, Swin has more windows, and the shifted blocks' masks grow with them:");
    const std::string swin128 = "--model swin_shapes --image-size " + std::to_string(S2);
    const std::string swin_steps =
        "'layers.0.blocks.1.attn.*_table,layers.?.blocks.1.attn_mask,layers.2.blocks.1.window_partition'";
    l.line("  at " + std::to_string(S) + " px:");
    l.command(trace_command(swin_steps, "--model swin_shapes"));
    l.run("--model swin_shapes");
    l.summary("layers.0.blocks.1.attn.relative_position_bias_table");
    l.summary("layers.0.blocks.1.attn_mask");
    l.summary("layers.1.blocks.1.attn_mask");
    l.summary("layers.2.blocks.1.window_partition");
    const bool mask64 = l.last().trace.find("layers.2.blocks.1.attn_mask") != nullptr;
    l.line("  at " + std::to_string(S2) + " px:");
    l.command(trace_command(swin_steps, swin128));
    l.run(swin128);
    l.summary("layers.0.blocks.1.attn.relative_position_bias_table");
    l.summary("layers.0.blocks.1.attn_mask");
    l.summary("layers.1.blocks.1.attn_mask");
    l.summary("layers.2.blocks.1.window_partition");
    l.summary("layers.2.blocks.1.attn_mask");
    l.line();
    const Step& part64_last = l.step("layers.2.blocks.1.window_partition");
    l.say(std::string("The table is the same [49, 2] at both sizes: nothing to resample. The last stage, one "
                      "window at ") + std::to_string(S) + " px (" + (mask64 ? "with an" : "no") + " attn_mask step), has " +
          std::to_string(part64_last.shape[0]) + " windows at " + std::to_string(S2) +
          " px, and a shifted block with a mask it never met in training. Its top-1 on the samples:");
    const LoadedModel swin_64 = load_model(config_from_flags("--model swin_shapes"), WeightOptions{});
    const LoadedModel swin_128 = load_model(config_from_flags(swin128), WeightOptions{});
    Table swin_table({"image", std::to_string(S) + " px", std::to_string(S2) + " px"}, {false, false, false});
    int sright[2] = {0, 0};
    for (const std::string& name : kSamples) {
        const ImageRun a = quiet_run(swin_64, "data/images/" + name + ".png");
        const ImageRun b = quiet_run(swin_128, "data/images/" + name + ".png");
        sright[0] += a.top[0].label == name, sright[1] += b.top[0].label == name;
        swin_table.rows.push_back({name, top1(a), top1(b)});
    }
    swin_table.rows.push_back({"right", std::to_string(sright[0]) + " of 5", std::to_string(sright[1]) + " of 5"});
    show_table(l, swin_table);
    l.say("No resampling is not the same as working at any size: what a window covers, and which windows the "
          "last stage sees, changed too, and swin_shapes was never trained on that.");

    // The real sizes: ViT-B/16 from 224 to 384.
    ModelConfig b224 = find_model("vit_base_patch16_224"), b384 = b224;
    apply_overrides(b384, {{"--image-size", FlagValue{384}}});
    const VitConfig &v224 = b224.as<VitConfig>(), &v384 = b384.as<VitConfig>();
    l.say("At real sizes: ViT-B/16 trained at 224 and run at 384 (timm's vit_base_patch16_384 is one, "
          "fine-tuned there) goes from a " +
          std::to_string(v224.grid()) + "x" + std::to_string(v224.grid()) + " grid, N = " +
          std::to_string(v224.tokens()) + ", to " + std::to_string(v384.grid()) + "x" + std::to_string(v384.grid()) +
          ", N = " + std::to_string(v384.tokens()) + ": its checkpoint's table is resampled the same way. "
          "vitrace's vit_base_patch16_224 has random weights, made at the size asked for: its shapes show N, "
          "but no resampling happens there.");
    l.command("vitrace shapes --model vit_base_patch16_224 --image-size 384 | grep -E 'cls_token|pos_embed'");
    l.line();

    l.exercise("vit_shapes at 96x96: how large is its grid, how many rows does its position table need, and "
               "how many of them come out of the bicubic resize?",
               "vitrace shapes --model vit_shapes --image-size 96 | grep -E 'patch_embed.proj|pos_embed|cls_token'");
}

}  // namespace vitrace::cli
