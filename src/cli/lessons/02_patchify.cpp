// Lesson 2: patchify, the conv view and the reshape+linear view (lessons/02-patchify.md).
// Source to read: src/core/patch.cpp, patchify, patchify_hwc and patch_embed_conv; src/core/linear.cpp, linear.
#include <algorithm>
#include <array>
#include <cmath>

#include "cli/lesson.h"
#include "core/vit.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/patch.h"

namespace vitrace::cli {

void lesson_02(Lesson& l) {
    l.say("A ViT reads an image as a sequence of patches. timm's patch embedding is one convolution, "
          "nn.Conv2d(3, C, kernel_size=P, stride=P): C kernels, each 3xPxP, and since the stride "
          "equals the kernel size, the kernel jumps from one patch to the next without overlap. vitrace "
          "computes the same thing in two steps: cut the image into patches and flatten each one "
          "(patchify), then apply one linear layer (proj).");
    l.command(trace_command("'patch_embed.*'"));
    l.run(kSmallVit);
    l.line();

    const Step& patches = l.step("patch_embed.patchify");
    const Step& proj = l.step("patch_embed.proj");
    const ModelConfig cfg = config_from_flags(kSmallVit);
    const int P = cfg.as<VitConfig>().patch, S = cfg.as<VitConfig>().image_size, g = cfg.as<VitConfig>().grid();
    const int64_t n = patches.shape[0], patch_dim = patches.shape[1], C = proj.shape[1];
    const std::string ps = std::to_string(P);
    auto columns = [&](int ci) { return std::to_string(ci * P * P) + "-" + std::to_string((ci + 1) * P * P - 1); };
    l.say("patch_embed.patchify: S = " + std::to_string(S) + " and P = " + ps + " give a " + std::to_string(g) +
          "x" + std::to_string(g) + " grid of n = " + std::to_string(n) +
          " patches, numbered row by row. Row n is patch n flattened in (channel, row, column) order: "
          "columns " + columns(0) + " are its red " + ps + "x" + ps + " pixels row by row, " + columns(1) +
          " green, " + columns(2) + " blue, "
          "3*P*P = " + std::to_string(patch_dim) + " values. No arithmetic: values only move.");
    l.show("patch_embed.patchify");
    l.say("patch_embed.proj: one linear layer from " + std::to_string(patch_dim) + " to C = " +
          std::to_string(C) + " values, y = x * W^T + b, so each patch becomes a token of " + std::to_string(C) +
          " channels.");
    l.show("patch_embed.proj");

    // The conv view, with the very weights of the run.
    const LoadedModel lm = load_model(cfg, WeightOptions{});
    const Step& img = l.step("input.normalize");
    const Tensor image = Tensor::from(img.shape, img.values);
    Tensor conv;  // [C, h, w]
    patch_embed_conv(conv, image, lm.model.as<VitWeights>().patch_embed, P);
    l.say("The conv view, computed here with the same weights [C, 3, P, P] by patch_embed_conv: for every "
          "output channel c and grid cell (oy, ox),");
    l.line("  out[c, oy, ox] = bias[c] + sum over ci, ky, kx of weight[c, ci, ky, kx] * image[ci, oy*P + ky, ox*P + kx]");
    l.line();
    l.say("Its output is a small image with C channels, [C, h, w], as PyTorch's Conv2d returns it:");
    show_tensor(l, "patch_embed_conv (computed here)", "conv2d", conv, {"C", "h", "w"});

    // out[c, oy, ox] against proj[p = oy*w + ox, c], every value.
    double max_diff = 0;
    for (int64_t c = 0; c < C; c++)
        for (int64_t cell = 0; cell < n; cell++)
            max_diff = std::max(max_diff, (double)std::fabs(conv[c * n + cell] - proj.values[cell * C + c]));
    const int64_t c = 1, oy = 0, ox = 1, cell = oy * g + ox;
    l.say("Grid cell (oy, ox) is patch p = oy*w + ox of the n patches, so conv[c, oy, ox] should be proj[p, c]. "
          "For example:");
    l.line("  conv[" + std::to_string(c) + ", " + std::to_string(oy) + ", " + std::to_string(ox) +
           "] = " + fixed(conv[c * n + cell]) + "    proj[" + std::to_string(cell) + ", " + std::to_string(c) +
           "] = " + fixed(proj.values[cell * C + c]));
    l.line("  max |conv[c, oy, ox] - proj[oy*w + ox, c]| over all " + std::to_string(conv.numel()) +
           " values: " + fixed(max_diff, 6));
    l.line();
    l.say("They agree because they are the same sums. Flattening the kernel weight [C, 3, P, P] row-major "
          "gives [C, 3*P*P] with column (ci*P + ky)*P + kx, and patchify puts pixel (ci, ky, kx) of a patch "
          "in exactly that column. So proj's dot product of patch row n with weight row c multiplies the "
          "same pairs as the convolution at (c, oy, ox); only the loop order differs. That is why a timm "
          "checkpoint's Conv2d weight loads into the linear layer unchanged, and timm's "
          "x.flatten(2).transpose(1, 2) turns [C, h, w] into the [n, C] tokens.");

    // The other order: vit-pytorch's Rearrange, (p1 p2 c).
    const std::string hwc_flags = kSmallVit + " --patch-order hwc";
    l.say("Not every codebase flattens a patch in this order. lucidrains' vit-pytorch, where many first ViTs "
          "are written, cuts the patches with einops, Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)'), "
          "and then applies nn.Linear(3*P*P, C). Its patch is flattened in (row, column, channel) order: the "
          "3 colours of pixel (0, 0), then the 3 of pixel (0, 1), and so on. vitrace traces that order as its "
          "own step, patchify_hwc (--patch-order hwc), on the same image:");
    l.command(trace_command("patch_embed.patchify", hwc_flags));
    l.run(hwc_flags);
    l.show("patch_embed.patchify");
    const Step& hwc = l.step("patch_embed.patchify");

    // Patch 0 in both orders, column by column.
    auto chw_of = [&](int64_t k) {  // column k of the (c, p1, p2) order: channel, row, column
        return std::array<int64_t, 3>{k / (P * P), k / P % P, k % P};
    };
    auto hwc_of = [&](int64_t k) {  // column k of the (p1, p2, c) order: row, column, channel
        return std::array<int64_t, 3>{k / (3 * P), k / 3 % P, k % 3};
    };
    Table side{{"column", "chw: (c, p1, p2)", "value", "hwc: (p1, p2, c)", "value"}, {}};
    for (int64_t k = 0; k < 8; k++) {
        const auto a = chw_of(k), b = hwc_of(k);
        side.rows.push_back({std::to_string(k),
                             "(" + std::to_string(a[0]) + ", " + std::to_string(a[1]) + ", " + std::to_string(a[2]) + ")",
                             fixed(patches.values[k]),
                             "(" + std::to_string(b[0]) + ", " + std::to_string(b[1]) + ", " + std::to_string(b[2]) + ")",
                             fixed(hwc.values[k])});
    }
    l.say("Patch 0, the first 8 columns of each order side by side. chw walks the red plane first; hwc walks "
          "the pixels, each with its 3 colours:");
    show_table(l, side);

    // The permutation between them, checked on every value.
    double perm_diff = 0;
    for (int64_t p = 0; p < n; p++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t ky = 0; ky < P; ky++)
                for (int64_t kx = 0; kx < P; kx++)
                    perm_diff = std::max(perm_diff, (double)std::fabs(hwc.values[p * patch_dim + (ky * P + kx) * 3 + c] -
                                                                      patches.values[p * patch_dim + (c * P + ky) * P + kx]));
    l.say("The same values, in another order. Pixel (c, ky, kx) of a patch sits in column (c*P + ky)*P + kx of "
          "patchify and in column (ky*P + kx)*3 + c of patchify_hwc, so the permutation between the two is");
    l.line("  hwc[p, (ky*" + ps + " + kx)*3 + c] = chw[p, (c*" + ps + " + ky)*" + ps + " + kx]");
    l.line("  for example hwc column 1 = (0, 0, green) = chw column " + std::to_string(1 * P * P) +
           "; hwc column 3 = (0, 1, red) = chw column 1");
    l.line("  max |hwc[p, (ky*P + kx)*3 + c] - chw[p, (c*P + ky)*P + kx]| over all " + std::to_string(n * patch_dim) +
           " values: " + fixed(perm_diff, 6));
    l.line();

    // A weight trained on one order serves the other once its columns move the same way.
    const Linear& w_chw = lm.model.as<VitWeights>().patch_embed;  // read as [C, 3*P*P]
    Linear w_hwc{Tensor::from({C, patch_dim}, std::vector<float>(C * patch_dim)), w_chw.bias};
    for (int64_t o = 0; o < C; o++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t ky = 0; ky < P; ky++)
                for (int64_t kx = 0; kx < P; kx++)
                    w_hwc.weight[o * patch_dim + (ky * P + kx) * 3 + c] = w_chw.weight[o * patch_dim + (c * P + ky) * P + kx];
    Tensor hwc_tokens;
    linear(hwc_tokens, Tensor::from(hwc.shape, hwc.values), w_hwc);
    double tok_diff = 0;
    for (int64_t i = 0; i < hwc_tokens.numel(); i++)
        tok_diff = std::max(tok_diff, (double)std::fabs(hwc_tokens[i] - proj.values[i]));
    l.say("The order is part of the model: the linear layer after it learned which column is which. Move the "
          "weight's columns by the same permutation, W_hwc[:, (ky*P + kx)*3 + c] = W_chw[:, (c*P + ky)*P + kx], "
          "and the hwc patches give the chw run's tokens:");
    l.line("  max |hwc patches * W_hwc^T + b - patch_embed.proj| over all " + std::to_string(hwc_tokens.numel()) +
           " values: " + fixed(tok_diff, 6));
    l.line();
    l.say("A checkpoint saved by vit-pytorch holds the hwc weight, [C, P*P*3], and vitrace reads it with "
          "patchify_hwc before it: docs/checkpoints.md lists that layout.");

    l.exercise("In patch 3 (the bottom-right one), which column of patch_embed.patchify holds the green "
               "value of the patch's row 1, column 2? Which pixel of input.normalize is it? Compare the two "
               "values.",
               trace_command("input.normalize,patch_embed.patchify"));
}

}  // namespace vitrace::cli
