#include "core/swin.h"

#include <cmath>
#include <tuple>

#include "core/activation.h"
#include "core/attention.h"
#include "core/patch.h"
#include "core/tokens.h"
#include "core/window.h"

namespace vitrace {

void validate(const SwinConfig& cfg) {
    auto require = [](bool ok, const std::string& message) { vitrace::require(ok, ErrorKind::Config, message); };
    const auto str = [](auto v) { return std::to_string(v); };
    require(cfg.heads.size() == cfg.depths.size(), "heads must list one number per stage: " +
                                                       str(cfg.depths.size()) + " stages, " + str(cfg.heads.size()) +
                                                       " heads");
    require((int64_t)cfg.embed_dim << (cfg.stages() - 1) <= 65536,
            "channels are beyond vitrace's limit of 65536 at the last stage");
    require(cfg.image_size % cfg.patch == 0, "image size " + str(cfg.image_size) + " is not divisible by patch size " +
                                                 str(cfg.patch));
    int grid = cfg.image_size / cfg.patch;
    for (int s = 0; s < cfg.stages(); s++) {
        const std::string stage = "stage " + str(s) + " (layers." + str(s) + ")";
        if (s > 0) {
            require(grid % 2 == 0, "image size " + str(cfg.image_size) + ": " + stage + "'s patch merging halves the " +
                                       str(grid) + "x" + str(grid) + " grid of stage " + str(s - 1) + ", which is odd");
            grid /= 2;
        }
        const int M = cfg.window_at(s);
        require(grid % M == 0, "image size " + str(cfg.image_size) + ": " + stage + "'s " + str(grid) + "x" +
                                   str(grid) + " grid is not divisible by window " + str(M));
        require(cfg.channels(s) % cfg.heads[s] == 0, stage + ": heads " + str(cfg.heads[s]) +
                                                         " do not divide its " + str(cfg.channels(s)) + " channels");
        require(static_cast<int>(cfg.channels(s) * cfg.mlp_ratio) > 0, stage + ": mlp ratio gives no hidden units");
    }
}

SwinWeights make_swin_weights(const SwinConfig& cfg) {
    const int64_t P = cfg.patch;
    SwinWeights w;
    w.patch_embed = {Tensor::shape_only({cfg.embed_dim, 3, P, P}), Tensor::shape_only({cfg.embed_dim})};
    w.patch_norm = layernorm_shape(cfg.embed_dim, cfg.norm_eps);
    w.layers.resize(cfg.stages());
    for (int s = 0; s < cfg.stages(); s++) {
        const int64_t C = cfg.channels(s), M = cfg.window_at(s);
        const int64_t hidden = static_cast<int64_t>(C * cfg.mlp_ratio);
        SwinStage& st = w.layers[s];
        if (s > 0) st.downsample = {layernorm_shape(2 * C, cfg.norm_eps), linear_shape(C, 2 * C, false)};
        st.blocks.resize(cfg.depths[s]);
        for (SwinBlock& b : st.blocks) {
            b.norm1 = layernorm_shape(C, cfg.norm_eps);
            b.qkv = linear_shape(3 * C, C);
            b.relative_position_bias_table = Tensor::shape_only({(2 * M - 1) * (2 * M - 1), cfg.heads[s]});
            b.proj = linear_shape(C, C);
            b.norm2 = layernorm_shape(C, cfg.norm_eps);
            b.fc1 = linear_shape(hidden, C);
            b.fc2 = linear_shape(C, hidden);
        }
    }
    w.norm = layernorm_shape(cfg.features(), cfg.norm_eps);
    w.head = linear_shape(cfg.classes, cfg.features());
    return w;
}

void swin_block(Tensor& x, const SwinBlock& blk, const SwinConfig& cfg, int s, int b, SwinBuffers& t, Trace& trace) {
    const int H = static_cast<int>(x.dim(0)), W = static_cast<int>(x.dim(1));
    const int M = cfg.window_at(s), shift = b % 2 == 1 ? cfg.shift_at(s) : 0;
    const StepScope at{.stage = s, .block = b, .window = M, .shift = shift};

    // timm: x = x + self._attn(self.norm1(x))
    layernorm(t.xn, x, blk.norm1);
    trace.record(at(Role::Norm1), "layernorm", t.xn, {"H", "W", "C"});
    // The shifted copy goes into t.branch, which is free until the attention's
    // output; the windows merged back go into t.xn, free once they are cut.
    const Tensor* source = &t.xn;
    if (shift > 0) {  // cyclic shift
        cyclic_shift(t.branch, t.xn, -shift);
        trace.record(at(Role::CyclicShift), "cyclic_shift", t.branch, {"H", "W", "C"});
        source = &t.branch;
    }
    window_partition(t.windows, *source, M);  // partition windows
    trace.record(at(Role::WindowPartition), "window_partition", t.windows, {"windows", "T", "C"});

    // W-MSA / SW-MSA. timm: WindowAttention.forward
    const WindowAttention window{&blk.relative_position_bias_table, H, W, M, shift};
    multi_head_attention(t.branch, t.windows, blk.qkv, blk.proj, cfg.heads[s], &window, {{"windows"}, "T"},
                         at, t.attn, trace);

    window_reverse(t.xn, t.branch, H, W);  // merge windows
    trace.record(at(Role::WindowReverse), "window_reverse", t.xn, {"H", "W", "C"});
    const Tensor* attn_out = &t.xn;
    if (shift > 0) {  // reverse cyclic shift
        cyclic_shift(t.branch, t.xn, shift);
        trace.record(at(Role::ReverseShift), "cyclic_shift", t.branch, {"H", "W", "C"});
        attn_out = &t.branch;
    }
    add(x, x, *attn_out);
    trace.record(at(Role::Residual1), "add", x, {"H", "W", "C"});

    // timm: x = x + self.mlp(self.norm2(x))
    layernorm(t.xn, x, blk.norm2);
    trace.record(at(Role::Norm2), "layernorm", t.xn, {"H", "W", "C"});
    linear(t.hidden, t.xn, blk.fc1);
    trace.record(at(Role::Fc1), "linear", t.hidden, {"H", "W", "hidden"});
    gelu(t.hidden, t.hidden);
    trace.record(at(Role::Act), "gelu", t.hidden, {"H", "W", "hidden"});
    linear(t.branch, t.hidden, blk.fc2);
    trace.record(at(Role::Fc2), "linear", t.branch, {"H", "W", "C"});
    add(x, x, t.branch);
    trace.record(at(Role::Residual2), "add", x, {"H", "W", "C"});
}

ModelOutput swin_forward(const SwinConfig& cfg, const SwinWeights& w, const Tensor& image, Trace& trace,
                         Workspace& workspace) {
    const int64_t grid = cfg.resolution(0);
    const StepScope top;
    SwinBuffers& buffers = workspace.as<SwinBuffers>();

    // timm: x = self.patch_embed(x), the Conv2d as patchify + linear, channels last
    Tensor& patches = buffers.hidden;  // [H·W, 3·P·P], in the MLP's buffer, which is free until the first block
    patchify(patches, image, cfg.patch);
    trace.record(top(Role::Patchify), "patchify", patches, {"n", "patch_dim"});
    Tensor& x = buffers.x;  // [H, W, C], the residual stream
    linear(x, patches, w.patch_embed);
    x.shape = {grid, grid, cfg.embed_dim};
    trace.record(top(Role::PatchProj), "linear", x, {"H", "W", "C"});
    layernorm(x, x, w.patch_norm);
    trace.record(top(Role::PatchNorm), "layernorm", x, {"H", "W", "C"});

    Tensor& merged = buffers.hidden;  // [H/2, W/2, 4C], in the MLP's buffer, free between stages
    for (int s = 0; s < cfg.stages(); s++) {
        const SwinStage& st = w.layers[s];
        if (s > 0) {
            // timm: x = self.downsample(x), patch merging
            const StepScope at{.stage = s};
            patch_merge(merged, x);
            trace.record(at(Role::Merge), "patch_merge", merged, {"H", "W", "4C"});
            layernorm(merged, merged, st.downsample.norm);
            trace.record(at(Role::MergeNorm), "layernorm", merged, {"H", "W", "4C"});
            linear(x, merged, st.downsample.reduction);
            trace.record(at(Role::Reduction), "linear", x, {"H", "W", "C"});
        }
        // timm: x = self.blocks(x)
        for (int b = 0; b < cfg.depths[s]; b++) swin_block(x, st.blocks[b], cfg, s, b, buffers, trace);
    }

    // timm: x = self.norm(x); x = self.head.global_pool(x); x = self.head.fc(x)
    layernorm(x, x, w.norm);
    trace.record(top(Role::Norm), "layernorm", x, {"H", "W", "C"});
    ModelOutput out;
    pool_mean(out.features, x, 0);  // [C]
    trace.record(top(Role::GlobalPool), "pool_mean", out.features, {"C"});
    if (cfg.classes > 0) {
        linear(out.logits, out.features, w.head);  // [classes]
        trace.record(top(Role::HeadFc), "linear", out.logits, {"classes"});
    }
    return out;
}

namespace {

// --depths and --heads: one positive number per stage.
ConfigField stage_list_field(std::vector<int> SwinConfig::*member, std::string json, std::string flag, std::string help,
                             std::string label, int max) {
    return {json, std::move(flag), std::move(help), FlagKind::Ints,
            [=](std::any& cfg, const FlagValue& v) {
                const auto str = [](auto x) { return std::to_string(x); };
                require(!v.ints.empty() && v.ints.size() <= 8, ErrorKind::Config,
                        label + " must list 1 to 8 stages, got " + str(v.ints.size()));
                for (size_t s = 0; s < v.ints.size(); s++)
                    require(v.ints[s] > 0 && v.ints[s] <= max, ErrorKind::Config,
                            "stage " + str(s) + " (layers." + str(s) + "): " + label + " must be 1 to " + str(max) +
                                ", got " + str(v.ints[s]));
                config_as<SwinConfig>(cfg).*member = v.ints;
            },
            [=](const std::any& cfg) { return ConfigValue{config_as<SwinConfig>(cfg).*member}; }};
}

ConfigField pool_field() {
    return {"", "--pool", "", FlagKind::Word,
            [](std::any&, const FlagValue& v) {
                require(v.word == "mean" || v.word == "avg", ErrorKind::Config,
                        "pool: a Swin model has no cls token; it always pools the mean of its tokens");
            },
            nullptr};
}

ConfigRecord stages_record(const SwinConfig& c) {
    std::vector<ConfigRecord> stages;
    for (int s = 0; s < c.stages(); s++) {
        const int64_t H = c.resolution(s), M = c.window_at(s);
        stages.push_back({{"resolution", {H}},
                          {"channels", {int64_t{c.channels(s)}}},
                          {"depth", {int64_t{c.depths[s]}}},
                          {"heads", {int64_t{c.heads[s]}}},
                          {"window", {M}},
                          {"shift", {int64_t{c.shift_at(s)}}},
                          {"windows", {(H / M) * (H / M)}}});
    }
    return {{"stages", {stages}}};
}

std::optional<Tensor> computed_buffer(const SwinConfig& c, BufferKind kind, int s, int b) {
    if (s < 0 || s >= c.stages() || b < 0 || b >= c.depths[s]) return std::nullopt;
    const int M = c.window_at(s), shift = b % 2 == 1 ? c.shift_at(s) : 0;
    Tensor t;
    if (kind == BufferKind::RelativePositionIndex) {
        relative_position_index(t, M);
    } else {
        if (shift == 0) return std::nullopt;
        shifted_window_mask(t, c.resolution(s), c.resolution(s), M, shift);
    }
    return t;
}

// The Swin that a checkpoint's shapes describe (timm's names, through the layout).
SwinConfig infer_swin(const ShapeProbe& probe, const ConfigHints& hints, std::vector<std::string>& notes) {
    auto need = [&](const std::string& name) { return need_shape(probe, name, "Swin"); };
    SwinConfig c;
    std::tie(c.embed_dim, c.patch) = patch_embed_shape(probe, "Swin");
    c.depths.clear();
    c.heads.clear();
    for (int s = 0;; s++) {
        const std::string stage = "layers." + std::to_string(s) + ".blocks.";
        int depth = 0;
        while (probe(stage + std::to_string(depth) + ".norm1.weight")) depth++;
        if (depth == 0) break;
        c.depths.push_back(depth);
        // [(2M-1)², heads]: the table holds the heads, and the window's side
        c.heads.push_back(static_cast<int>(need(stage + "0.attn.relative_position_bias_table").at(1)));
    }
    require(!c.depths.empty(), ErrorKind::Checkpoint, "has no blocks (layers.0.blocks.0.norm1.weight)");
    const int side = square_side(need("layers.0.blocks.0.attn.relative_position_bias_table").at(0));
    require(side % 2 == 1, ErrorKind::Checkpoint, "relative_position_bias_table: no (2M-1)x(2M-1) table of offsets");
    c.window = (side + 1) / 2;
    c.mlp_ratio = static_cast<double>(need("layers.0.blocks.0.mlp.fc1.weight")[0]) / c.embed_dim;
    const std::optional<Shape> head = probe("head.fc.weight");
    c.classes = head ? static_cast<int>(head->at(0)) : 0;
    if (!hints.heads.empty()) c.heads = hints.heads;
    if (hints.image_size) {
        c.image_size = *hints.image_size;
    } else {  // the smallest size at which the last stage is one window: 224 for window 7, 384 for 12
        c.image_size = c.patch * c.window << (c.stages() - 1);
        notes.push_back("image size " + std::to_string(c.image_size) + ": guessed (patch x window x 2^(stages-1)); "
                        "the file does not say, pass --image-size to run at another");
    }
    c.norm_eps = static_cast<float>(hints.norm_eps.value_or(1e-5));
    return c;
}

Family make_swin_family() {
    using C = SwinConfig;
    Family f;
    f.name = "swin";
    f.display = "Swin";
    f.reach = AttentionReach::Windowed;
    f.layer_word = "stage";
    f.fields = {
        int_field(&C::image_size, "image_size", "--image-size", "Input image side S in pixels", "image size", 1, 16384),
        int_field(&C::patch, "patch", "--patch", "Patch side P in pixels", "patch size", 1, 16384),
        int_field(&C::embed_dim, "embed_dim", "--width,--embed-dim", "Embedding width C of the first stage",
                  "embed dim", 1, 65536),
        stage_list_field(&C::depths, "depths", "--depth,--depths", "Blocks per stage, e.g. 2,2,6,2", "depth", 1024),
        stage_list_field(&C::heads, "heads", "--heads", "Attention heads per stage, e.g. 3,6,12,24", "heads", 65536),
        int_field(&C::window, "window", "--window", "Window side M", "window", 1, 16384),
        number_field(&C::mlp_ratio, "mlp_ratio", "--mlp-ratio", "MLP hidden width as a multiple of C", "mlp ratio", 0, 64),
        int_field(&C::classes, "classes", "--classes", "Outputs of the classifier head (0: none, features only)",
                  "classes", 0, 1000000),
        fixed_field(&C::norm_eps, "norm_eps"),
        pool_field(),
    };
    bind_typed<C, SwinWeights>(f, validate, make_swin_weights, visit_swin_params<const ParamFn&>,
                                 visit_swin_params<EachLinear&>, swin_forward);
    f.derived = [](const std::any& cfg) { return stages_record(config_as<C>(cfg)); };
    f.infer = [](const ShapeProbe& probe, const ConfigHints& hints, std::vector<std::string>& notes) {
        return std::any(infer_swin(probe, hints, notes));
    };
    f.attention_layers = [](const std::any& cfg) {
        const C& c = config_as<C>(cfg);
        std::vector<AttentionLayer> layers;
        for (int s = 0; s < c.stages(); s++)
            layers.push_back({{.stage = s, .block = 0}, c.depths[s], c.heads[s], c.resolution(s), c.window_at(s),
                              c.shift_at(s)});
        return layers;
    };
    f.buffer = [](const std::any& cfg, BufferKind kind, int s, int b) {
        return computed_buffer(config_as<C>(cfg), kind, s, b);
    };
    return f;
}

}  // namespace

const Family& swin_family() {
    static const Family family = make_swin_family();
    return family;
}

}  // namespace vitrace
