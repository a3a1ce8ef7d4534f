#include "pipeline/attention_pictures.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rollout.h"
#include "io/font.h"

namespace vitrace {

namespace {

// The side we aim for: small models' 64x64 inputs are enlarged to it.
constexpr int kDisplay = 256;
constexpr int kMargin = 8, kGap = 6;

int enlarge_factor(int side) { return std::max(1, kDisplay / side); }

std::string str(int64_t v) { return std::to_string(v); }

const Step& need(const Trace& t, const StepAt& at) {
    const Step* s = t.find(at);
    if (!s || s->values.empty()) throw Error(ErrorKind::Internal, "attention pictures: no values of " + step_name(at));
    return *s;
}

// Text twice the font's size on pictures wide enough for it.
int text_scale(int width) { return width >= 480 ? 2 : 1; }

// A picture as people get it: a title above, the body, a legend below (when given).
Picture figure(const std::string& title, const Picture& body, const Picture* key = nullptr) {
    std::vector<Picture> parts = {text_block({title}, body.width, kInk, text_scale(body.width)), body};
    if (key) parts.push_back(*key);
    return stack(parts, 4, kMargin);
}

ColourScale range_of(const float* v, size_t n) {
    const auto [lo, hi] = std::minmax_element(v, v + n);
    return ColourScale::of(*lo, *hi);
}

// The model's input as it saw it (input.resize, [S, S, 3]), enlarged for display.
Picture input_picture(const Trace& t) {
    const Step& s = need(t, {Role::InputResize});
    const int S = static_cast<int>(s.shape[0]);
    Picture p = Picture::blank(S, S);
    for (size_t i = 0; i < p.rgb.size(); i++) p.rgb[i] = static_cast<uint8_t>(std::clamp(std::lround(s.values[i]), 0L, 255L));
    return enlarge(p, enlarge_factor(S));
}

// ---------------------------------------------------------------- ViT

void global_pictures(const ModelConfig& cfg, const Trace& t, const AttentionPictureOptions& o, AttentionPictures& out) {
    const std::vector<AttentionLayer> layers = cfg.attention_layers();
    const int L = o.layer.value_or(static_cast<int>(layers.size()) - 1);
    const AttentionLayer& layer = layers[L];
    const int g = layer.grid, heads = layer.heads, S = cfg.image_size();
    const Picture base = input_picture(t);
    out.pictures.push_back({"input.png", "the input as the model saw it (" + str(S) + "x" + str(S) + "), enlarged",
                            figure("the input, " + str(S) + "x" + str(S) + ", as the model saw it", base)});

    // timm: blocks.L.attn.softmax [heads, N_q, N_k]; the prefix tokens (cls, ...) come first
    const Step& attn = need(t, layer.scope(Role::Softmax));
    const int64_t N = attn.shape.back(), P = N - (int64_t)g * g;
    // The query: the patch asked for; else the cls token (the first prefix
    // token); else, with no prefix token, the centre patch.
    const bool patch_query = o.query.size() == 2 || P == 0;
    const int qr = o.query.size() == 2 ? o.query[0] : g / 2, qc = o.query.size() == 2 ? o.query[1] : g / 2;
    const int64_t q = patch_query ? P + (int64_t)qr * g + qc : 0;
    const std::string who = patch_query ? "patch (" + str(qr) + ", " + str(qc) + ")" : "the cls token";
    const std::string who_short = patch_query ? "(" + str(qr) + ", " + str(qc) + ")" : "cls";
    std::vector<bool> query_cell((size_t)g * g, false);
    if (patch_query) query_cell[(size_t)qr * g + qc] = true;
    auto row_of = [&](int h) { return &attn.values[((size_t)h * N + q) * N + P]; };  // attn[h, q, P:], the patches

    const std::string tag = "layer" + str(L);
    float lo = INFINITY, hi = -INFINITY;
    for (int h = 0; h < heads; h++) {
        const float* r = row_of(h);
        const auto [a, b] = std::minmax_element(r, r + (size_t)g * g);
        lo = std::min(lo, *a);
        hi = std::max(hi, *b);
    }
    const ColourScale shared = ColourScale::of(lo, hi);
    std::vector<Picture> tiles;
    for (int h = 0; h < heads; h++) {
        const float* r = row_of(h);
        Picture own = overlay(base, r, g, g, range_of(r, (size_t)g * g));
        Picture same = overlay(base, r, g, g, shared);
        if (patch_query) {
            outline_cells(own, query_cell, g, g, kQueryColour);
            outline_cells(same, query_cell, g, g, kQueryColour);
        }
        tiles.push_back(labelled(same, "head " + str(h), text_scale(std::min(4, heads) * same.width)));
        if (o.head && *o.head != h) continue;
        const Picture key = legend(range_of(r, (size_t)g * g), own.width, "weight of each key patch for query " + who_short,
                                   text_scale(own.width));
        const std::string query_part = patch_query ? ("query " + who + " (outlined)") : "the cls token's attention";
        out.pictures.push_back(
            {"vit_" + std::string(patch_query ? "query" : "cls") + "_attention_" + tag + "_head" + str(h) + ".png",
             "layer " + str(L) + ", head " + str(h) + ": " +
                 (patch_query ? "the attention of " + who : std::string("the cls token's attention")) +
                 " to each patch, over the input (bright = more)",
             figure("block " + str(L) + ", head " + str(h) + ": " + query_part, own, &key)});
    }
    const Picture grid = tile(tiles, std::min(4, heads), kGap);
    const Picture key = legend(shared, std::min(grid.width, 2 * kDisplay), "attention weight, one scale for every head", text_scale(grid.width));
    out.pictures.push_back({"vit_heads_" + tag + ".png",
                            "layer " + str(L) + ": all " + str(heads) + " heads' " +
                                (patch_query ? "attention of " + who : std::string("cls attention")) +
                                ", head 0 first, left to right",
                            figure("block " + str(L) + ": every head, query " + who_short, grid, &key)});

    std::vector<Tensor> softmax;
    for (const AttentionLayer& l : layers) {
        const Step& s = need(t, l.scope(Role::Softmax));
        softmax.push_back(Tensor::from(s.shape, s.values));
    }
    for (HeadFusion f : {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min}) {
        Tensor r;
        attention_rollout(r, softmax, f);
        const float* row = &r[q * N + P];
        Picture p = overlay(base, row, g, g, range_of(row, (size_t)g * g));
        if (patch_query) outline_cells(p, query_cell, g, g, kQueryColour);
        const Picture k = legend(range_of(row, (size_t)g * g), p.width, "share drawn from each patch", text_scale(p.width));
        out.pictures.push_back(
            {std::string("vit_rollout_") + head_fusion_name(f) + ".png",
             std::string("attention rollout through all ") + str(layers.size()) + " layers, heads fused by " +
                 head_fusion_name(f) + ": what " + who + " draws from each patch",
             figure(std::string("rollout, ") + str(layers.size()) + " blocks, heads fused by " + head_fusion_name(f), p, &k)});
    }
}

// ---------------------------------------------------------------- Swin

// Grid cell (y, x) of the H×W grid sits at (y - shift, x - shift) mod H, W
// after the cyclic shift: its window there and its token in that window.
struct WindowPlace {
    int window, token;
};
WindowPlace place(int y, int x, int H, int W, int M, int shift) {
    const int ys = ((y - shift) % H + H) % H, xs = ((x - shift) % W + W) % W;
    return {(ys / M) * (W / M) + xs / M, (ys % M) * M + xs % M};
}

// The attention of the query at grid cell (r, c) over the H×W grid: its
// window's tokens get their weights, every other cell 0.
std::vector<float> query_map(const Step& attn, int H, int W, int M, int shift, int r, int c, std::optional<int> head) {
    const int heads = static_cast<int>(attn.shape[1]), T = M * M;
    const WindowPlace qp = place(r, c, H, W, M, shift);
    std::vector<float> map((size_t)H * W, 0.0f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const WindowPlace k = place(y, x, H, W, M, shift);
            if (k.window != qp.window) continue;
            float a = 0;
            for (int h = 0; h < heads; h++)
                if (!head || *head == h) a += attn.values[(((size_t)qp.window * heads + h) * T + qp.token) * T + k.token];
            map[(size_t)y * W + x] = head ? a : a / heads;
        }
    return map;
}

// The cells of the query's window (after the shift, put back on the grid).
std::vector<bool> window_cells(int H, int W, int M, int shift, int r, int c) {
    const int w = place(r, c, H, W, M, shift).window;
    std::vector<bool> in((size_t)H * W);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) in[(size_t)y * W + x] = place(y, x, H, W, M, shift).window == w;
    return in;
}

void windowed_pictures(const ModelConfig& cfg, const Trace& t, const AttentionPictureOptions& o, AttentionPictures& out) {
    const int s = o.layer.value_or(0);
    const AttentionLayer layer = cfg.attention_layers()[s];
    const int H = layer.grid, M = layer.window, shift = layer.shift, heads = layer.heads, T = M * M;
    const int r = o.query.size() == 2 ? o.query[0] : H / 2, c = o.query.size() == 2 ? o.query[1] : H / 2;
    StepScope block0 = layer.scope, block1 = layer.scope;
    block1.block = 1;
    const std::string whose = o.head ? "head " + str(*o.head) : "mean of the heads";
    const std::string who = whose + ", query token (" + str(r) + ", " + str(c) + ") of the " + str(H) + "x" + str(H) + " grid";
    const std::string tag = "stage" + str(s);
    std::vector<bool> query_cell((size_t)H * H, false);
    query_cell[(size_t)r * H + c] = true;

    const Picture base = input_picture(t);
    out.pictures.push_back({"input.png", "the input as the model saw it, enlarged",
                            figure("the input, " + str(cfg.image_size()) + "x" + str(cfg.image_size()) + ", as the model saw it", base)});

    // One query's attention in a block: the map, the window grid, the window and the query outlined.
    auto query_picture = [&](const StepScope& block, int sh) {
        const std::vector<float> map = query_map(need(t, block(Role::Softmax)), H, H, M, sh, r, c, o.head);
        const std::vector<bool> win = window_cells(H, H, M, sh, r, c);
        float hi = 0;
        for (size_t i = 0; i < map.size(); i++)
            if (win[i]) hi = std::max(hi, map[i]);
        const ColourScale colours = ColourScale::of(0.0f, hi);
        Picture p = overlay(base, map.data(), H, H, colours);
        grid_lines(p, H, H, M, sh, kGridColour);
        outline_cells(p, win, H, H, kWindowColour, 3);
        outline_cells(p, query_cell, H, H, kQueryColour, 3);
        const Picture key = legend(colours, p.width, "weight; orange: query, blue: its window", text_scale(p.width));
        return std::pair{p, key};
    };
    {
        const auto [p, key] = query_picture(block0, 0);
        out.pictures.push_back({"swin_query_" + tag + "_regular.png",
                                "stage " + str(s) + ", block 0 (regular windows of " + str(M) + "x" + str(M) + "), " + who +
                                    ": attention within its window",
                                figure("stage " + str(s) + ", block 0: regular " + str(M) + "x" + str(M) + " windows", p, &key)});
    }
    if (shift > 0 && layer.blocks > 1) {
        const auto [p, key] = query_picture(block1, shift);
        out.pictures.push_back({"swin_query_" + tag + "_shifted.png",
                                "stage " + str(s) + ", block 1 (windows shifted by " + str(shift) + "), " + who +
                                    ": its window now spans the regular windows' borders",
                                figure("stage " + str(s) + ", block 1: windows shifted by " + str(shift), p, &key)});
        const Step& mask = need(t, block1(Role::Mask));  // [windows, T_q, T_k]
        const int nWx = H / M, f = enlarge_factor(T * nWx);
        std::vector<Picture> windows;
        const ColourScale colours = ColourScale::of(-100.0f, 0.0f);
        for (int w = 0; w < nWx * nWx; w++) {
            Picture m = heat_map(&mask.values[(size_t)w * T * T], T, T, colours, f);
            const int scale = text_scale(nWx * m.width);
            const std::string label = text_width("window " + str(w), scale) <= m.width ? "window " + str(w) : str(w);
            windows.push_back(labelled(m, label, scale));
        }
        const Picture grid = tile(windows, nWx, kGap);
        const Picture mask_key = legend(colours, grid.width, "0: may attend; -100: masked", text_scale(grid.width));
        out.pictures.push_back({"swin_mask_" + tag + ".png",
                                "stage " + str(s) + ": the shifted-window mask, one square per window in grid order; bright = "
                                "may attend (0), dark = masked (-100)",
                                figure("stage " + str(s) + ": mask per window [T_q, T_k]", grid, &mask_key)});
    } else {
        out.notes.push_back("stage " + str(s) + " does not shift: its " + str(H) + "x" + str(H) +
                            " grid is a single window, so there is no shifted block or mask");
    }

    const int h = o.head.value_or(0), f = enlarge_factor(T);
    const Step& index = need(t, block0(Role::PositionIndex));  // [T_q, T_k]
    {
        const ColourScale colours{ColourMap::Sequential, 0.0f, (float)((2 * M - 1) * (2 * M - 1) - 1)};
        Picture p = heat_map(index.values.data(), T, T, colours, f);
        grid_lines(p, T, T, M, 0, kGridColour);
        const Picture key = legend(colours, p.width, "row of the bias table", text_scale(p.width));
        out.pictures.push_back({"swin_relative_position_index_" + tag + ".png",
                                "stage " + str(s) + ": the relative position index [" + str(T) + ", " + str(T) +
                                    "], dark = 0 to bright = " + str((2 * M - 1) * (2 * M - 1) - 1),
                                figure("stage " + str(s) + ": position index [T_q, T_k]", p, &key)});
    }
    const Step& bias = need(t, block0(Role::PositionBias));  // [heads, T_q, T_k]
    {
        const float* b = &bias.values[(size_t)h * T * T];
        const ColourScale colours = range_of(b, (size_t)T * T);
        Picture p = heat_map(b, T, T, colours, f);
        grid_lines(p, T, T, M, 0, kGridColour);
        const Picture key = legend(colours, p.width, "bias added to the score", text_scale(p.width));
        out.pictures.push_back({"swin_relative_position_bias_" + tag + "_head" + str(h) + ".png",
                                "stage " + str(s) + ", block 0, head " + str(h) +
                                    ": the learned bias added to each query-key pair of a window (colour bar below)",
                                figure("stage " + str(s) + ", head " + str(h) + ": bias [T_q, T_k]", p, &key)});
    }
    const Step& table = need(t, block0(Role::BiasTable));  // [(2M-1)², heads]
    {
        const int side = 2 * M - 1;
        std::vector<float> by_offset((size_t)side * side);
        for (int i = 0; i < side * side; i++) by_offset[i] = table.values[(size_t)i * heads + h];
        const ColourScale colours = range_of(by_offset.data(), by_offset.size());
        Picture p = heat_map(by_offset.data(), side, side, colours, enlarge_factor(side));
        std::vector<bool> centre((size_t)side * side, false);
        centre[(size_t)(M - 1) * side + (M - 1)] = true;
        outline_cells(p, centre, side, side, kQueryColour, 2);
        const Picture key = legend(colours, p.width, "bias; orange: offset (0, 0)", text_scale(p.width));
        out.pictures.push_back({"swin_bias_table_" + tag + "_head" + str(h) + ".png",
                                "stage " + str(s) + ", block 0, head " + str(h) + ": the bias table as a " + str(side) + "x" +
                                    str(side) + " map of offsets (dy, dx), the centre (outlined) is (0, 0)",
                                figure("stage " + str(s) + ", head " + str(h) + ": bias table by (dy, dx)", p, &key)});
    }
}

}  // namespace

