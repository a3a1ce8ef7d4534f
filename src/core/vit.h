// Vision Transformer (ViT), as timm's VisionTransformer.
//
// Dimension key:
//   S          image side in pixels (the input is [3, S, S])
//   P          patch side in pixels
//   h, w       patch grid, h = w = S / P
//   n          patches, n = h·w
//   N          tokens, N = n + 1 (the cls token first)
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
    int classes = 1000;
    float norm_eps = 1e-6f;  // timm's ViT LayerNorm

    int grid() const { return image_size / patch; }       // h = w
    int patches() const { return grid() * grid(); }       // n
    int tokens() const { return patches() + 1; }          // N
    int head_dim() const { return width / heads; }
    int hidden() const { return static_cast<int>(width * mlp_ratio); }
};

// The checks between fields (each field checks itself, see vit_family).
// Throws Error(Config) naming the fields, what they must be, and what they are.
void validate(const VitConfig& cfg);

// One encoder block. timm: blocks.i
struct VitBlock {
    LayerNorm norm1;  // [C]
    Linear qkv;       // weight [3C, C], bias [3C]
    Linear proj;      // weight [C, C], bias [C]
    LayerNorm norm2;  // [C]
    Linear fc1;       // weight [hidden, C], bias [hidden]
    Linear fc2;       // weight [C, hidden], bias [C]
};

struct VitWeights {
    Linear patch_embed;     // patch_embed.proj: weight [C, 3, P, P], bias [C]
    Tensor cls_token;       // [1, 1, C]
    Tensor pos_embed;       // [1, N, C]
    std::vector<VitBlock> blocks;
    LayerNorm norm;         // [C]: "norm" before token pooling, "fc_norm" after mean pooling
    Linear head;            // weight [classes, C], bias [classes]
};

// Shape-only weights for cfg: every tensor has its timm shape and no data.
VitWeights make_vit_weights(const VitConfig& cfg);

// Calls fn(name, tensor, kind, fan_in) for every parameter, in timm's state-dict
// order and with timm's names.
template <class Fn>
void visit_vit_params(VitWeights& w, const VitConfig& cfg, Fn&& fn);

// Buffers of the blocks, reused from one block to the next.
struct VitBuffers {
    Tensor xn;              // [N, C]       normalised x
    AttentionBuffers attn;  // qkv [N, 3C] ... merged [N, C]
    Tensor branch;          // [N, C]       output of attn or mlp, before the residual add
    Tensor hidden;          // [N, hidden]
};

// timm: Block.forward, block i
// x [N, C], updated in place
void vit_block(Tensor& x, const VitBlock& b, const VitConfig& cfg, int i, VitBuffers& t, Trace& trace);

// timm: VisionTransformer.forward
// logits [classes] <- image [3, S, S], normalised
Tensor vit_forward(const VitConfig& cfg, const VitWeights& w, const Tensor& image, Trace& trace);

// The ViT family: its config fields, weights and forward pass (core/family.h).
const Family& vit_family();

// ---------------------------------------------------------------------------

template <class Fn>
void visit_vit_params(VitWeights& w, const VitConfig& cfg, Fn&& fn) {
    fn("cls_token", w.cls_token, ParamKind::Embedding, 0);
    fn("pos_embed", w.pos_embed, ParamKind::Embedding, 0);
    visit_linear(w.patch_embed, "patch_embed.proj", fn);
    for (size_t i = 0; i < w.blocks.size(); i++) {
        VitBlock& b = w.blocks[i];
        const std::string p = "blocks." + std::to_string(i) + ".";
        visit_layernorm(b.norm1, p + "norm1", fn);
        visit_linear(b.qkv, p + "attn.qkv", fn);
        visit_linear(b.proj, p + "attn.proj", fn);
        visit_layernorm(b.norm2, p + "norm2", fn);
        visit_linear(b.fc1, p + "mlp.fc1", fn);
        visit_linear(b.fc2, p + "mlp.fc2", fn);
    }
    visit_layernorm(w.norm, cfg.pool == Pool::Token ? "norm" : "fc_norm", fn);
    visit_linear(w.head, "head", fn);
}

}  // namespace vitrace
