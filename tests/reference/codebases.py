#!/usr/bin/python3
"""The codebases learners write their ViTs in: checkpoints saved by
lucidrains' vit-pytorch and by Apple's ml-cvnets, read by vitrace (no --model)
and held to PyTorch on logits and features within 1e-4.

    /usr/bin/python3 tests/reference/codebases.py --vitrace build/vitrace --case NAME --workdir DIR
    /usr/bin/python3 tests/reference/codebases.py --list
    /usr/bin/python3 tests/reference/codebases.py --case NAME --workdir DIR --write-only

Neither library is a dependency: the module classes below are written anew
with each library's parameter names, shapes and forward pass, so that
model.state_dict() has exactly the names its checkpoints hold (the case
`selftest` checks the names and shapes against the lists in this file, and the
forward passes against a naive recomputation from the state dict).

vit-pytorch (vit_pytorch/vit.py, class ViT), four forms of the same file:
  VitPytorch         current (Nov 2025 on): Attention and FeedForward hold their
                     own LayerNorm, transformer.norm, dual patch norm,
                     cls_token [num_cls, dim] (none with pool='mean'),
                     pos_embedding [n + num_cls, dim], mlp_head absent when
                     num_classes is 0 (Jan 2026 on)
  VitPytorch2023     Aug 2023: the same tree with cls_token [1, 1, dim] always
                     and pos_embedding [1, n + 1, dim]; pool='mean' averages
                     every token, the cls token included
  VitPytorchPreNorm  Feb 2023: PreNorm wrappers (layers.N.0.norm, .0.fn.*), no
                     transformer.norm, mlp_head = LayerNorm + Linear
  VitPytorch2021     Aug 2021: as PreNorm, without the patch norms
  Patches are flattened (row, column, channel): Rearrange
  'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'. The files hold neither heads nor
  dim_head: the cases give them with --heads/--dim-head, or in a JSON beside
  the file (model.safetensors -> model.json) holding ViT's constructor kwargs.
ml-cvnets (cvnets/models/classification/vit.py, class VisionTransformer): a
  conv stem (4x4/4 conv + BatchNorm + act, 2x2/2 conv + BatchNorm + act, 2x2/2
  conv), learnable positional embedding [1, 1, 196, C] added to the patches
  before the optional cls token joins, pre-norm blocks with LayerNorm eps 1e-6,
  post_transformer_norm, classifier. The activation (stem and FFN alike) is
  the run's --model.activation.name: swish (SiLU), gelu or relu.

Each case builds a small model with seeded random weights (every LayerNorm and
BatchNorm weight, bias and running statistic, every bias, the cls token and the
positional embedding too, so that a wrong or missing one shows), saves
model.state_dict() as it is with refio.save_safetensors, draws an S×S PNG
(vitrace then does no resize), and runs

    vitrace trace --weights FILE [--heads H] [--dim-head D] [--act A] [--pool P]
                  --image IMG --mean a,b,c --std a,b,c --values none -o out.json -q

It compares output.features (the vector the final Linear reads) and
output.logits (null or absent without a head) within 1e-4, the top-5, and
model.weights_layout and some model.config fields. The case `errors` checks
that a vit-pytorch file with nothing to say its heads is refused with one
error line naming --heads and --dim-head, and no -o file.

--write-only builds a case's files in WORKDIR/CASE, prints the vitrace commands
it would run and keeps the files (no --vitrace needed).

Exit 0: every comparison within tolerance; 1: not; 77: PyTorch is not installed.
"""

import argparse
import dataclasses
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from typing import Optional

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    print("codebases: python3-torch is not installed; skipping")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import models  # noqa: E402
import refio  # noqa: E402

LOGITS_TOLERANCE = 1e-4
FEATURES_TOLERANCE = 1e-4
PORT_TOLERANCE = 1e-5  # selftest: two PyTorch computations of the same thing
MATTERS = 1e-3         # selftest: a variant that must change the output changes it by more than this

HALF = checkpoints.HALF  # mean 0.5, std 0.5
ODD = checkpoints.ODD    # no library's, so a swapped channel shows

# vitrace's exit code for a model configuration that cannot work (docs/cli.md,
# "Errors and exit codes"): a vit-pytorch file whose heads nothing gives, and
# an ml-cvnets file asked for another image size, are refused with it.
CONFIG_ERROR_CODES = (5,)

Failure = checkpoints.Failure


# ---------------------------------------------------------------------------
# vit-pytorch

