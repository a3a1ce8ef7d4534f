// vitrace attention: pictures of where the attention goes.
//
// ViT: the cls token's attention per head over the image, all heads of a
// layer in one grid, and attention rollout through all layers.
// Swin: one query token's attention inside its window in a regular and in a
// shifted block, the shifted-window mask, the relative position index and a
// head's learned relative position bias.
#include <cmath>
#include <filesystem>

#include "cli/commands.h"
#include "core/rollout.h"
#include "io/picture.h"

namespace vitrace::cli {

namespace {

// The picture side we aim for: small models' 64x64 inputs are enlarged to it.
constexpr int kDisplay = 256;

int enlarge_factor(int side) { return std::max(1, (kDisplay + side - 1) / side); }

// Writes each picture into the output directory and prints its line.
class PictureWriter {
public:
    explicit PictureWriter(const std::string& dir) : dir_(dir) {}
    void write(const std::string& name, const Picture& p, const std::string& legend) {
        const std::string path = (std::filesystem::path(dir_) / name).string();
        write_png(path, p);
        std::printf("%s  %s\n", path.c_str(), legend.c_str());
    }

private:
    std::string dir_;
};

const Step& need(const Trace& t, const StepAt& at) {
    const Step* s = t.find(at);
    if (!s) throw Error(ErrorKind::Internal, "attention: no step " + step_name(at));
    return *s;
}

Tensor values_of(const Step& s) { return Tensor::from(s.shape, s.values); }

// The model's input as it saw it (input.resize, [S, S, 3]), enlarged for display.
Picture input_picture(const Trace& t) {
    const Step& s = need(t, {Role::InputResize});
    const int S = static_cast<int>(s.shape[0]);
    Picture p = Picture::blank(S, S);
    for (size_t i = 0; i < p.rgb.size(); i++) p.rgb[i] = static_cast<uint8_t>(std::lround(s.values[i]));
    return enlarge(p, enlarge_factor(S));
}

// Global attention (ViT): the cls token's attention per head, all heads of a
// layer, and the rollout through every layer.
void global_pictures(const ModelConfig& cfg, const Trace& t, const AttentionCommand& o, PictureWriter& w) {
    const std::vector<AttentionLayer> layers = cfg.attention_layers();
    const int L = o.layer.value_or(static_cast<int>(layers.size()) - 1);
    const AttentionLayer& layer = layers[L];
    const int g = layer.grid, heads = layer.heads, S = cfg.image_size();
    const Picture base = input_picture(t);
    w.write("input.png", base, "the input as the model saw it (" + std::to_string(S) + "x" + std::to_string(S) +
                                   "), enlarged");

    // timm: blocks.L.attn.softmax [heads, N_q, N_k]; row 0 is the cls token's query
    const Step& attn = need(t, layer.scope(Role::Softmax));
    const int64_t N = attn.shape.back();
    std::vector<Picture> pictures;
    for (int h = 0; h < heads; h++) {
        const float* cls_row = &attn.values[(size_t)h * N * N + 1];  // attn[h, 0, 1:], the patches only
        pictures.push_back(overlay(base, cls_row, g, g));
        if (!o.head || *o.head == h)
            w.write("vit_cls_attention_layer" + std::to_string(L) + "_head" + std::to_string(h) + ".png",
                    pictures.back(),
                    "layer " + std::to_string(L) + ", head " + std::to_string(h) +
                        ": the cls token's attention to each patch, over the input (bright = more)");
    }
    w.write("vit_heads_layer" + std::to_string(L) + ".png", tile(pictures, std::min(4, heads), 4),
            "layer " + std::to_string(L) + ": all " + std::to_string(heads) +
                " heads' cls attention, head 0 first, left to right");

    std::vector<Tensor> softmax;
    for (const AttentionLayer& l : layers) softmax.push_back(values_of(need(t, l.scope(Role::Softmax))));
    for (HeadFusion f : {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min}) {
        Tensor r;
        attention_rollout(r, softmax, f);
        w.write(std::string("vit_rollout_") + head_fusion_name(f) + ".png", overlay(base, &r[1], g, g),
                std::string("attention rollout through all ") + std::to_string(layers.size()) +
                    " layers, heads fused by " + head_fusion_name(f) + ": what the cls token draws from each patch");
    }
}

// The attention of the query at grid position (r, c) over the grid [H, W]: its
// window's tokens get their weights, every other token 0. In a shifted block
// the window lives on the rolled grid; its tokens are put back where they
// came from.
std::vector<float> query_map(const Step& attn, int H, int W, int M, int shift, int r, int c, std::optional<int> head) {
    const int heads = static_cast<int>(attn.shape[1]), T = M * M, nWx = W / M;
    const int rs = ((r - shift) % H + H) % H, cs = ((c - shift) % W + W) % W;  // position after torch.roll(-shift)
    const int win = (rs / M) * nWx + cs / M, t = (rs % M) * M + cs % M;
    std::vector<float> map((size_t)H * W, 0.0f);
    for (int u = 0; u < T; u++) {
        float a = 0;
        for (int h = 0; h < heads; h++)
            if (!head || *head == h) a += attn.values[(((size_t)win * heads + h) * T + t) * T + u];
        if (!head) a /= heads;
        const int y = ((win / nWx) * M + u / M + shift) % H, x = ((win % nWx) * M + u % M + shift) % W;
        map[(size_t)y * W + x] = a;
    }
    return map;
}

// Windowed attention (Swin): a query's attention in a regular and in a
// shifted block of one stage, the mask, the relative position index and bias.
void windowed_pictures(const ModelConfig& cfg, const Trace& t, const AttentionCommand& o, PictureWriter& w) {
    const int s = o.layer.value_or(0);
    const AttentionLayer layer = cfg.attention_layers()[s];
    const int H = layer.grid, M = layer.window, shift = layer.shift, heads = layer.heads;
    const int r = o.query.empty() ? H / 2 : o.query[0], c = o.query.empty() ? H / 2 : o.query[1];
    StepScope block0 = layer.scope, block1 = layer.scope;
    block1.block = 1;
    const std::string who = (o.head ? "head " + std::to_string(*o.head) : "mean of the heads") + ", query token (" +
                            std::to_string(r) + ", " + std::to_string(c) + ") of the " + std::to_string(H) + "x" +
                            std::to_string(H) + " grid";
    const std::string tag = "stage" + std::to_string(s);

    const Picture base = input_picture(t);
    w.write("input.png", base, "the input as the model saw it, enlarged");
    const auto regular = query_map(need(t, block0(Role::Softmax)), H, H, M, 0, r, c, o.head);
    w.write("swin_query_" + tag + "_regular.png", overlay(base, regular.data(), H, H),
            "stage " + std::to_string(s) + ", block 0 (regular windows of " + std::to_string(M) + "x" +
                std::to_string(M) + "), " + who + ": attention within its window");
    if (shift > 0 && layer.blocks > 1) {
        const auto shifted = query_map(need(t, block1(Role::Softmax)), H, H, M, shift, r, c, o.head);
        w.write("swin_query_" + tag + "_shifted.png", overlay(base, shifted.data(), H, H),
                "stage " + std::to_string(s) + ", block 1 (windows shifted by " + std::to_string(shift) + "), " + who +
                    ": its window now spans the regular windows' borders");
        const Step& mask = need(t, block1(Role::Mask));  // [nW, T_q, T_k]
        const int T = M * M, nWx = H / M;
        std::vector<Picture> windows;
        for (int win = 0; win < nWx * nWx; win++)
            windows.push_back(heat_map(&mask.values[(size_t)win * T * T], T, T, -100.0f, 0.0f, enlarge_factor(T * nWx) ));
        w.write("swin_mask_" + tag + ".png", tile(windows, nWx, 2),
                "stage " + std::to_string(s) + ": the shifted-window mask, one square per window in grid order; bright = "
                "may attend (0), dark = masked (-100)");
    } else {
        std::printf("(stage %d does not shift: its %dx%d grid is a single window, so there is no shifted block or mask)\n", s,
                    H, H);
    }

    const int T = M * M, h = o.head.value_or(0);
    const Step& index = need(t, block0(Role::PositionIndex));
    w.write("swin_relative_position_index_" + tag + ".png",
            heat_map(index.values.data(), T, T, 0.0f, (float)((2 * M - 1) * (2 * M - 1) - 1), enlarge_factor(T)),
            "stage " + std::to_string(s) + ": the relative position index [" + std::to_string(T) + ", " + std::to_string(T) +
                "], dark = 0 to bright = " + std::to_string((2 * M - 1) * (2 * M - 1) - 1));
    const Step& bias = need(t, block0(Role::PositionBias));  // [heads, T_q, T_k]
    const float* b = &bias.values[(size_t)h * T * T];
    const auto [lo, hi] = std::minmax_element(b, b + T * T);
    w.write("swin_relative_position_bias_" + tag + "_head" + std::to_string(h) + ".png",
            heat_map(b, T, T, *lo, *hi, enlarge_factor(T)),
            "stage " + std::to_string(s) + ", block 0, head " + std::to_string(h) +
                ": the learned bias added to each query-key pair of a window (dark = low, bright = high)");
    const Step& table = need(t, block0(Role::BiasTable));  // [(2M-1)², heads]
    const int side = 2 * M - 1;
    std::vector<float> by_offset((size_t)side * side);
    for (int i = 0; i < side * side; i++) by_offset[i] = table.values[(size_t)i * heads + h];
    const auto [tlo, thi] = std::minmax_element(by_offset.begin(), by_offset.end());
    w.write("swin_bias_table_" + tag + "_head" + std::to_string(h) + ".png",
            heat_map(by_offset.data(), side, side, *tlo, *thi, enlarge_factor(side)),
            "stage " + std::to_string(s) + ", block 0, head " + std::to_string(h) + ": the bias table as a " +
                std::to_string(side) + "x" + std::to_string(side) + " map of offsets (dy, dx), the centre is (0, 0)");
}

// The flags that depend on the model, checked before any work is done.
void check_flags(const ModelConfig& cfg, const AttentionCommand& o) {
    auto fail = [](const std::string& m) { throw Error(ErrorKind::Usage, m); };
    const std::vector<AttentionLayer> layers = cfg.attention_layers();
    const std::string& word = cfg.family->layer_word;
    const int n = static_cast<int>(layers.size());
    if (o.layer && (*o.layer < 0 || *o.layer >= n))
        fail("--layer: " + cfg.name + " has " + word + "s 0 to " + std::to_string(n - 1));
    const int l = o.layer.value_or(0);
    const int heads = layers[l].heads;
    const bool same_heads = std::all_of(layers.begin(), layers.end(), [&](const AttentionLayer& x) { return x.heads == heads; });
    if (o.head && (*o.head < 0 || *o.head >= heads))
        fail("--head: " + cfg.name + " has heads 0 to " + std::to_string(heads - 1) +
             (same_heads ? "" : " at " + word + " " + std::to_string(l)));
    if (!o.query.empty()) {
        if (cfg.family->reach == AttentionReach::Global)
            fail("--query: only for Swin models; a ViT's pictures show the cls token");
        if (o.query.size() != 2) fail("--query: expected ROW,COL, got " + std::to_string(o.query.size()) + " numbers");
        const int H = layers[l].grid;
        for (int q : o.query)
            if (q < 0 || q >= H)
                fail("--query: " + word + " " + std::to_string(l) + "'s grid is " + std::to_string(H) + "x" +
                     std::to_string(H) + "; rows and columns 0 to " + std::to_string(H - 1));
    }
}

}  // namespace

CLI::App* setup_attention(CLI::App& app, AttentionCommand& o) {
    CLI::App* cmd = app.add_subcommand("attention", "Write pictures of where the attention goes, as PNG files");
    add_model_options(*cmd, o.model, "vit_shapes");
    add_weight_options(*cmd, o.weights);
    add_norm_options(*cmd, o.norm);
    add_memory_options(*cmd, o.memory);
    cmd->add_option("--image", o.image, "PNG or JPEG image")->required();
    cmd->add_option("--out", o.out, "Directory for the pictures (created if missing)")->required();
    cmd->add_option("--layer", o.layer, "ViT block (default: the last) or Swin stage (default: 0)");
    cmd->add_option("--head", o.head, "Only this head (ViT), or this head instead of the mean (Swin)");
    cmd->add_option("--query", o.query, "Swin: the query token's ROW,COL in the stage's grid (default: the centre)")
        ->delimiter(',');
    return cmd;
}

int run_attention(const AttentionCommand& o) {
    const ModelConfig cfg = resolve_config(o.model, &o.weights);
    const Normalization norm = normalization(o.norm, o.weights);
    check_flags(cfg, o);
    TraceOptions topts;
    topts.values = ValuesMode::None;
    topts.full_roles = {Role::InputResize, Role::Softmax,      Role::Mask,
                        Role::BiasTable,   Role::PositionIndex, Role::PositionBias};
    check_memory(cfg, topts, o.memory);
    const LoadedModel lm = load_model(cfg, o.weights);
    const ImageRun run = run_on_image(lm, o.image, norm, topts);
    if (!lm.weights.trained)
        print_warning(cfg.name + " is untrained (seeded random weights): its attention shows no learned pattern");
    if (!run.top.empty())
        std::printf("%s predicts %s (%.4f)\n", cfg.name.c_str(),
                    run.top[0].label.empty() ? ("class " + std::to_string(run.top[0].index)).c_str()
                                             : run.top[0].label.c_str(),
                    run.top[0].score);
    // The directory is made only after the model has run, so a failed run leaves nothing behind.
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (!std::filesystem::is_directory(o.out))
        throw Error(ErrorKind::Output, "output '" + o.out + "': cannot create the directory" +
                                           (ec ? " (" + ec.message() + ")" : std::string()));
    PictureWriter w(o.out);
    if (cfg.family->reach == AttentionReach::Global)
        global_pictures(cfg, run.trace, o, w);
    else
        windowed_pictures(cfg, run.trace, o, w);
    return 0;
}

}  // namespace vitrace::cli
