// Where a step stands in a model, and its name. Every step name in vitrace is
// built here, from structured facts: commands, cost tables, pictures and
// lessons read the facts and never take a name apart.
//
// A name is the timm module path of the step: a scope, then the role's leaf.
//   scope                  stage  block   example
//   (none)                   -1     -1    patch_embed.proj, cls_token, norm, head
//   blocks.i.                -1      i    blocks.3.attn.qkv            (ViT)
//   layers.s.                 s     -1    layers.1.downsample.merge    (Swin)
//   layers.s.blocks.b.        s      b    layers.1.blocks.0.attn.softmax
#pragma once

#include <cstdint>
#include <string>

namespace vitrace {

// What a step does in its block or model, one value per leaf name.
enum class Role : uint8_t {
    // preprocessing
    InputDecode, InputResize, InputScale, InputNormalize,
    // embedding
    StemPatchify0, StemConv0, StemBn0, StemAct0, StemPatchify1, StemConv1, StemBn1, StemAct1,
    Patchify, PatchNormIn, PatchProj, PatchNorm, ClsToken, RegToken, DistToken, PosEmbedResample, PosEmbed,
    // a block
    Norm1, CyclicShift, WindowPartition,
    Qkv, SplitHeads, Scores, Scale,
    BiasTable, PositionIndex, PositionBias, AddPositionBias, Mask, AddMask,
    Softmax, WeightedSum, MergeHeads, Proj,
    WindowReverse, ReverseShift, Ls1, Residual1,
    Norm2, Fc1, Act, Fc2, Ls2, Residual2,
    // Swin's patch merging, at the start of a stage
    Merge, MergeNorm, Reduction,
    // the end
    Norm, FcNorm, Pool, GlobalPool, Head, HeadDist, HeadFc,
};

// Where a role's multiply-adds go in the cost tables (core/cost.h).
enum class CostKind { Projection, Attention, Mlp, Other };

struct StepAt {
    Role role;
    int stage = -1;  // Swin stage s (layers.s); -1 elsewhere
    int block = -1;  // block i (blocks.i), or block b of stage s; -1 outside the blocks
    int window = 0;  // Swin: the window side M of a block's step; 0 elsewhere
    int shift = 0;   // Swin: the block's cyclic shift; 0 when unshifted

    bool in_block() const { return block >= 0; }
    bool in_layer() const { return stage >= 0 || block >= 0; }
    bool operator==(const StepAt&) const = default;
};

// The step's name: its scope, then the role's leaf ("blocks.3.attn.qkv").
std::string step_name(const StepAt& at);
// The leaf alone ("attn.qkv").
const char* role_leaf(Role role);
CostKind cost_kind(Role role);

// The name of the layer a step belongs to, as the cost tables show it:
// "blocks.3" for a ViT block, "layers.1" for a Swin stage; "" outside both.
std::string layer_name(const StepAt& at);
// The scope of a step: "blocks.3", "layers.1.blocks.0", "layers.1.downsample"'s
// "layers.1", or "" outside the layers.
std::string block_name(const StepAt& at);

// The scope that a family's forward pass records its steps in, so that the
// call site reads `trace.record(at(Role::Qkv), ...)`.
struct StepScope {
    int stage = -1, block = -1, window = 0, shift = 0;
    StepAt operator()(Role role) const { return {role, stage, block, window, shift}; }
};

}  // namespace vitrace