def to_patches(img, p):
    """'b c (h p1) (w p2) -> b (h w) (p1 p2 c)': [B, 3, H, W] -> [B, n, P·P·3]."""
    B, C, H, W = img.shape
    x = img.reshape(B, C, H // p, p, W // p, p)      # b c h p1 w p2
    x = x.permute(0, 2, 4, 3, 5, 1)                  # b h w p1 p2 c
    return x.reshape(B, (H // p) * (W // p), p * p * C)


class Patches(nn.Module):
    """The Rearrange at to_patch_embedding.0 (no parameters)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, img):
        return to_patches(img, self.p)


class LucidAttention(nn.Module):
    """vit-pytorch's Attention: to_qkv without bias, rows (q|k|v, heads,
    dim_head); to_out only when not (heads == 1 and dim_head == dim). With
    own_norm (2023 on) it holds the LayerNorm the PreNorm wrapper held before."""

    def __init__(self, dim, heads, dim_head, own_norm):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head ** -0.5
        self.norm = nn.LayerNorm(dim) if own_norm else None
        self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.to_out = nn.Identity() if heads == 1 and dim_head == dim else nn.Sequential(
            nn.Linear(inner, dim), nn.Dropout(0.0))

    def forward(self, x):
        if self.norm is not None:
            x = self.norm(x)
        B, N, _ = x.shape
        q, k, v = (t.reshape(B, N, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        attn = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        return self.to_out((attn @ v).transpose(1, 2).reshape(B, N, -1))


class LucidFeedForward(nn.Module):
    """net: [LayerNorm (own_norm),] Linear, GELU, Dropout, Linear, Dropout."""

    def __init__(self, dim, hidden, own_norm):
        super().__init__()
        parts = [nn.LayerNorm(dim)] if own_norm else []
        self.net = nn.Sequential(*parts, nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(hidden, dim), nn.Dropout(0.0))

    def forward(self, x):
        return self.net(x)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class LucidTransformer(nn.Module):
    """prenorm=False (2023 on): norm, then layers of [Attention, FeedForward]
    with their own norms, norm at the end. prenorm=True: PreNorm wrappers, no
    final norm."""

    def __init__(self, dim, depth, heads, dim_head, mlp_dim, prenorm):
        super().__init__()
        self.norm = None if prenorm else nn.LayerNorm(dim)
        layers = []
        for _ in range(depth):
            attn = LucidAttention(dim, heads, dim_head, own_norm=not prenorm)
            ff = LucidFeedForward(dim, mlp_dim, own_norm=not prenorm)
            if prenorm:
                attn, ff = PreNorm(dim, attn), PreNorm(dim, ff)
            layers.append(nn.ModuleList([attn, ff]))
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x if self.norm is None else self.norm(x)


class _LucidViT(nn.Module):
    """What the four forms share. forward(img) is the form's own; pooled(img)
    is the vector the final Linear reads (vitrace's output.features)."""
    form = None

    def __init__(self, *, image_size, patch_size, num_classes, dim, depth, heads, mlp_dim, pool="cls", channels=3,
                 dim_head=64, dropout=0.0, emb_dropout=0.0):
        super().__init__()
        assert pool in ("cls", "mean") and image_size % patch_size == 0
        self.pool = pool
        self.num_patches = (image_size // patch_size) ** 2
        self.patch_dim = channels * patch_size ** 2
        self.dim = dim

    def patch_embedding(self, patch_size, dual_norm):
        if dual_norm:
            return nn.Sequential(Patches(patch_size), nn.LayerNorm(self.patch_dim), nn.Linear(self.patch_dim, self.dim),
                                 nn.LayerNorm(self.dim))
        return nn.Sequential(Patches(patch_size), nn.Linear(self.patch_dim, self.dim))

    def tokens(self, img):
        """cls token(s) then patches, plus the positional embedding."""
        x = self.to_patch_embedding(img)
        cls = self.cls_token.reshape(1, -1, self.dim).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        return x + self.pos_embedding.reshape(-1, self.dim)[:x.shape[1]]

    def head_input(self, img):
        x = self.transformer(self.tokens(img))
        return x.mean(dim=1) if self.pool == "mean" else x[:, 0]

    def pooled(self, img):
        return self.head_input(img)

    def forward(self, img):
        return self.mlp_head(self.head_input(img))


class VitPytorch(_LucidViT):
    """The current ViT (fdaf7f9, Nov 2025; mlp_head optional since 6f1caef)."""
    form = "current"

    def __init__(self, **kw):
        super().__init__(**kw)
        num_cls = 1 if self.pool == "cls" else 0
        self.to_patch_embedding = self.patch_embedding(kw["patch_size"], dual_norm=True)
        self.cls_token = nn.Parameter(torch.zeros(num_cls, self.dim))
        self.pos_embedding = nn.Parameter(torch.zeros(self.num_patches + num_cls, self.dim))
        self.transformer = LucidTransformer(self.dim, kw["depth"], kw["heads"], kw.get("dim_head", 64), kw["mlp_dim"],
                                            prenorm=False)
        self.mlp_head = nn.Linear(self.dim, kw["num_classes"]) if kw["num_classes"] > 0 else None

    def forward(self, img):
        if self.mlp_head is None:  # upstream returns every token, unpooled
            return self.transformer(self.tokens(img))
        return super().forward(img)


class VitPytorch2023(_LucidViT):
    """3e5d1be (Aug 2023): the current module tree with a 3-D cls token that is
    always there; pool='mean' averages it with the patches."""
    form = "2023"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.to_patch_embedding = self.patch_embedding(kw["patch_size"], dual_norm=True)
        self.pos_embedding = nn.Parameter(torch.zeros(1, self.num_patches + 1, self.dim))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.dim))
        self.transformer = LucidTransformer(self.dim, kw["depth"], kw["heads"], kw.get("dim_head", 64), kw["mlp_dim"],
                                            prenorm=False)
        self.mlp_head = nn.Linear(self.dim, kw["num_classes"])


class VitPytorchPreNorm(_LucidViT):
    """bdaf2d1 (Feb 2023): PreNorm wrappers, dual patch norm, mlp_head =
    LayerNorm + Linear after pooling."""
    form = "prenorm"
    dual_norm = True

    def __init__(self, **kw):
        super().__init__(**kw)
        self.to_patch_embedding = self.patch_embedding(kw["patch_size"], dual_norm=self.dual_norm)
        self.pos_embedding = nn.Parameter(torch.zeros(1, self.num_patches + 1, self.dim))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.dim))
        self.transformer = LucidTransformer(self.dim, kw["depth"], kw["heads"], kw.get("dim_head", 64), kw["mlp_dim"],
                                            prenorm=True)
        self.mlp_head = nn.Sequential(nn.LayerNorm(self.dim), nn.Linear(self.dim, kw["num_classes"]))

    def pooled(self, img):
        return self.mlp_head[0](self.head_input(img))


class VitPytorch2021(VitPytorchPreNorm):
    """ca3cef9 (Aug 2021): as PreNorm, the patch embedding a lone Linear."""
    form = "2021"
    dual_norm = False


LUCID_FORMS = {cls.form: cls for cls in (VitPytorch, VitPytorch2023, VitPytorchPreNorm, VitPytorch2021)}
LUCID_LAYOUT = {"current": "vit-pytorch", "2023": "vit-pytorch", "prenorm": "vit-pytorch-prenorm",
                "2021": "vit-pytorch-2021"}


