#include "core/vit.h"

#include <cmath>

#include "core/activation.h"
#include "core/attention.h"
#include "core/patch.h"
#include "core/tokens.h"

namespace vitrace {

void validate(const VitConfig& cfg) {
    auto require = [](bool ok, const std::string& message) { vitrace::require(ok, ErrorKind::Config, message); };
    require(cfg.image_size > 0, "image size must be positive, got " + std::to_string(cfg.image_size));
    require(cfg.patch > 0, "patch size must be positive, got " + std::to_string(cfg.patch));
    require(cfg.width > 0, "width must be positive, got " + std::to_string(cfg.width));
    require(cfg.depth > 0, "depth must be positive, got " + std::to_string(cfg.depth));
    require(cfg.heads > 0, "heads must be positive, got " + std::to_string(cfg.heads));
    require(cfg.classes > 0, "classes must be positive, got " + std::to_string(cfg.classes));
    require(cfg.mlp_ratio > 0 && cfg.mlp_ratio <= 64, "mlp ratio must be in (0, 64], got " + std::to_string(cfg.mlp_ratio));
    require(cfg.image_size <= 16384 && cfg.width <= 65536 && cfg.depth <= 4096 && cfg.classes <= 1000000,
            "config is beyond vitrace's limits (image size <= 16384, width <= 65536, depth <= 4096, "
            "classes <= 1000000)");
    require(cfg.hidden() > 0, "mlp ratio " + std::to_string(cfg.mlp_ratio) + " gives no hidden units at width " +
                                  std::to_string(cfg.width));
    require(cfg.image_size % cfg.patch == 0,
            "image size " + std::to_string(cfg.image_size) + " is not divisible by patch size " +
                std::to_string(cfg.patch) + ": use a multiple of " + std::to_string(cfg.patch));
    require(cfg.width % cfg.heads == 0, "heads " + std::to_string(cfg.heads) + " do not divide width " +
                                            std::to_string(cfg.width) +
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

Tensor vit_forward(const VitConfig& cfg, const VitWeights& w, const Tensor& image, Trace& trace) {
    // timm: x = self.patch_embed(x), the Conv2d as patchify + linear
    Tensor patches;  // [n, 3·P·P]
    patchify(patches, image, cfg.patch);
    trace.record("patch_embed.patchify", "patchify", patches, {"n", "patch_dim"});
    Tensor tokens;  // [n, C]
    linear(tokens, patches, w.patch_embed);
    trace.record("patch_embed.proj", "linear", tokens, {"n", "C"});

    // timm: x = self._pos_embed(x)
    Tensor x;  // [N, C], the residual stream
    prepend_cls_token(x, tokens, w.cls_token);
    trace.record("cls_token", "concat", x, {"N", "C"});
    add(x, x, w.pos_embed);
    trace.record("pos_embed", "add", x, {"N", "C"});

    // Buffers of the blocks, reused from one block to the next.
    Tensor xn;      // [N, C]      normalised x
    Tensor qkv;     // [N, 3C]
    Tensor qkvh;    // [3, heads, N, head_dim]
    Tensor attn;    // [heads, N, N]
    Tensor o;       // [heads, N, head_dim]
    Tensor merged;  // [N, C]
    Tensor branch;  // [N, C]      output of attn or mlp, before the residual add
    Tensor hidden;  // [N, hidden]
    const float scale = 1.0f / std::sqrt(static_cast<float>(cfg.head_dim()));

    for (int i = 0; i < cfg.depth; i++) {
        const VitBlock& b = w.blocks[i];
        const std::string p = "blocks." + std::to_string(i) + ".";

        // timm: x = x + self.attn(self.norm1(x))
        layernorm(xn, x, b.norm1);
        trace.record(p + "norm1", "layernorm", xn, {"N", "C"});
        linear(qkv, xn, b.qkv);
        trace.record(p + "attn.qkv", "linear", qkv, {"N", "3C"});
        split_heads(qkvh, qkv, cfg.heads);
        trace.record(p + "attn.split_heads", "split_heads", qkvh, {"qkv", "heads", "N", "head_dim"});
        attention_scores(attn, qkvh);
        trace.record(p + "attn.scores", "matmul", attn, {"heads", "N", "N"});
        scale_scores(attn, scale);
        trace.record(p + "attn.scale", "scale", attn, {"heads", "N", "N"});
        softmax_rows(attn);
        trace.record(p + "attn.softmax", "softmax", attn, {"heads", "N", "N"});
        weighted_sum(o, attn, qkvh);
        trace.record(p + "attn.weighted_sum", "matmul", o, {"heads", "N", "head_dim"});
        merge_heads(merged, o);
        trace.record(p + "attn.merge_heads", "merge_heads", merged, {"N", "C"});
        linear(branch, merged, b.proj);
        trace.record(p + "attn.proj", "linear", branch, {"N", "C"});
        add(x, x, branch);
        trace.record(p + "residual1", "add", x, {"N", "C"});

        // timm: x = x + self.mlp(self.norm2(x))
        layernorm(xn, x, b.norm2);
        trace.record(p + "norm2", "layernorm", xn, {"N", "C"});
        linear(hidden, xn, b.fc1);
        trace.record(p + "mlp.fc1", "linear", hidden, {"N", "hidden"});
        gelu(hidden, hidden);
        trace.record(p + "mlp.act", "gelu", hidden, {"N", "hidden"});
        linear(branch, hidden, b.fc2);
        trace.record(p + "mlp.fc2", "linear", branch, {"N", "C"});
        add(x, x, branch);
        trace.record(p + "residual2", "add", x, {"N", "C"});
    }

    // timm: x = self.norm(x); x = self.pool(x); x = self.fc_norm(x); x = self.head(x)
    Tensor pooled;  // [C]
    if (cfg.pool == Pool::Token) {
        layernorm(x, x, w.norm);
        trace.record("norm", "layernorm", x, {"N", "C"});
        pool_first_token(pooled, x);
        trace.record("pool", "pool_token", pooled, {"C"});
    } else {
        pool_mean(pooled, x, 1);
        trace.record("pool", "pool_mean", pooled, {"C"});
        layernorm(pooled, pooled, w.norm);
        trace.record("fc_norm", "layernorm", pooled, {"C"});
    }
    Tensor logits;  // [classes]
    linear(logits, pooled, w.head);
    trace.record("head", "linear", logits, {"classes"});
    return logits;
}

}  // namespace vitrace
