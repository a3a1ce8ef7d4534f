#include "core/vit.h"

#include <cmath>
#include <tuple>

#include "core/activation.h"
#include "core/attention.h"
#include "core/patch.h"
#include "core/resample.h"
#include "core/tokens.h"

namespace vitrace {

namespace {

const char* act_name(Act act) { return act == Act::Gelu ? "gelu" : act == Act::Silu ? "silu" : "relu"; }

void activation(Tensor& y, const Tensor& x, Act act) {
    if (act == Act::Gelu) gelu(y, x);
    else if (act == Act::Silu) silu(y, x);
    else relu(y, x);
}

}  // namespace

void validate(const VitConfig& cfg) {
    const auto str = [](auto v) { return std::to_string(v); };
    require(cfg.class_token || cfg.pool != Pool::Token, ErrorKind::Config,
            "class token false: a ViT without a cls token pools the mean of its tokens (--pool mean)");
    require(!cfg.distilled || (cfg.class_token && cfg.pool == Pool::Token && cfg.reg_tokens == 0), ErrorKind::Config,
            "distilled: DeiT reads the cls and the distillation token (a cls token, token pooling, no registers)");
    require(cfg.hidden() > 0, ErrorKind::Config,
            "mlp ratio " + str(cfg.mlp_ratio) + " gives no hidden units at width " + str(cfg.width));
    require(cfg.image_size % cfg.patch == 0, ErrorKind::Config,
            "image size " + str(cfg.image_size) + " is not divisible by patch size " + str(cfg.patch));
    require(cfg.dim_head > 0 || cfg.width % cfg.heads == 0, ErrorKind::Config,
            "heads " + str(cfg.heads) + " do not divide width " + str(cfg.width) +
                ": choose heads so that width / heads is a whole number, or set --dim-head");
    require(cfg.attn_proj || cfg.inner() == cfg.width, ErrorKind::Config,
            "attn proj false: without attn.proj the heads must give back the width (heads x dim_head = " +
                str(cfg.inner()) + ", width " + str(cfg.width) + ")");
    if (cfg.conv_stem) {
        require(cfg.patch == 16, ErrorKind::Config,
                "conv stem: ml-cvnets' stem (strides 4, 2, 2) makes 16-pixel patches, got patch " + str(cfg.patch));
        require(cfg.patch_order == PatchOrder::Chw && !cfg.patch_norm, ErrorKind::Config,
                "conv stem: the stem makes its own patches (no --patch-order hwc, no --patch-norm)");
        // ml-cvnets stretches its position table along the token sequence (F.interpolate over
        // [1, 1, n, C]), not over the grid as timm does; vitrace does not imitate that.
        require(cfg.pos_grid() == cfg.grid(), ErrorKind::Config,
                "conv stem: ml-cvnets' position table holds a " + str(cfg.pos_grid()) + "x" + str(cfg.pos_grid()) +
                    " grid, and ml-cvnets resizes it along the token sequence, which vitrace does not do: run it at " +
                    str(cfg.pos_grid() * cfg.patch) + " px (no --image-size)");
    }
}

VitWeights make_vit_weights(const VitConfig& cfg) {
    const int64_t C = cfg.width, P = cfg.patch;
    VitWeights w;
    if (cfg.conv_stem) {  // ml-cvnets: 3 -> C0 (4x4, stride 4), C0 -> C0 (2x2, stride 2), then proj C0 -> C (2x2, stride 2)
        const int64_t C0 = cfg.stem_width();
        w.stem = {{{Tensor::shape_only({C0, 3, 4, 4}), Tensor{}}, batchnorm_shape(C0)},
                  {{Tensor::shape_only({C0, C0, 2, 2}), Tensor{}}, batchnorm_shape(C0)}};
        w.patch_embed = {Tensor::shape_only({C, C0, 2, 2}), Tensor::shape_only({C})};
    } else if (cfg.patch_order == PatchOrder::Hwc) {  // vit-pytorch: nn.Linear(patch_dim, dim)
        w.patch_embed = linear_shape(C, P * P * 3);
    } else {
        w.patch_embed = {Tensor::shape_only({C, 3, P, P}), Tensor::shape_only({C})};
    }
    if (cfg.patch_norm) {
        w.patch_norm_in = layernorm_shape(3 * P * P, cfg.norm_eps);
        w.patch_norm = layernorm_shape(C, cfg.norm_eps);
    }
    if (cfg.class_token) w.cls_token = Tensor::shape_only({1, 1, C});
    if (cfg.reg_tokens > 0) w.reg_token = Tensor::shape_only({1, cfg.reg_tokens, C});
    if (cfg.distilled) w.dist_token = Tensor::shape_only({1, 1, C});
    w.pos_embed = Tensor::shape_only({1, cfg.pos_rows(), C});
    w.blocks.resize(cfg.depth);
    for (VitBlock& b : w.blocks) {
        b.norm1 = layernorm_shape(C, cfg.norm_eps);
        b.qkv = linear_shape(3 * cfg.inner(), C, cfg.qkv_bias);
        if (cfg.attn_proj) b.proj = linear_shape(C, cfg.inner());
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
    activation(t.hidden, t.hidden, cfg.act);  // timm: nn.GELU; ml-cvnets: its activation, SiLU here by default
    trace.record(at(Role::Act), act_name(cfg.act), t.hidden, {"N", "hidden"});
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

    Tensor& patches = buffers.patches;  // [n, patch_dim]
    Tensor& tokens = buffers.tokens;    // [n, C]
    if (cfg.conv_stem) {
        // ml-cvnets: patch_emb, two ConvLayer2d (conv, BatchNorm, activation) and a conv, each as
        // its input patches (im2col) times the kernel; the map stays channels-last, [h·w, C0]
        const Tensor* in = &image;
        const Role roles[2][4] = {{Role::StemPatchify0, Role::StemConv0, Role::StemBn0, Role::StemAct0},
                                  {Role::StemPatchify1, Role::StemConv1, Role::StemBn1, Role::StemAct1}};
        int side = cfg.image_size;
        for (int k = 0; k < 2; k++) {
            const int kernel = k == 0 ? 4 : 2, pad = (kernel - 1) / 2;  // ml-cvnets pads (k - 1) / 2
            conv_patches(buffers.stem_cols, *in, k > 0, kernel, kernel, pad);
            side = (side + 2 * pad - kernel) / kernel + 1;
            trace.record(top(roles[k][0]), "im2col", buffers.stem_cols, {"pixels", "patch_dim"});
            linear(buffers.stem, buffers.stem_cols, w.stem[k].conv);
            trace.record(top(roles[k][1]), "linear", buffers.stem, {"pixels", "C0"});
            batchnorm(buffers.stem, buffers.stem, w.stem[k].bn);
            trace.record(top(roles[k][2]), "batchnorm", buffers.stem, {"pixels", "C0"});
            activation(buffers.stem, buffers.stem, cfg.act);
            trace.record(top(roles[k][3]), act_name(cfg.act), buffers.stem, {"pixels", "C0"});
            buffers.stem.shape = {side, side, cfg.stem_width()};  // the same values as a map [h, w, C0]
            in = &buffers.stem;
        }
        conv_patches(patches, buffers.stem, true, 2, 2, 0);  // the last conv: 2x2 patches of the map
        trace.record(top(Role::Patchify), "im2col", patches, {"n", "patch_dim"});
    } else if (cfg.patch_order == PatchOrder::Hwc) {
        // vit-pytorch: Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)'), then nn.Linear
        patchify_hwc(patches, image, cfg.patch);
        trace.record(top(Role::Patchify), "patchify_hwc", patches, {"n", "patch_dim"});
    } else {
        // timm: x = self.patch_embed(x), the Conv2d as patchify + linear
        patchify(patches, image, cfg.patch);
        trace.record(top(Role::Patchify), "patchify", patches, {"n", "patch_dim"});
    }
    if (cfg.patch_norm) {  // vit-pytorch: nn.LayerNorm(patch_dim) before the linear
        layernorm(patches, patches, w.patch_norm_in);
        trace.record(top(Role::PatchNormIn), "layernorm", patches, {"n", "patch_dim"});
    }
    linear(tokens, patches, w.patch_embed);
    trace.record(top(Role::PatchProj), "linear", tokens, {"n", "C"});
    if (cfg.patch_norm) {  // vit-pytorch: nn.LayerNorm(dim) after it
        layernorm(tokens, tokens, w.patch_norm);
        trace.record(top(Role::PatchNorm), "layernorm", tokens, {"n", "C"});
    }

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
    // One of norm and fc_norm is a LayerNorm, the other nn.Identity.
    ModelOutput out;
    Tensor cls, dist;  // [C], [C]: the tokens DeiT's two heads read
    if (!cfg.use_fc_norm()) {
        layernorm(x, x, w.norm);
        trace.record(top(Role::Norm), "layernorm", x, {"N", "C"});
    }
    if (cfg.pool == Pool::Token && cfg.distilled) {  // timm (VisionTransformerDistilled): (x[:, 0] + x[:, 1]) / 2
        pool_first_token(cls, x);
        pool_mean(dist, x, 1, 2);
        average(out.features, cls, dist);
        trace.record(top(Role::Pool), "pool_cls_dist", out.features, {"C"});
    } else if (cfg.pool == Pool::Token) {
        pool_first_token(out.features, x);
        trace.record(top(Role::Pool), "pool_token", out.features, {"C"});
    } else if (cfg.pool == Pool::Mean) {
        pool_mean(out.features, x, cfg.prefix());  // the patches only
        trace.record(top(Role::Pool), "pool_mean", out.features, {"C"});
    } else {
        pool_mean(out.features, x, 0);  // vit-pytorch: x.mean(dim=1), every token, cls included
        trace.record(top(Role::Pool), "pool_mean_all", out.features, {"C"});
    }
    if (cfg.use_fc_norm()) {
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

// A field read as one of a few words: `words` pairs each word with its value;
// the first word of a value is how model.config shows it.
template <class E>
ConfigField word_field(E VitConfig::*member, std::string json, std::string flag, std::string help,
                       std::vector<std::pair<std::string, E>> words) {
    return {json, flag, std::move(help), FlagKind::Word,
            [=](std::any& cfg, const FlagValue& v) {
                std::string list;
                for (const auto& [word, value] : words) {
                    if (v.word == word) {
                        config_as<VitConfig>(cfg).*member = value;
                        return;
                    }
                    list += (list.empty() ? "" : ", ") + word;
                }
                throw Error(ErrorKind::Usage, flag + ": expected one of " + list + ", got '" + v.word + "'");
            },
            [=](const std::any& cfg) {
                const E value = config_as<VitConfig>(cfg).*member;
                for (const auto& [word, e] : words)
                    if (e == value) return ConfigValue{word};
                return ConfigValue{std::string("?")};
            }};
}

ConfigField pool_field() {
    return word_field(&VitConfig::pool, "pool", "--pool",
                      "Pooling before the head: token (the cls token), mean (the patches) or mean_all (every token, "
                      "cls included, as vit-pytorch's pool='mean')",
                      std::vector<std::pair<std::string, Pool>>{{"token", Pool::Token},
                                                                {"cls", Pool::Token},
                                                                {"mean", Pool::Mean},
                                                                {"avg", Pool::Mean},
                                                                {"mean_all", Pool::MeanAll},
                                                                {"mean-all", Pool::MeanAll}});
}

ConfigField act_field() {
    return word_field(&VitConfig::act, "act", "--act", "The MLP's activation: gelu, silu (ml-cvnets' swish) or relu",
                      std::vector<std::pair<std::string, Act>>{
                          {"gelu", Act::Gelu}, {"silu", Act::Silu}, {"swish", Act::Silu}, {"relu", Act::Relu}});
}

// A word from a config file, read as its flag reads it.
void set_word(VitConfig& c, const ConfigField& field, const std::string& word) {
    std::any a = c;
    field.set(a, FlagValue::of_word(word));
    c = config_as<VitConfig>(a);
}

// --dim-head: channels per head, apart from width / heads; model.config shows the one in use.
ConfigField dim_head_field() {
    ConfigField f = int_field(&VitConfig::dim_head, "dim_head", "--dim-head",
                              "Channels per head when not width / heads (vit-pytorch's dim_head)", "dim head", 1, 65536);
    f.get = [](const std::any& cfg) { return ConfigValue{int64_t{config_as<VitConfig>(cfg).head_dim()}}; };
    return f;
}

// --fc-norm true|false: where the final LayerNorm is; model.config shows where it is.
ConfigField fc_norm_field() {
    return {"fc_norm", "--fc-norm",
            "The final LayerNorm after pooling (true: fc_norm) or before it (false: norm); default: after mean "
            "pooling only",
            FlagKind::Word,
            [](std::any& cfg, const FlagValue& v) {
                require(v.word == "true" || v.word == "false", ErrorKind::Usage,
                        "--fc-norm: expected true or false, got '" + v.word + "'");
                config_as<VitConfig>(cfg).fc_norm = v.word == "true";
            },
            [](const std::any& cfg) { return ConfigValue{config_as<VitConfig>(cfg).use_fc_norm()}; }};
}

bool is_vit_pytorch(const ConfigHints& hints) { return hints.layout.rfind("vit-pytorch", 0) == 0; }

// Heads and dim_head from qkv's rows (heads · dim_head of each of q, k, v)
// and whatever the flags or a JSON beside the file say.
void infer_heads(VitConfig& c, int64_t inner, const ConfigHints& hints, std::vector<std::string>& notes) {
    const auto str = [](auto v) { return std::to_string(v); };
    int heads = hints.heads.empty() ? 0 : hints.heads[0];
    int dim_head = hints.dim_head.value_or(0);
    if (!c.attn_proj) {  // vit-pytorch leaves to_out out only for 1 head of dim_head = dim
        require(inner == c.width && (heads == 0 || heads == 1) && (dim_head == 0 || dim_head == c.width),
                ErrorKind::Config,
                "the file has no attn.proj (to_out), which means 1 head of width " + str(c.width) + ", but heads " +
                    str(heads) + " and dim_head " + str(dim_head) + " were given");
        heads = 1, dim_head = c.width;
    }
    if (heads == 0 && dim_head == 0) {
        if (is_vit_pytorch(hints))
            throw Error(ErrorKind::Config,
                        "vit-pytorch keeps heads and dim_head in no tensor; to_qkv gives heads x dim_head = " +
                            str(inner) + ": pass --heads H and --dim-head D (or a JSON beside the file, "
                            "{\"heads\": H, \"dim_head\": D})");
        heads = inner % 64 == 0 ? static_cast<int>(inner / 64) : 1;
        notes.push_back("heads " + str(heads) + ": guessed (" +
                        std::string(hints.layout == "ml-cvnets" ? "ml-cvnets' configs" : "timm's convention") +
                        ", head_dim 64); the file does not say, pass --heads if the model was made otherwise");
    }
    if (heads == 0) {
        require(inner % dim_head == 0, ErrorKind::Config,
                "dim_head " + str(dim_head) + " does not divide qkv's width " + str(inner) + " (heads x dim_head)");
        heads = static_cast<int>(inner / dim_head);
    }
    if (dim_head == 0) {
        require(inner % heads == 0, ErrorKind::Config,
                inner == c.width ? "heads " + str(heads) + " do not divide width " + str(inner) +
                                       ": choose heads so that width / heads is a whole number"
                                 : "heads " + str(heads) + " do not divide qkv's width " + str(inner) +
                                       " (heads x dim_head)");
        dim_head = static_cast<int>(inner / heads);
    }
    require((int64_t)heads * dim_head == inner, ErrorKind::Config,
            "heads " + str(heads) + " x dim_head " + str(dim_head) + " = " + str((int64_t)heads * dim_head) +
                ", but the file's qkv holds heads x dim_head = " + str(inner));
    c.heads = heads;
    c.dim_head = (int64_t)heads * dim_head == c.width ? 0 : dim_head;
}

// The ViT that a checkpoint's shapes describe (timm's names, through the layout).
VitConfig infer_vit(const ShapeProbe& probe, const ConfigHints& hints, std::vector<std::string>& notes) {
    auto need = [&](const std::string& name) { return need_shape(probe, name, "ViT"); };
    const auto str = [](auto v) { return std::to_string(v); };
    VitConfig c;
    const Shape proj = need("patch_embed.proj.weight");
    c.width = static_cast<int>(proj[0]);
    if (probe("patch_embed.stem.0.conv.weight")) {  // ml-cvnets' conv stem, 16-pixel patches
        c.conv_stem = true;
        c.patch = 16;
        require(proj.size() == 4 && proj[1] == c.stem_width() && proj[2] == 2 && proj[3] == 2, ErrorKind::Checkpoint,
                "patch_embed.proj.weight: expected [C, " + str(c.stem_width()) + ", 2, 2] after the conv stem, got " +
                    shape_str(proj));
    } else if (proj.size() == 2) {  // a Linear on flattened patches: vit-pytorch's (p1 p2 c) order
        c.patch_order = PatchOrder::Hwc;
        c.patch = square_side(proj[1] % 3 == 0 ? proj[1] / 3 : 0);
        require(c.patch > 0, ErrorKind::Checkpoint,
                "patch_embed.proj.weight " + shape_str(proj) + ": patch_dim " + str(proj[1]) +
                    " is not 3 x P x P for a whole P (vitrace runs 3-channel RGB models)");
        const std::optional<Shape> norm_in = probe("patch_embed.norm_in.weight");
        c.patch_norm = norm_in && norm_in->size() == 1;
    } else {
        std::tie(c.width, c.patch) = patch_embed_shape(probe, "ViT");
    }
    c.depth = 0;
    while (probe("blocks." + std::to_string(c.depth) + ".norm1.weight")) c.depth++;
    require(c.depth > 0, ErrorKind::Checkpoint, "has no blocks (blocks.0.norm1.weight)");
    const std::optional<Shape> cls = probe("cls_token");
    c.class_token = cls && numel(*cls) > 0;  // current vit-pytorch keeps an empty cls_token when pooling by the mean
    c.distilled = probe("dist_token").has_value();
    if (const auto reg = probe("reg_token")) c.reg_tokens = static_cast<int>(reg->at(1));
    c.qkv_bias = probe("blocks.0.attn.qkv.bias").has_value();
    c.attn_proj = probe("blocks.0.attn.proj.weight").has_value();
    c.layer_scale = probe("blocks.0.ls1.gamma").has_value();
    c.mlp_ratio = static_cast<double>(need("blocks.0.mlp.fc1.weight")[0]) / c.width;
    const bool fc_norm = probe("fc_norm.weight").has_value();
    if (is_vit_pytorch(hints) || hints.layout == "ml-cvnets") {
        // The final LayerNorm's place is in the names (vit-pytorch's 2021 mlp_head.0 is after pooling);
        // the pooling is not: vit-pytorch's pool='cls' unless told (a model without a cls token averages).
        c.fc_norm = fc_norm;
        c.pool = Pool::Token;
        if (hints.pool) set_word(c, pool_field(), *hints.pool);
        if (!c.class_token) c.pool = Pool::Mean;
        if (c.class_token && !hints.pool)
            notes.push_back(std::string("pool: the cls token (") +
                            (hints.layout == "ml-cvnets" ? "ml-cvnets pools the cls token when it has one" :
                                                           "vit-pytorch's default pool='cls'; a model made with "
                                                           "pool='mean' averages every token: pass --pool mean_all") +
                            ")");
    } else {
        c.pool = fc_norm || !c.class_token ? Pool::Mean : Pool::Token;
    }
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

    infer_heads(c, need("blocks.0.attn.qkv.weight").at(0) / 3, hints, notes);
    if (hints.act) {
        try {
            set_word(c, act_field(), *hints.act);
        } catch (const Error&) {
            throw Error(ErrorKind::Config, "the checkpoint's config names the activation '" + *hints.act +
                                               "'; vitrace runs gelu, silu (swish) and relu");
        }
    } else if (hints.layout == "ml-cvnets") {
        c.act = Act::Silu;
        notes.push_back("act silu: guessed (ml-cvnets' swish); the activation is in no tensor, pass --act gelu or "
                        "--act relu if the model was trained with another");
    }
    // timm and ml-cvnets set LayerNorm's eps to 1e-6; vit-pytorch keeps PyTorch's default, 1e-5
    c.norm_eps = static_cast<float>(hints.norm_eps.value_or(is_vit_pytorch(hints) ? 1e-5 : 1e-6));
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
        dim_head_field(),
        word_field(&C::patch_order, "patch_order", "--patch-order",
                   "A flattened patch's order: chw (timm's conv weight, channel first) or hwc (vit-pytorch's "
                   "Rearrange, (p1 p2 c))",
                   std::vector<std::pair<std::string, PatchOrder>>{{"chw", PatchOrder::Chw}, {"hwc", PatchOrder::Hwc}}),
        bool_field(&C::patch_norm, "patch_norm", "--patch-norm",
                   "LayerNorms on the flattened patch and on its embedding (vit-pytorch)", FlagKind::Switch),
        bool_field(&C::attn_proj, "attn_proj", "--attn-proj",
                   "attn.proj after the heads: true or false (vit-pytorch has none for 1 head of dim_head = width)",
                   FlagKind::Word),
        act_field(),
        fc_norm_field(),
        bool_field(&C::conv_stem, "conv_stem", "--conv-stem",
                   "ml-cvnets' conv stem (conv 4x4/4, BN, act, conv 2x2/2, BN, act, then proj 2x2/2) for 16-pixel "
                   "patches",
                   FlagKind::Switch),
    };
    bind_typed<C, VitWeights>(f, validate, make_vit_weights, visit_vit_params<const ParamFn&>,
                                 visit_vit_params<EachLinear&>, vit_forward);
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