std::vector<Role> attention_picture_roles() {
    return {Role::InputResize, Role::Softmax, Role::Mask, Role::BiasTable, Role::PositionIndex, Role::PositionBias};
}

void check_attention_picture_options(const ModelConfig& cfg, const AttentionPictureOptions& o) {
    auto fail = [](const std::string& m) { throw Error(ErrorKind::Usage, m); };
    const std::vector<AttentionLayer> layers = cfg.attention_layers();
    const std::string& word = cfg.family->layer_word;
    const int n = static_cast<int>(layers.size());
    if (o.layer && (*o.layer < 0 || *o.layer >= n)) fail("--layer: " + cfg.name + " has " + word + "s 0 to " + str(n - 1));
    const bool global = cfg.family->reach == AttentionReach::Global;
    const int l = o.layer.value_or(global ? n - 1 : 0);
    const int heads = layers[l].heads;
    const bool same_heads = std::all_of(layers.begin(), layers.end(), [&](const AttentionLayer& x) { return x.heads == heads; });
    if (o.head && (*o.head < 0 || *o.head >= heads))
        fail("--head: " + cfg.name + " has heads 0 to " + str(heads - 1) + (same_heads ? "" : " at " + word + " " + str(l)));
    if (!o.query.empty()) {
        if (o.query.size() != 2) fail("--query: expected ROW,COL, got " + str(o.query.size()) + " numbers");
        const int H = layers[l].grid;
        for (int q : o.query)
            if (q < 0 || q >= H)
                fail("--query: " + word + " " + str(l) + "'s grid is " + str(H) + "x" + str(H) + "; rows and columns 0 to " +
                     str(H - 1));
    }
}

AttentionPictures attention_pictures(const ModelConfig& cfg, const Trace& trace, const AttentionPictureOptions& o) {
    check_attention_picture_options(cfg, o);
    AttentionPictures out;
    if (cfg.family->reach == AttentionReach::Global)
        global_pictures(cfg, trace, o, out);
    else
        windowed_pictures(cfg, trace, o, out);
    return out;
}

}  // namespace vitrace
