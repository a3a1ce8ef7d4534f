"""Our PyTorch port of timm's ViT and Swin, with timm's module names and
parameter shapes, so that their state_dict keys are the names vitrace loads and
their forward hooks line up with vitrace's step names.

Debian ships no timm, so these follow timm's published definitions
(VisionTransformer in timm/models/vision_transformer.py): pre-norm blocks,
LayerNorm eps 1e-6, qkv with bias, exact GELU, cls token first, learned position
embedding over cls + patches, 'token' pooling after the final norm or 'avg'
pooling over the patch tokens followed by fc_norm.

The variants that published checkpoints use are config fields with timm's
meaning; VIT_VARIANTS holds their defaults, which give the plain ViT above:
qkv_bias, layer_scale (blocks.i.ls1/ls2.gamma), class_token, reg_tokens
(reg_token [1, R, C]), no_embed_class (pos_embed covers the patches only and is
added before the prefix tokens are prepended), distilled (timm deit.py:
dist_token and head_dist), norm_eps, and classes = 0 for no head (timm's
num_classes=0: forward returns the features).

`vit_steps` recomputes the forward pass one step at a time with plain torch
operations and returns every intermediate under vitrace's step name.
"""

import json
import math
import subprocess
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# The fields each family's constructor takes, named as in the config of
# `vitrace models --json`. The others there (norm_eps, and sizes derived from
# these) are left out, so that an override cannot leave a derived size stale.
CONFIG_FIELDS = {
    "vit": ("image_size", "patch", "width", "depth", "heads", "mlp_ratio", "pool", "classes"),
    "swin": ("image_size", "patch", "embed_dim", "depths", "heads", "window", "mlp_ratio", "classes"),
}


def builtin_configs(vitrace, family):
    """{name: config} of the built-in models of `family` ("vit" or "swin"), read
    from `vitrace models --json`: the binary keeps the one list of models, so
    the port builds exactly what vitrace means by a name."""
    listed = json.loads(subprocess.check_output([vitrace, "models", "--json"], text=True))
    return {m["name"]: {k: m["config"][k] for k in CONFIG_FIELDS[family]} for m in listed if m["family"] == family}


def vit_config(vitrace, name, **overrides):
    return dict(builtin_configs(vitrace, "vit")[name], **overrides)


# The ViT config fields beyond CONFIG_FIELDS["vit"], with the values that give
# the plain ViT (and so the port's behaviour for a config that leaves them out).
VIT_VARIANTS = dict(qkv_bias=True, layer_scale=False, class_token=True, reg_tokens=0, no_embed_class=False,
                    distilled=False, norm_eps=1e-6)


class Attention(nn.Module):
    """timm.layers.Attention. With fused_attn (timm's use_fused_attn(): PyTorch
    2's scaled_dot_product_attention) the scores and the softmax stay inside one
    call; without it the softmax passes through attn_drop, where a forward hook
    sees it (src/python/vitrace_hooks.py turns fused_attn off)."""

    def __init__(self, width, heads, qkv_bias=True):
        super().__init__()
        self.num_heads = heads
        self.scale = (width // heads) ** -0.5
        self.fused_attn = hasattr(F, "scaled_dot_product_attention")
        self.qkv = nn.Linear(width, 3 * width, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)  # timm scales q first
            attn = self.attn_drop(attn.softmax(dim=-1))
            x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """timm's LayerScale: a learned per-channel gain on a residual branch."""

    def __init__(self, width):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, width, heads, hidden, eps, qkv_bias=True, layer_scale=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=eps)
        self.attn = Attention(width, heads, qkv_bias)
        self.ls1 = LayerScale(width) if layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(width, eps=eps)
        self.mlp = Mlp(width, hidden)
        self.ls2 = LayerScale(width) if layer_scale else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, patch, width):
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, n, C]


class VisionTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        cfg = dict(VIT_VARIANTS, **cfg)
        C, eps = cfg["width"], cfg["norm_eps"]
        n = (cfg["image_size"] // cfg["patch"]) ** 2
        hidden = int(C * cfg["mlp_ratio"])
        self.cfg = cfg
        self.global_pool = "token" if cfg["pool"] == "token" else "avg"
        self.no_embed_class = cfg["no_embed_class"]
        # prefix tokens, in timm's order: cls, then dist (deit) or the registers
        self.num_prefix_tokens = int(cfg["class_token"]) + int(cfg["distilled"]) + cfg["reg_tokens"]
        self.patch_embed = PatchEmbed(cfg["patch"], C)
        if cfg["class_token"]:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        if cfg["reg_tokens"]:
            self.reg_token = nn.Parameter(torch.zeros(1, cfg["reg_tokens"], C))
        self.pos_embed = nn.Parameter(torch.zeros(1, n if cfg["no_embed_class"] else n + self.num_prefix_tokens, C))
        if cfg["distilled"]:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, C))
        self.pos_drop = nn.Dropout(0.0)
        self.blocks = nn.ModuleList([Block(C, cfg["heads"], hidden, eps, cfg["qkv_bias"], cfg["layer_scale"])
                                     for _ in range(cfg["depth"])])
        # timm: the final norm before token pooling, fc_norm after mean pooling; the other is an Identity
        token = cfg["pool"] == "token"
        self.norm = nn.LayerNorm(C, eps=eps) if token else nn.Identity()
        self.fc_norm = nn.Identity() if token else nn.LayerNorm(C, eps=eps)
        self.head = nn.Linear(C, cfg["classes"]) if cfg["classes"] else nn.Identity()
        if cfg["distilled"]:
            self.head_dist = nn.Linear(C, cfg["classes"]) if cfg["classes"] else nn.Identity()

    def prefix_tokens(self, B):
        names = ("cls_token", "dist_token", "reg_token")
        return [getattr(self, k).expand(B, -1, -1) for k in names if hasattr(self, k)]

    def forward_features(self, x):  # x [B, 3, S, S] -> [B, N, C], after the final norm
        x = self.patch_embed(x)
        prefix = self.prefix_tokens(x.shape[0])
        if self.cfg["no_embed_class"]:
            # timm: pos_embed does not cover the prefix tokens; add, then concatenate
            x = torch.cat(prefix + [x + self.pos_embed], dim=1)
        else:
            x = torch.cat(prefix + [x], dim=1) + self.pos_embed
        x = self.pos_drop(x)
        for b in self.blocks:
            x = b(x)
        return self.norm(x)

    def forward_head(self, x, pre_logits=False):  # [B, N, C] -> features [B, C] or logits [B, classes]
        if self.cfg["distilled"]:
            # timm deit.py: eval averages the two heads; pre_logits averages the two tokens
            if pre_logits:
                return (x[:, 0] + x[:, 1]) / 2
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        if self.cfg["pool"] == "token":
            x = x[:, 0]
        else:
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        x = self.fc_norm(x)
        return x if pre_logits else self.head(x)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def resample_abs_pos_embed(pos_embed, new_grid, num_prefix_tokens):
    """timm.layers.resample_abs_pos_embed: [1, prefix + h·w, C] -> [1, prefix + h'·w', C].
    The prefix rows are kept; the grid [1, C, h, w] is resized in float32 by
    bicubic interpolation with antialias=True (which also changes upsampling:
    PyTorch's antialiased bicubic uses the a = -0.5 kernel, the plain one -0.75)."""
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    C = grid.shape[-1]
    h = int(math.sqrt(grid.shape[1]))
    grid = grid.float().reshape(1, h, h, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_grid, mode="bicubic", antialias=True, align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, C).to(pos_embed.dtype)
    return torch.cat([prefix, grid], dim=1)


def vit_at_size(model, image_size):
    """The same weights at another input size: pos_embed resampled as timm does
    when a checkpoint is loaded into a model made for image_size."""
    cfg = dict(model.cfg, image_size=image_size)
    grid = image_size // cfg["patch"]
    state = model.state_dict()
    prefix = 0 if cfg["no_embed_class"] else model.num_prefix_tokens
    state["pos_embed"] = resample_abs_pos_embed(state["pos_embed"], (grid, grid), prefix)
    resized = VisionTransformer(cfg)
    resized.load_state_dict(state)
    return resized.eval()


