// Swin Transformer (v1), as timm's SwinTransformer.
//
// Dimension key:
//   S          image side in pixels (the input is [3, S, S])
//   P          patch side in pixels (4)
//   H, W       the token grid of a stage: S / P at stage 0, halved by each patch merging
//   C          channels of a stage: embed_dim · 2^stage
//   M          window side of a stage; T = M·M tokens per window ("T"; an attention matrix's axes are T_q and T_k)
//   nW         windows of a stage, (H / M) · (W / M) ("windows")
//   heads      attention heads of a stage; head_dim = C / heads
//   hidden     MLP hidden width, int(C · mlp_ratio)
//   classes    outputs of the classifier head
//
// Window and shift of a stage, as timm and torchvision: when the stage's grid
// is no larger than the window, the window is the whole grid and nothing is
// shifted; otherwise the window is `window` and odd blocks shift by M / 2.
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

struct SwinConfig {
    int image_size = 224;             // S
    int patch = 4;                    // P
    int embed_dim = 96;               // C of stage 0
    std::vector<int> depths = {2, 2, 6, 2};
    std::vector<int> heads = {3, 6, 12, 24};
    int window = 7;
    double mlp_ratio = 4.0;
    int classes = 1000;      // 0: no head, the model gives features only
    float norm_eps = 1e-5f;  // nn.LayerNorm's default, as timm's Swin

    int stages() const { return static_cast<int>(depths.size()); }
    int resolution(int stage) const { return (image_size / patch) >> stage; }  // H = W of the stage
    int channels(int stage) const { return embed_dim << stage; }               // C of the stage
    int window_at(int stage) const { return resolution(stage) <= window ? resolution(stage) : window; }
    int shift_at(int stage) const { return resolution(stage) <= window ? 0 : window / 2; }
    int features() const { return channels(stages() - 1); }  // C of the last stage
};

// The checks between fields (each field checks itself, see swin_family).
// Throws Error(Config) naming the stage and the sizes that do not fit.
void validate(const SwinConfig& cfg);

// One block. timm: layers.s.blocks.b
struct SwinBlock {
    LayerNorm norm1;                        // [C]
    Linear qkv;                             // weight [3C, C], bias [3C]
    Tensor relative_position_bias_table;    // [(2M-1)², heads]
    Linear proj;                            // weight [C, C], bias [C]
    LayerNorm norm2;                        // [C]
    Linear fc1;                             // weight [hidden, C], bias [hidden]
    Linear fc2;                             // weight [C, hidden], bias [C]
};

// timm: layers.s.downsample, at the start of every stage but the first
struct PatchMerging {
    LayerNorm norm;     // [4C]
    Linear reduction;   // weight [2C, 4C], no bias
};

struct SwinStage {
    PatchMerging downsample;  // unused in stage 0
    std::vector<SwinBlock> blocks;
};

struct SwinWeights {
    Linear patch_embed;        // patch_embed.proj: weight [C, 3, P, P], bias [C]
    LayerNorm patch_norm;      // patch_embed.norm [C]
    std::vector<SwinStage> layers;
    LayerNorm norm;            // [features]
    Linear head;               // head.fc: weight [classes, features], bias [classes]
};

// Shape-only weights for cfg: every tensor has its timm shape and no data.
SwinWeights make_swin_weights(const SwinConfig& cfg);

// fn(name, tensor, kind, fan_in) for every parameter, in timm's (>= 0.9) state-dict
// order and names: layers.s.downsample.* opens stage s, the head is head.fc.*.
template <class Fn>
void visit_swin_params(SwinWeights& w, const SwinConfig& cfg, Fn&& fn);

// The forward pass's buffers, reused from one block to the next and, in the
// model's workspace (core/workspace.h), from one forward pass to the next.
struct SwinBuffers {
    Tensor x;               // [H, W, C]       the residual stream
    Tensor xn;              // [H, W, C]       normalised x; then the windows merged back
    Tensor windows;         // [nW, T, C]
    AttentionBuffers attn;  // qkv [nW, T, 3C] ... merged [nW, T, C]
    Tensor branch;          // [nW, T, C], then [H, W, C]: output of attn or mlp before the residual add;
                            // in shifted blocks, first the shifted copy of xn
    Tensor hidden;          // [H, W, hidden]; before the first block the patches [H·W, 3·P·P], and
                            // between stages patch merging's [H/2, W/2, 4C]
};

// timm: SwinTransformerBlock.forward, block b of stage s
// x [H, W, C], updated in place
void swin_block(Tensor& x, const SwinBlock& blk, const SwinConfig& cfg, int s, int b, SwinBuffers& t, Trace& trace);

// timm: SwinTransformer.forward
// features [C], logits [classes] (none without a head) <- image [3, S, S], normalised
ModelOutput swin_forward(const SwinConfig& cfg, const SwinWeights& w, const Tensor& image, Trace& trace,
                         Workspace& workspace);

// The Swin family: its config fields, weights and forward pass (core/family.h).
const Family& swin_family();

// ---------------------------------------------------------------------------

template <class Fn>
void visit_swin_params(SwinWeights& w, const SwinConfig& cfg, Fn&& fn) {
    visit_linear(w.patch_embed, "patch_embed.proj", fn);
    visit_layernorm(w.patch_norm, "patch_embed.norm", fn);
    for (int s = 0; s < cfg.stages(); s++) {
        SwinStage& st = w.layers[s];
        const std::string p = "layers." + std::to_string(s) + ".";
        if (s > 0) {
            visit_layernorm(st.downsample.norm, p + "downsample.norm", fn);
            visit_linear(st.downsample.reduction, p + "downsample.reduction", fn);
        }
        for (size_t b = 0; b < st.blocks.size(); b++) {
            SwinBlock& blk = st.blocks[b];
            const std::string q = p + "blocks." + std::to_string(b) + ".";
            visit_layernorm(blk.norm1, q + "norm1", fn);
            fn(q + "attn.relative_position_bias_table", blk.relative_position_bias_table, ParamKind::Embedding, 0);
            visit_linear(blk.qkv, q + "attn.qkv", fn);
            visit_linear(blk.proj, q + "attn.proj", fn);
            visit_layernorm(blk.norm2, q + "norm2", fn);
            visit_linear(blk.fc1, q + "mlp.fc1", fn);
            visit_linear(blk.fc2, q + "mlp.fc2", fn);
        }
    }
    visit_layernorm(w.norm, "norm", fn);
    if (cfg.classes > 0) visit_linear(w.head, "head.fc", fn);
}

}  // namespace vitrace
