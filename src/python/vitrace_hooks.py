#!/usr/bin/python3
"""vitrace_hooks: a PyTorch model's steps under vitrace's names, for `vitrace diff`.

Forward hooks on a ViT or a Swin from timm, Hugging Face transformers or
torchvision record what its modules compute, in vitrace's step names and
shapes (docs/trace-format.md: the batch axis left out), and write it as a
tensor dump, vitrace.tensors/1. The model is fed the exact input of a vitrace
trace (its step input.normalize), so that preprocessing drops out of the
comparison. Needs torch and numpy, and the library that holds the model.

Command line:

    vitrace trace --weights vit_b_16.safetensors --image cat.png --tensors a.safetensors
    /usr/bin/python3 src/python/vitrace_hooks.py --library torchvision --arch vit_b_16 \\
        --weights vit_b_16.safetensors --input a.safetensors -o b.safetensors
    vitrace diff a.safetensors b.safetensors --tol 1e-4

  --library  timm, hf or torchvision
  --arch     torchvision: the constructor (vit_b_16, swin_t, ...); timm: the
             model name for timm.create_model; hf: not needed
  --weights  torchvision, timm: a state dict, .safetensors or .pth;
             hf: a folder written by save_pretrained
  --input    a vitrace tensor dump, or a JSON trace whose step input.normalize
             has all its values (vitrace trace ... --steps input.normalize -o t.json)

Python, with a model in eval mode:

    import vitrace_hooks
    vitrace_hooks.dump(model, "timm", "a.safetensors", "b.safetensors", name="vit_base_patch16_224")

which is

    x, source = vitrace_hooks.read_input("a.safetensors")   # x [1, 3, S, S]
    with torch.no_grad(), vitrace_hooks.record(model, library="timm") as rec:
        model(x)
    rec.save("b.safetensors", source, name="vit_base_patch16_224")

What the hooks see. A step is recorded only from what a module takes or
returns (or a parameter or buffer it holds), moved into vitrace's layout by
reshapes and permutes: split_heads is the qkv output reshaped, weighted_sum the
merged heads unmerged, window_partition the attention's input. Nothing is
recomputed. While recording, attention is made visible: timm's fused_attn is
switched off, Hugging Face runs eager attention with output_attentions, and
torchvision's nn.MultiheadAttention returns its per-head softmax
(need_weights=True, average_attn_weights=False); everything is put back
afterwards. Steps that happen inside one call no hook can enter are listed in
UNSEEN, with the reason; the command line prints them and the dump stores them
in its metadata (key `unseen`).

Step names follow timm's module paths, so the timm table maps most modules to
themselves; Hugging Face and torchvision name the same modules otherwise
(docs/checkpoints.md has their parameter names side by side).
"""

import argparse
import json
import math
import re
import struct
import sys
from collections import OrderedDict, namedtuple
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn as nn

FORMAT = "vitrace.tensors/1"
TRACE_FORMAT = "vitrace.trace/1"

# ---------------------------------------------------------------------------
# The steps: op and dims of each, as in docs/trace-format.md (indices as *)

VIT_STEPS = {
    "patch_embed.patchify": ("patchify", "n patch_dim"),
    "patch_embed.proj": ("linear", "n C"),
    "cls_token": ("concat", "N C"),
    "pos_embed": ("add", "N C"),
    "blocks.*.norm1": ("layernorm", "N C"),
    "blocks.*.attn.qkv": ("linear", "N 3C"),
    "blocks.*.attn.split_heads": ("split_heads", "qkv heads N head_dim"),
    "blocks.*.attn.scores": ("matmul", "heads N_q N_k"),
    "blocks.*.attn.scale": ("scale", "heads N_q N_k"),
    "blocks.*.attn.softmax": ("softmax", "heads N_q N_k"),
    "blocks.*.attn.weighted_sum": ("matmul", "heads N head_dim"),
    "blocks.*.attn.merge_heads": ("merge_heads", "N C"),
    "blocks.*.attn.proj": ("linear", "N C"),
    "blocks.*.ls1": ("layer_scale", "N C"),
    "blocks.*.residual1": ("add", "N C"),
    "blocks.*.norm2": ("layernorm", "N C"),
    "blocks.*.mlp.fc1": ("linear", "N hidden"),
    "blocks.*.mlp.act": ("gelu", "N hidden"),
    "blocks.*.mlp.fc2": ("linear", "N C"),
    "blocks.*.ls2": ("layer_scale", "N C"),
    "blocks.*.residual2": ("add", "N C"),
    "norm": ("layernorm", "N C"),
    "pool": ("pool_token", "C"),
    "fc_norm": ("layernorm", "C"),
    "head": ("linear", "classes"),
}