def lucid_names(form, kw):
    """model.state_dict() of each form as upstream's ViT has it: names, in
    order, and shapes, written out from the class definitions at each
    revision (selftest holds the modules above to it)."""
    dim, depth, heads, dh, mlp, classes = (kw[k] for k in ("dim", "depth", "heads", "dim_head", "mlp_dim",
                                                           "num_classes"))
    n, pd, inner = (kw["image_size"] // kw["patch_size"]) ** 2, 3 * kw["patch_size"] ** 2, heads * dh
    proj = not (heads == 1 and dh == dim)
    out = []

    def ln(name, c):
        out.extend([(name + ".weight", [c]), (name + ".bias", [c])])

    def lin(name, i, o, bias=True):
        out.append((name + ".weight", [o, i]))
        if bias:
            out.append((name + ".bias", [o]))

    if form == "current":
        num_cls = 1 if kw["pool"] == "cls" else 0
        out += [("cls_token", [num_cls, dim]), ("pos_embedding", [n + num_cls, dim])]
    else:
        out += [("pos_embedding", [1, n + 1, dim]), ("cls_token", [1, 1, dim])]
    if form == "2021":
        lin("to_patch_embedding.1", pd, dim)
    else:
        ln("to_patch_embedding.1", pd)
        lin("to_patch_embedding.2", pd, dim)
        ln("to_patch_embedding.3", dim)
    if form in ("current", "2023"):
        ln("transformer.norm", dim)
    for i in range(depth):
        p = f"transformer.layers.{i}."
        if form in ("current", "2023"):
            ln(p + "0.norm", dim)
            lin(p + "0.to_qkv", dim, 3 * inner, bias=False)
            if proj:
                lin(p + "0.to_out.0", inner, dim)
            ln(p + "1.net.0", dim)
            lin(p + "1.net.1", dim, mlp)
            lin(p + "1.net.4", mlp, dim)
        else:
            ln(p + "0.norm", dim)
            lin(p + "0.fn.to_qkv", dim, 3 * inner, bias=False)
            if proj:
                lin(p + "0.fn.to_out.0", inner, dim)
            ln(p + "1.norm", dim)
            lin(p + "1.fn.net.0", dim, mlp)
            lin(p + "1.fn.net.3", mlp, dim)
    if form in ("prenorm", "2021"):
        ln("mlp_head.0", dim)
        lin("mlp_head.1", dim, classes)
    elif classes > 0 or form == "2023":
        lin("mlp_head", dim, classes)
    return out


# ---------------------------------------------------------------------------
# ml-cvnets

CVNETS_ACTS = {"swish": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU}
CVNETS_LN_EPS = 1e-6  # VisionTransformer.update_layer_norm_eps


class ConvLayer2d(nn.Module):
    """cvnets' ConvLayer2d: block = Sequential(conv[, norm][, act]), padding
    int((k - 1) / 2), BatchNorm2d (model.normalization.name batch_norm)."""

    def __init__(self, cin, cout, k, stride, bias, use_norm, use_act, act):
        super().__init__()
        self.block = nn.Sequential()
        self.block.add_module("conv", nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=bias))
        if use_norm:
            self.block.add_module("norm", nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1))
        if use_act:
            self.block.add_module("act", CVNETS_ACTS[act]())

    def forward(self, x):
        return self.block(x)