def randomize(model, generator, scale=1.0):
    """Weights with enough spread that every step matters: Linear and Conv
    weights N(0, scale/fan_in), biases and embeddings N(0, 0.5·scale), LayerNorm
    weight 1 + N(0, 0.2), bias N(0, 0.2). The outputs are O(1), so an absolute
    tolerance on them is a real test. LayerNorms are found by type, so that any
    module tree (torchvision's too) gets the same treatment."""
    norms = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if id(p) in norms:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=generator))
            elif name.endswith("weight") and p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) * math.sqrt(scale / fan_in))
            else:
                p.copy_(0.5 * scale * torch.randn(p.shape, generator=generator))


def preprocess_steps(rgb, mean, std):
    """vitrace's input.* steps from uint8 pixels [S, S, 3] already at the input size."""
    steps = OrderedDict()
    px = torch.from_numpy(rgb.astype("float32"))
    steps["input.decode"] = px
    steps["input.resize"] = px
    x = px.permute(2, 0, 1) / 255.0
    steps["input.scale"] = x
    x = (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    steps["input.normalize"] = x
    return steps, x


def vit_steps(model, x):
    """Every vitrace step of the ViT forward pass for one image x [3, S, S]."""
    cfg = model.cfg
    if any(cfg[k] != v for k, v in VIT_VARIANTS.items()):
        raise ValueError("vit_steps follows the plain ViT; this config sets a variant field of VIT_VARIANTS")
    P, C, heads = cfg["patch"], cfg["width"], cfg["heads"]
    hd = C // heads
    s = OrderedDict()
    # patchify: unfold orders each patch as (channel, row, column), like the Conv2d weight
    s["patch_embed.patchify"] = F.unfold(x[None], kernel_size=P, stride=P)[0].T
    # the real convolution, so the golden also shows conv == patchify + linear
    tok = F.conv2d(x[None], model.patch_embed.proj.weight, model.patch_embed.proj.bias, stride=P)
    tok = tok.flatten(2)[0].T  # [n, C]
    s["patch_embed.proj"] = tok
    h = torch.cat([model.cls_token[0], tok], dim=0)
    s["cls_token"] = h
    h = h + model.pos_embed[0]
    s["pos_embed"] = h
    for i, b in enumerate(model.blocks):
        p = f"blocks.{i}."
        xn = F.layer_norm(h, (C,), b.norm1.weight, b.norm1.bias, 1e-6)
        s[p + "norm1"] = xn
        qkv = xn @ b.attn.qkv.weight.T + b.attn.qkv.bias
        s[p + "attn.qkv"] = qkv
        qkvh = qkv.reshape(-1, 3, heads, hd).permute(1, 2, 0, 3)  # [3, heads, N, hd]
        s[p + "attn.split_heads"] = qkvh
        q, k, v = qkvh[0], qkvh[1], qkvh[2]
        att = q @ k.transpose(-2, -1)
        s[p + "attn.scores"] = att
        att = att * hd ** -0.5
        s[p + "attn.scale"] = att
        att = torch.softmax(att, dim=-1)
        s[p + "attn.softmax"] = att
        o = att @ v
        s[p + "attn.weighted_sum"] = o
        o = o.transpose(0, 1).reshape(-1, C)
        s[p + "attn.merge_heads"] = o
        o = o @ b.attn.proj.weight.T + b.attn.proj.bias
        s[p + "attn.proj"] = o
        h = h + o
        s[p + "residual1"] = h
        xn = F.layer_norm(h, (C,), b.norm2.weight, b.norm2.bias, 1e-6)
        s[p + "norm2"] = xn
        m = xn @ b.mlp.fc1.weight.T + b.mlp.fc1.bias
        s[p + "mlp.fc1"] = m
        m = F.gelu(m)
        s[p + "mlp.act"] = m
        m = m @ b.mlp.fc2.weight.T + b.mlp.fc2.bias
        s[p + "mlp.fc2"] = m
        h = h + m
        s[p + "residual2"] = h
    if cfg["pool"] == "token":
        h = F.layer_norm(h, (C,), model.norm.weight, model.norm.bias, 1e-6)
        s["norm"] = h
        pooled = h[0]
        s["pool"] = pooled
    else:
        pooled = h[1:].mean(dim=0)
        s["pool"] = pooled
        pooled = F.layer_norm(pooled, (C,), model.fc_norm.weight, model.fc_norm.bias, 1e-6)
        s["fc_norm"] = pooled
    s["head"] = pooled @ model.head.weight.T + model.head.bias
    return s


# ---------------------------------------------------------------------------
# Swin Transformer (v1), after timm's SwinTransformer (timm >= 0.9 names:
# layers.s.downsample opens stage s, the classifier is head.fc; the grids are
# [B, H, W, C] and the windows [B·nW, M·M, C], as in timm). Window rule as
# timm and torchvision: a stage whose grid is no larger than the window uses the
# whole grid as its window and does not shift.

def swin_config(vitrace, name, **overrides):
    return dict(builtin_configs(vitrace, "swin")[name], **overrides)


def rel_pos_index(M):
    """[M², M²]: for window tokens a, b, the number of their offset (dy, dx),
    shifted into [0, 2M-2]² and counted row by row."""
    ys, xs = torch.meshgrid(torch.arange(M), torch.arange(M), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + (M - 1)
    dx = xs[:, None] - xs[None, :] + (M - 1)
    return dy * (2 * M - 1) + dx


def partition(x, M):
    """[B, H, W, C] -> [B·nW, M·M, C], windows row by row."""
    B, H, W, C = x.shape
    return x.reshape(B, H // M, M, W // M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, M * M, C)


def unpartition(w, M, H, W):
    """[B·nW, M·M, C] -> [B, H, W, C]."""
    C = w.shape[-1]
    return w.reshape(-1, H // M, W // M, M, M, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


def shift_mask(H, W, M, s):
    """[nW, M², M²]: 0 inside a region of the shifted grid, -100 across regions."""
    labels = torch.zeros(1, H, W, 1)
    cuts = [slice(0, -M), slice(-M, -s), slice(-s, None)]
    n = 0
    for hs in cuts:
        for ws in cuts:
            labels[:, hs, ws] = n
            n += 1
    lw = partition(labels, M)[..., 0]  # [nW, M²]
    diff = lw[:, None, :] - lw[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class WindowAttention(nn.Module):
    """timm's WindowAttention without its fused path (which timm keeps off
    unless asked for): the softmax is the module `softmax`, whose input is the
    scores with the bias and the mask added."""

    def __init__(self, dim, heads, M):
        super().__init__()
        self.num_heads, self.window_size = heads, M
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * M - 1) ** 2, heads))
        self.register_buffer("relative_position_index", rel_pos_index(M), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)

    def bias(self):  # [heads, M², M²]
        T = self.window_size ** 2
        return self.relative_position_bias_table[self.relative_position_index.reshape(-1)].reshape(T, T, -1).permute(2, 0, 1)

    def forward(self, x, mask=None):  # x [B·nW, M², C], mask [nW, M², M²]
        BW, T, C = x.shape
        q, k, v = self.qkv(x).reshape(BW, T, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        att = (q * self.scale) @ k.transpose(-2, -1) + self.bias()[None]
        if mask is not None:
            nW = mask.shape[0]
            att = (att.view(-1, nW, self.num_heads, T, T) + mask[None, :, None]).view(-1, self.num_heads, T, T)
        x = (self.softmax(att) @ v).transpose(1, 2).reshape(BW, T, C)
        return self.proj(x)


class SwinBlock(nn.Module):
    def __init__(self, dim, res, heads, window, shifted, mlp_ratio):
        super().__init__()
        self.window_size = res if res <= window else window
        self.shift_size = 0 if (res <= window or not shifted) else window // 2
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, self.window_size)
        self.drop_path1 = nn.Identity()  # timm's DropPath, an Identity at drop_path 0
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        mask = shift_mask(res, res, self.window_size, self.shift_size) if self.shift_size else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def _attn(self, x):  # [B, H, W, C] -> [B, H, W, C]
        _, H, W, _ = x.shape
        M, s = self.window_size, self.shift_size
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        x = unpartition(self.attn(partition(x, M), mask=self.attn_mask), M, H, W)
        if s:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        return x

    def forward(self, x):
        x = x + self.drop_path1(self._attn(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):  # [B, H, W, C] -> [B, H/2, W/2, 2C]
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class SwinStage(nn.Module):
    def __init__(self, cfg, s):
        super().__init__()
        dim = cfg["embed_dim"] * 2 ** s
        res = cfg["image_size"] // cfg["patch"] // 2 ** s
        self.downsample = PatchMerging(dim // 2) if s > 0 else nn.Identity()
        self.blocks = nn.Sequential(*[SwinBlock(dim, res, cfg["heads"][s], cfg["window"], b % 2 == 1, cfg["mlp_ratio"])
                                      for b in range(cfg["depths"][s])])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class SwinPatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):  # [B, 3, S, S] -> [B, H, W, C]
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class GlobalAvgPool(nn.Module):
    """timm's SelectAdaptivePool2d(pool_type='avg', input_fmt='NHWC', flatten=True)."""

    def forward(self, x):  # [B, H, W, C] -> [B, C]
        return x.mean(dim=(1, 2))


class SwinHead(nn.Module):
    """timm's ClassifierHead: global_pool, then fc."""

    def __init__(self, dim, classes):
        super().__init__()
        self.global_pool = GlobalAvgPool()
        self.fc = nn.Linear(dim, classes)

    def forward(self, x, pre_logits=False):
        x = self.global_pool(x)
        return x if pre_logits else self.fc(x)


class SwinTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = SwinPatchEmbed(cfg["patch"], cfg["embed_dim"])
        self.layers = nn.Sequential(*[SwinStage(cfg, s) for s in range(len(cfg["depths"]))])
        features = cfg["embed_dim"] * 2 ** (len(cfg["depths"]) - 1)
        self.norm = nn.LayerNorm(features)
        self.head = SwinHead(features, cfg["classes"])

    def forward_features(self, x):  # x [B, 3, S, S] -> [B, H, W, C], after the final norm
        return self.norm(self.layers(self.patch_embed(x)))

    def forward_head(self, x, pre_logits=False):  # [B, H, W, C] -> features [B, C] or logits [B, classes]
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x):  # x [B, 3, S, S] -> [B, classes]
        return self.forward_head(self.forward_features(x))


def swin_microsoft_state_dict(model):
    """The same weights under the names of the original Microsoft release:
    stage s's downsample is stored at the end of stage s-1, the head is head.*,
    and the index and mask buffers are included."""
    out = OrderedDict()
    for k, v in model.state_dict().items():
        parts = k.split(".")
        if k.startswith("layers.") and parts[2] == "downsample":
            parts[1] = str(int(parts[1]) - 1)
            k = ".".join(parts)
        elif k.startswith("head.fc."):
            k = "head." + k[len("head.fc."):]
        out[k] = v
    for s, stage in enumerate(model.layers):
        for b, blk in enumerate(stage.blocks):
            out[f"layers.{s}.blocks.{b}.attn.relative_position_index"] = blk.attn.relative_position_index
            if blk.attn_mask is not None:
                out[f"layers.{s}.blocks.{b}.attn_mask"] = blk.attn_mask
    return out


def swin_steps(model, x):
    """Every vitrace step of the Swin forward pass for one image x [3, S, S]."""
    cfg = model.cfg
    P = cfg["patch"]
    s = OrderedDict()
    s["patch_embed.patchify"] = F.unfold(x[None], kernel_size=P, stride=P)[0].T
    pe = model.patch_embed
    h = F.conv2d(x[None], pe.proj.weight, pe.proj.bias, stride=P)[0].permute(1, 2, 0)  # [H, W, C]
    s["patch_embed.proj"] = h
    h = F.layer_norm(h, h.shape[-1:], pe.norm.weight, pe.norm.bias, 1e-5)
    s["patch_embed.norm"] = h
    for si, stage in enumerate(model.layers):
        p = f"layers.{si}."
        if si > 0:
            d = stage.downsample
            m = torch.cat([h[0::2, 0::2], h[1::2, 0::2], h[0::2, 1::2], h[1::2, 1::2]], dim=-1)
            s[p + "downsample.merge"] = m
            m = F.layer_norm(m, m.shape[-1:], d.norm.weight, d.norm.bias, 1e-5)
            s[p + "downsample.norm"] = m
            h = m @ d.reduction.weight.T
            s[p + "downsample.reduction"] = h
        for bi, blk in enumerate(stage.blocks):
            q_ = f"{p}blocks.{bi}."
            H, W, C = h.shape
            heads, M, sh = blk.attn.num_heads, blk.window_size, blk.shift_size
            hd, T = C // heads, M * M
            xn = F.layer_norm(h, (C,), blk.norm1.weight, blk.norm1.bias, 1e-5)
            s[q_ + "norm1"] = xn
            if sh:
                xn = torch.roll(xn, shifts=(-sh, -sh), dims=(0, 1))
                s[q_ + "cyclic_shift"] = xn
            win = partition(xn[None], M)
            s[q_ + "window_partition"] = win
            qkv = win @ blk.attn.qkv.weight.T + blk.attn.qkv.bias
            s[q_ + "attn.qkv"] = qkv
            qkvh = qkv.reshape(-1, T, 3, heads, hd).permute(2, 0, 3, 1, 4)  # [3, nW, heads, T, hd]
            s[q_ + "attn.split_heads"] = qkvh
            att = qkvh[0] @ qkvh[1].transpose(-2, -1)
            s[q_ + "attn.scores"] = att
            att = att * hd ** -0.5
            s[q_ + "attn.scale"] = att
            table = blk.attn.relative_position_bias_table
            s[q_ + "attn.relative_position_bias_table"] = table
            idx = rel_pos_index(M)
            s[q_ + "attn.relative_position_index"] = idx.float()
            bias = table[idx.reshape(-1)].reshape(T, T, heads).permute(2, 0, 1)
            s[q_ + "attn.relative_position_bias"] = bias
            att = att + bias[None]
            s[q_ + "attn.add_relative_position_bias"] = att
            if sh:
                mask = shift_mask(H, W, M, sh)
                s[q_ + "attn_mask"] = mask
                att = att + mask[:, None]
                s[q_ + "attn.add_mask"] = att
            att = att.softmax(dim=-1)
            s[q_ + "attn.softmax"] = att
            o = att @ qkvh[2]
            s[q_ + "attn.weighted_sum"] = o
            o = o.transpose(1, 2).reshape(-1, T, C)
            s[q_ + "attn.merge_heads"] = o
            o = o @ blk.attn.proj.weight.T + blk.attn.proj.bias
            s[q_ + "attn.proj"] = o
            o = unpartition(o, M, H, W)[0]
            s[q_ + "window_reverse"] = o
            if sh:
                o = torch.roll(o, shifts=(sh, sh), dims=(0, 1))
                s[q_ + "reverse_cyclic_shift"] = o
            h = h + o
            s[q_ + "residual1"] = h
            xn = F.layer_norm(h, (C,), blk.norm2.weight, blk.norm2.bias, 1e-5)
            s[q_ + "norm2"] = xn
            m = xn @ blk.mlp.fc1.weight.T + blk.mlp.fc1.bias
            s[q_ + "mlp.fc1"] = m
            m = F.gelu(m)
            s[q_ + "mlp.act"] = m
            m = m @ blk.mlp.fc2.weight.T + blk.mlp.fc2.bias
            s[q_ + "mlp.fc2"] = m
            h = h + m
            s[q_ + "residual2"] = h
    h = F.layer_norm(h, h.shape[-1:], model.norm.weight, model.norm.bias, 1e-5)
    s["norm"] = h
    pooled = h.mean(dim=(0, 1))
    s["head.global_pool"] = pooled
    s["head.fc"] = pooled @ model.head.fc.weight.T + model.head.fc.bias
    return s
