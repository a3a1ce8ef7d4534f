// Each step's place in timm: the method and the line of it that computes what
// the step records. Lines are from timm's current sources (2025-2026):
// timm/models/vision_transformer.py, timm/models/swin_transformer.py,
// timm/layers/{attention,mlp,patch_embed,classifier,pos_embed}.py.
#include "report/page.h"

namespace vitrace::report {

namespace {

struct TimmLine {
    const char* family;  // "vit", "swin", or "" for both
    Role role;
    const char* where;
    const char* file;
    const char* code;
};

constexpr const char* kVit = "timm/models/vision_transformer.py";
constexpr const char* kSwin = "timm/models/swin_transformer.py";
constexpr const char* kAttention = "timm/layers/attention.py";
constexpr const char* kMlp = "timm/layers/mlp.py";
constexpr const char* kPatchEmbed = "timm/layers/patch_embed.py";
constexpr const char* kTransforms = "timm/data/transforms_factory.py";

constexpr TimmLine kLines[] = {
    {"", Role::InputDecode, "before timm: PIL decodes the file", "PIL/Image.py", "img = Image.open(path).convert('RGB')"},
    {"", Role::InputResize, "transforms_imagenet_eval", kTransforms, "transforms.Resize(scale_size, interpolation=...), transforms.CenterCrop(img_size)  # scale_size = img_size / crop_pct"},
    {"", Role::InputScale, "transforms_imagenet_eval", kTransforms, "MaybeToTensor()  # 0..255 -> 0..1, HWC -> CHW"},
    {"", Role::InputNormalize, "transforms_imagenet_eval", kTransforms, "transforms.Normalize(mean=torch.tensor(mean), std=torch.tensor(std))"},
    {"", Role::Patchify, "PatchEmbed.forward", kPatchEmbed, "x = self.proj(x)  # the conv cuts the patches and projects them in one call"},
    {"", Role::PatchProj, "PatchEmbed.forward", kPatchEmbed, "x = self.proj(x)"},
    {"", Role::PatchNorm, "PatchEmbed.forward", kPatchEmbed, "x = self.norm(x)"},
    {"vit", Role::ClsToken, "VisionTransformer._pos_embed", kVit, "x = torch.cat(to_cat + [x], dim=1)"},
    {"vit", Role::RegToken, "VisionTransformer._pos_embed", kVit, "x = torch.cat(to_cat + [x], dim=1)"},
    {"vit", Role::DistToken, "VisionTransformerDistilled._pos_embed", "timm/models/deit.py", "x = torch.cat((self.cls_token.expand(...), self.dist_token.expand(...), x), dim=1)"},
    {"vit", Role::PosEmbedResample, "resample_abs_pos_embed", "timm/layers/pos_embed.py", "posemb = F.interpolate(posemb, size=new_size, mode='bicubic', antialias=True)"},
    {"vit", Role::PosEmbed, "VisionTransformer._pos_embed", kVit, "x = x + pos_embed"},
    {"vit", Role::Norm1, "Block.forward", kVit, "x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))"},
    {"swin", Role::Norm1, "SwinTransformerBlock.forward", kSwin, "x = x + self.drop_path1(self._attn(self.norm1(x)))"},
    {"swin", Role::CyclicShift, "SwinTransformerBlock._attn", kSwin, "shifted_x = torch.roll(x, shifts=(-self.shift_size[0], -self.shift_size[1]), dims=(1, 2))"},
    {"swin", Role::WindowPartition, "SwinTransformerBlock._attn", kSwin, "x_windows = window_partition(shifted_x, self.window_size)"},
    {"vit", Role::Qkv, "Attention.forward", kAttention, "qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)"},
    {"swin", Role::Qkv, "WindowAttention.forward", kSwin, "qkv = self.qkv(x).reshape(B_, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)"},
    {"vit", Role::SplitHeads, "Attention.forward", kAttention, "q, k, v = qkv.unbind(0)"},
    {"swin", Role::SplitHeads, "WindowAttention.forward", kSwin, "q, k, v = qkv.unbind(0)"},
    {"vit", Role::Scores, "Attention.forward", kAttention, "attn = q @ k.transpose(-2, -1)  # timm scales q first; vitrace scales the product"},
    {"swin", Role::Scores, "WindowAttention.forward", kSwin, "attn = q @ k.transpose(-2, -1)  # timm scales q first; vitrace scales the product"},
    {"vit", Role::Scale, "Attention.forward", kAttention, "q = q * self.scale"},
    {"swin", Role::Scale, "WindowAttention.forward", kSwin, "q = q * self.scale"},
    {"swin", Role::BiasTable, "WindowAttention.__init__", kSwin, "self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * win_h - 1) * (2 * win_w - 1), num_heads))"},
    {"swin", Role::PositionIndex, "WindowAttention.__init__", kSwin, "self.register_buffer(\"relative_position_index\", get_relative_position_index(win_h, win_w), persistent=False)"},
    {"swin", Role::PositionBias, "WindowAttention._get_rel_pos_bias", kSwin, "relative_position_bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(self.window_area, self.window_area, -1)"},
    {"swin", Role::AddPositionBias, "WindowAttention.forward", kSwin, "attn = attn + self._get_rel_pos_bias()"},
    {"swin", Role::Mask, "SwinTransformerBlock.get_attn_mask", kSwin, "attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))"},
    {"swin", Role::AddMask, "WindowAttention.forward", kSwin, "attn = attn.view(-1, num_win, self.num_heads, N, N) + mask.unsqueeze(1).unsqueeze(0)"},
    {"vit", Role::Softmax, "Attention.forward", kAttention, "attn = attn.softmax(dim=-1)"},
    {"swin", Role::Softmax, "WindowAttention.forward", kSwin, "attn = self.softmax(attn)"},
    {"vit", Role::WeightedSum, "Attention.forward", kAttention, "x = attn @ v"},
    {"swin", Role::WeightedSum, "WindowAttention.forward", kSwin, "x = attn @ v"},
    {"vit", Role::MergeHeads, "Attention.forward", kAttention, "x = x.transpose(1, 2).reshape(B, N, self.attn_dim)"},
    {"swin", Role::MergeHeads, "WindowAttention.forward", kSwin, "x = x.transpose(1, 2).reshape(B_, N, -1)"},
    {"vit", Role::Proj, "Attention.forward", kAttention, "x = self.proj(x)"},
    {"swin", Role::Proj, "WindowAttention.forward", kSwin, "x = self.proj(x)"},
    {"swin", Role::WindowReverse, "SwinTransformerBlock._attn", kSwin, "shifted_x = window_reverse(attn_windows, self.window_size, Hp, Wp)"},
    {"swin", Role::ReverseShift, "SwinTransformerBlock._attn", kSwin, "x = torch.roll(shifted_x, shifts=self.shift_size, dims=(1, 2))"},
    {"vit", Role::Ls1, "Block.forward", kVit, "x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))"},
    {"vit", Role::Residual1, "Block.forward", kVit, "x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))"},
    {"swin", Role::Residual1, "SwinTransformerBlock.forward", kSwin, "x = x + self.drop_path1(self._attn(self.norm1(x)))"},
    {"vit", Role::Norm2, "Block.forward", kVit, "x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))"},
    {"swin", Role::Norm2, "SwinTransformerBlock.forward", kSwin, "x = x + self.drop_path2(self.mlp(self.norm2(x)))"},
    {"", Role::Fc1, "Mlp.forward", kMlp, "x = self.fc1(x)"},
    {"", Role::Act, "Mlp.forward", kMlp, "x = self.act(x)"},
    {"", Role::Fc2, "Mlp.forward", kMlp, "x = self.fc2(x)"},
    {"vit", Role::Ls2, "Block.forward", kVit, "x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))"},
    {"vit", Role::Residual2, "Block.forward", kVit, "x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))"},
    {"swin", Role::Residual2, "SwinTransformerBlock.forward", kSwin, "x = x + self.drop_path2(self.mlp(self.norm2(x)))"},
    {"swin", Role::Merge, "PatchMerging.forward", kSwin, "x = x.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3)"},
    {"swin", Role::MergeNorm, "PatchMerging.forward", kSwin, "x = self.norm(x)"},
    {"swin", Role::Reduction, "PatchMerging.forward", kSwin, "x = self.reduction(x)"},
    {"vit", Role::Norm, "VisionTransformer.forward_features", kVit, "x = self.norm(x)"},
    {"swin", Role::Norm, "SwinTransformer.forward_features", kSwin, "x = self.norm(x)"},
    {"vit", Role::Pool, "VisionTransformer.forward_head", kVit, "x = self.pool(x)"},
    {"vit", Role::FcNorm, "VisionTransformer.forward_head", kVit, "x = self.fc_norm(x)"},
    {"vit", Role::Head, "VisionTransformer.forward_head", kVit, "return x if pre_logits else self.head(x)"},
    {"vit", Role::HeadDist, "VisionTransformerDistilled.forward_head", "timm/models/deit.py", "x_dist = self.head_dist(x_dist)"},
    {"swin", Role::GlobalPool, "ClassifierHead.forward", "timm/layers/classifier.py", "x = self.global_pool(x)"},
    {"swin", Role::HeadFc, "ClassifierHead.forward", "timm/layers/classifier.py", "x = self.fc(x)"},
};

}  // namespace

nlohmann::ordered_json timm_line(const std::string& family, Role role) {
    for (const TimmLine& l : kLines)
        if (l.role == role && (*l.family == 0 || family == l.family))
            return {{"where", l.where}, {"file", l.file}, {"code", l.code}};
    return nullptr;
}

}  // namespace vitrace::report
