// Lesson 23: windows and inductive bias, learning from little data
// (lessons/23-inductive-bias.md).
// Source to read: src/core/rollout.cpp, mean_attention_distance, the distance
// measured here; src/core/window.cpp, window_partition, which decides the keys
// a Swin query may see; data/learning_curves.py, the training runs whose log
// data/learning_curves.json this lesson prints.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"
#include "core/cost.h"
#include "core/rollout.h"
#include "pipeline/pipeline.h"

namespace vitrace::cli {

namespace {

const std::string kImage = "data/images/cross.png";

// How far one attention step reaches: the keys a query sees, the distance to
// the farthest of them, and the attention-weighted mean distance per head.
struct Reach {
    std::string step;
    int keys = 0;           // keys a query may attend to
    double token_px = 0;    // pixels between neighbouring tokens
    double farthest_px = 0; // the farthest key a query can see, corner to corner
    double uniform_px = 0;  // the mean distance if every key got the same weight
    std::vector<double> heads_px;
};

double mean_of(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / (double)v.size();
}

// The same attention with every row spread evenly over its keys.
Tensor uniform_like(int64_t heads, int64_t N) {
    return Tensor::from({heads, N, N}, std::vector<float>((size_t)(heads * N * N), 1.0f / (float)N));
}

// ViT: softmax [heads, N_q, N_k] over the cls token and a grid x grid of patches.
Reach vit_reach(const Step& s, int image_side) {
    const int64_t N = s.shape[1], grid = (int64_t)std::lround(std::sqrt((double)(N - 1)));
    Reach r{s.name, (int)N, (double)image_side / (double)grid, 0, 0, {}};
    r.farthest_px = r.token_px * (double)(grid - 1) * std::sqrt(2.0);
    mean_attention_distance(r.heads_px, Tensor::from(s.shape, s.values), 1, grid, r.token_px);
    std::vector<double> u;
    mean_attention_distance(u, uniform_like(1, N), 1, grid, r.token_px);
    r.uniform_px = u[0];
    return r;
}

// Swin: softmax [windows, heads, T_q, T_k]; each window is an M x M grid of its
// own. In a shifted block the pairs that the cyclic shift brings together from
// far apart are masked (weight ~0), and every other pair lies in the window as
// it lies in the image, so the window's own coordinates give true distances.
Reach swin_reach(const Step& s, int image_side) {
    const int64_t nW = s.shape[0], heads = s.shape[1], T = s.shape[2];
    const int64_t M = (int64_t)std::lround(std::sqrt((double)T));
    const int64_t side = M * (int64_t)std::lround(std::sqrt((double)nW));  // the grid's side in tokens
    Reach r{s.name, (int)T, (double)image_side / (double)side, 0, 0, std::vector<double>((size_t)heads, 0.0)};
    r.farthest_px = r.token_px * (double)(M - 1) * std::sqrt(2.0);
    std::vector<double> d;
    for (int64_t w = 0; w < nW; w++) {
        const auto first = s.values.begin() + w * heads * T * T;  // softmax[w, :, :, :]
        mean_attention_distance(d, Tensor::from({heads, T, T}, std::vector<float>(first, first + heads * T * T)), 0, M,
                                r.token_px);
        for (int64_t h = 0; h < heads; h++) r.heads_px[(size_t)h] += d[(size_t)h] / (double)nW;
    }
    mean_attention_distance(d, uniform_like(1, T), 0, M, r.token_px);
    r.uniform_px = d[0];
    return r;
}

std::vector<Reach> reaches(const ImageRun& run, bool swin, int image_side) {
    std::vector<Reach> out;
    for (const Step& s : run.trace.steps())
        if (s.at.role == Role::Softmax) out.push_back(swin ? swin_reach(s, image_side) : vit_reach(s, image_side));
    return out;
}

std::string px(double v) { return fixed(v, 1); }

void add_reach_rows(Table& t, const std::string& model, const std::vector<Reach>& rs) {
    for (const Reach& r : rs) {
        const auto [lo, hi] = std::minmax_element(r.heads_px.begin(), r.heads_px.end());
        t.rows.push_back({model, r.step, std::to_string(r.keys), px(r.token_px), px(r.farthest_px), px(r.uniform_px),
                          px(mean_of(r.heads_px)), px(*lo) + " - " + px(*hi)});
    }
}

// data/learning_curves.json, as data/learning_curves.py --train writes it.
nlohmann::json read_curves(const std::string& path) {
    const std::string remedy = " (data/learning_curves.py --train writes it; data/README.md tells how)";
    std::ifstream in(path);
    if (!in) throw Error(ErrorKind::Input, "cannot read " + path + remedy);
    try {
        nlohmann::json j = nlohmann::json::parse(in);
        for (const nlohmann::json& r : j.at("runs")) {
            r.at("model").get<std::string>();
            for (const char* k : {"params", "train_size", "steps", "batch"}) r.at(k).get<int64_t>();
            for (const char* k : {"epochs", "accuracy_a", "accuracy_c", "accuracy"}) r.at(k).get<double>();
        }
        if (j.at("runs").empty()) throw Error(ErrorKind::Input, path + ": no runs" + remedy);
        return j;
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorKind::Input, path + ": not a learning-curves log: " + e.what() + remedy);
    }
}

std::string pct(double v) { return fixed(100.0 * v, 1) + " %"; }

}  // namespace

