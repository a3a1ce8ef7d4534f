#include "core/vit.h"

#include <cmath>
#include <tuple>

#include "core/activation.h"
#include "core/attention.h"
#include "core/patch.h"
#include "core/resample.h"
#include "core/tokens.h"

namespace vitrace {

void validate(const VitConfig& cfg) {
    const auto str = [](auto v) { return std::to_string(v); };
    require(cfg.class_token || cfg.pool == Pool::Mean, ErrorKind::Config,
            "class token false: a ViT without a cls token pools the mean of its tokens (--pool mean)");
    require(!cfg.distilled || (cfg.class_token && cfg.pool == Pool::Token && cfg.reg_tokens == 0), ErrorKind::Config,
            "distilled: DeiT reads the cls and the distillation token (a cls token, token pooling, no registers)");
    require(cfg.hidden() > 0, ErrorKind::Config,
            "mlp ratio " + str(cfg.mlp_ratio) + " gives no hidden units at width " + str(cfg.width));
    require(cfg.image_size % cfg.patch == 0, ErrorKind::Config,
            "image size " + str(cfg.image_size) + " is not divisible by patch size " + str(cfg.patch));
    require(cfg.width % cfg.heads == 0, ErrorKind::Config,
            "heads " + str(cfg.heads) + " do not divide width " + str(cfg.width) +
                ": choose heads so that width / heads is a whole number");
}

VitWeights make_vit_weights(const VitConfig& cfg) {
    const int64_t C = cfg.width, P = cfg.patch;
    VitWeights w;
    w.patch_embed = {Tensor::shape_only({C, 3, P, P}), Tensor::shape_only({C})};
    if (cfg.class_token) w.cls_token = Tensor::shape_only({1, 1, C});
    if (cfg.reg_tokens > 0) w.reg_token = Tensor::shape_only({1, cfg.reg_tokens, C});
    if (cfg.distilled) w.dist_token = Tensor::shape_only({1, 1, C});
    w.pos_embed = Tensor::shape_only({1, cfg.pos_rows(), C});
    w.blocks.resize(cfg.depth);
    for (VitBlock& b : w.blocks) {
        b.norm1 = layernorm_shape(C, cfg.norm_eps);
        b.qkv = linear_shape(3 * C, C, cfg.qkv_bias);
        b.proj = linear_shape(C, C);
        b.norm2 = layernorm_shape(C, cfg.norm_eps);
        b.fc1 = linear_shape(cfg.hidden(), C);
        b.fc2 = linear_shape(C, cfg.hidden());
        if (cfg.layer_scale) b.ls1 = Tensor::shape_only({C}), b.ls2 = Tensor::shape_only({C});
    }
    w.norm = layernorm_shape(C, cfg.norm_eps);
    if (cfg.classes > 0) w.head = linear_shape(cfg.classes, C);
    if (cfg.classes > 0 && cfg.distilled) w.head_dist = linear_shape(cfg.classes, C);
    return w;
}

void vit_block(Tensor& x, const VitBlock& b, const VitConfig& cfg, int i, VitBuffers& t, Trace& trace) {
    const StepScope at{.block = i};

    // timm: x = x + self.attn(self.norm1(x))
    layernorm(t.xn, x, b.norm1);
    trace.record(at(Role::Norm1), "layernorm", t.xn, {"N", "C"});
    multi_head_attention(t.branch, t.xn, b.qkv, b.proj, cfg.heads, nullptr, {{}, "N"}, at, t.attn, trace);
    if (cfg.layer_scale) {  // timm: self.ls1(...), gamma * branch
        scale_channels(t.branch, t.branch, b.ls1);
        trace.record(at(Role::Ls1), "layer_scale", t.branch, {"N", "C"});
    }
    add(x, x, t.branch);
    trace.record(at(Role::Residual1), "add", x, {"N", "C"});

    // timm: x = x + self.mlp(self.norm2(x))
    layernorm(t.xn, x, b.norm2);
    trace.record(at(Role::Norm2), "layernorm", t.xn, {"N", "C"});
    linear(t.hidden, t.xn, b.fc1);
    trace.record(at(Role::Fc1), "linear", t.hidden, {"N", "hidden"});
    gelu(t.hidden, t.hidden);
    trace.record(at(Role::Act), "gelu", t.hidden, {"N", "hidden"});
    linear(t.branch, t.hidden, b.fc2);
    trace.record(at(Role::Fc2), "linear", t.branch, {"N", "C"});
    if (cfg.layer_scale) {  // timm: self.ls2(...)
        scale_channels(t.branch, t.branch, b.ls2);
        trace.record(at(Role::Ls2), "layer_scale", t.branch, {"N", "C"});
    }
    add(x, x, t.branch);
    trace.record(at(Role::Residual2), "add", x, {"N", "C"});
}

namespace {

// timm: resample_abs_pos_embed. The prefix rows stay; the grid [g, g, C] is
// resized to the image's grid [h, w, C] as F.interpolate(mode='bicubic',
// antialias=True) does.
// out [prefix + h·w, C] <- pos_embed [1, prefix + g·g, C]
void resample_pos_embed(Tensor& out, const Tensor& pos_embed, int prefix, int g, int h, Trace& trace) {
    const int64_t C = pos_embed.dim(-1);
    Tensor grid;  // [C, g, g]
    Tensor resized;  // [C, h, h]
    if (prepare(grid, {C, g, g}, pos_embed))
        for (int64_t p = 0; p < (int64_t)g * g; p++)
            for (int64_t c = 0; c < C; c++) grid[c * g * g + p] = pos_embed[(prefix + p) * C + c];
    resize_bicubic_antialias(resized, grid, h, h);
    Tensor shown;  // [h, w, C]: the new grid, as the trace shows it
    if (prepare(shown, {h, h, C}, resized))
        for (int64_t p = 0; p < (int64_t)h * h; p++)
            for (int64_t c = 0; c < C; c++) shown[p * C + c] = resized[c * h * h + p];
    trace.record({Role::PosEmbedResample}, "resample_bicubic", shown, {"h", "w", "C"});
    if (!prepare(out, {1, prefix + (int64_t)h * h, C}, pos_embed)) return;
    std::copy(pos_embed.ptr(), pos_embed.ptr() + prefix * C, out.ptr());
    std::copy(shown.data.begin(), shown.data.end(), out.ptr() + prefix * C);
}

}  // namespace

ModelOutput vit_forward(const VitConfig& cfg, const VitWeights& w, const Tensor& image, Trace& trace,
                        Workspace& workspace) {
    const StepScope top;
    VitBuffers& buffers = workspace.as<VitBuffers>();

    // timm: x = self.patch_embed(x), the Conv2d as patchify + linear
    Tensor& patches = buffers.patches;  // [n, 3·P·P]
    patchify(patches, image, cfg.patch);
    trace.record(top(Role::Patchify), "patchify", patches, {"n", "patch_dim"});
    Tensor& tokens = buffers.tokens;  // [n, C]
    linear(tokens, patches, w.patch_embed);
    trace.record(top(Role::PatchProj), "linear", tokens, {"n", "C"});

    // timm: x = self._pos_embed(x). The prefix tokens join in front: cls,
    // then dist or the registers. pos_embed is added after they join, or
    // before with no_embed_class (it then covers the patches only).
    const Tensor* pos_embed = &w.pos_embed;  // [1, pos_rows, C]
    Tensor resampled;                        // at another image size
    if (cfg.pos_grid() != cfg.grid()) {
        resample_pos_embed(resampled, w.pos_embed, cfg.no_embed_class ? 0 : cfg.prefix(), cfg.pos_grid(), cfg.grid(),
                           trace);
        pos_embed = &resampled;
    }
    if (cfg.no_embed_class) {
        add(tokens, tokens, *pos_embed);
        trace.record(top(Role::PosEmbed), "add", tokens, {"n", "C"});
    }
    const struct {
        bool present;
        const Tensor& tokens;  // [1, k, C]
        Role role;
    } prefix[] = {{cfg.class_token, w.cls_token, Role::ClsToken},
                  {cfg.distilled, w.dist_token, Role::DistToken},
                  {cfg.reg_tokens > 0, w.reg_token, Role::RegToken}};
    Tensor& x = buffers.x;  // [N, C], the residual stream
    int64_t joined = 0;  // prefix tokens in front so far
    for (const auto& p : prefix) {
        if (!p.present) continue;
        insert_tokens(x, joined ? x : tokens, p.tokens, joined);  // timm: torch.cat(to_cat + [x], dim=1)
        joined += p.tokens.dim(1);
        trace.record(top(p.role), "concat", x, {"N", "C"});
    }
    if (joined == 0) std::swap(x, tokens);
    if (!cfg.no_embed_class) {
        add(x, x, *pos_embed);
        trace.record(top(Role::PosEmbed), "add", x, {"N", "C"});
    }

    // timm: x = self.blocks(x)
    for (int i = 0; i < cfg.depth; i++) vit_block(x, w.blocks[i], cfg, i, buffers, trace);

    // timm: x = self.norm(x); x = self.pool(x); x = self.fc_norm(x); x = self.head(x)
    ModelOutput out;
    Tensor cls, dist;  // [C], [C]: the tokens DeiT's two heads read
    if (cfg.pool == Pool::Token) {
        layernorm(x, x, w.norm);
        trace.record(top(Role::Norm), "layernorm", x, {"N", "C"});
        if (cfg.distilled) {  // timm (VisionTransformerDistilled): (x[:, 0] + x[:, 1]) / 2
            pool_first_token(cls, x);
            pool_mean(dist, x, 1, 2);
            average(out.features, cls, dist);
            trace.record(top(Role::Pool), "pool_cls_dist", out.features, {"C"});
        } else {
            pool_first_token(out.features, x);
            trace.record(top(Role::Pool), "pool_token", out.features, {"C"});
        }
    } else {
        pool_mean(out.features, x, cfg.prefix());  // the patches only
        trace.record(top(Role::Pool), "pool_mean", out.features, {"C"});
        layernorm(out.features, out.features, w.norm);
        trace.record(top(Role::FcNorm), "layernorm", out.features, {"C"});
    }
    if (cfg.classes == 0) return out;
    if (cfg.distilled) {  // timm: (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2 at inference
        Tensor logits_dist;  // [classes]
        linear(out.logits, cls, w.head);
        trace.record(top(Role::Head), "linear", out.logits, {"classes"});
        linear(logits_dist, dist, w.head_dist);
        trace.record(top(Role::HeadDist), "linear", logits_dist, {"classes"});
        average(out.logits, out.logits, logits_dist);
    } else {
        linear(out.logits, out.features, w.head);  // [classes]
        trace.record(top(Role::Head), "linear", out.logits, {"classes"});
    }
    return out;
}

namespace {

// --depth and --heads take lists (a Swin takes one number per stage); a ViT takes one.
ConfigField single_int_field(int VitConfig::*member, std::string json, std::string flag, std::string help,
                             std::string label, int max) {
    ConfigField f = int_field(member, json, std::move(flag), std::move(help), label, 1, max);
    f.kind = FlagKind::Ints;
    f.set = [set = f.set, json](std::any& cfg, const FlagValue& v) {
        require(v.ints.size() == 1, ErrorKind::Config,
                json + ": a ViT takes one number, got " + std::to_string(v.ints.size()));
        set(cfg, v);
    };
    return f;
}

ConfigField pool_field() {
    return {"pool", "--pool", "Pooling before the head: token (the cls token) or mean", FlagKind::Word,
            [](std::any& cfg, const FlagValue& v) {
                Pool& pool = config_as<VitConfig>(cfg).pool;
                if (v.word == "token" || v.word == "cls")
                    pool = Pool::Token;
                else if (v.word == "mean" || v.word == "avg")
                    pool = Pool::Mean;
                else
                    throw Error(ErrorKind::Usage, "--pool: expected token or mean, got '" + v.word + "'");
            },
            [](const std::any& cfg) {
                return ConfigValue{std::string(config_as<VitConfig>(cfg).pool == Pool::Token ? "token" : "mean")};
            }};
}

// The ViT that a checkpoint's shapes describe (timm's names, through the layout).
VitConfig infer_vit(const ShapeProbe& probe, const ConfigHints& hints, std::vector<std::string>& notes) {
    auto need = [&](const std::string& name) { return need_shape(probe, name, "ViT"); };
    VitConfig c;
    std::tie(c.width, c.patch) = patch_embed_shape(probe, "ViT");
    c.depth = 0;
    while (probe("blocks." + std::to_string(c.depth) + ".norm1.weight")) c.depth++;
    require(c.depth > 0, ErrorKind::Checkpoint, "has no blocks (blocks.0.norm1.weight)");
    c.class_token = probe("cls_token").has_value();
    c.distilled = probe("dist_token").has_value();
    if (const auto reg = probe("reg_token")) c.reg_tokens = static_cast<int>(reg->at(1));
    c.qkv_bias = probe("blocks.0.attn.qkv.bias").has_value();
    c.layer_scale = probe("blocks.0.ls1.gamma").has_value();
    c.mlp_ratio = static_cast<double>(need("blocks.0.mlp.fc1.weight")[0]) / c.width;
    c.pool = probe("fc_norm.weight") || !c.class_token ? Pool::Mean : Pool::Token;
    const std::optional<Shape> head = probe("head.weight");
    c.classes = head ? static_cast<int>(head->at(0)) : 0;

    // pos_embed covers the prefix tokens too, unless it was made no_embed_class.
    const int64_t rows = need("pos_embed").at(1);
    int grid = square_side(rows - c.prefix());
    if (grid == 0 && c.prefix() > 0 && square_side(rows) > 0) {
        c.no_embed_class = true;
        grid = square_side(rows);
    }
    require(grid > 0, ErrorKind::Checkpoint,
            "pos_embed has " + std::to_string(rows) + " rows: no square grid of patches after " +
                std::to_string(c.prefix()) + " prefix tokens");
    c.image_size = grid * c.patch;
    c.pos_embed_grid = grid;

    if (!hints.heads.empty()) {
        c.heads = hints.heads[0];
    } else {
        c.heads = c.width % 64 == 0 ? c.width / 64 : 1;
        notes.push_back("heads " + std::to_string(c.heads) + ": guessed (timm's convention, head_dim 64); the file "
                        "does not say, pass --heads if the model was made otherwise");
    }
    c.norm_eps = static_cast<float>(hints.norm_eps.value_or(1e-6));
    return c;
}

// --class-token false: no cls token, so the model pools the mean of its tokens.
ConfigField class_token_field() {
    ConfigField f = bool_field(&VitConfig::class_token, "class_token", "--class-token",
                               "A cls token: true or false (false pools the mean of the tokens)", FlagKind::Word);
    f.set = [set = f.set](std::any& cfg, const FlagValue& v) {
        set(cfg, v);
        VitConfig& c = config_as<VitConfig>(cfg);
        if (!c.class_token) c.pool = Pool::Mean;
    };
    return f;
}

Family make_vit_family() {
    using C = VitConfig;
    Family f;
    f.name = "vit";
    f.display = "ViT";
    f.reach = AttentionReach::Global;
    f.layer_word = "layer";
    f.fields = {
        int_field(&C::image_size, "image_size", "--image-size", "Input image side S in pixels", "image size", 1, 16384),
        int_field(&C::patch, "patch", "--patch", "Patch side P in pixels", "patch size", 1, 16384),
        int_field(&C::width, "width", "--width,--embed-dim", "Embedding width C", "width", 1, 65536),
        single_int_field(&C::depth, "depth", "--depth,--depths", "Blocks", "depth", 4096),
        single_int_field(&C::heads, "heads", "--heads", "Attention heads", "heads", 65536),
        refused_flag("--window", FlagKind::Int, "window: a ViT has no windows (it attends globally)"),
        number_field(&C::mlp_ratio, "mlp_ratio", "--mlp-ratio", "MLP hidden width as a multiple of C", "mlp ratio", 0, 64),
        pool_field(),
        int_field(&C::classes, "classes", "--classes", "Outputs of the classifier head (0: none, features only)",
                  "classes", 0, 1000000),
        fixed_field(&C::norm_eps, "norm_eps"),
        bool_field(&C::qkv_bias, "qkv_bias", "--qkv-bias", "attn.qkv has a bias: true or false", FlagKind::Word),
        bool_field(&C::layer_scale, "layer_scale", "--layer-scale", "LayerScale after attn and mlp (ls1, ls2)",
                   FlagKind::Switch),
        class_token_field(),
        int_field(&C::reg_tokens, "reg_tokens", "--reg-tokens", "Register tokens after the cls token", "reg tokens", 0,
                  64),
        bool_field(&C::no_embed_class, "no_embed_class", "--no-embed-class",
                   "pos_embed covers the patches only, added before the prefix tokens join", FlagKind::Switch),
        bool_field(&C::distilled, "distilled", "--distilled", "DeiT's distillation token and second head",
                   FlagKind::Switch),
        fixed_field(&C::pos_embed_grid, "pos_embed_grid"),
    };
    bind_typed<C, VitWeights>(f, validate, make_vit_weights, visit_vit_params<const ParamFn&>, vit_forward);
    f.derived = [](const std::any& cfg) {
        const C& c = config_as<C>(cfg);
        return ConfigRecord{{"tokens", {int64_t{c.tokens()}}},
                            {"head_dim", {int64_t{c.head_dim()}}},
                            {"hidden", {int64_t{c.hidden()}}}};
    };
    f.infer = [](const ShapeProbe& probe, const ConfigHints& hints, std::vector<std::string>& notes) {
        return std::any(infer_vit(probe, hints, notes));
    };
    f.attention_layers = [](const std::any& cfg) {
        const C& c = config_as<C>(cfg);
        std::vector<AttentionLayer> layers;
        for (int i = 0; i < c.depth; i++) layers.push_back({{.block = i}, 1, c.heads, c.grid(), 0, 0});
        return layers;
    };
    f.buffer = [](const std::any&, BufferKind, int, int) { return std::optional<Tensor>(); };
    return f;
}

}  // namespace

const Family& vit_family() {
    static const Family family = make_vit_family();
    return family;
}

}  // namespace vitrace