_WINDOW_MAP = "windows heads T_q T_k"
SWIN_STEPS = {
    "patch_embed.patchify": ("patchify", "n patch_dim"),
    "patch_embed.proj": ("linear", "H W C"),
    "patch_embed.norm": ("layernorm", "H W C"),
    "layers.*.downsample.merge": ("patch_merge", "H W 4C"),
    "layers.*.downsample.norm": ("layernorm", "H W 4C"),
    "layers.*.downsample.reduction": ("linear", "H W C"),
    "layers.*.blocks.*.norm1": ("layernorm", "H W C"),
    "layers.*.blocks.*.cyclic_shift": ("cyclic_shift", "H W C"),
    "layers.*.blocks.*.window_partition": ("window_partition", "windows T C"),
    "layers.*.blocks.*.attn.qkv": ("linear", "windows T 3C"),
    "layers.*.blocks.*.attn.split_heads": ("split_heads", "qkv windows heads T head_dim"),
    "layers.*.blocks.*.attn.scores": ("matmul", _WINDOW_MAP),
    "layers.*.blocks.*.attn.scale": ("scale", _WINDOW_MAP),
    "layers.*.blocks.*.attn.relative_position_bias_table": ("parameter", "relative_positions heads"),
    "layers.*.blocks.*.attn.relative_position_index": ("relative_position_index", "T_q T_k"),
    "layers.*.blocks.*.attn.relative_position_bias": ("gather", "heads T_q T_k"),
    "layers.*.blocks.*.attn.add_relative_position_bias": ("add", _WINDOW_MAP),
    "layers.*.blocks.*.attn_mask": ("shifted_window_mask", "windows T_q T_k"),
    "layers.*.blocks.*.attn.add_mask": ("add", _WINDOW_MAP),
    "layers.*.blocks.*.attn.softmax": ("softmax", _WINDOW_MAP),
    "layers.*.blocks.*.attn.weighted_sum": ("matmul", "windows heads T head_dim"),
    "layers.*.blocks.*.attn.merge_heads": ("merge_heads", "windows T C"),
    "layers.*.blocks.*.attn.proj": ("linear", "windows T C"),
    "layers.*.blocks.*.window_reverse": ("window_reverse", "H W C"),
    "layers.*.blocks.*.reverse_cyclic_shift": ("cyclic_shift", "H W C"),
    "layers.*.blocks.*.residual1": ("add", "H W C"),
    "layers.*.blocks.*.norm2": ("layernorm", "H W C"),
    "layers.*.blocks.*.mlp.fc1": ("linear", "H W hidden"),
    "layers.*.blocks.*.mlp.act": ("gelu", "H W hidden"),
    "layers.*.blocks.*.mlp.fc2": ("linear", "H W C"),
    "layers.*.blocks.*.residual2": ("add", "H W C"),
    "norm": ("layernorm", "H W C"),
    "head.global_pool": ("pool_mean", "C"),
    "head.fc": ("linear", "classes"),
}

STEPS = {"vit": VIT_STEPS, "swin": SWIN_STEPS}


def step_kind(name):
    """blocks.3.attn.qkv -> blocks.*.attn.qkv"""
    return re.sub(r"(?<=\.)\d+(?=\.)", "*", name)


# ---------------------------------------------------------------------------
# Views: a module's tensor in vitrace's layout. Each takes the tensor and the
# hook's context, and only reshapes and permutes. The input is one S×S image.

def first(t, ctx):
    """Drops the batch axis of one image."""
    return t[0]


def as_is(t, ctx):
    """Window tensors: timm, Hugging Face and vitrace fold the batch into the windows axis."""
    return t


def patches(t, ctx):
    """The patch embedding's input [3, S, S] -> [n, 3·P·P], each patch ordered
    (channel, row, column) as the conv's weight is."""
    P = ctx.module.kernel_size[0]
    c, S, _ = t.shape
    h = S // P
    return t.reshape(c, h, P, h, P).permute(1, 3, 0, 2, 4).reshape(h * h, c * P * P)


def chw_to_tokens(t, ctx):
    """[C, h, w] -> [n, C]"""
    return t.flatten(1).T


def chw_to_hwc(t, ctx):
    """[C, H, W] -> [H, W, C]"""
    return t.permute(1, 2, 0)


