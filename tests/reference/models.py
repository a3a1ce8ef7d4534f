"""Reference models in PyTorch, with timm's module names and parameter shapes,
so that their state_dict keys are the names vitrace loads and their forward
hooks line up with vitrace's step names.

Debian ships no timm, so these follow timm's published definitions
(VisionTransformer in timm/models/vision_transformer.py): pre-norm blocks,
LayerNorm eps 1e-6, qkv with bias, exact GELU, cls token first, learned position
embedding over cls + patches, 'token' pooling after the final norm or 'avg'
pooling over the patch tokens followed by fc_norm.

`vit_steps` recomputes the forward pass one step at a time with plain torch
operations and returns every intermediate under vitrace's step name.
"""

import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# timm's configurations of the built-in models.
VIT_CONFIGS = {
    "vit_tiny_patch16_224": dict(patch=16, width=192, depth=12, heads=3),
    "vit_small_patch16_224": dict(patch=16, width=384, depth=12, heads=6),
    "vit_base_patch16_224": dict(patch=16, width=768, depth=12, heads=12),
    "vit_base_patch32_224": dict(patch=32, width=768, depth=12, heads=12),
    "vit_large_patch16_224": dict(patch=16, width=1024, depth=24, heads=16),
}


def vit_config(name, **overrides):
    cfg = dict(image_size=224, mlp_ratio=4.0, pool="token", classes=1000)
    cfg.update(VIT_CONFIGS[name])
    cfg.update(overrides)
    return cfg


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, width, heads, hidden, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=eps)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=eps)
        self.mlp = Mlp(width, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, width):
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, n, C]


class VisionTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["width"]
        n = (cfg["image_size"] // cfg["patch"]) ** 2
        hidden = int(C * cfg["mlp_ratio"])
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg["patch"], C)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, C))
        self.blocks = nn.ModuleList([Block(C, cfg["heads"], hidden, 1e-6) for _ in range(cfg["depth"])])
        if cfg["pool"] == "token":
            self.norm = nn.LayerNorm(C, eps=1e-6)
        else:
            self.fc_norm = nn.LayerNorm(C, eps=1e-6)
        self.head = nn.Linear(C, cfg["classes"])

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        if self.cfg["pool"] == "token":
            x = self.norm(x)[:, 0]
        else:
            x = self.fc_norm(x[:, 1:].mean(dim=1))
        return self.head(x)


def randomize(model, generator, scale=1.0):
    """Weights with enough spread that every step matters: Linear and Conv
    weights N(0, scale/fan_in), biases and embeddings N(0, 0.5·scale), LayerNorm
    weight 1 + N(0, 0.2), bias N(0, 0.2). The outputs are O(1), so an absolute
    tolerance on them is a real test."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".norm" in name or name.startswith("norm") or "fc_norm" in name:
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
