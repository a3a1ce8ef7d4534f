// Lesson 20: what a ViT learns: positions, distances, filters, rollout (lessons/20-what-vit-learns.md).
// Source to read: src/core/rollout.cpp, mean_attention_distance and attention_rollout; the
// weights read here are vit_shapes' pos_embed and patch_embed.proj (src/core/vit.h, VitWeights).
#include <algorithm>
#include <cmath>
#include <functional>

#include "cli/lesson.h"
#include "cli/lessons/grid_map.h"
#include "cli/lessons/lesson_extras.h"
#include "core/rollout.h"
#include "core/vit.h"

namespace vitrace::cli {

namespace {

const std::string kShapes = "--model vit_shapes";
const char* const kSampleImages[] = {"data/images/circle.png", "data/images/square.png", "data/images/triangle.png",
                                     "data/images/cross.png", "data/images/ring.png"};

// Two grid maps side by side, each under its title.
void show_two_grids(Lesson& l, const std::string& title_a, const std::vector<std::string>& a,
                    const std::string& title_b, const std::vector<std::string>& b) {
    const size_t width = a[0].size() + 4;
    auto padded = [&](std::string s) { return s + std::string(width > s.size() ? width - s.size() : 0, ' '); };
    l.line("  " + padded(title_a) + title_b);
    for (size_t i = 0; i < a.size(); i++) l.line("  " + padded(a[i]) + (i < b.size() ? b[i] : ""));
    l.line();
}

// How far patch (y, x) of a g×g grid is from the image's border: 0 on the outer ring of patches.
int ring_of(int y, int x, int g) { return std::min(std::min(y, g - 1 - y), std::min(x, g - 1 - x)); }

}  // namespace

void lesson_20(Lesson& l) {
    const LoadedModel shapes = load_model(config_from_flags(kShapes), WeightOptions{});
    const VitConfig& cfg = shapes.model.config.as<VitConfig>();
    const VitWeights& w = shapes.model.as<VitWeights>();
    const int g = cfg.grid(), C = cfg.width, P = cfg.patch, n = g * g;
    l.say("Lessons 2 to 12 took a ViT apart with random weights. This lesson looks at what training put "
          "into one: vit_shapes, trained to tell five shapes apart (data/README.md). Its " +
          std::to_string(cfg.image_size) + "x" + std::to_string(cfg.image_size) + " input is cut into " +
          std::to_string(g) + "x" + std::to_string(g) + " patches of " + std::to_string(P) + "x" +
          std::to_string(P) + " pixels, plus the cls token; width C = " + std::to_string(C) + ", " +
          std::to_string(cfg.depth) + " blocks of " + std::to_string(cfg.heads) +
          " heads. Four things to read, as the ViT paper read them (Dosovitskiy et al. 2021, Fig. 6, 7): "
          "the position embeddings, how far each head looks, the patch filters, and attention rollout.");

    // ---------------------------------------------------------------- 1. position embeddings
    // pos_embed [1, 1 + n, C]: row 0 for the cls slot, then patch (y, x) at row 1 + y*g + x
    const float* pe = w.pos_embed.ptr() + C;
    auto cosine = [&](int a, int b) {  // patches a and b
        double ab = 0, aa = 0, bb = 0;
        for (int c = 0; c < C; c++) {
            const double x = pe[(size_t)a * C + c], y = pe[(size_t)b * C + c];
            ab += x * y, aa += x * x, bb += y * y;
        }
        return ab / std::sqrt(aa * bb);
    };
    auto cosine_map = [&](int qy, int qx) {
        return grid_map(g, g, 0, 5, [&](int y, int x) { return fixed(cosine(qy * g + qx, y * g + x), 2); });
    };
    l.say("1. Position embeddings. Each patch has a learned row of pos_embed, " + std::to_string(C) +
          " numbers. Two rows that point the same way (cosine similarity near 1) tell the blocks "
          "nearly the same thing about where a patch is. The ViT paper draws, for every patch, the cosine "
          "of its row with all the others, as a small map on the grid. Lesson 3 showed one of these maps; "
          "here are four more (the patch itself reads 1.00):");
    show_two_grids(l, "patch (0, 0), a corner", cosine_map(0, 0), "patch (0, 3), an edge", cosine_map(0, 3));
    show_two_grids(l, "patch (2, 2)", cosine_map(2, 2), "patch (3, 3), the centre", cosine_map(3, 3));

    // The mean cosine between the rings of patches, 0 on the image's border to g/2 - 1 at the centre.
    const int rings = g / 2;
    std::vector<int> ring_size(rings, 0);
    for (int p = 0; p < n; p++) ring_size[ring_of(p / g, p % g, g)]++;
    std::vector<std::string> header = {"ring"};
    for (int b = 0; b < rings; b++) header.push_back(std::to_string(b));
    Table ring_table(header, std::vector<bool>(header.size() + 1, true));
    ring_table.header.push_back("patches");
    for (int a = 0; a < rings; a++) {
        std::vector<std::string> row = {std::to_string(a)};
        for (int b = 0; b < rings; b++) {
            double sum = 0;
            int count = 0;
            for (int p = 0; p < n; p++)
                for (int q = 0; q < n; q++)
                    if (p != q && ring_of(p / g, p % g, g) == a && ring_of(q / g, q % g, g) == b)
                        sum += cosine(p, q), count++;
            row.push_back(fixed(sum / count, 2));
        }
        row.push_back(std::to_string(ring_size[a]));
        ring_table.rows.push_back(row);
    }
    l.say("These maps are not the ViT paper's. There, in its large models, a patch is most like its near "
          "neighbours and like the patches of its own row and column. vit_shapes learned something "
          "else: how far a patch is from the image's border. Number the rings of patches from 0 on the "
          "border to " + std::to_string(rings - 1) + " at the centre; the mean cosine between two patches of "
          "rings a and b (a patch with itself left out):");
    show_table(l, ring_table);
    l.say("The border patches are alike, opposite corners included (patches (0, 0) and (" + std::to_string(g - 1) +
          ", " + std::to_string(g - 1) + "): " + fixed(cosine(0, n - 1), 2) + "), and unlike the centre. The data "
          "explain it: each shape lies wholly inside the image, so the border ring is mostly background (all of "
          "it in the cross of part 4), and training showed each image in a random one of its eight flips and "
          "quarter turns, so a corner is a corner whichever one it is. Position is learned from what the data make useful, "
          "not given.");

    // ---------------------------------------------------------------- 2. mean attention distance
    const int blocks = cfg.depth, heads = cfg.heads;
    std::vector<std::vector<double>> distance(blocks, std::vector<double>(heads, 0.0));  // [block][head]
    std::vector<double> top_weight(blocks, 0.0);  // a patch query's largest weight, averaged
    for (const char* image : kSampleImages) {
        l.run(kShapes, image);
        for (int b = 0; b < blocks; b++) {
            const Step& s = l.step("blocks." + std::to_string(b) + ".attn.softmax");  // [heads, N_q, N_k]
            std::vector<double> d;
            mean_attention_distance(d, Tensor::from(s.shape, s.values), 1, g, P);
            for (int h = 0; h < heads; h++) distance[b][h] += d[h] / std::size(kSampleImages);
            const int64_t N = s.shape[2];
            for (int h = 0; h < heads; h++)
                for (int64_t q = 1; q < N; q++) {
                    const float* a_q = &s.values[(h * N + q) * N];  // attn[h, q, :]
                    top_weight[b] += *std::max_element(a_q, a_q + N) / (double)(std::size(kSampleImages) * heads * n);
                }
        }
    }
    const int64_t N = 1 + n;
    Tensor uniform = Tensor::zeros({1, N, N});  // every token attends evenly to all N
    for (int64_t i = 0; i < uniform.numel(); i++) uniform[i] = 1.0f / N;
    std::vector<double> even;
    mean_attention_distance(even, uniform, 1, g, P);
    l.say("2. How far each head looks. For a patch query, take its attention weights over the " +
          std::to_string(n) + " patches (the cls key left out, the weights rescaled to sum to 1) and average "
          "the distance in pixels from its patch's centre to theirs: 0 if it looks only at itself, " +
          std::to_string(P) + " px for a direct neighbour. Average that over the " + std::to_string(n) +
          " patch queries (the cls query has no place) and over the five sample images data/images/*.png, "
          "for every block and head. This is the ViT paper's mean attention distance (its Fig. 7, right):");
    Table dist_table({"block", "head 0", "head 1", "head 2", "head 3", "mean", "largest weight"},
                     {false, true, true, true, true, true, true});
    for (int b = 0; b < blocks; b++) {
        std::vector<std::string> row = {"blocks." + std::to_string(b)};
        double mean = 0;
        for (int h = 0; h < heads; h++) row.push_back(fixed(distance[b][h], 1)), mean += distance[b][h] / heads;
        row.push_back(fixed(mean, 1));
        row.push_back(fixed(top_weight[b], 3));
        dist_table.rows.push_back(row);
    }
    show_table(l, dist_table);
    double lo = INFINITY, hi = 0;
    for (const auto& row : distance) lo = std::min(lo, *std::min_element(row.begin(), row.end())),
                                     hi = std::max(hi, *std::max_element(row.begin(), row.end()));
    l.say("For scale: a head that spread its weight evenly over all patches would score " + fixed(even[0], 1) +
          " px, and the farthest two patches are " + fixed(P * std::sqrt(2.0) * (g - 1), 1) + " px apart. "
          "In ViT-L/16 the paper finds heads of the lowest blocks that stay within a few patches, "
          "and distances that grow with depth. vit_shapes has no such local head: every head scores between " +
          fixed(lo, 1) + " and " + fixed(hi, 1) + " px in every block. Its heads are not even, though: the last "
          "column is a patch query's largest weight (over all " + std::to_string(N) + " keys, cls included), "
          "averaged over the heads, queries and images, where even attention would give " + fixed(1.0 / N, 3) + ". Their weight "
          "goes to particular patches wherever these lie, not to the nearest ones.");

    // ---------------------------------------------------------------- 3. patch filters
    // patch_embed.proj.weight [C, 3, P, P]: one filter of 3 colour planes per output channel
    const float* f = w.patch_embed.weight.ptr();
    const int pp = P * P, fsize = 3 * pp;
    std::vector<double> flat_share(C), gray_share(C);
    for (int c = 0; c < C; c++) {
        const float* f_c = &f[(size_t)c * fsize];  // weight[c, :, :, :]
        double energy = 0, flat = 0, gray = 0;
        for (int i = 0; i < fsize; i++) energy += (double)f_c[i] * f_c[i];
        for (int ch = 0; ch < 3; ch++) {  // the plane's mean: what a patch of one flat colour sees
            double m = 0;
            for (int i = 0; i < pp; i++) m += f_c[ch * pp + i];
            m /= pp;
            flat += pp * m * m;
        }
        for (int i = 0; i < pp; i++) {  // the part shared by the three planes: what a grey image sees
            const double m = (f_c[i] + f_c[pp + i] + f_c[2 * pp + i]) / 3.0;
            gray += 3 * m * m;
        }
        flat_share[c] = flat / energy;
        gray_share[c] = gray / energy;
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    const int flat_small = (int)std::count_if(flat_share.begin(), flat_share.end(), [](double s) { return s < 0.01; });
    l.say("3. The patch filters. patch_embed.proj.weight [C=" + std::to_string(C) + ", 3, " +
          std::to_string(P) + ", " + std::to_string(P) + "] holds one filter per output channel: three " +
          std::to_string(P) + "x" + std::to_string(P) + " planes, one per colour, that the patch is "
          "multiplied with and summed (lesson 2). Split each filter's energy (the sum of its squared "
          "weights) into two parts. Its flat part is the mean of each plane, all a patch of one uniform "
          "colour can excite; its grey part is the pattern the three planes share:");
    Table filter_table({"share of a filter's energy", "smallest", "median", "largest"}, {false, true, true, true});
    filter_table.rows.push_back({"flat: the planes' means", fixed(*std::min_element(flat_share.begin(), flat_share.end()), 3),
                                 fixed(median(flat_share), 3), fixed(*std::max_element(flat_share.begin(), flat_share.end()), 3)});
    filter_table.rows.push_back({"grey: the planes' common pattern", fixed(*std::min_element(gray_share.begin(), gray_share.end()), 2),
                                 fixed(median(gray_share), 2), fixed(*std::max_element(gray_share.begin(), gray_share.end()), 2)});
    show_table(l, filter_table);
    l.say(std::to_string(flat_small) + " of the " + std::to_string(C) + " filters keep less than 1 % of "
          "their energy in the flat part: they are nearly blind to a patch's uniform colour and see only "
          "how it changes inside the patch, its edges. That suits the data, where every shape and every "
          "background gets a random colour. In the median filter, " + fixed(median(gray_share), 2) + " of the energy is "
          "shared by the three planes, a pattern of brightness; the rest tells colours apart. The document draws "
          "the filters as pictures.");

    // ---------------------------------------------------------------- 4. rollout
    const std::string image = "data/images/cross.png";
    l.run(kShapes, image);
    std::vector<Tensor> softmax;
    for (int b = 0; b < blocks; b++) {
        const Step& s = l.step("blocks." + std::to_string(b) + ".attn.softmax");
        softmax.push_back(Tensor::from(s.shape, s.values));
    }
    Tensor rollout;  // [N_q, N_k]
    attention_rollout(rollout, softmax, HeadFusion::Mean);
    const float* r0 = rollout.ptr();  // rollout[0, :], the cls token's row
    // Which pixels belong to the shape: those farther from the background colour (the image's
    // outer frame, which the shape never reaches) than half the farthest pixel.
    const Step& pixels = l.step("input.resize");  // [img_h, img_w, rgb]
    const int S = (int)pixels.shape[0];
    double bg[3] = {0, 0, 0};
    int frame = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            if (y == 0 || x == 0 || y == S - 1 || x == S - 1) {
                for (int ch = 0; ch < 3; ch++) bg[ch] += pixels.values[((size_t)y * S + x) * 3 + ch];
                frame++;
            }
    std::vector<double> away((size_t)S * S);
    for (int i = 0; i < S * S; i++) {
        double d = 0;
        for (int ch = 0; ch < 3; ch++) d += std::pow(pixels.values[(size_t)i * 3 + ch] - bg[ch] / frame, 2);
        away[i] = std::sqrt(d);
    }
    const double threshold = *std::max_element(away.begin(), away.end()) / 2;
    std::vector<double> cover(n, 0.0);  // the share of each patch's pixels on the shape
    for (int i = 0; i < S * S; i++)
        if (away[i] > threshold) cover[(i / S / P) * g + (i % S) / P] += 1.0 / pp;
    // Patches of the background (no shape pixel), of the outline (partly covered) and inside.
    double patch_mass = 0, kind_mass[3] = {0, 0, 0};
    int kind_count[3] = {0, 0, 0};
    for (int p = 0; p < n; p++) {
        patch_mass += r0[1 + p];
        const int kind = cover[p] == 0 ? 0 : cover[p] < 0.95 ? 1 : 2;
        kind_mass[kind] += r0[1 + p], kind_count[kind]++;
    }
    l.say("4. Attention rollout (Abnar & Zuidema 2020). One block's attention says which tokens a token "
          "reads, but a block's input tokens are already mixtures made by the blocks before. Rollout "
          "follows the mixing back to the input: average the heads, add the identity for the residual path "
          "(then rescale each row to sum to 1), and multiply the blocks' matrices, last block first. Row 0 "
          "of the product estimates how much of the cls token's final state comes from each input patch. "
          "vit_shapes on " + image + " (it predicts " + l.last().top[0].label + ", " +
          fixed(l.last().top[0].score, 4) + "); the rollout in % of row 0, beside the share of each "
          "patch's pixels that belong to the shape:");
    show_two_grids(l, "rollout, cls row, %",
                   grid_map(g, g, 0, 4, [&](int y, int x) { return fixed(100.0 * r0[1 + y * g + x], 1); }),
                   "shape pixels, %",
                   grid_map(g, g, 0, 4, [&](int y, int x) { return fixed(100.0 * cover[y * g + x], 0); }));
    l.say("Row 0 keeps " + fixed(100.0 * r0[0], 1) + " % on the cls token itself, and " +
          fixed(100.0 * patch_mass, 1) + " % goes to the patches. By kind of patch, the mean share of one patch:");
    Table kinds({"patches", "count", "rollout per patch, %"}, {false, true, true});
    const char* kind_name[3] = {"background (0 % shape)", "outline (partly shape)", "inside (95 % shape or more)"};
    for (int k = 0; k < 3; k++)
        kinds.rows.push_back({kind_name[k], std::to_string(kind_count[k]),
                              fixed(100.0 * kind_mass[k] / kind_count[k], 2)});
    show_table(l, kinds);
    l.say("The cls token draws most from the cross's outline, where its edges are, more than from its solid "
          "inside; the background gets least, but not nothing: with " + std::to_string(kind_count[0]) +
          " patches it still adds up to " + fixed(100.0 * kind_mass[0], 1) + " % of row 0. Rollout is an "
          "estimate, not a measurement: it ignores the MLPs and the values, and gives the residual path "
          "exactly half of each block.");

    l.exercise("Head 0 of block 3 looks the farthest of all (" + fixed(distance[blocks - 1][0], 1) + " px, more than "
               "even attention). On the ring image, print its attention row for patch (3, 3), token 1 + 3*8 + 3 "
               "= 28: which keys get its largest weights, and how much does the patch give itself, against the "
               "even " + fixed(1.0 / N, 4) + "?",
               "vitrace trace --model vit_shapes --image data/images/ring.png --show 'blocks.3.attn.softmax[0, 28, :]'");
}

}  // namespace vitrace::cli
