// Lesson 21: tokens beyond the patches: cls, mean, distillation, registers
// (lessons/21-extra-tokens.md).
// Source to read: src/core/vit.cpp, vit_forward (the prefix tokens join, the
// pooling, DeiT's two heads) and vit_block (LayerScale, ls1 and ls2);
// src/core/tokens.cpp, insert_tokens, pool_first_token and pool_mean.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/lesson.h"
#include "cli/lessons/grid_map.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/vit.h"

namespace vitrace::cli {

namespace {

// Row r of a [N, C] step.
const float* row(const Step& s, int64_t r) { return s.values.data() + r * s.shape[1]; }

// The mean of rows [first, N) of a [N, C] step: what pool_mean reads.
std::vector<float> mean_rows(const Step& s, int64_t first) {
    const int64_t N = s.shape[0], C = s.shape[1];
    std::vector<float> m(C, 0.0f);
    for (int64_t r = first; r < N; r++)
        for (int64_t c = 0; c < C; c++) m[c] += row(s, r)[c] / static_cast<float>(N - first);
    return m;
}

double norm(const float* v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return std::sqrt(s);
}

// The patches a shape covers: more than a tenth of their pixels differ from the
// background, the colour of the corner pixel. decode [img_h, img_w, rgb], a grid of g x g patches of side P.
std::vector<bool> shape_patches(const Step& decode, int g, int P) {
    const int64_t S = decode.shape[1];
    auto pixel = [&](int64_t y, int64_t x, int c) { return decode.values[(y * S + x) * 3 + c]; };
    std::vector<bool> on(g * g, false);
    for (int p = 0; p < g * g; p++) {
        int differ = 0;
        for (int y = 0; y < P; y++)
            for (int x = 0; x < P; x++) {
                const int64_t py = p / g * P + y, px = p % g * P + x;
                bool d = false;
                for (int c = 0; c < 3; c++) d = d || std::fabs(pixel(py, px, c) - pixel(0, 0, c)) > 32;
                differ += d;
            }
        on[p] = differ * 10 > P * P;
    }
    return on;
}

std::string sci(double v) {
    char s[32];
    std::snprintf(s, sizeof s, "%.1e", v);
    return s;
}

std::string rows_str(int64_t first, int64_t last) {
    return first == last ? "row " + std::to_string(first)
                         : "rows " + std::to_string(first) + "-" + std::to_string(last);
}

// "cls 0, reg 1-2": the prefix tokens of a run, named by the concat steps that put them in front.
std::string prefix_of(const Trace& trace, int64_t patches) {
    std::string out;
    int64_t before = patches;
    for (const Step& s : trace.steps()) {
        if (s.op != "concat") continue;
        const int64_t added = s.shape[0] - before, first = before - patches;
        std::string name = s.name.substr(0, s.name.find("_token"));
        out += (out.empty() ? "" : ", ") + name + " " + rows_str(first, first + added - 1);
        before = s.shape[0];
    }
    return out.empty() ? "none" : out;
}

// What the head reads, from the config.
std::string head_reads(const VitConfig& c) {
    if (c.distilled) return "head: row 0, head_dist: row 1, their mean";
    if (c.pool == Pool::Token) return "row 0, after norm";
    return "mean of " + rows_str(c.prefix(), c.tokens() - 1) + ", then fc_norm";
}

}  // namespace

void lesson_21(Lesson& l) {
    const VitConfig small = config_from_flags(kSmallVit).as<VitConfig>();
    const int64_t n = small.patches(), C = small.width;
    l.say("After the patch embedding the image is n = " + std::to_string(n) + " tokens, one per patch. Lesson 3 put "
          "one more token in front, the cls token. ViTs since have put others there too, or none: the prefix "
          "tokens. None of them carries pixels; each variant changes how many tokens N the blocks see, which "
          "rows the head reads, or both. The small ViT, once per variant:");

    const std::vector<std::string> variants = {"", "--pool mean", "--class-token false", "--distilled",
                                               "--reg-tokens 2"};
    Table t{{"flags", "prefix tokens", "N", "pool", "the head reads"}, {false, false, true, false, false}, {}};
    for (const std::string& v : variants) {
        const std::string flags = v.empty() ? kSmallVit : kSmallVit + " " + v;
        const ImageRun& r = l.run(flags);
        const Step& pos = l.step("pos_embed");
        t.rows.push_back({v.empty() ? "(none)" : v, prefix_of(r.trace, n), std::to_string(pos.shape[0]),
                          l.step("pool").op, head_reads(config_from_flags(flags).as<VitConfig>())});
    }
    show_table(l, t);
    l.say("The model flags are the lesson's small ViT each time; `vitrace trace` takes the same ones, and its "
          "steps cls_token, dist_token and reg_token are where the prefix tokens join, each in front of the "
          "patches (timm's torch.cat): cls first, then dist or the registers.");

    // --- the cls token against mean pooling ---------------------------------------------------------------
    l.line("1. The cls token against mean pooling");
    l.line();
    l.command(trace_command("norm,pool"));
    l.line();
    l.run(kSmallVit);
    {
        const Step& nrm = l.step("norm");
        const Step& pool = l.step("pool");
        l.say("With the cls token (timm's global_pool='token'), the final norm runs over all N rows and pool "
              "takes row 0, which attention filled from the patches in every block:");
        l.line("  norm row 0  " + values_str(row(nrm, 0), C));
        l.line("  pool        " + values_str(pool.values.data(), C));
        l.line("  max |pool - norm[0]| = " + fixed(max_abs_diff(pool.values.data(), row(nrm, 0), C)));
        l.line();
    }
    const std::string no_cls = kSmallVit + " --class-token false";
    l.command(trace_command("blocks.0.residual2,pool,fc_norm", no_cls));
    l.line();
    l.run(no_cls);
    {
        const Step& x = l.step("blocks.0.residual2");
        const Step& pool = l.step("pool");
        const std::vector<float> m = mean_rows(x, 0);
        l.say("Without it (--class-token false, which implies --pool mean; timm's 'avg') N = n = " +
              std::to_string(x.shape[0]) + ", and pool averages the rows of the last block's output, then fc_norm "
              "normalises that one vector:");
        l.line("  mean of rows 0-" + std::to_string(x.shape[0] - 1) + "  " + values_str(m.data(), C));
        l.line("  pool              " + values_str(pool.values.data(), C));
        l.line("  max |pool - mean| = " + fixed(max_abs_diff(pool.values.data(), m.data(), C)));
        l.line();
        l.say("Mean pooling gives every patch the same weight, 1/n, whatever the image. The cls token's weights "
              "are attention's: they depend on the image. What does a trained model do with them? vit_shapes, "
              "trained with the cls token (data/train_shapes.py), on the lesson's image:");
    }

    const VitConfig vc = config_from_flags("--model vit_shapes").as<VitConfig>();
    const int g = vc.grid(), last = vc.depth - 1;
    const std::string last_softmax = "blocks." + std::to_string(last) + ".attn.softmax";
    l.command(trace_command("'" + last_softmax + "[:, 0, :]'", "--model vit_shapes"));
    l.line();
    l.run("--model vit_shapes");
    const std::vector<bool> on = shape_patches(l.step("input.decode"), g, vc.patch);
    const Step& shapes_out = l.step("blocks." + std::to_string(last) + ".residual2");
    {
        const int heads = vc.heads;
        const int64_t Nv = vc.tokens();
        const Step& soft = l.step(last_softmax);  // [heads, N_q, N_k]
        std::vector<double> w(Nv, 0.0);  // the cls row, heads averaged
        for (int h = 0; h < heads; h++)
            for (int64_t k = 0; k < Nv; k++) w[k] += soft.values[(size_t)h * Nv * Nv + k] / heads;
        int covered = 0;
        double on_weight = 0;
        for (int p = 0; p < g * g; p++)
            if (on[p]) covered++, on_weight += w[1 + p];
        l.say("The command prints row 0, the cls token's attention in the last block, for each head. Here it is "
              "averaged over the " + std::to_string(heads) + " heads, in percent, laid out on the " +
              std::to_string(g) + "x" + std::to_string(g) + " grid of patches; * marks the " +
              std::to_string(covered) + " patches the ring covers (more than a tenth of their pixels differ from "
              "the background):");
        for (const std::string& s : grid_map(g, g, 0, 5, [&](int y, int x) {
                 const int p = y * g + x;
                 return fixed(100 * w[1 + p], 1) + (on[p] ? "*" : " ");
             }))
            l.line(s.substr(0, s.find_last_not_of(' ') + 1));
        l.line();
        l.say("The cls token takes " + fixed(100 * on_weight, 1) + "% of its attention from the ring's " +
              std::to_string(covered) + " patches, and " + fixed(100 * w[0], 1) + "% from itself; mean pooling "
              "would give those patches " + std::to_string(covered) + "/" + std::to_string(g * g) + " = " +
              fixed(100.0 * covered / (g * g), 1) + "%. On this image, in the last block, the trained cls token reads the object and nearly skips "
              "the background; mean pooling counts every patch alike. Both train well: the ViT paper found the two "
              "about equally good, each at its own learning rate (Dosovitskiy et al. 2021, Fig. 9).");
    }

    // --- DeiT's distillation token ------------------------------------------------------------------------
    l.line("2. DeiT's distillation token");
    l.line();
    const std::string deit = kSmallVit + " --distilled";
    l.say("DeiT (Touvron et al. 2021) trains a ViT with a teacher, a convnet. It adds a second learned token, "
          "dist_token, after the cls token, and a second head, head_dist, that reads it. In training, head "
          "learns the true labels and head_dist learns the teacher's predictions; at inference timm (and "
          "vitrace) takes the mean of the two heads' logits. N = n + 2:");
    l.command(trace_command("dist_token,head,head_dist", deit));
    l.line();
    l.run(deit);
    l.show("dist_token");
    {
        const ImageRun& r = l.last();
        const Step& head = l.step("head");
        const Step& head_dist = l.step("head_dist");
        const int64_t K = head.shape[0];
        std::vector<float> mean(K);
        for (int64_t k = 0; k < K; k++) mean[k] = (head.values[k] + head_dist.values[k]) / 2;
        l.say("Row 1 is dist_token, the same for every image, like row 0. After the block, head reads row 0 and "
              "head_dist row 1, each through its own weights:");
        l.line("  head       " + values_str(head.values.data(), K));
        l.line("  head_dist  " + values_str(head_dist.values.data(), K));
        l.line("  mean       " + values_str(mean.data(), K));
        l.line("  logits     " + values_str(r.logits.ptr(), K) + "   (what the top-5 ranks)");
        l.line();
        l.say("Untrained, the two heads disagree: head ranks class " + std::to_string(std::max_element(head.values.begin(),
              head.values.end()) - head.values.begin()) + " first, head_dist class " +
              std::to_string(std::max_element(head_dist.values.begin(), head_dist.values.end()) -
                             head_dist.values.begin()) +
              ". The pool step of this model, pool_cls_dist, is the mean of norm's rows 0 and 1: the features "
              "vitrace reports; the logits are not the head of that mean but the mean of the two heads.");
    }

    // --- registers ----------------------------------------------------------------------------------------
    l.line("3. Register tokens");
    l.line();
    const std::string reg = kSmallVit + " --reg-tokens 2 --pool mean";
    l.say("Darcet et al. (2024, \"Vision Transformers Need Registers\") found that large, long-trained ViTs "
          "(DINOv2, OpenCLIP, DeiT-III) turn a few patch tokens of low-information background into scratch "
          "space: those tokens end with norms far above the others, hold global rather than local "
          "information, and show up as bright spots in attention maps. The fix is R extra learned tokens, "
          "registers, that the model can use for that instead; they are dropped at the output. timm's "
          "vit_*_reg4_dinov2 models have R = 4. Here R = 2, N = 1 + 2 + n:");
    l.command(trace_command("reg_token,pool", reg));
    l.line();
    l.run(reg);
    {
        const Step& joined = l.step("reg_token");
        const Step& x = l.step("blocks.0.residual2");
        const Step& pool = l.step("pool");
        const int64_t N = x.shape[0], prefix = N - n;
        l.say("reg_token puts rows 1-" + std::to_string(prefix - 1) + " after the cls token (" +
              named_shape(joined) + "). Each token's norm after the block, and what pool reads:");
        Table nt{{"row", "token", "norm", "in pool"}, {true, false, true, false}, {}};
        for (int64_t r = 0; r < N; r++)
            nt.rows.push_back({std::to_string(r), r == 0 ? "cls" : r < prefix ? "register" : "patch " + std::to_string(r - prefix),
                               fixed(norm(row(x, r), C)), r < prefix ? "no" : "yes"});
        show_table(l, nt);
        const std::vector<float> m = mean_rows(x, prefix);
        l.line("  max |pool - mean of " + rows_str(prefix, N - 1) + "| = " +
               fixed(max_abs_diff(pool.values.data(), m.data(), C)));
        l.line();
        l.say("Mean pooling leaves every prefix token out, the cls token and the registers; token pooling "
              "reads row 0 alone. The registers only give the blocks more rows to write to. These weights are "
              "random, and with random weights no token stands out: the high-norm tokens appear only after "
              "long training of large models, which this machine does not do.");
    }
    {
        const int D = vc.width;
        std::vector<double> norms(g * g);
        std::vector<double> by_place[2];  // [off the ring, on it]
        for (int p = 0; p < g * g; p++) {
            norms[p] = norm(row(shapes_out, 1 + p), D);
            by_place[on[p]].push_back(norms[p]);
        }
        auto range = [](std::vector<double> v) {  // "from 9.9 to 22.1, median 11.5"
            std::sort(v.begin(), v.end());
            const double median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
            return "from " + fixed(v.front(), 1) + " to " + fixed(v.back(), 1) + ", median " + fixed(median, 1);
        };
        l.say("vit_shapes has no registers. Its patch tokens' norms after the last block (" + shapes_out.name +
              "), on the ring, * on the ring's patches as above; the cls token's is " +
              fixed(norm(row(shapes_out, 0), D), 1) + ":");
        for (const std::string& s : grid_map(g, g, 0, 5, [&](int y, int x) {
                 return fixed(norms[y * g + x], 1) + (on[y * g + x] ? "*" : " ");
             }))
            l.line(s.substr(0, s.find_last_not_of(' ') + 1));
        l.line();
        l.say("Off the ring the norms run " + range(by_place[0]) + "; on it " + range(by_place[1]) +
              ". The largest norms are on the object, and no background token stands out above the ring's: this "
              "small model, " + std::to_string(vc.depth) + " blocks trained on 64x64 shapes, shows none of the "
              "high-norm background tokens that called for registers.");
    }

    // --- LayerScale ---------------------------------------------------------------------------------------
    l.line("4. LayerScale");
    l.line();
    const std::string ls = kSmallVit + " --layer-scale";
    l.say("Not a token, but one more of timm's ViT variants that vitrace runs: LayerScale (Touvron "
          "et al. 2021, \"Going deeper with image transformers\", CaiT) multiplies each residual branch by a learned vector gamma [C] before the add, "
          "x + gamma * attn(norm1(x)) and x + gamma * mlp(norm2(x)): the steps blocks.i.ls1 and ls2.");
    l.command(trace_command("blocks.0.attn.proj,blocks.0.ls1", ls));
    l.line();
    l.run(ls);
    const Step& proj = l.step("blocks.0.attn.proj");
    const Step& ls1 = l.step("blocks.0.ls1");
    l.say("vitrace's random weights start gamma at 1, as a LayerNorm weight: here ls1 equals attn.proj "
          "exactly (max difference " + fixed(max_abs_diff(proj.values.data(), ls1.values.data(), proj.values.size())) +
          "), and the block is the plain one. timm starts gamma small instead (init_values, e.g. 1e-5 or "
          "1e-6; CaiT picks it by depth), so that each block begins close to the identity, which helped train "
          "deep ViTs. The same model with gamma = 1e-5 in both branches, computed here:");
    {
        const Step& in = l.step("pos_embed");
        const Step& out = l.step("blocks.0.residual2");
        const Step& img = l.step("input.normalize");
        LoadedModel lm = load_model(config_from_flags(ls), WeightOptions{});
        for (VitBlock& b : lm.model.as<VitWeights>().blocks) {
            std::fill(b.ls1.data.begin(), b.ls1.data.end(), 1e-5f);
            std::fill(b.ls2.data.begin(), b.ls2.data.end(), 1e-5f);
        }
        TraceOptions options;
        options.values = ValuesMode::Full;
        Trace trace(options);
        forward(lm.model, Tensor::from(img.shape, img.values), trace);
        const Step& small_out = *trace.find("blocks.0.residual2");
        const Step& small_ls1 = *trace.find("blocks.0.ls1");
        const int64_t k = in.values.size();
        l.line(labelled("gamma", "max |ls1|     max |block output - block input|", 10));
        l.line(labelled("1", pad_left(fixed(std::max(std::fabs(ls1.stats.min), std::fabs(ls1.stats.max))), 9) +
                                 "     " + fixed(max_abs_diff(out.values.data(), in.values.data(), k)), 10));
        l.line(labelled("1e-5", pad_left(sci(std::max(std::fabs(small_ls1.stats.min), std::fabs(small_ls1.stats.max))), 9) +
                                    "     " + sci(max_abs_diff(small_out.values.data(), in.values.data(), k)), 10));
        l.line();
        l.say("With gamma = 1e-5 the block hands on its input almost unchanged; training can then grow gamma "
              "where a branch helps.");
    }

    l.exercise("How many tokens N does the small ViT have with --reg-tokens 4, and which rows does --pool mean "
               "average? Which rows would token pooling read?",
               "vitrace shapes " + kSmallVit + " --reg-tokens 4 --pool mean | grep -E 'reg_token|pool'");
}

}  // namespace vitrace::cli
