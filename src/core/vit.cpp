#include "core/vit.h"

#include <cmath>

#include "core/activation.h"
#include "core/attention.h"
#include "core/patch.h"
#include "core/tokens.h"

namespace vitrace {

void validate(const VitConfig& cfg) {
    const auto str = [](auto v) { return std::to_string(v); };
    require(cfg.hidden() > 0, ErrorKind::Config,
            "mlp ratio " + str(cfg.mlp_ratio) + " gives no hidden units at width " + str(cfg.width));
    require(cfg.image_size % cfg.patch == 0, ErrorKind::Config,
            "image size " + str(cfg.image_size) + " is not divisible by patch size " + str(cfg.patch) +
                ": use a multiple of " + str(cfg.patch));
    require(cfg.width % cfg.heads == 0, ErrorKind::Config,
            "heads " + str(cfg.heads) + " do not divide width " + str(cfg.width) +
                ": choose heads so that width / heads is a whole number");
}

VitWeights make_vit_weights(const VitConfig& cfg) {
    const int64_t C = cfg.width, P = cfg.patch;
    VitWeights w;
    w.patch_embed = {Tensor::shape_only({C, 3, P, P}), Tensor::shape_only({C})};
    w.cls_token = Tensor::shape_only({1, 1, C});
    w.pos_embed = Tensor::shape_only({1, cfg.tokens(), C});
    w.blocks.resize(cfg.depth);
    for (VitBlock& b : w.blocks) {
        b.norm1 = layernorm_shape(C, cfg.norm_eps);
        b.qkv = linear_shape(3 * C, C);
        b.proj = linear_shape(C, C);
        b.norm2 = layernorm_shape(C, cfg.norm_eps);
        b.fc1 = linear_shape(cfg.hidden(), C);
        b.fc2 = linear_shape(C, cfg.hidden());
    }
    w.norm = layernorm_shape(C, cfg.norm_eps);
    w.head = linear_shape(cfg.classes, C);
    return w;
}

void vit_block(Tensor& x, const VitBlock& b, const VitConfig& cfg, int i, VitBuffers& t, Trace& trace) {
    const StepScope at{.block = i};

    // timm: x = x + self.attn(self.norm1(x))
    layernorm(t.xn, x, b.norm1);
    trace.record(at(Role::Norm1), "layernorm", t.xn, {"N", "C"});
    multi_head_attention(t.branch, t.xn, b.qkv, b.proj, cfg.heads, nullptr, {{}, "N"}, at, t.attn, trace);
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
    add(x, x, t.branch);
    trace.record(at(Role::Residual2), "add", x, {"N", "C"});
}

Tensor vit_forward(const VitConfig& cfg, const VitWeights& w, const Tensor& image, Trace& trace) {
    const StepScope top;

    // timm: x = self.patch_embed(x), the Conv2d as patchify + linear
    Tensor patches;  // [n, 3·P·P]
    patchify(patches, image, cfg.patch);
    trace.record(top(Role::Patchify), "patchify", patches, {"n", "patch_dim"});
    Tensor tokens;  // [n, C]
    linear(tokens, patches, w.patch_embed);
    trace.record(top(Role::PatchProj), "linear", tokens, {"n", "C"});

    // timm: x = self._pos_embed(x)
    Tensor x;  // [N, C], the residual stream
    prepend_cls_token(x, tokens, w.cls_token);
    trace.record(top(Role::ClsToken), "concat", x, {"N", "C"});
    add(x, x, w.pos_embed);
    trace.record(top(Role::PosEmbed), "add", x, {"N", "C"});

    // timm: x = self.blocks(x)
    VitBuffers buffers;
    for (int i = 0; i < cfg.depth; i++) vit_block(x, w.blocks[i], cfg, i, buffers, trace);

    // timm: x = self.norm(x); x = self.pool(x); x = self.fc_norm(x); x = self.head(x)
    Tensor pooled;  // [C]
    if (cfg.pool == Pool::Token) {
        layernorm(x, x, w.norm);
        trace.record(top(Role::Norm), "layernorm", x, {"N", "C"});
        pool_first_token(pooled, x);
        trace.record(top(Role::Pool), "pool_token", pooled, {"C"});
    } else {
        pool_mean(pooled, x, 1);
        trace.record(top(Role::Pool), "pool_mean", pooled, {"C"});
        layernorm(pooled, pooled, w.norm);
        trace.record(top(Role::FcNorm), "layernorm", pooled, {"C"});
    }
    Tensor logits;  // [classes]
    linear(logits, pooled, w.head);
    trace.record(top(Role::Head), "linear", logits, {"classes"});
    return logits;
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
        int_field(&C::classes, "classes", "--classes", "Outputs of the classifier head", "classes", 1, 1000000),
        fixed_field(&C::norm_eps, "norm_eps"),
    };
    bind_typed<C, VitWeights>(f, validate, make_vit_weights, visit_vit_params<const ParamFn&>, vit_forward);
    f.derived = [](const std::any& cfg) {
        const C& c = config_as<C>(cfg);
        return ConfigRecord{{"tokens", {int64_t{c.tokens()}}},
                            {"head_dim", {int64_t{c.head_dim()}}},
                            {"hidden", {int64_t{c.hidden()}}}};
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