class MultiHeadAttention(nn.Module):
    """forward_default: qkv rows (3, heads, head_dim), query scaled before QKᵀ."""

    def __init__(self, dim, heads):
        super().__init__()
        self.qkv_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.heads, self.scaling = heads, (dim // heads) ** -0.5

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv_proj(x).reshape(B, N, 3, self.heads, -1).transpose(1, 3)  # [B, h, 3, N, c]
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        attn = torch.softmax((q * self.scaling) @ k.transpose(-1, -2), dim=-1)
        return self.out_proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class TransformerEncoder(nn.Module):
    def __init__(self, dim, ffn_dim, heads, act):
        super().__init__()
        self.pre_norm_mha = nn.Sequential(nn.LayerNorm(dim, eps=CVNETS_LN_EPS), MultiHeadAttention(dim, heads),
                                          nn.Dropout(0.0))
        self.pre_norm_ffn = nn.Sequential(nn.LayerNorm(dim, eps=CVNETS_LN_EPS), nn.Linear(dim, ffn_dim),
                                          CVNETS_ACTS[act](), nn.Dropout(0.0), nn.Linear(ffn_dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.pre_norm_mha(x)
        return x + self.pre_norm_ffn(x)


class LearnablePositionalEmbedding(nn.Module):
    def __init__(self, num_embeddings, dim):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, 1, num_embeddings, dim))

    def forward(self, seq_len):
        n, C = self.pos_embed.shape[2:]
        if seq_len != n:  # upstream interpolates (bilinear over the flattened sequence); not ported
            raise ValueError(f"{seq_len} patches, {n} positional embeddings: this port does not interpolate")
        return self.pos_embed.reshape(1, n, C)


class PositionalEmbedding(nn.Module):
    def __init__(self, num_embeddings, dim):
        super().__init__()
        self.pos_embed = LearnablePositionalEmbedding(num_embeddings, dim)

    def forward(self, seq_len):
        return self.pos_embed(seq_len)


class CvnetsViT(nn.Module):
    """ml-cvnets' VisionTransformer in eval mode. Upstream fixes num_embeddings
    at (224 // 16)**2 whatever the input; the cases run at 224, where no
    interpolation happens."""

    def __init__(self, embed_dim, n_transformer_layers, n_attn_heads, ffn_dim, n_classes, activation="swish",
                 use_cls_token=True, num_embeddings=(224 // 16) ** 2):
        super().__init__()
        C, C0 = embed_dim, max(32, embed_dim // 4)
        self.config = dict(embed_dim=C, n_transformer_layers=n_transformer_layers, n_attn_heads=n_attn_heads,
                           ffn_dim=ffn_dim, n_classes=n_classes, activation=activation, use_cls_token=use_cls_token)
        self.patch_emb = nn.Sequential(
            ConvLayer2d(3, C0, 4, 4, bias=False, use_norm=True, use_act=True, act=activation),
            ConvLayer2d(C0, C0, 2, 2, bias=False, use_norm=True, use_act=True, act=activation),
            ConvLayer2d(C0, C, 2, 2, bias=True, use_norm=False, use_act=False, act=activation))
        self.post_transformer_norm = nn.LayerNorm(C, eps=CVNETS_LN_EPS)
        self.transformer = nn.Sequential(*[TransformerEncoder(C, ffn_dim, n_attn_heads, activation)
                                           for _ in range(n_transformer_layers)])
        self.classifier = nn.Linear(C, n_classes)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C)) if use_cls_token else None
        self.pos_embed = PositionalEmbedding(num_embeddings, C)

    def tokens(self, img):
        x = self.patch_emb(img).flatten(2).transpose(1, 2)  # [B, n, C]
        x = x + self.pos_embed(x.shape[1])                   # the patches only
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x

    def pooled(self, img):
        x = self.tokens(img)
        # cvnets' LayerNorm treats [B, N, C] as channel-first when N == C: keep clear of it
        assert x.shape[1] != x.shape[2], "tokens == embed_dim: cvnets' LayerNorm would normalise over the tokens"
        x = self.post_transformer_norm(self.transformer(x))
        return x[:, 0] if self.cls_token is not None else x.mean(dim=1)

    def forward(self, img):
        return self.classifier(self.pooled(img))


def cvnets_names(cfg, num_embeddings=196):
    C, depth, ffn, classes = cfg["embed_dim"], cfg["n_transformer_layers"], cfg["ffn_dim"], cfg["n_classes"]
    C0 = max(32, C // 4)
    out = [("cls_token", [1, 1, C])] if cfg["use_cls_token"] else []
    for i, (cin, cout, k) in enumerate([(3, C0, 4), (C0, C0, 2)]):
        p = f"patch_emb.{i}.block."
        out += [(p + "conv.weight", [cout, cin, k, k])]
        out += [(p + "norm." + s, [cout]) for s in ("weight", "bias", "running_mean", "running_var")]
        out += [(p + "norm.num_batches_tracked", [])]
    out += [("patch_emb.2.block.conv.weight", [C, C0, 2, 2]), ("patch_emb.2.block.conv.bias", [C])]
    out += [("post_transformer_norm.weight", [C]), ("post_transformer_norm.bias", [C])]
    for i in range(depth):
        p = f"transformer.{i}."
        out += [(p + "pre_norm_mha.0.weight", [C]), (p + "pre_norm_mha.0.bias", [C]),
                (p + "pre_norm_mha.1.qkv_proj.weight", [3 * C, C]), (p + "pre_norm_mha.1.qkv_proj.bias", [3 * C]),
                (p + "pre_norm_mha.1.out_proj.weight", [C, C]), (p + "pre_norm_mha.1.out_proj.bias", [C]),
                (p + "pre_norm_ffn.0.weight", [C]), (p + "pre_norm_ffn.0.bias", [C]),
                (p + "pre_norm_ffn.1.weight", [ffn, C]), (p + "pre_norm_ffn.1.bias", [ffn]),
                (p + "pre_norm_ffn.4.weight", [C, ffn]), (p + "pre_norm_ffn.4.bias", [C])]
    out += [("classifier.weight", [classes, C]), ("classifier.bias", [classes])]
    out += [("pos_embed.pos_embed.pos_embed", [1, 1, num_embeddings, C])]
    return out


# ---------------------------------------------------------------------------
# Building blocks of the cases

def randomize(model, seed):
    """models.randomize (Linear and Conv N(0, 1/fan_in), biases, cls token and
    positional embeddings N(0, 0.5²), LayerNorm 1 + N(0, 0.2²) and N(0, 0.2²)),
    and BatchNorm: weight 1 + N(0, 0.2²), bias N(0, 0.2²), running_mean
    N(0, 0.3²), running_var U(0.5, 2), num_batches_tracked a count."""
    gen = checkpoints.generator(seed)
    models.randomize(model, gen)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(1.0 + 0.2 * torch.randn(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.3 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(int(torch.randint(1000, 100000, (1,), generator=gen)))
    return model.eval()


def outputs(model, x):
    """(features, logits or None) on x [1, 3, S, S]."""
    with torch.no_grad():
        feats = model.pooled(x)[0].numpy()
        has_head = not (isinstance(model, VitPytorch) and model.mlp_head is None)
        logits = model(x)[0].numpy() if has_head else None
    return feats, logits


@dataclasses.dataclass
class Run:
    """One vitrace run and what it must give."""
    label: str                      # how the run is named in the printout
    weights: str                    # --weights FILE
    image: str
    norm: dict                      # mean, std
    flags: list                     # --heads, --dim-head, --act, --pool as the run passes them
    features: np.ndarray            # [C]
    logits: Optional[np.ndarray]    # [classes], or None: the model has no head
    layout: str                     # model.weights_layout
    config: dict                    # fields model.config must hold


@dataclasses.dataclass
class ErrorRun:
    """A vitrace run that must fail: one error line that mentions every word of
    `mentions`, an exit code among `codes`, no -o file."""
    label: str
    weights: str
    image: str
    norm: dict
    flags: list
    codes: tuple
    mentions: tuple


# vit-pytorch: dim 48 with 3 heads of 24 (inner 72 ≠ dim); patch 4 at 32.
LUCID = dict(image_size=32, patch_size=4, num_classes=10, dim=48, depth=2, heads=3, dim_head=24, mlp_dim=96,
             pool="cls")


def lucid_model(form, seed, **over):
    kw = dict(LUCID, **over)
    return randomize(LUCID_FORMS[form](**kw), seed), kw


def lucid_config(form, kw, trace_pool):
    """The model.config fields a vit-pytorch run must give (pool in vitrace's
    words: token, mean or mean_all)."""
    has_cls = form != "current" or kw["pool"] == "cls"
    dim, heads, dh = kw["dim"], kw["heads"], kw["dim_head"]
    classes = kw["num_classes"]
    return dict(width=dim, depth=kw["depth"], heads=heads, dim_head=dh, patch=kw["patch_size"],
                image_size=kw["image_size"], classes=classes, mlp_ratio=kw["mlp_dim"] / dim, class_token=has_cls,
                pool=trace_pool, act="gelu", patch_order="hwc", patch_norm=form != "2021", qkv_bias=False,
                attn_proj=not (heads == 1 and dh == dim), conv_stem=False)


def lucid_run(d, form, seed, flags, trace_pool, label="file", name=None, norm=ODD, kwargs_json=False, **over):
    """One vit-pytorch checkpoint saved as model.state_dict() holds it, and the
    run of it: flags on the command line, trace_pool the model.config pool the
    trace must give (over: ViT kwargs over LUCID, pool among them); kwargs_json:
    the constructor kwargs in a JSON beside the file."""
    model, kw = lucid_model(form, seed, **over)
    base = name or f"vit_pytorch_{form}"
    weights = checkpoints.save(os.path.join(d, base + ".safetensors"), model.state_dict())
    if kwargs_json:
        checkpoints.write_json(os.path.join(d, base + ".json"), kw)
    img, x = checkpoints.image(d, kw["image_size"], seed, norm)
    feats, logits = outputs(model, x)
    return Run(label, weights, img, norm, flags, feats, logits, LUCID_LAYOUT[form], lucid_config(form, kw, trace_pool))


# ml-cvnets: 224 (upstream's 196 positional embeddings, no interpolation), C 128.
CVNETS = dict(embed_dim=128, n_transformer_layers=2, n_attn_heads=2, ffn_dim=256, n_classes=10, activation="swish",
              use_cls_token=True)
CVNETS_SIZE = 224
CVNETS_ACT_NAME = {"swish": "silu", "gelu": "gelu", "relu": "relu"}  # vitrace's words


def cvnets_run(d, seed, flags, label="file", name="mlcvnets", norm=HALF, json_beside=None, **over):
    cfg = dict(CVNETS, **over)
    model = randomize(CvnetsViT(**cfg), seed)
    weights = checkpoints.save(os.path.join(d, name + ".safetensors"), model.state_dict())
    if json_beside is not None:
        checkpoints.write_json(os.path.join(d, name + ".json"), json_beside)
    img, x = checkpoints.image(d, CVNETS_SIZE, seed, norm)
    feats, logits = outputs(model, x)
    C, heads = cfg["embed_dim"], cfg["n_attn_heads"]
    config = dict(width=C, depth=cfg["n_transformer_layers"], heads=heads, dim_head=C // heads, patch=16,
                  image_size=CVNETS_SIZE, classes=cfg["n_classes"], mlp_ratio=cfg["ffn_dim"] / C,
                  class_token=cfg["use_cls_token"], pool="token" if cfg["use_cls_token"] else "mean",
                  act=CVNETS_ACT_NAME[cfg["activation"]], qkv_bias=True, attn_proj=True, patch_norm=False,
                  conv_stem=True)
    return Run(label, weights, img, norm, flags, feats, logits, "ml-cvnets", config)


# ---------------------------------------------------------------------------
# vit-pytorch cases

def case_vitpytorch_current_cls(d, seed):
    return [lucid_run(d, "current", seed, ["--heads", "3", "--dim-head", "24"], "token")]


def case_vitpytorch_current_mean(d, seed):
    """pool='mean': cls_token is [0, dim] (an empty tensor in the file), the
    mean over the patches. --dim-head alone: to_qkv's rows give the heads."""
    return [lucid_run(d, "current", seed, ["--dim-head", "24"], "mean", pool="mean")]


def case_vitpytorch_current_no_head(d, seed):
    """num_classes=0: no mlp_head (upstream then returns every token); features
    are the cls token after transformer.norm, logits null."""
    return [lucid_run(d, "current", seed, ["--heads", "3", "--dim-head", "24"], "token", num_classes=0)]


def case_vitpytorch_single_head(d, seed):
    """heads=1, dim_head=dim: to_out is Identity, so the file alone says heads
    and dim_head."""
    return [lucid_run(d, "current", seed, [], "token", heads=1, dim_head=LUCID["dim"])]


def case_vitpytorch_json(d, seed):
    """No flags: heads, dim_head and pool from the constructor kwargs in a JSON
    beside the file (model.safetensors -> model.json; vit_2023.safetensors ->
    vit_2023.json). The second file has a cls token and pool 'mean': every
    token is averaged."""
    return [lucid_run(d, "current", seed, [], "token", label="model.json", name="model", kwargs_json=True),
            lucid_run(d, "2023", seed, [], "mean_all", label="vit_2023.json", name="vit_2023", kwargs_json=True,
                      heads=2, dim_head=16, pool="mean", norm=HALF)]


def case_vitpytorch_2023_mean(d, seed):
    return [lucid_run(d, "2023", seed, ["--heads", "3", "--dim-head", "24", "--pool", "mean_all"], "mean_all",
                      pool="mean")]


def case_vitpytorch_prenorm(d, seed):
    """4 heads of 16 (inner 64 ≠ dim)."""
    return [lucid_run(d, "prenorm", seed, ["--heads", "4", "--dim-head", "16"], "token", heads=4, dim_head=16)]


def case_vitpytorch_2021_cls(d, seed):
    return [lucid_run(d, "2021", seed, ["--heads", "3", "--dim-head", "24"], "token")]


def case_vitpytorch_2021_mean(d, seed):
    """2 heads of 32: --heads alone."""
    return [lucid_run(d, "2021", seed, ["--heads", "2", "--pool", "mean_all"], "mean_all", heads=2, dim_head=32,
                      pool="mean", norm=HALF)]


# ---------------------------------------------------------------------------
# ml-cvnets cases

def case_mlcvnets_silu(d, seed):
    """swish (SiLU) in the stem and the FFN, cls token, 2 heads of 64 (every
    ml-cvnets ViT config has head_dim 64). No --act: vitrace's default for
    ml-cvnets is SiLU. The second run names both."""
    return [cvnets_run(d, seed, [], label="no flags"),
            cvnets_run(d, seed, ["--act", "silu", "--heads", "2"], label="--act silu --heads 2")]


def case_mlcvnets_gelu_no_cls(d, seed):
    """--model.classification.vit.no-cls-token: the mean over every token; GELU
    (config/classification/imagenet/vit.yaml), from --act or from a JSON beside
    the file. 4 heads of 32, given on the command line."""
    over = dict(activation="gelu", use_cls_token=False, n_attn_heads=4)
    return [cvnets_run(d, seed, ["--act", "gelu", "--heads", "4"], label="--act gelu", **over),
            cvnets_run(d, seed, ["--dim-head", "32"], label="model.json", name="model",
                       json_beside={"activation": "gelu"}, norm=ODD, **over)]


def case_mlcvnets_relu(d, seed):
    """ReLU: ml-cvnets' own default --model.activation.name."""
    return [cvnets_run(d, seed, ["--act", "relu"], activation="relu", norm=ODD)]


# ---------------------------------------------------------------------------
# Errors

def case_errors(d, seed):
    """vit-pytorch files with neither --heads, --dim-head nor a JSON beside
    them: nothing says how to split to_qkv's rows. And an ml-cvnets file asked
    to run at another image size."""
    runs = []
    for form in ("current", "2021"):
        model, kw = lucid_model(form, seed)
        weights = checkpoints.save(os.path.join(d, f"vit_pytorch_{form}.safetensors"), model.state_dict())
        img, _ = checkpoints.image(d, kw["image_size"], seed, ODD)
        runs.append(ErrorRun(f"{form}, no heads", weights, img, ODD, [], CONFIG_ERROR_CODES,
                             ("--heads", "--dim-head")))
    # ml-cvnets at another size: it would stretch its position table along the
    # token sequence, which vitrace does not imitate, so the size is refused.
    run = cvnets_run(d, seed, [])
    runs.append(ErrorRun("ml-cvnets at 256 px", run.weights, run.image, run.norm,
                         ["--heads", "2", "--act", "silu", "--image-size", "256"], CONFIG_ERROR_CODES,
                         ("position table", "224 px")))
    return runs


# ---------------------------------------------------------------------------
# Running vitrace and comparing

def command(vitrace, run, out):
    return [vitrace, "trace", "--weights", run.weights, *run.flags, "--image", run.image,
            "--mean", ",".join(map(str, run.norm["mean"])), "--std", ",".join(map(str, run.norm["std"])),
            "--values", "none", "-o", out, "-q"]


def check_config(model, run):
    if model.get("weights_layout") != run.layout:
        raise Failure(f"model.weights_layout expected '{run.layout}', got {model.get('weights_layout')!r}")
    config = model.get("config") or {}
    wrong = {k: (v, config.get(k, "(absent)")) for k, v in run.config.items()
             if not checkpoints.same_value(config.get(k), v)}
    if wrong:
        raise Failure("model.config fields (expected, got): " + ", ".join(f"{k} {w}" for k, w in wrong.items()))
    print(f"  model: weights_layout {run.layout}, {len(run.config)} config fields agree")


def check(vitrace, d, run):
    out = os.path.join(d, "out.json")
    if os.path.exists(out):
        os.remove(out)
    cmd = command(vitrace, run, out)
    print(f"{run.label}: {shlex.join(cmd[1:])}")
    if isinstance(run, ErrorRun):
        return check_error(cmd, out, run)
    checkpoints.run_vitrace(cmd)
    with open(out) as f:
        trace = json.load(f)
    check_config(trace.get("model") or {}, run)
    output = trace.get("output") or {}
    if output.get("features") is None:
        raise Failure("output.features is missing")
    checkpoints.max_diff("features", output["features"], run.features.astype(np.float64), FEATURES_TOLERANCE)
    if run.logits is None:
        if output.get("logits") is not None:
            raise Failure("the model has no head, but output.logits is not null")
        print("  logits: null, as the model has no head")
    else:
        if output.get("logits") is None:
            raise Failure("output.logits is missing")
        checkpoints.max_diff("logits", output["logits"], run.logits.astype(np.float64), LOGITS_TOLERANCE)
        checkpoints.check_top5(output.get("top5") or [], run.logits.astype(np.float64), None)


def check_error(cmd, out, run):
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = p.stderr.splitlines()
    if p.returncode not in run.codes:
        raise Failure(f"exit code {p.returncode}, expected one of {list(run.codes)}; stderr:\n{p.stderr.strip()}")
    if len(lines) != 1 or not lines[0].startswith("vitrace: error:"):
        raise Failure(f"stderr must be one line starting 'vitrace: error:', got {len(lines)}:\n{p.stderr}")
    missing = [w for w in run.mentions if w not in lines[0]]
    if missing:
        raise Failure(f"the error does not mention {missing}: {lines[0]}")
    if os.path.exists(out):
        raise Failure(f"a failed run wrote {out}")
    print(f"  exit {p.returncode}, no -o file: {lines[0]}")


# ---------------------------------------------------------------------------
# selftest: the PyTorch side on its own

def naive_lucid(sd, form, heads, pool, x):
    """A vit-pytorch ViT from its state dict alone, on one image [3, S, S]:
    tokens as [N, C] rows, patches by F.unfold, one head at a time. Returns
    (features, logits or None)."""
    prenorm = form in ("prenorm", "2021")
    dim = sd["pos_embedding"].shape[-1]

    def ln(t, name):
        return F.layer_norm(t, t.shape[-1:], sd[name + ".weight"], sd[name + ".bias"], 1e-5)

    def lin(t, name):
        return F.linear(t, sd[name + ".weight"], sd.get(name + ".bias"))

    emb = "to_patch_embedding.1" if form == "2021" else "to_patch_embedding.2"
    P = math.isqrt(sd[emb + ".weight"].shape[1] // 3)
    cols = F.unfold(x[None], P, stride=P)[0].T                             # [n, 3·P·P] as (c, p1, p2)
    patches = cols.reshape(-1, 3, P * P).transpose(1, 2).reshape(len(cols), -1)  # (p1, p2, c)
    if form == "2021":
        t = lin(patches, emb)
    else:
        t = ln(lin(ln(patches, "to_patch_embedding.1"), emb), "to_patch_embedding.3")
    n_cls = sd["cls_token"].numel() // dim  # 1, or 0: the current form with pool='mean'
    t = torch.cat([sd["cls_token"].reshape(n_cls, dim), t]) + sd["pos_embedding"].reshape(-1, dim)[:n_cls + len(t)]
    depth = len({k.split(".")[2] for k in sd if k.startswith("transformer.layers.")})
    for i in range(depth):
        p = f"transformer.layers.{i}."
        a = p + ("0.fn." if prenorm else "0.")
        f = p + ("1.fn.net." if prenorm else "1.net.")
        qkv = lin(ln(t, p + "0.norm"), a + "to_qkv")
        inner = qkv.shape[1] // 3
        dh = inner // heads
        outs = []
        for h in range(heads):
            q, k, v = (qkv[:, j * inner + h * dh: j * inner + (h + 1) * dh] for j in range(3))
            outs.append(torch.softmax(q @ k.T / math.sqrt(dh), dim=-1) @ v)
        o = torch.cat(outs, dim=1)
        t = t + (lin(o, a + "to_out.0") if a + "to_out.0.weight" in sd else o)
        h1 = ln(t, p + "1.norm") if prenorm else ln(t, f + "0")
        fc1, fc2 = (f + "0", f + "3") if prenorm else (f + "1", f + "4")
        t = t + lin(F.gelu(lin(h1, fc1)), fc2)
    if not prenorm:
        t = ln(t, "transformer.norm")
    feats = t.mean(dim=0) if pool == "mean" else t[0]
    if prenorm:
        feats = ln(feats, "mlp_head.0")
        return feats, lin(feats, "mlp_head.1")
    return feats, (lin(feats, "mlp_head") if "mlp_head.weight" in sd else None)


def naive_cvnets(sd, heads, act, x):
    """ml-cvnets' VisionTransformer from its state dict alone, on one image:
    F.conv2d and the BatchNorm formula, LayerNorm by its formula, one head at a
    time."""
    f = {"swish": F.silu, "gelu": F.gelu, "relu": F.relu}[act]

    def bn(t, name):
        mean, var = sd[name + ".running_mean"], sd[name + ".running_var"]
        scale = sd[name + ".weight"] / torch.sqrt(var + 1e-5)
        return (t - mean[:, None, None]) * scale[:, None, None] + sd[name + ".bias"][:, None, None]

    def ln(t, name):
        mu = t.mean(dim=-1, keepdim=True)
        var = ((t - mu) ** 2).mean(dim=-1, keepdim=True)
        return (t - mu) / torch.sqrt(var + CVNETS_LN_EPS) * sd[name + ".weight"] + sd[name + ".bias"]

    def lin(t, name):
        return t @ sd[name + ".weight"].T + sd[name + ".bias"]

    s = "patch_emb."
    t = f(bn(F.conv2d(x[None], sd[s + "0.block.conv.weight"], stride=4, padding=1)[0], s + "0.block.norm"))
    t = f(bn(F.conv2d(t[None], sd[s + "1.block.conv.weight"], stride=2)[0], s + "1.block.norm"))
    t = F.conv2d(t[None], sd[s + "2.block.conv.weight"], sd[s + "2.block.conv.bias"], stride=2)[0]
    C = t.shape[0]
    t = t.reshape(C, -1).T + sd["pos_embed.pos_embed.pos_embed"].reshape(-1, C)
    if "cls_token" in sd:
        t = torch.cat([sd["cls_token"].reshape(1, C), t])
    depth = len({k.split(".")[1] for k in sd if k.startswith("transformer.")})
    dh = C // heads
    for i in range(depth):
        p = f"transformer.{i}."
        qkv = lin(ln(t, p + "pre_norm_mha.0"), p + "pre_norm_mha.1.qkv_proj").reshape(len(t), 3, heads, dh)
        o = torch.cat([torch.softmax(qkv[:, 0, h] @ qkv[:, 1, h].T * dh ** -0.5, dim=-1) @ qkv[:, 2, h]
                       for h in range(heads)], dim=1)
        t = t + lin(o, p + "pre_norm_mha.1.out_proj")
        t = t + lin(f(lin(ln(t, p + "pre_norm_ffn.0"), p + "pre_norm_ffn.1")), p + "pre_norm_ffn.4")
    t = ln(t, "post_transformer_norm")
    feats = t[0] if "cls_token" in sd else t.mean(dim=0)
    return feats, lin(feats, "classifier")


def compare(name, got, want):
    diff = (torch.as_tensor(got) - torch.as_tensor(want)).abs().max().item()
    print(f"  {name}: max diff {diff:.3g}")
    if not diff <= PORT_TOLERANCE:
        raise Failure(f"{name}: {diff:.3g} > {PORT_TOLERANCE:g}")


def differs(name, a, b):
    diff = (torch.as_tensor(a) - torch.as_tensor(b)).abs().max().item()
    print(f"  {name}: differ by {diff:.3g}")
    if not diff > MATTERS:
        raise Failure(f"{name}: differ by only {diff:.3g}, so the test could not tell them apart")


def variant(form, over):
    return form + "".join(f", {k}={v!r}" for k, v in over.items())


def same_names(name, model, want):
    got = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    if got != want:
        gk, wk = dict(got), dict(want)
        raise Failure(f"{name}: state dict differs; only ours {sorted(set(gk) - set(wk))[:6]}, only listed "
                      f"{sorted(set(wk) - set(gk))[:6]}, shapes "
                      f"{[(k, gk[k], wk[k]) for k in set(gk) & set(wk) if gk[k] != wk[k]][:4]}, "
                      f"order {'same' if [k for k, _ in got] == [k for k, _ in want] else 'differs'}")
    print(f"  {name}: {len(got)} names, their order and shapes as listed")


# (form, constructor kwargs over LUCID) of the vit-pytorch cases
LUCID_VARIANTS = [("current", {}), ("current", dict(pool="mean")), ("current", dict(num_classes=0)),
                  ("current", dict(heads=1, dim_head=48)), ("2023", dict(pool="mean")),
                  ("2023", dict(heads=2, dim_head=16, pool="mean")), ("prenorm", dict(heads=4, dim_head=16)),
                  ("prenorm", dict(pool="mean")), ("2021", {}), ("2021", dict(heads=2, dim_head=32, pool="mean"))]
CVNETS_VARIANTS = [{}, dict(activation="gelu", use_cls_token=False, n_attn_heads=4), dict(activation="relu")]


def case_selftest(d, seed):
    x = torch.randn(1, 3, 32, 32, generator=checkpoints.generator(seed))

    print("patch order: vit-pytorch's (p1, p2, c) is a permutation of the conv's (c, p1, p2):")
    P = 4
    cols = F.unfold(x, P, stride=P).transpose(1, 2)           # [1, n, 3·P·P] as (c, p1, p2)
    perm = cols.reshape(1, -1, 3, P, P).permute(0, 1, 3, 4, 2).reshape(1, cols.shape[1], -1)
    if not torch.equal(to_patches(x, P), perm):
        raise Failure("to_patches is not unfold's patches permuted to (p1, p2, c)")
    print("  to_patches == unfold permuted (exactly)")
    lin = nn.Linear(3 * P * P, 48)
    models.randomize(lin, checkpoints.generator(seed))
    with torch.no_grad():
        conv_w = lin.weight.reshape(48, P, P, 3).permute(0, 3, 1, 2)  # the Linear as a [C, 3, P, P] conv
        conv = F.conv2d(x, conv_w, lin.bias, stride=P).flatten(2).transpose(1, 2)
        compare("Linear on (p1, p2, c) patches == conv with the weight permuted", lin(to_patches(x, P)), conv)
        differs("the same Linear on (c, p1, p2) patches", lin(cols), conv)

    print("vit-pytorch state dicts: names, order and shapes as each revision's ViT has them:")
    for form, over in LUCID_VARIANTS:
        model, kw = lucid_model(form, seed, **over)
        same_names(variant(form, over), model, lucid_names(form, kw))

    print("vit-pytorch forward against a naive recomputation from the state dict:")
    for form, over in LUCID_VARIANTS:
        model, kw = lucid_model(form, seed, **over)
        with torch.no_grad():
            feats, logits = naive_lucid(model.state_dict(), form, kw["heads"], kw["pool"], x[0])
            got_feats, got_logits = outputs(model, x)
        compare(variant(form, over) + " features", got_feats, feats)
        if logits is not None:
            compare(variant(form, over) + " logits", got_logits, logits)
        elif got_logits is not None:
            raise Failure(f"{form} {over}: the naive model has no head, the module has")
    model, _ = lucid_model("current", seed, num_classes=0)
    with torch.no_grad():
        tokens = model(x)
    if list(tokens.shape) != [1, 65, 48]:
        raise Failure(f"current, num_classes=0: forward gives {list(tokens.shape)}, expected every token [1, 65, 48]")
    print("  current, num_classes=0: forward gives every token [1, 65, 48], as upstream")

    print("what the cases tell apart:")
    model, kw = lucid_model("2023", seed, pool="mean")
    with torch.no_grad():
        t = model.transformer(model.tokens(x))
        differs("2023 mean: every token vs the patches only", t.mean(dim=1), t[:, 1:].mean(dim=1))
    model, kw = lucid_model("prenorm", seed)
    with torch.no_grad():
        t = model.transformer(model.tokens(x))
        differs("prenorm: mlp_head.0 after pooling vs none", model.mlp_head[0](t[:, 0]), t[:, 0])

    print("ml-cvnets state dicts and forward:")
    xs = torch.randn(1, 3, CVNETS_SIZE, CVNETS_SIZE, generator=checkpoints.generator(seed + 1))
    results = {}
    for over in CVNETS_VARIANTS:
        cfg = dict(CVNETS, **over)
        title = f"{cfg['activation']}, {'cls' if cfg['use_cls_token'] else 'no cls'}, {cfg['n_attn_heads']} heads"
        model = randomize(CvnetsViT(**cfg), seed)
        same_names(title, model, cvnets_names(cfg))
        with torch.no_grad():
            feats, logits = naive_cvnets(model.state_dict(), cfg["n_attn_heads"], cfg["activation"], xs[0])
            got_feats, got_logits = outputs(model, xs)
        compare(f"{title} features", got_feats, feats)
        compare(f"{title} logits", got_logits, logits)
        results[cfg["activation"], cfg["use_cls_token"]] = logits
    base = randomize(CvnetsViT(**CVNETS), seed)
    sd = base.state_dict()
    with torch.no_grad():
        differs("swish vs gelu on the same weights", naive_cvnets(sd, 2, "swish", xs[0])[1],
                naive_cvnets(sd, 2, "gelu", xs[0])[1])
        pos = sd["pos_embed.pos_embed.pos_embed"].reshape(-1, CVNETS["embed_dim"])
        shifted = dict(sd, **{"pos_embed.pos_embed.pos_embed": torch.roll(pos, 1, 0)[None, None]})
        differs("positional embeddings one row off", naive_cvnets(sd, 2, "swish", xs[0])[1],
                naive_cvnets(shifted, 2, "swish", xs[0])[1])
        stats = dict(sd, **{"patch_emb.0.block.norm.running_var": torch.ones_like(
            sd["patch_emb.0.block.norm.running_var"])})
        differs("BatchNorm running_var 1", naive_cvnets(sd, 2, "swish", xs[0])[1],
                naive_cvnets(stats, 2, "swish", xs[0])[1])

    print("refio: an empty tensor and an int64 scalar round-trip:")
    model, _ = lucid_model("current", seed, pool="mean")
    path = checkpoints.save(os.path.join(d, "current_mean.safetensors"), model.state_dict())
    back = refio.load_safetensors(path)
    if list(back["cls_token"].shape) != [0, 48]:
        raise Failure(f"cls_token read back as {list(back['cls_token'].shape)}, expected [0, 48]")
    path = checkpoints.save(os.path.join(d, "cvnets.safetensors"), base.state_dict())
    back = refio.load_safetensors(path)
    nbt = back["patch_emb.0.block.norm.num_batches_tracked"]
    if nbt.dtype != np.int64 or nbt.shape != () or int(nbt) != int(sd["patch_emb.0.block.norm.num_batches_tracked"]):
        raise Failure(f"num_batches_tracked read back as {nbt.dtype} {list(nbt.shape)} {nbt}")
    for k, v in sd.items():
        if not np.array_equal(back[k], v.numpy()):
            raise Failure(f"{k} differs after the round trip")
    print(f"  cls_token [0, 48]; num_batches_tracked I64 [] = {int(nbt)}; all {len(sd)} ml-cvnets tensors equal")
    return []


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}
OFFLINE = ("selftest",)


def check_runs(vitrace, d, runs):
    for run in runs:
        check(vitrace, d, run)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitrace", help="the vitrace binary (every case but selftest, unless --write-only)")
    ap.add_argument("--case", choices=sorted(CASES))
    ap.add_argument("--workdir", help="checkpoints and traces go to WORKDIR/CASE, removed when the case passes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="print the case names")
    ap.add_argument("--write-only", action="store_true",
                    help="build the case's files, print the vitrace commands it would run, keep the files")
    a = ap.parse_args()
    if a.list:
        print("\n".join(sorted(CASES)))
        return
    if not a.case or not a.workdir or (a.case not in OFFLINE and not a.vitrace and not a.write_only):
        ap.error("--case and --workdir are required, and --vitrace for every case but selftest (or --write-only)")

    torch.set_num_threads(2)
    d = os.path.abspath(os.path.join(a.workdir, a.case))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    try:
        runs = CASES[a.case](d, a.seed)
        if a.write_only:
            for run in runs:
                cmd = command(a.vitrace or "vitrace", run, os.path.join(d, "out.json"))
                print(f"{run.label}:\n  {shlex.join(cmd)}")
            print(f"codebase {a.case}: files written to {d}")
            return
        check_runs(a.vitrace, d, runs)
    except Failure as e:
        print(f"codebase {a.case}: FAIL: {e}\n  (files kept in {d})")
        sys.exit(1)
    shutil.rmtree(d)
    print(f"codebase {a.case}: pass")


if __name__ == "__main__":
    main()
