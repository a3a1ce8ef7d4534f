#include "core/step.h"

#include <iterator>

namespace vitrace {

namespace {

struct RoleInfo {
    Role role;
    const char* leaf;  // timm's module path below the scope
    CostKind cost;
};

// One row per role, in the order of the enum.
constexpr RoleInfo kRoles[] = {
    {Role::InputDecode, "input.decode", CostKind::Other},
    {Role::InputResize, "input.resize", CostKind::Other},
    {Role::InputScale, "input.scale", CostKind::Other},
    {Role::InputNormalize, "input.normalize", CostKind::Other},
    {Role::StemPatchify0, "patch_embed.stem.0.patchify", CostKind::Other},
    {Role::StemConv0, "patch_embed.stem.0.conv", CostKind::Other},
    {Role::StemBn0, "patch_embed.stem.0.bn", CostKind::Other},
    {Role::StemAct0, "patch_embed.stem.0.act", CostKind::Other},
    {Role::StemPatchify1, "patch_embed.stem.1.patchify", CostKind::Other},
    {Role::StemConv1, "patch_embed.stem.1.conv", CostKind::Other},
    {Role::StemBn1, "patch_embed.stem.1.bn", CostKind::Other},
    {Role::StemAct1, "patch_embed.stem.1.act", CostKind::Other},
    {Role::Patchify, "patch_embed.patchify", CostKind::Other},
    {Role::PatchNormIn, "patch_embed.norm_in", CostKind::Other},
    {Role::PatchProj, "patch_embed.proj", CostKind::Other},
    {Role::PatchNorm, "patch_embed.norm", CostKind::Other},
    {Role::ClsToken, "cls_token", CostKind::Other},
    {Role::RegToken, "reg_token", CostKind::Other},
    {Role::DistToken, "dist_token", CostKind::Other},
    {Role::PosEmbedResample, "pos_embed.resample", CostKind::Other},
    {Role::PosEmbed, "pos_embed", CostKind::Other},
    {Role::Norm1, "norm1", CostKind::Other},
    {Role::CyclicShift, "cyclic_shift", CostKind::Other},
    {Role::WindowPartition, "window_partition", CostKind::Other},
    {Role::Qkv, "attn.qkv", CostKind::Projection},
    {Role::SplitHeads, "attn.split_heads", CostKind::Other},
    {Role::Scores, "attn.scores", CostKind::Attention},
    {Role::Scale, "attn.scale", CostKind::Other},
    {Role::BiasTable, "attn.relative_position_bias_table", CostKind::Other},
    {Role::PositionIndex, "attn.relative_position_index", CostKind::Other},
    {Role::PositionBias, "attn.relative_position_bias", CostKind::Other},
    {Role::AddPositionBias, "attn.add_relative_position_bias", CostKind::Other},
    {Role::Mask, "attn_mask", CostKind::Other},
    {Role::AddMask, "attn.add_mask", CostKind::Other},
    {Role::Softmax, "attn.softmax", CostKind::Other},
    {Role::WeightedSum, "attn.weighted_sum", CostKind::Attention},
    {Role::MergeHeads, "attn.merge_heads", CostKind::Other},
    {Role::Proj, "attn.proj", CostKind::Projection},
    {Role::WindowReverse, "window_reverse", CostKind::Other},
    {Role::ReverseShift, "reverse_cyclic_shift", CostKind::Other},
    {Role::Ls1, "ls1", CostKind::Other},
    {Role::Residual1, "residual1", CostKind::Other},
    {Role::Norm2, "norm2", CostKind::Other},
    {Role::Fc1, "mlp.fc1", CostKind::Mlp},
    {Role::Act, "mlp.act", CostKind::Other},
    {Role::Fc2, "mlp.fc2", CostKind::Mlp},
    {Role::Ls2, "ls2", CostKind::Other},
    {Role::Residual2, "residual2", CostKind::Other},
    {Role::Merge, "downsample.merge", CostKind::Other},
    {Role::MergeNorm, "downsample.norm", CostKind::Other},
    {Role::Reduction, "downsample.reduction", CostKind::Other},
    {Role::Norm, "norm", CostKind::Other},
    {Role::FcNorm, "fc_norm", CostKind::Other},
    {Role::Pool, "pool", CostKind::Other},
    {Role::GlobalPool, "head.global_pool", CostKind::Other},
    {Role::Head, "head", CostKind::Other},
    {Role::HeadDist, "head_dist", CostKind::Other},
    {Role::HeadFc, "head.fc", CostKind::Other},
};

constexpr bool rows_follow_the_enum() {
    for (size_t i = 0; i < std::size(kRoles); i++)
        if (static_cast<size_t>(kRoles[i].role) != i) return false;
    return true;
}
static_assert(rows_follow_the_enum(), "kRoles must list the roles in the order of the enum");

const RoleInfo& info(Role role) { return kRoles[static_cast<size_t>(role)]; }

}  // namespace

const char* role_leaf(Role role) { return info(role).leaf; }
CostKind cost_kind(Role role) { return info(role).cost; }

std::string layer_name(const StepAt& at) {
    if (at.stage >= 0) return "layers." + std::to_string(at.stage);
    if (at.block >= 0) return "blocks." + std::to_string(at.block);
    return "";
}

std::string block_name(const StepAt& at) {
    std::string name = layer_name(at);
    if (at.stage >= 0 && at.block >= 0) name += ".blocks." + std::to_string(at.block);
    return name;
}

std::string step_name(const StepAt& at) {
    std::string name = block_name(at);
    if (!name.empty()) name += '.';
    return name + role_leaf(at.role);
}

}  // namespace vitrace