void lesson_23(Lesson& l) {
    // Read first: a missing or broken log stops the lesson before it prints anything.
    const nlohmann::json log = read_curves(data_dir() + "/learning_curves.json");
    l.say("An inductive bias is what a model assumes before it has seen any data. Swin's windows are one: a query "
          "may attend only to the M*M tokens of its window, so in a block a token's attention draws only on its "
          "neighbours. ViT's attention assumes nothing about distance: every token sees all N tokens, and where a "
          "patch lies enters only through the learned pos_embed. ViT can learn to look nearby, but it has to learn "
          "it from the data. The hope is that the built-in assumption pays when the data are few.");

    l.say("1. What the windows force on a trained model. vit_shapes and swin_shapes (data/README.md) on the "
          "same image, every attention step: the keys a query may see, the spacing of the tokens, the farthest "
          "key a query can reach, and the attention-weighted mean distance from a query to its keys, in pixels "
          "of the 64x64 input (averaged over the queries; the cls token, which has no place in the image, is "
          "left out as query and as key). 'uniform' is that distance if every key got the same weight. The two "
          "runs, with the softmax steps' values written to JSON traces:");
    for (const char* model : {"vit_shapes", "swin_shapes"})
        l.command("vitrace trace --model " + std::string(model) + " --image " + kImage +
                  " --steps '*.attn.softmax' -q -o " + model + ".json");
    l.line();
    const ImageRun& vit = l.run("--model vit_shapes", kImage);
    const int vit_side = config_from_flags("--model vit_shapes").image_size();
    const std::vector<Reach> vr = reaches(vit, false, vit_side);
    const ImageRun& swin = l.run("--model swin_shapes", kImage);
    const int swin_side = config_from_flags("--model swin_shapes").image_size();
    const std::vector<Reach> sr = reaches(swin, true, swin_side);

    Table t{{"model", "attention step", "keys", "token px", "farthest", "uniform", "mean", "heads"},
            {false, false, true, true, true, true, true, false}};
    add_reach_rows(t, "vit_shapes", vr);
    add_reach_rows(t, "swin_shapes", sr);
    show_table(l, t);
    l.line(labelled("vit_shapes predicts", vit.top.at(0).label + " (" + fixed(vit.top.at(0).score) + ")"));
    l.line(labelled("swin_shapes predicts", swin.top.at(0).label + " (" + fixed(swin.top.at(0).score) + ")"));
    l.line();

    const Reach &v0 = vr.front(), &s0 = sr.front();
    const auto [vit_lo, vit_hi] = std::minmax_element(v0.heads_px.begin(), v0.heads_px.end());
    const bool vit_local = mean_of(v0.heads_px) < 0.9 * v0.uniform_px;
    l.say("In its first block a swin_shapes query sees " + std::to_string(s0.keys) + " keys, none farther than " +
          px(s0.farthest_px) + " px; a vit_shapes query sees all " + std::to_string(v0.keys) + ", up to " +
          px(v0.farthest_px) + " px away. The windows set swin_shapes' bound before any training, whatever the "
          "weights; inside it, the trained first block averages " + px(mean_of(s0.heads_px)) + " px, against " +
          px(s0.uniform_px) + " px for even weights. vit_shapes' first-block "
          "heads average " + px(*vit_lo) + " to " + px(*vit_hi) + " px, against " + px(v0.uniform_px) +
          " px for even weights: " +
          (vit_local ? "nearer than even weights, a locality that training put there, since nothing in the "
                       "architecture asks for it."
                     : "on this image, training has not made its first block look nearby; nothing in the "
                       "architecture asks it to.") +
          " The Swin rows also show the hierarchy: each patch merging doubles the token spacing, so the same "
          "4x4 window spans 16, then 32, then 64 pixels, the whole image in the last stage.");

    l.say("2. Learning from little data. data/learning_curves.py trained both architectures from scratch on a few "
          "training-set sizes, with the recipe of data/train_shapes.py and the same number of steps for every run, "
          "and scored each on one fixed held-out set (renderer A, and renderer C that training never uses). Its "
          "log, data/learning_curves.json:");
    Table c{{"model", "params", "shapes", "steps x batch", "epochs", "held-out A", "held-out C", "mean"},
            {false, true, true, true, true, true, true, true}};
    std::vector<nlohmann::json> runs(log.at("runs").begin(), log.at("runs").end());
    std::stable_sort(runs.begin(), runs.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
        const auto key = [](const nlohmann::json& r) {
            return std::make_pair(r.at("model").get<std::string>() != "vit_shapes", r.at("train_size").get<int64_t>());
        };
        return key(a) < key(b);
    });
    for (const nlohmann::json& r : runs)
        c.rows.push_back({r.at("model").get<std::string>(), human_count((double)r.at("params").get<int64_t>()),
                          std::to_string(r.at("train_size").get<int64_t>()),
                          std::to_string(r.at("steps").get<int64_t>()) + " x " +
                              std::to_string(r.at("batch").get<int64_t>()),
                          fixed(r.at("epochs").get<double>(), 1), pct(r.at("accuracy_a").get<double>()),
                          pct(r.at("accuracy_c").get<double>()), pct(r.at("accuracy").get<double>())});
    show_table(l, c);

    // The mean held-out accuracy side by side, size by size.
    std::map<int64_t, std::map<std::string, double>> by_size;
    for (const nlohmann::json& r : runs)
        by_size[r.at("train_size").get<int64_t>()][r.at("model").get<std::string>()] = r.at("accuracy").get<double>();
    Table side{{"shapes", "vit_shapes", "swin_shapes", "swin - vit"}, {true, true, true, true}};
    for (const auto& [n, acc] : by_size) {
        if (!acc.count("vit_shapes") || !acc.count("swin_shapes")) continue;
        const double d = 100.0 * (acc.at("swin_shapes") - acc.at("vit_shapes"));
        side.rows.push_back({std::to_string(n), pct(acc.at("vit_shapes")), pct(acc.at("swin_shapes")),
                             (d >= 0 ? "+" : "") + fixed(d, 1) + " points"});
    }
    l.say("The mean of A and C, the two models side by side (chance is 20 %):");
    show_table(l, side);
    if (side.rows.size() >= 2) {
        std::vector<std::string> swin_ahead, vit_ahead;
        for (const auto& [n, acc] : by_size)
            if (acc.count("vit_shapes") && acc.count("swin_shapes"))
                (acc.at("swin_shapes") > acc.at("vit_shapes") ? swin_ahead : vit_ahead).push_back(std::to_string(n));
        const auto list = [](const std::vector<std::string>& v) {
            std::string s;
            for (size_t i = 0; i < v.size(); i++) s += (i ? (i + 1 == v.size() ? " and " : ", ") : "") + v[i];
            return s;
        };
        std::string ahead = swin_ahead.empty() ? "vit_shapes scores higher at every size"
                            : vit_ahead.empty() ? "swin_shapes scores higher at every size"
                                                : "swin_shapes scores higher at " + list(swin_ahead) +
                                                      " shapes, vit_shapes at " + list(vit_ahead);
        l.say(ahead + "; the difference is " + side.rows.front().back() + " with the fewest shapes and " +
              side.rows.back().back() + " with the most.");
    }
    std::string spread;
    for (const std::string model : {"vit_shapes", "swin_shapes"}) {
        double lo = 1, hi = 0;
        for (const auto& [n, acc] : by_size)
            if (acc.count(model)) lo = std::min(lo, acc.at(model)), hi = std::max(hi, acc.at(model));
        if (lo <= hi)
            spread += (spread.empty() ? model + "' accuracy stays" : ", " + model + "'") + " between " + pct(lo) +
                      " and " + pct(hi);
    }
    const int64_t fewest = by_size.begin()->first, most = by_size.rbegin()->first;
    bool more_helped = false;  // did either model score higher with the most shapes than with the fewest?
    for (const auto& [model, acc] : by_size.rbegin()->second)
        if (by_size.begin()->second.count(model) && acc > by_size.begin()->second.at(model)) more_helped = true;
    l.say("From " + std::to_string(fewest) + " to " + std::to_string(most) + " shapes, " +
          std::to_string(most / fewest) + " times as many, " + spread + ". Both models are far from the 96 to 99 % "
          "of the shipped ones (data/README.md), which saw 33 to 53 times as many images. " +
          (more_helped ? std::string("With one seed, these runs cannot show whether windows help when the data are "
                                     "few.")
                       : "Neither model scored higher with " + std::to_string(most) + " shapes than with " +
                             std::to_string(fewest) + ": at this budget of steps, more shapes did not help either "
                             "of them, so these runs cannot show whether windows help when the data are few."));
    l.say("What this shows, and what it does not: each row is one training run with one seed, on one synthetic "
          "dataset, so a difference of a few points may be no more than the seed. And the two models differ in "
          "more than windows: swin_shapes has " + human_count((double)param_count(find_model("swin_shapes"))) +
          " parameters against " + human_count((double)param_count(find_model("vit_shapes"))) +
          ", patches of 4 pixels instead of 8, a hierarchy of three stages and a mean-pooled head instead of a "
          "cls token. The runs compare these two models, not windows alone. "
          "lessons/23-inductive-bias.md draws the curves and tells how the runs were made.");

    l.exercise("A query of swin_shapes' second stage (layers.1) sees how many keys, and how many pixels of the "
               "input does its window span? How many windows does the stage have?",
               "vitrace trace --model swin_shapes --image " + kImage +
                   " --show 'layers.1.blocks.0.attn.softmax[0, 0, 0, :]'");
}

}  // namespace vitrace::cli
