// Vision Transformer (ViT), as timm's VisionTransformer.
//
// Dimension key:
//   S          image side in pixels (the input is [3, S, S])
//   P          patch side in pixels
//   h, w       patch grid, h = w = S / P
//   n          patches, n = h·w
//   N          tokens, N = prefix + n: the cls token, then the distillation
//              token (DeiT) or the register tokens, then the patches
//   R          register tokens (reg_token)
//   C          channels (embedding width)
//   heads      attention heads; head_dim = C / heads
//   hidden     MLP hidden width, int(C · mlp_ratio)
//   classes    outputs of the classifier head
#pragma once

#include <string>
#include <vector>

#include "core/attention.h"
#include "core/family.h"
#include "core/layernorm.h"
#include "core/linear.h"
#include "core/params.h"
#include "core/trace.h"

namespace vitrace {

enum class Pool { Token, Mean };  // timm global_pool 'token' or 'avg'

struct VitConfig {
    int image_size = 224;   // S
    int patch = 16;         // P
    int width = 768;        // C
    int depth = 12;         // blocks
    int heads = 12;
    double mlp_ratio = 4.0;
    Pool pool = Pool::Token;
    int classes = 1000;      // 0: no head, the model gives features only
    float norm_eps = 1e-6f;  // timm's ViT LayerNorm (Hugging Face's ViT: 1e-12)
    bool qkv_bias = true;        // attn.qkv has a bias
    bool layer_scale = false;    // blocks.i.ls1, ls2: x + gamma * branch (timm init_values)
    bool class_token = true;     // cls_token; without it the model pools the mean
    int reg_tokens = 0;          // R register tokens after the cls token (reg_token)
    bool no_embed_class = false; // pos_embed covers the patches only, added before the prefix tokens join
    bool distilled = false;      // DeiT: dist_token and head_dist
    int pos_embed_grid = 0;      // the grid side the pos_embed weights hold; 0: the image's grid

    int grid() const { return image_size / patch; }       // h = w
    int patches() const { return grid() * grid(); }       // n
    int prefix() const { return class_token + distilled + reg_tokens; }
    int tokens() const { return prefix() + patches(); }   // N
    int pos_grid() const { return pos_embed_grid > 0 ? pos_embed_grid : grid(); }
    int pos_rows() const { return (no_embed_class ? 0 : prefix()) + pos_grid() * pos_grid(); }
    int head_dim() const { return width / heads; }
    int hidden() const { return static_cast<int>(width * mlp_ratio); }
};

// The checks between fields (each field checks itself, see vit_family).
// Throws Error(Config) naming the fields, what they must be, and what they are.
void validate(const VitConfig& cfg);

// One encoder block. timm: blocks.i
struct VitBlock {
    LayerNorm norm1;  // [C]
    Linear qkv;       // weight [3C, C], bias [3C] (none without qkv_bias)
    Linear proj;      // weight [C, C], bias [C]
    Tensor ls1;       // ls1.gamma [C] (layer_scale only)
    LayerNorm norm2;  // [C]
    Linear fc1;       // weight [hidden, C], bias [hidden]
    Linear fc2;       // weight [C, hidden], bias [C]
    Tensor ls2;       // ls2.gamma [C] (layer_scale only)
};

struct VitWeights {
    Linear patch_embed;     // patch_embed.proj: weight [C, 3, P, P], bias [C]
    Tensor cls_token;       // [1, 1, C] (class_token only)
    Tensor reg_token;       // [1, R, C] (reg_tokens > 0 only)
    Tensor dist_token;      // [1, 1, C] (distilled only)
    Tensor pos_embed;       // [1, pos_rows, C]: the prefix rows (unless no_embed_class), then the grid
    std::vector<VitBlock> blocks;
    LayerNorm norm;         // [C]: "norm" before token pooling, "fc_norm" after mean pooling
    Linear head;            // weight [classes, C], bias [classes] (none with classes 0)
    Linear head_dist;       // weight [classes, C], bias [classes] (distilled only)
};

// Shape-only weights for cfg: every tensor has its timm shape and no data.
VitWeights make_vit_weights(const VitConfig& cfg);

// Calls fn(name, tensor, kind, fan_in) for every parameter, in timm's state-dict
// order and with timm's names.
template <class Fn>
void visit_vit_params(VitWeights& w, const VitConfig& cfg, Fn&& fn);

// The forward pass's buffers, reused from one block to the next and, in the
// model's workspace (core/workspace.h), from one forward pass to the next.
struct VitBuffers {
    Tensor patches;         // [n, 3·P·P]   patchify
    Tensor tokens;          // [n, C]       patch_embed.proj
    Tensor x;               // [N, C]       the residual stream
    Tensor xn;              // [N, C]       normalised x
    AttentionBuffers attn;  // qkv [N, 3C] ... merged [N, C]
    Tensor branch;          // [N, C]       output of attn or mlp, before the residual add
    Tensor hidden;          // [N, hidden]
};

// timm: Block.forward, block i
// x [N, C], updated in place
void vit_block(Tensor& x, const VitBlock& b, const VitConfig& cfg, int i, VitBuffers& t, Trace& trace);

// timm: VisionTransformer.forward
// features [C], logits [classes] (none without a head) <- image [3, S, S], normalised
ModelOutput vit_forward(const VitConfig& cfg, const VitWeights& w, const Tensor& image, Trace& trace,
                        Workspace& workspace);

// The ViT family: its config fields, weights and forward pass (core/family.h).
const Family& vit_family();

// ---------------------------------------------------------------------------

template <class Fn>
void visit_vit_params(VitWeights& w, const VitConfig& cfg, Fn&& fn) {
    if (cfg.class_token) fn("cls_token", w.cls_token, ParamKind::Embedding, 0);
    if (cfg.reg_tokens > 0) fn("reg_token", w.reg_token, ParamKind::Embedding, 0);
    if (cfg.distilled) fn("dist_token", w.dist_token, ParamKind::Embedding, 0);
    fn("pos_embed", w.pos_embed, ParamKind::Embedding, 0);
    visit_linear(w.patch_embed, "patch_embed.proj", fn);
    for (size_t i = 0; i < w.blocks.size(); i++) {
        VitBlock& b = w.blocks[i];
        const std::string p = "blocks." + std::to_string(i) + ".";
        visit_layernorm(b.norm1, p + "norm1", fn);
        visit_linear(b.qkv, p + "attn.qkv", fn);
        visit_linear(b.proj, p + "attn.proj", fn);
        if (cfg.layer_scale) fn(p + "ls1.gamma", b.ls1, ParamKind::NormScale, 0);
        visit_layernorm(b.norm2, p + "norm2", fn);
        visit_linear(b.fc1, p + "mlp.fc1", fn);
        visit_linear(b.fc2, p + "mlp.fc2", fn);
        if (cfg.layer_scale) fn(p + "ls2.gamma", b.ls2, ParamKind::NormScale, 0);
    }
    visit_layernorm(w.norm, cfg.pool == Pool::Token ? "norm" : "fc_norm", fn);
    if (cfg.classes > 0) visit_linear(w.head, "head", fn);
    if (cfg.classes > 0 && cfg.distilled) visit_linear(w.head_dist, "head_dist", fn);
}

}  // namespace vitrace
