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
//   heads      attention heads; head_dim = C / heads, or dim_head when given
//   inner      heads · head_dim: q, k and v's width (C unless dim_head is set)
//   hidden     MLP hidden width, int(C · mlp_ratio)
//   classes    outputs of the classifier head
//   C0, pixels ml-cvnets' conv stem: its channels, max(32, C / 4), and the
//              pixels of its map, [pixels, C0] channels-last
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/family.h"
#include "core/layernorm.h"
#include "core/linear.h"
#include "core/params.h"
#include "core/trace.h"

namespace vitrace {

// How the head reads the tokens: timm's global_pool 'token' (the cls token)
// or 'avg' (the mean of the patches, after the prefix tokens), or the mean of
// every token, cls included (vit-pytorch's pool='mean').
enum class Pool { Token, Mean, MeanAll };

// The order of a flattened patch's 3·P·P values. timm's Conv2d weight
// [C, 3, P, P] reads (channel, row, column); vit-pytorch's
// Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)') reads (row, column, channel).
enum class PatchOrder { Chw, Hwc };

// The MLP's (and a conv stem's) activation: timm's nn.GELU, SiLU (ml-cvnets'
// "swish"), ReLU.
enum class Act { Gelu, Silu, Relu };

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
    // Parts of the models learners write with vit-pytorch and ml-cvnets
    // (docs/checkpoints.md); timm's ViT has none of them.
    PatchOrder patch_order = PatchOrder::Chw;
    bool patch_norm = false;     // LayerNorms on the flattened patch and on its embedding (vit-pytorch)
    int dim_head = 0;            // channels per head; 0: C / heads
    bool attn_proj = true;       // attn.proj; vit-pytorch leaves it out with 1 head of dim_head = C
    Act act = Act::Gelu;
    int fc_norm = -1;            // the final LayerNorm after pooling (1, fc_norm) or before (0, norm); -1: after mean pooling only
    bool conv_stem = false;      // ml-cvnets' stem: conv 4x4/4 + BN + act, conv 2x2/2 + BN + act, then a 2x2/2 proj

    int grid() const { return image_size / patch; }       // h = w
    int patches() const { return grid() * grid(); }       // n
    int prefix() const { return class_token + distilled + reg_tokens; }
    int tokens() const { return prefix() + patches(); }   // N
    int pos_grid() const { return pos_embed_grid > 0 ? pos_embed_grid : grid(); }
    int pos_rows() const { return (no_embed_class ? 0 : prefix()) + pos_grid() * pos_grid(); }
    int head_dim() const { return dim_head > 0 ? dim_head : width / heads; }
    int inner() const { return heads * head_dim(); }
    bool use_fc_norm() const { return fc_norm >= 0 ? fc_norm == 1 : pool != Pool::Token; }
    int stem_width() const { return std::max(32, width / 4); }  // ml-cvnets: max(32, embed_dim // 4)
    int hidden() const { return static_cast<int>(width * mlp_ratio); }
};

// The checks between fields (each field checks itself, see vit_family).
// Throws Error(Config) naming the fields, what they must be, and what they are.
void validate(const VitConfig& cfg);

// One encoder block. timm: blocks.i
struct VitBlock {
    LayerNorm norm1;  // [C]
    Linear qkv;       // weight [3·inner, C], bias [3·inner] (none without qkv_bias)
    Linear proj;      // weight [C, inner], bias [C] (none without attn_proj)
    Tensor ls1;       // ls1.gamma [C] (layer_scale only)
    LayerNorm norm2;  // [C]
    Linear fc1;       // weight [hidden, C], bias [hidden]
    Linear fc2;       // weight [C, hidden], bias [C]
    Tensor ls2;       // ls2.gamma [C] (layer_scale only)
};

// One layer of ml-cvnets' conv stem, before patch_embed.proj.
struct StemLayer {
    Linear conv;    // weight [C0, in, k, k], no bias
    BatchNorm bn;   // [C0]
};

struct VitWeights {
    Linear patch_embed;     // patch_embed.proj: weight [C, 3, P, P] (chw), [C, P·P·3] (hwc), [C, C0, 2, 2] (conv stem)
    LayerNorm patch_norm_in;  // [3·P·P] (patch_norm only)
    LayerNorm patch_norm;     // [C] (patch_norm only)
    std::vector<StemLayer> stem;  // 2 layers (conv_stem only)
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
    Tensor stem_cols;       // [h0·w0, in·k·k] conv stem: one layer's input patches
    Tensor stem;            // [h0·w0, C0]  conv stem: one layer's output
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
    for (size_t k = 0; k < w.stem.size(); k++) {
        const std::string p = "patch_embed.stem." + std::to_string(k) + ".";
        visit_linear(w.stem[k].conv, p + "conv", fn);
        visit_batchnorm(w.stem[k].bn, p + "bn", fn);
    }
    if (cfg.patch_norm) visit_layernorm(w.patch_norm_in, "patch_embed.norm_in", fn);
    visit_linear(w.patch_embed, "patch_embed.proj", fn);
    if (cfg.patch_norm) visit_layernorm(w.patch_norm, "patch_embed.norm", fn);
    for (size_t i = 0; i < w.blocks.size(); i++) {
        VitBlock& b = w.blocks[i];
        const std::string p = "blocks." + std::to_string(i) + ".";
        visit_layernorm(b.norm1, p + "norm1", fn);
        visit_linear(b.qkv, p + "attn.qkv", fn);
        if (cfg.attn_proj) visit_linear(b.proj, p + "attn.proj", fn);
        if (cfg.layer_scale) fn(p + "ls1.gamma", b.ls1, ParamKind::NormScale, 0);
        visit_layernorm(b.norm2, p + "norm2", fn);
        visit_linear(b.fc1, p + "mlp.fc1", fn);
        visit_linear(b.fc2, p + "mlp.fc2", fn);
        if (cfg.layer_scale) fn(p + "ls2.gamma", b.ls2, ParamKind::NormScale, 0);
    }
    visit_layernorm(w.norm, cfg.use_fc_norm() ? "fc_norm" : "norm", fn);
    if (cfg.classes > 0) visit_linear(w.head, "head", fn);
    if (cfg.classes > 0 && cfg.distilled) visit_linear(w.head_dist, "head_dist", fn);
}

}  // namespace vitrace