def grid(t, ctx):
    """[H·W, C] (Hugging Face, timm's MLP) or [H, W, C] -> [H, W, C]"""
    C = t.shape[-1]
    side = math.isqrt(t.numel() // C)
    return t.reshape(side, side, C)


def split_heads(t, ctx):
    """[..., T, 3C] -> [3, ..., heads, T, head_dim]: q, k, v, then the heads, as the qkv rows hold them."""
    heads = ctx.heads()
    t = t.reshape(*t.shape[:-1], 3, heads, t.shape[-1] // (3 * heads))  # [..., T, 3, heads, head_dim]
    return t.movedim(-3, 0).transpose(-3, -2)


def unmerge_heads(t, ctx):
    """The merged heads [..., T, C] -> [..., heads, T, head_dim]: the weighted sum before the merge."""
    heads = ctx.heads()
    return t.reshape(*t.shape[:-1], heads, t.shape[-1] // heads).transpose(-3, -2)


def windows_to_grid(t, ctx):
    """[nW, M·M, C] -> [H, W, C]: the windows put back on the grid, row by row."""
    nW, T, C = t.shape
    g, M = math.isqrt(nW), math.isqrt(T)
    return t.reshape(g, g, M, M, C).permute(0, 2, 1, 3, 4).reshape(g * M, g * M, C)


def square(t, ctx):
    """relative_position_index, [M⁴] (torchvision) or [M², M²] -> [M², M²]"""
    T = math.isqrt(t.numel())
    return t.reshape(T, T)


def flat(t, ctx):
    """A pooled vector [1, C, 1] or [1, C, 1, 1] -> [C]"""
    return t.reshape(-1)


# When a step exists: decided at the hook, from the module and the raw tensor.

def shifted(ctx, t):
    return any(_pair(ctx.find("shift_size")))


def unshifted(ctx, t):
    return not shifted(ctx, t)


def tv_shifted(ctx, t):
    """torchvision keeps shift_size and drops it inside the call when the window covers the grid [1, H, W, C]."""
    return any(_pair(ctx.module.shift_size)) and ctx.module.window_size[0] < t.shape[1]


def tv_unshifted(ctx, t):
    return not tv_shifted(ctx, t)


def pos_embed_last(ctx, t):
    """timm adds pos_embed after the prefix tokens join, except with no_embed_class."""
    return not ctx.find("no_embed_class")


def token_pool(ctx, t):
    return ctx.find("global_pool") == "token"


def mean_pool(ctx, t):
    return ctx.find("global_pool") == "avg"


def _pair(v):
    return v if isinstance(v, (tuple, list)) else (v or 0,)


# ---------------------------------------------------------------------------
# The tables: module path -> step, per library and family.
#
# module  the module's path; {i} block, {s} stage, {b} block of a stage, {qkv}
#         query, key or value (joined into one step in that order); {tv_blocks},
#         {tv_merge}, {hf_merge}: a stage numbered as the library numbers it
# step    the vitrace step (default: the module path)
# source  out, out[1] (the second output), in, in[1] (the second positional
#         input), attr (the parameter or buffer named as the step's last part)
# view    the views applied in turn
# when    the step exists only where this holds
# op      instead of the catalogue's

Hook = namedtuple("Hook", "module step source view when op", defaults=(None, "out", (first,), None, None))

# Stage numbers that are not vitrace's: (group, decoded, or None where the path is something else).
_STAGE = {
    "tv_blocks": lambda k: (k - 1) // 2 if k % 2 else None,  # torchvision features.(2s+1): stage s's blocks
    "tv_merge": lambda k: k // 2 if k and k % 2 == 0 else None,  # features.(2s): the patch merging opening stage s
    "hf_merge": lambda k: k + 1,  # Hugging Face layers.(s-1).downsample closes stage s-1
}

TIMM_VIT = [
    Hook("patch_embed.proj", "patch_embed.patchify", "in", (first, patches)),
    Hook("patch_embed.proj", view=(first, chw_to_tokens)),
    Hook("pos_drop", "pos_embed", "in", when=pos_embed_last),
    Hook("blocks.{i}.norm1"),
    Hook("blocks.{i}.attn.qkv"),
    Hook("blocks.{i}.attn.qkv", "blocks.{i}.attn.split_heads", view=(first, split_heads)),
    Hook("blocks.{i}.attn.attn_drop", "blocks.{i}.attn.softmax", "in"),
    Hook("blocks.{i}.attn.proj", "blocks.{i}.attn.weighted_sum", "in", (first, unmerge_heads)),
    Hook("blocks.{i}.attn.proj", "blocks.{i}.attn.merge_heads", "in"),
    Hook("blocks.{i}.attn.proj"),
    Hook("blocks.{i}.ls1"),
    Hook("blocks.{i}.norm2", "blocks.{i}.residual1", "in"),
    Hook("blocks.{i}.norm2"),
    Hook("blocks.{i}.mlp.fc1"),
    Hook("blocks.{i}.mlp.act"),
    Hook("blocks.{i}.mlp.fc2"),
    Hook("blocks.{i}.ls2"),
    Hook("blocks.{i}", "blocks.{i}.residual2"),
    Hook("norm"),
    Hook("fc_norm", "pool", "in", when=token_pool),
    Hook("fc_norm", "pool", "in", when=mean_pool, op="pool_mean"),
    Hook("fc_norm"),
    Hook("head"),
]

_TB = "layers.{s}.blocks.{b}."
TIMM_SWIN = [
    Hook("patch_embed.proj", "patch_embed.patchify", "in", (first, patches)),
    Hook("patch_embed.proj", view=(first, chw_to_hwc)),
    Hook("patch_embed.norm"),
    Hook("layers.{s}.downsample.norm", "layers.{s}.downsample.merge", "in"),
    Hook("layers.{s}.downsample.norm"),
    Hook("layers.{s}.downsample.reduction"),
    Hook("layers.{s}.blocks.{b}", _TB + "attn_mask", "attr", (as_is,)),
    Hook(_TB + "norm1"),
    Hook(_TB + "attn", _TB + "cyclic_shift", "in", (windows_to_grid,), when=shifted),
    Hook(_TB + "attn", _TB + "window_partition", "in", (as_is,)),
    Hook(_TB + "attn", _TB + "attn.relative_position_bias_table", "attr", (as_is,)),
    Hook(_TB + "attn", _TB + "attn.relative_position_index", "attr", (square,)),
    Hook(_TB + "attn.qkv", view=(as_is,)),
    Hook(_TB + "attn.qkv", _TB + "attn.split_heads", view=(split_heads,)),
    Hook(_TB + "attn.softmax", _TB + "attn.add_relative_position_bias", "in", (as_is,), when=unshifted),
    Hook(_TB + "attn.softmax", _TB + "attn.add_mask", "in", (as_is,), when=shifted),
    Hook(_TB + "attn.softmax", view=(as_is,)),
    Hook(_TB + "attn.proj", _TB + "attn.weighted_sum", "in", (unmerge_heads,)),
    Hook(_TB + "attn.proj", _TB + "attn.merge_heads", "in", (as_is,)),
    Hook(_TB + "attn.proj", view=(as_is,)),
    Hook(_TB + "attn", _TB + "window_reverse", view=(windows_to_grid,)),
    Hook(_TB + "drop_path1", _TB + "reverse_cyclic_shift", "in", when=shifted),
    Hook(_TB + "norm2", _TB + "residual1", "in", (first, grid)),
    Hook(_TB + "norm2", view=(first, grid)),
    Hook(_TB + "mlp.fc1", view=(first, grid)),
    Hook(_TB + "mlp.act", view=(first, grid)),
    Hook(_TB + "mlp.fc2", view=(first, grid)),
    Hook("layers.{s}.blocks.{b}", _TB + "residual2"),
    Hook("norm"),
    Hook("head.global_pool"),
    Hook("head.fc"),
]

# ViTForImageClassification (under vit.) and ViTModel (no prefix): modeling_vit.py
_HL, _VB = "encoder.layer.{i}.", "blocks.{i}."
HF_VIT = [
    Hook("embeddings.patch_embeddings.projection", "patch_embed.patchify", "in", (first, patches)),
    Hook("embeddings.patch_embeddings.projection", "patch_embed.proj", view=(first, chw_to_tokens)),
    Hook("embeddings.dropout", "pos_embed", "in"),
    Hook(_HL + "layernorm_before", _VB + "norm1"),
    Hook(_HL + "attention.attention.{qkv}", _VB + "attn.qkv"),
    Hook(_HL + "attention.attention.{qkv}", _VB + "attn.split_heads", view=(first, split_heads)),
    Hook(_HL + "attention.attention", _VB + "attn.softmax", "out[1]"),
    Hook(_HL + "attention.attention", _VB + "attn.weighted_sum", view=(first, unmerge_heads)),
    Hook(_HL + "attention.attention", _VB + "attn.merge_heads"),
    Hook(_HL + "attention.output.dense", _VB + "attn.proj"),
    Hook(_HL + "layernorm_after", _VB + "residual1", "in"),
    Hook(_HL + "layernorm_after", _VB + "norm2"),
    Hook(_HL + "intermediate.dense", _VB + "mlp.fc1"),
    Hook(_HL + "intermediate.intermediate_act_fn", _VB + "mlp.act"),
    Hook(_HL + "output.dense", _VB + "mlp.fc2"),
    Hook(_HL + "output", _VB + "residual2"),
    Hook("layernorm", "norm"),
    Hook("classifier", "pool", "in"),
    Hook("pooler.dense", "pool", "in"),  # a ViTModel's pooler reads the cls token too
    Hook("classifier", "head"),
]

# SwinForImageClassification (under swin.) and SwinModel: modeling_swin.py
_HB, _SB = "encoder.layers.{s}.blocks.{b}.", "layers.{s}.blocks.{b}."
_HM = "encoder.layers.{hf_merge}.downsample."
HF_SWIN = [
    Hook("embeddings.patch_embeddings.projection", "patch_embed.patchify", "in", (first, patches)),
    Hook("embeddings.patch_embeddings.projection", "patch_embed.proj", view=(first, chw_to_hwc)),
    Hook("embeddings.norm", "patch_embed.norm", view=(first, grid)),
    Hook(_HM + "norm", "layers.{s}.downsample.merge", "in", (first, grid)),
    Hook(_HM + "norm", "layers.{s}.downsample.norm", view=(first, grid)),
    Hook(_HM + "reduction", "layers.{s}.downsample.reduction", view=(first, grid)),
    Hook(_HB + "layernorm_before", _SB + "norm1", view=(first, grid)),
    Hook(_HB + "attention", _SB + "cyclic_shift", "in", (windows_to_grid,), when=shifted),
    Hook(_HB + "attention", _SB + "window_partition", "in", (as_is,)),
    Hook(_HB + "attention", _SB + "attn_mask", "in[1]", (as_is,)),  # SwinLayer hands its mask to the attention
    Hook(_HB + "attention.self", _SB + "attn.relative_position_bias_table", "attr", (as_is,)),
    Hook(_HB + "attention.self", _SB + "attn.relative_position_index", "attr", (square,)),
    Hook(_HB + "attention.self.{qkv}", _SB + "attn.qkv", view=(as_is,)),
    Hook(_HB + "attention.self.{qkv}", _SB + "attn.split_heads", view=(split_heads,)),
    Hook(_HB + "attention.self", _SB + "attn.softmax", "out[1]", (as_is,)),
    Hook(_HB + "attention.self", _SB + "attn.weighted_sum", view=(unmerge_heads,)),
    Hook(_HB + "attention.self", _SB + "attn.merge_heads", view=(as_is,)),
    Hook(_HB + "attention.output.dense", _SB + "attn.proj", view=(as_is,)),
    Hook(_HB + "attention", _SB + "window_reverse", view=(windows_to_grid,)),
    Hook(_HB + "drop_path", _SB + "reverse_cyclic_shift", "in", (first, grid), when=shifted),
    Hook(_HB + "layernorm_after", _SB + "residual1", "in", (first, grid)),
    Hook(_HB + "layernorm_after", _SB + "norm2", view=(first, grid)),
    Hook(_HB + "intermediate.dense", _SB + "mlp.fc1", view=(first, grid)),
    Hook(_HB + "intermediate.intermediate_act_fn", _SB + "mlp.act", view=(first, grid)),
    Hook(_HB + "output.dense", _SB + "mlp.fc2", view=(first, grid)),
    Hook("encoder.layers.{s}.blocks.{b}", _SB + "residual2", view=(first, grid)),
    Hook("layernorm", "norm", view=(first, grid)),
    Hook("pooler", "head.global_pool", view=(flat,)),
    Hook("classifier", "head.fc"),
]

# torchvision.models.vision_transformer.VisionTransformer (vit_b_16, ...)
_TL = "encoder.layers.encoder_layer_{i}."
TORCHVISION_VIT = [
    Hook("conv_proj", "patch_embed.patchify", "in", (first, patches)),
    Hook("conv_proj", "patch_embed.proj", view=(first, chw_to_tokens)),
    Hook("encoder.dropout", "pos_embed", "in"),
    Hook(_TL + "ln_1", _VB + "norm1"),
    Hook(_TL + "self_attention", _VB + "attn.softmax", "out[1]"),
    Hook(_TL + "self_attention", _VB + "attn.proj"),
    Hook(_TL + "ln_2", _VB + "residual1", "in"),
    Hook(_TL + "ln_2", _VB + "norm2"),
    Hook(_TL + "mlp.0", _VB + "mlp.fc1"),
    Hook(_TL + "mlp.1", _VB + "mlp.act"),
    Hook(_TL + "mlp.3", _VB + "mlp.fc2"),
    Hook("encoder.layers.encoder_layer_{i}", _VB + "residual2"),
    Hook("encoder.ln", "norm"),
    Hook("heads.head", "pool", "in"),
    Hook("heads.head", "head"),
]

# torchvision.models.swin_transformer.SwinTransformer (swin_t, ...): one Sequential
# `features`: 0 the patch embedding (Conv2d, Permute, LayerNorm), 2s+1 stage s's
# blocks, 2s its patch merging.
_FB = "features.{tv_blocks}.{b}."
TORCHVISION_SWIN = [
    Hook("features.0.0", "patch_embed.patchify", "in", (first, patches)),
    Hook("features.0.0", "patch_embed.proj", view=(first, chw_to_hwc)),
    Hook("features.0.2", "patch_embed.norm"),
    Hook("features.{tv_merge}.norm", "layers.{s}.downsample.merge", "in"),
    Hook("features.{tv_merge}.norm", "layers.{s}.downsample.norm"),
    Hook("features.{tv_merge}.reduction", "layers.{s}.downsample.reduction"),
    Hook(_FB + "norm1", _SB + "norm1"),
    Hook(_FB + "attn", _SB + "attn.relative_position_bias_table", "attr", (as_is,)),
    Hook(_FB + "attn", _SB + "attn.relative_position_index", "attr", (square,)),
    Hook(_FB + "attn", _SB + "window_reverse", when=tv_unshifted),
    Hook(_FB + "attn", _SB + "reverse_cyclic_shift", when=tv_shifted),
    Hook(_FB + "norm2", _SB + "residual1", "in"),
    Hook(_FB + "norm2", _SB + "norm2"),
    Hook(_FB + "mlp.0", _SB + "mlp.fc1"),
    Hook(_FB + "mlp.1", _SB + "mlp.act"),
    Hook(_FB + "mlp.3", _SB + "mlp.fc2"),
    Hook("features.{tv_blocks}.{b}", _SB + "residual2"),
    Hook("norm"),
    Hook("avgpool", "head.global_pool", view=(flat,)),
    Hook("head", "head.fc"),
]

# What no hook can see, and why: (steps, reason) per library and family.
_SCALED_Q = ("multiplies q by the scale and takes q @ k^T inline, with no module in between; "
             "the first attention tensor a hook sees is the softmax")
UNSEEN = {
    ("timm", "vit"): [
        (["cls_token"], "VisionTransformer._pos_embed joins the prefix tokens and adds pos_embed in one method; "
                        "pos_drop's input is the sum"),
        (["blocks.*.attn.scores", "blocks.*.attn.scale"], "Attention.forward " + _SCALED_Q + " (at attn_drop)"),
    ],
    ("timm", "swin"): [
        (["layers.*.blocks.*.attn.scores", "layers.*.blocks.*.attn.scale"], "WindowAttention.forward " + _SCALED_Q),
        (["layers.*.blocks.*.attn.relative_position_bias"],
         "WindowAttention._get_rel_pos_bias() gathers the table inside forward; the table and the index are recorded"),
        (["layers.*.blocks.*.attn.add_relative_position_bias"],
         "in shifted blocks the mask is added before the softmax module sees the scores (unshifted blocks: seen)"),
    ],
    ("hf", "vit"): [
        (["cls_token"], "ViTEmbeddings.forward joins the cls token and adds the position embeddings inline"),
        (["blocks.*.attn.scores", "blocks.*.attn.scale"],
         "eager attention takes query @ key^T and scales it inline; the softmax comes out with output_attentions"),
    ],
    ("hf", "swin"): [
        (["layers.*.blocks.*.attn.scores", "layers.*.blocks.*.attn.scale",
          "layers.*.blocks.*.attn.relative_position_bias", "layers.*.blocks.*.attn.add_relative_position_bias",
          "layers.*.blocks.*.attn.add_mask"],
         "SwinSelfAttention.forward scores, scales and adds the bias and the mask inline; the softmax comes out with "
         "output_attentions, the mask as the attention's second argument"),
    ],
    ("torchvision", "vit"): [
        (["cls_token"], "VisionTransformer.forward joins the class token inline; encoder.dropout's input is the sum "
                        "with pos_embedding"),
        (["blocks.*.attn.qkv", "blocks.*.attn.split_heads", "blocks.*.attn.scores", "blocks.*.attn.scale",
          "blocks.*.attn.weighted_sum", "blocks.*.attn.merge_heads"],
         "nn.MultiheadAttention does in_proj, the heads, q @ k^T, the scale, attn @ v and out_proj in one call; "
         "with need_weights=True, average_attn_weights=False it returns the per-head softmax and out_proj's output"),
    ],
    ("torchvision", "swin"): [
        (["layers.*.blocks.*.cyclic_shift", "layers.*.blocks.*.window_partition", "layers.*.blocks.*.attn.qkv",
          "layers.*.blocks.*.attn.split_heads", "layers.*.blocks.*.attn.scores", "layers.*.blocks.*.attn.scale",
          "layers.*.blocks.*.attn.relative_position_bias", "layers.*.blocks.*.attn.add_relative_position_bias",
          "layers.*.blocks.*.attn_mask", "layers.*.blocks.*.attn.add_mask", "layers.*.blocks.*.attn.softmax",
          "layers.*.blocks.*.attn.weighted_sum", "layers.*.blocks.*.attn.merge_heads", "layers.*.blocks.*.attn.proj",
          "layers.*.blocks.*.window_reverse"],
         "ShiftedWindowAttention hands qkv.weight and proj.weight to the function shifted_window_attention, which "
         "shifts, partitions, projects, masks, takes the softmax, projects back and reverses in one call; the hooks "
         "see its input (norm1) and its output (window_reverse, or reverse_cyclic_shift in shifted blocks)"),
    ],
}


# ---------------------------------------------------------------------------
# Making attention visible, per library: each returns a function that undoes it.

def timm_unfuse(model):
    """timm's Attention and WindowAttention call scaled_dot_product_attention while fused_attn is set."""
    fused = [(m, m.fused_attn) for m in model.modules() if getattr(m, "fused_attn", False)]
    for m, _ in fused:
        m.fused_attn = False

    def undo():
        for m, old in fused:
            m.fused_attn = old
    return undo


def hf_eager(model):
    """Hugging Face: eager attention, which returns the softmax when output_attentions is set."""
    config = model.config
    old = (getattr(config, "_attn_implementation", None), config.output_attentions)
    config._attn_implementation, config.output_attentions = "eager", True

    def undo():
        config._attn_implementation, config.output_attentions = old
    return undo


def torchvision_weights(model):
    """nn.MultiheadAttention: called with need_weights=False, it returns no weights; ask for the per-head ones."""
    patched = [(m, m.__dict__.get("forward")) for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
    for m, _ in patched:
        m.forward = _with_head_weights(m.forward)

    def undo():
        for m, old in patched:
            if old is None:
                del m.forward  # back to the class's forward
            else:
                m.forward = old
    return undo


def _with_head_weights(forward):
    def call(*args, **kwargs):
        return forward(*args, **dict(kwargs, need_weights=True, average_attn_weights=False))
    return call


Library = namedtuple("Library", "tables prefix show_attention")
LIBRARIES = {
    "timm": Library({"vit": TIMM_VIT, "swin": TIMM_SWIN}, {"vit": "", "swin": ""}, timm_unfuse),
    "hf": Library({"vit": HF_VIT, "swin": HF_SWIN}, {"vit": "vit.", "swin": "swin."}, hf_eager),
    "torchvision": Library({"vit": TORCHVISION_VIT, "swin": TORCHVISION_SWIN}, {"vit": "", "swin": ""},
                           torchvision_weights),
}


def unseen(library, family):
    """[{"name": glob, "why": reason}, ...]: the steps the hooks cannot see in this library."""
    return [{"name": name, "why": why} for names, why in UNSEEN[library, family] for name in names]


# ---------------------------------------------------------------------------
# Recording

class Context:
    """The hooked module and its parents up to the model, for the views and conditions."""

    def __init__(self, chain):
        self.chain = chain
        self.module = chain[0]

    def find(self, name):
        """The attribute of the nearest module that has it (None: none has)."""
        return next((getattr(m, name) for m in self.chain if getattr(m, name, None) is not None), None)

    def heads(self):
        return self.find("num_heads") or self.find("num_attention_heads")


def _template_regex(template, prefix):
    """A module-path template as a regex; the library's prefix (vit., swin.) is optional."""
    out = f"(?:{re.escape(prefix)})?" if prefix else ""
    for part in re.split(r"(\{\w+\})", template):
        if part == "{qkv}":
            out += "(?P<qkv>query|key|value)"
        elif part.startswith("{"):
            out += rf"(?P<{part[1:-1]}>\d+)"
        else:
            out += re.escape(part)
    return re.compile(out)


def _step_name(hook, match):
    """The step for a matched module path, or None where a stage group rejects the number."""
    groups = {}
    for key, value in match.groupdict().items():
        if key in _STAGE:
            groups["s"] = _STAGE[key](int(value))
            if groups["s"] is None:
                return None
        elif key != "qkv":
            groups[key] = int(value)
    return (hook.step or hook.module).format(**groups)


class Recorder:
    """Hooks on every module a table names; the steps they see, in the order they ran."""

    def __init__(self, model, library, family=None):
        if library not in LIBRARIES:
            raise ValueError(f"library '{library}': expected one of {', '.join(sorted(LIBRARIES))}")
        if model.training:
            raise ValueError("the model is in training mode (dropout would change every step): call model.eval()")
        self.library = library
        self.family = family or ("swin" if "swin" in type(model).__name__.lower() else "vit")
        self.tensors = OrderedDict()  # step -> np.ndarray, float32
        self.steps = []  # {"name", "op", "dims"}, in the same order
        self._parts = {}  # step -> {0: q, 1: k, 2: v}: Hugging Face's query, key and value
        lib = LIBRARIES[library]
        table = [(h, _template_regex(h.module, lib.prefix[self.family])) for h in lib.tables[self.family]]
        modules = dict(model.named_modules())  # the model itself is ""
        self._handles = []
        for path, module in modules.items():
            hooks = [(h, m) for h, rx in table for m in [rx.fullmatch(path)] if m and _step_name(h, m)]
            if hooks:
                parts = path.split(".")
                parents = [modules[".".join(parts[:k])] for k in range(len(parts) - 1, -1, -1)]
                self._attach(module, hooks, Context([module] + parents))
        if not self._handles:
            raise ValueError(f"no module of {type(model).__name__} has a name the {library} {self.family} table knows: "
                             f"is it a {library} model?")
        self._undo = lib.show_attention(model)

    def _attach(self, module, hooks, ctx):
        before = [(h, m) for h, m in hooks if not h.source.startswith("out")]
        # An Identity stands for a layer the model does not have (timm's ls1 without LayerScale): its output is no step.
        after = [(h, m) for h, m in hooks if h.source.startswith("out") and not isinstance(module, nn.Identity)]
        if before:
            self._handles.append(module.register_forward_pre_hook(
                lambda mod, args: self._see(before, ctx, lambda h: _taken(h, mod, args))))
        if after:
            self._handles.append(module.register_forward_hook(
                lambda mod, args, out: self._see(after, ctx, lambda h: _pick(out, h.source))))

    def _see(self, hooks, ctx, value_of):
        for h, match in hooks:
            t = value_of(h)
            if not isinstance(t, torch.Tensor) or (h.when and not h.when(ctx, t)):
                continue
            name = _step_name(h, match)
            part = match.groupdict().get("qkv")
            if part:
                parts = self._parts.setdefault(name, {})
                parts[("query", "key", "value").index(part)] = t.detach().clone()
                if len(parts) < 3:
                    continue
                t = torch.cat([parts[k] for k in range(3)], dim=-1)
            for view in h.view:
                t = view(t, ctx)
            self._record(name, t, h.op)

    def _record(self, name, t, op=None):
        if name in self.tensors:
            raise RuntimeError(f"step {name} seen twice: run the model once per record()")
        kind = step_kind(name)
        if kind not in STEPS[self.family]:
            raise KeyError(f"{name}: not a vitrace {self.family} step")
        default_op, dims = STEPS[self.family][kind]
        dims = dims.split()
        if t.dim() != len(dims):
            raise ValueError(f"{name}: expected {len(dims)} axes ({', '.join(dims)}), got shape {list(t.shape)}")
        self.tensors[name] = t.detach().to(torch.float32).cpu().contiguous().clone().numpy()
        self.steps.append({"name": name, "op": op or default_op, "dims": dims})

    def close(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._undo()

    def save(self, path, source=None, name=None):
        """Writes the dump. source: read_input's second value; name: the model's name (default: its class)."""
        model = {"name": name or self.library, "family": self.family, "library": self.library}
        metadata = {
            "format": FORMAT,
            "trace_format": TRACE_FORMAT,
            "model": json.dumps(model),
            "input": json.dumps(_input_of(source)),
            "steps": json.dumps(self.steps),
            "producer": f"vitrace_hooks ({self.library} {name or self.family})",
            "unseen": json.dumps(unseen(self.library, self.family)),
        }
        write_safetensors(path, self.tensors, metadata)


def _taken(hook, module, args):
    if hook.source == "attr":
        return getattr(module, hook.step.rsplit(".", 1)[-1], None)
    index = 1 if hook.source == "in[1]" else 0
    return args[index] if len(args) > index else None


def _pick(output, source):
    index = 1 if source == "out[1]" else 0
    if isinstance(output, torch.Tensor):
        return output if index == 0 else None
    return output[index] if len(output) > index else None


@contextmanager
def record(model, library, family=None):
    """Hooks on model (in eval mode) while the block runs; family (vit or swin) from its class name by default."""
    rec = Recorder(model, library, family)
    try:
        yield rec
    finally:
        rec.close()


def dump(model, library, input_path, output_path, name=None):
    """Runs model (in eval mode) on the input of a vitrace trace with the hooks on and writes their dump."""
    x, source = read_input(input_path)
    with torch.no_grad(), record(model, library) as rec:
        model(x)
    rec.save(output_path, source, name)
    return rec


# ---------------------------------------------------------------------------
# Files: safetensors (written here: numpy has no writer), the trace's input

def write_safetensors(path, tensors, metadata):
    """tensors: name -> float32 array, stored in that order; metadata: str -> str."""
    header = {"__metadata__": metadata}
    offset = 0
    for name, a in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


_NUMPY = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path):
    """(name -> array, metadata). BF16 is widened to float32."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    out = OrderedDict()
    for name, e in header.items():
        b, end = e["data_offsets"]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(data[b:end], "<u2").astype(np.uint32) << 16).view(np.float32)
        elif e["dtype"] in _NUMPY:
            a = np.frombuffer(data[b:end], _NUMPY[e["dtype"]])
        else:
            raise ValueError(f"{path}: {name} has dtype {e['dtype']}, which this reader does not know")
        out[name] = a.reshape(e["shape"])
    return out, metadata


def read_input(path):
    """The preprocessed image of a vitrace trace: (x [1, 3, S, S], source), where
    source holds the trace's input and model objects for the dump's metadata."""
    if path.endswith(".safetensors"):
        tensors, metadata = read_safetensors(path)
        if "input.normalize" not in tensors:
            raise ValueError(f"{path}: no tensor input.normalize; write the dump with vitrace trace --tensors")
        x = tensors["input.normalize"]
        trace = {k: json.loads(metadata[k]) for k in ("input", "model") if k in metadata}
    else:
        with open(path) as f:
            trace = json.load(f)
        step = next((s for s in trace.get("steps", []) if s["name"] == "input.normalize"), None)
        if step is None or step.get("values") is None or len(step["values"]) != math.prod(step["shape"]):
            raise ValueError(f"{path}: step input.normalize lacks its full values; trace with "
                             f"`vitrace trace ... --steps input.normalize -o FILE.json` (or --tensors)")
        x = np.array([np.nan if v is None else v for v in step["values"]], dtype=np.float32).reshape(step["shape"])
    source = {"path": path, "input": trace.get("input"), "model": trace.get("model")}
    return torch.from_numpy(np.array(x, dtype=np.float32))[None], source


def _input_of(source):
    if source is None:
        return {}
    return dict(source.get("input") or {}, source=f"{source['path']} (input.normalize)")


# ---------------------------------------------------------------------------
# Command line

def read_state_dict(path):
    if path.endswith(".safetensors"):
        return {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(path)[0].items()}
    return torch.load(path, map_location="cpu")


def load_model(library, arch, weights):
    """The model in eval mode: hf from a save_pretrained folder; timm and torchvision by name, with the
    state dict's classes (and, for a torchvision ViT, the image size its position table holds)."""
    if library == "hf":
        import transformers
        config = transformers.AutoConfig.from_pretrained(weights)
        cls = getattr(transformers, (config.architectures or ["AutoModel"])[0])
        return cls.from_pretrained(weights, attn_implementation="eager").eval()
    if not arch:
        raise ValueError(f"--arch is required for {library}: the model's name (vit_b_16, swin_t, "
                         f"vit_base_patch16_224, ...)")
    if library == "timm":
        import timm
        make = lambda **kwargs: timm.create_model(arch, pretrained=False, **kwargs)  # noqa: E731
    else:
        import torchvision
        if not hasattr(torchvision.models, arch):
            raise ValueError(f"torchvision {torchvision.__version__} has no model '{arch}' (vit_b_16, swin_t, ...)")
        make = lambda **kwargs: getattr(torchvision.models, arch)(weights=None, **kwargs)  # noqa: E731
    state = read_state_dict(weights)
    head = next((v for k, v in state.items() if k in ("head.weight", "head.fc.weight", "heads.head.weight")), None)
    kwargs = {"num_classes": 0 if head is None else head.shape[0]}
    if "encoder.pos_embedding" in state:  # torchvision's ViT
        grid = math.isqrt(state["encoder.pos_embedding"].shape[1] - 1)
        kwargs["image_size"] = grid * state["conv_proj.weight"].shape[-1]
    model = make(**kwargs)
    model.load_state_dict(state, strict=True)
    return model.eval()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="vitrace_hooks.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", required=True, choices=sorted(LIBRARIES))
    ap.add_argument("--arch", help="torchvision, timm: the model's name (vit_b_16, swin_t, vit_base_patch16_224, ...)")
    ap.add_argument("--weights", required=True, help="a state dict (.safetensors, .pth); hf: a save_pretrained folder")
    ap.add_argument("--input", required=True, help="a vitrace dump, or a JSON trace with input.normalize in full")
    ap.add_argument("-o", "--output", required=True, help="the dump to write (.safetensors)")
    a = ap.parse_args(argv)
    try:
        read_input(a.input)  # a wrong input is told before the model is built
        model = load_model(a.library, a.arch, a.weights)
        rec = dump(model, a.library, a.input, a.output, a.arch or type(model).__name__)
    except (ImportError, OSError, ValueError, KeyError, RuntimeError) as e:
        sys.exit(f"vitrace_hooks: error: {e}")
    print(f"{a.output}: {len(rec.steps)} steps of {a.library} {a.arch or type(model).__name__} ({rec.family})")
    print(f"not seen in {a.library}'s {rec.family}:")
    for names, why in UNSEEN[a.library, rec.family]:
        print(f"  {', '.join(names)}\n      {why}")


if __name__ == "__main__":
    main()
