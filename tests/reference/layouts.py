"""The checkpoint layouts people download, as tables from our port's names
(models.py, timm's) to each library's names, read by one rename().

A table is a list of (port template, layout template). Templates name their
indices {i}, {s}, {b} (digits) and {p} (weight or bias). A layout template may
be a list of three: the port tensor is a fused qkv whose rows are q, k, v in
that order, and each third goes to one name. None drops the tensor.

The names were checked against the libraries' sources:
  Hugging Face  src/transformers/models/vit/modeling_vit.py (ViTEmbeddings,
                ViTSelfAttention, ViTLayer, ViTModel, ViTPooler,
                ViTForImageClassification) and models/swin/modeling_swin.py
                (SwinEmbeddings, SwinPatchMerging, SwinSelfAttention, SwinLayer,
                SwinStage, SwinEncoder, SwinModel, SwinForImageClassification);
  torchvision   models/vision_transformer.py and models/swin_transformer.py
                (0.14, Debian's): the state dict keys of the classes themselves.
hf_vit_skeleton and hf_swin_skeleton write Hugging Face's module trees out,
names and shapes only, so that a renamed state dict is loaded into them with
strict=True: every name there, none extra, every shape right.
"""

import re
from collections import OrderedDict

import torch
import torch.nn as nn

import models


def hf_vit_table(prefix="vit."):
    """ViTForImageClassification (prefix "vit."); ViTModel.save_pretrained
    writes the same names without the prefix (base_model_prefix is only added
    by the task classes that hold the base model as .vit)."""
    layer = prefix + "encoder.layer.{i}."
    attn = layer + "attention.attention."
    return [
        ("cls_token", prefix + "embeddings.cls_token"),
        ("pos_embed", prefix + "embeddings.position_embeddings"),
        ("patch_embed.proj.{p}", prefix + "embeddings.patch_embeddings.projection.{p}"),
        ("blocks.{i}.norm1.{p}", layer + "layernorm_before.{p}"),
        ("blocks.{i}.attn.qkv.{p}", [attn + "query.{p}", attn + "key.{p}", attn + "value.{p}"]),
        ("blocks.{i}.attn.proj.{p}", layer + "attention.output.dense.{p}"),
        ("blocks.{i}.norm2.{p}", layer + "layernorm_after.{p}"),
        ("blocks.{i}.mlp.fc1.{p}", layer + "intermediate.dense.{p}"),
        ("blocks.{i}.mlp.fc2.{p}", layer + "output.dense.{p}"),
        ("norm.{p}", prefix + "layernorm.{p}"),
        ("head.{p}", "classifier.{p}"),
    ]


# SwinForImageClassification, from the original Microsoft layout
# (models.swin_microsoft_state_dict): Hugging Face keeps Microsoft's stage
# numbering (layers.s.downsample closes stage s) and its stored
# relative_position_index [M², M²], and computes the shift mask on the fly.
_HF_BLOCK = "swin.encoder.layers.{s}.blocks.{b}."
HF_SWIN = [
    ("patch_embed.proj.{p}", "swin.embeddings.patch_embeddings.projection.{p}"),
    ("patch_embed.norm.{p}", "swin.embeddings.norm.{p}"),
    ("layers.{s}.blocks.{b}.norm1.{p}", _HF_BLOCK + "layernorm_before.{p}"),
    ("layers.{s}.blocks.{b}.attn.qkv.{p}", [_HF_BLOCK + "attention.self.query.{p}",
                                            _HF_BLOCK + "attention.self.key.{p}",
                                            _HF_BLOCK + "attention.self.value.{p}"]),
    ("layers.{s}.blocks.{b}.attn.relative_position_bias_table",
     _HF_BLOCK + "attention.self.relative_position_bias_table"),
    ("layers.{s}.blocks.{b}.attn.relative_position_index", _HF_BLOCK + "attention.self.relative_position_index"),
    ("layers.{s}.blocks.{b}.attn.proj.{p}", _HF_BLOCK + "attention.output.dense.{p}"),
    ("layers.{s}.blocks.{b}.norm2.{p}", _HF_BLOCK + "layernorm_after.{p}"),
    ("layers.{s}.blocks.{b}.mlp.fc1.{p}", _HF_BLOCK + "intermediate.dense.{p}"),
    ("layers.{s}.blocks.{b}.mlp.fc2.{p}", _HF_BLOCK + "output.dense.{p}"),
    ("layers.{s}.blocks.{b}.attn_mask", None),
    ("layers.{s}.downsample.norm.{p}", "swin.encoder.layers.{s}.downsample.norm.{p}"),
    ("layers.{s}.downsample.reduction.weight", "swin.encoder.layers.{s}.downsample.reduction.weight"),
    ("norm.{p}", "swin.layernorm.{p}"),
    ("head.{p}", "classifier.{p}"),
]

# torchvision.models.vision_transformer.VisionTransformer. Its
# nn.MultiheadAttention keeps q, k, v as the rows of in_proj_weight, in that
# order, like timm's qkv; mlp is torchvision's MLP (0 Linear, 1 GELU, 2 Dropout,
# 3 Linear, 4 Dropout).
_TV_LAYER = "encoder.layers.encoder_layer_{i}."
TORCHVISION_VIT = [
    ("cls_token", "class_token"),
    ("pos_embed", "encoder.pos_embedding"),
    ("patch_embed.proj.{p}", "conv_proj.{p}"),
    ("blocks.{i}.norm1.{p}", _TV_LAYER + "ln_1.{p}"),
    ("blocks.{i}.attn.qkv.weight", _TV_LAYER + "self_attention.in_proj_weight"),
    ("blocks.{i}.attn.qkv.bias", _TV_LAYER + "self_attention.in_proj_bias"),
    ("blocks.{i}.attn.proj.{p}", _TV_LAYER + "self_attention.out_proj.{p}"),
    ("blocks.{i}.norm2.{p}", _TV_LAYER + "ln_2.{p}"),
    ("blocks.{i}.mlp.fc1.{p}", _TV_LAYER + "mlp.0.{p}"),
    ("blocks.{i}.mlp.fc2.{p}", _TV_LAYER + "mlp.3.{p}"),
    ("norm.{p}", "encoder.ln.{p}"),
    ("head.{p}", "heads.head.{p}"),
]


def torchvision_swin_table(stages):
    """torchvision.models.swin_transformer.SwinTransformer, from the Microsoft
    layout: one nn.Sequential `features` holding the patch embedding (0: Conv2d,
    1: Permute, 2: LayerNorm), then each stage's blocks (2s+1) followed by its
    patch merging (2s+2). torchvision stores relative_position_index flattened,
    [M⁴]: rename() keeps the shape it is given, see torchvision_swin_state_dict."""
    table = [("patch_embed.proj.{p}", "features.0.0.{p}"), ("patch_embed.norm.{p}", "features.0.2.{p}")]
    for s in range(stages):
        blocks, block = f"layers.{s}.blocks.{{b}}.", f"features.{2 * s + 1}.{{b}}."
        table += [(blocks + name, block + name) for name in
                  ("norm1.{p}", "attn.qkv.{p}", "attn.proj.{p}", "attn.relative_position_bias_table",
                   "attn.relative_position_index", "norm2.{p}")]
        table += [(blocks + "mlp.fc1.{p}", block + "mlp.0.{p}"), (blocks + "mlp.fc2.{p}", block + "mlp.3.{p}"),
                  (blocks + "attn_mask", None),
                  (f"layers.{s}.downsample.norm.{{p}}", f"features.{2 * s + 2}.norm.{{p}}"),
                  (f"layers.{s}.downsample.reduction.weight", f"features.{2 * s + 2}.reduction.weight")]
    return table + [("norm.{p}", "norm.{p}"), ("head.{p}", "head.{p}")]


def _regex(template):
    """A template as a regex: {p} matches weight or bias, any other {x} a number."""
    out = ""
    for part in re.split(r"(\{\w+\})", template):
        if part == "{p}":
            out += r"(?P<p>weight|bias)"
        elif part.startswith("{"):
            out += rf"(?P<{part[1:-1]}>\d+)"
        else:
            out += re.escape(part)
    return re.compile(out + "$")


def rename(state, table):
    """state under our port's names -> the layout's names (insertion order kept)."""
    entries = [(_regex(src), dst) for src, dst in table]
    out = OrderedDict()
    for name, v in state.items():
        match = next(((m, dst) for rx, dst in entries for m in [rx.match(name)] if m), None)
        if match is None:
            raise KeyError(f"{name}: no entry in the layout table")
        m, dst = match
        if dst is None:
            continue
        if isinstance(dst, list):
            for d, rows in zip(dst, v.chunk(3, dim=0)):
                out[d.format(**m.groupdict())] = rows.clone()
        else:
            out[dst.format(**m.groupdict())] = v
    return out


def unrename(state, table):
    """The inverse of rename(): the layout's names -> our port's (dropped tensors stay dropped)."""
    entries = [(_regex(dst[0] if isinstance(dst, list) else dst), src, dst) for src, dst in table if dst]
    out = OrderedDict()
    for name, v in state.items():
        match = next(((m, src, dst) for rx, src, dst in entries for m in [rx.match(name)] if m), None)
        if match is None:
            continue  # k and v of a split qkv (gathered with q), or a tensor the port has no place for
        m, src, dst = match
        g = m.groupdict()
        if isinstance(dst, list):
            v = torch.cat([state[d.format(**g)] for d in dst], dim=0)
        out[src.format(**g)] = v
    return out


def hf_swin_state_dict(model):
    return rename(models.swin_microsoft_state_dict(model), HF_SWIN)


def torchvision_swin_state_dict(model):
    out = rename(models.swin_microsoft_state_dict(model), torchvision_swin_table(len(model.layers)))
    return OrderedDict((k, v.flatten() if k.endswith("relative_position_index") else v) for k, v in out.items())


# ---------------------------------------------------------------------------
# Hugging Face's module trees, names and shapes only (no forward pass).

class Tree(nn.Module):
    """A module whose children and parameters are given by name (Hugging Face
    names one child `self`, hence `module` for the instance)."""

    def __init__(module, **parts):
        super().__init__()
        for name, part in parts.items():
            if isinstance(part, torch.Tensor) and not isinstance(part, nn.Parameter):
                module.register_buffer(name, part)
            else:
                setattr(module, name, part)


def _param(*shape):
    return nn.Parameter(torch.zeros(*shape))


def hf_vit_skeleton(cfg, classifier=True, pooler=False, prefix=True):
    """ViTForImageClassification (classifier=True) or ViTModel (prefix=False,
    pooler as add_pooling_layer), from a port config."""
    C, P, qkv_bias = cfg["width"], cfg["patch"], cfg["qkv_bias"]
    hidden = int(C * cfg["mlp_ratio"])
    n = (cfg["image_size"] // P) ** 2

    def layer():  # ViTLayer
        self_attention = Tree(query=nn.Linear(C, C, bias=qkv_bias), key=nn.Linear(C, C, bias=qkv_bias),
                              value=nn.Linear(C, C, bias=qkv_bias))  # ViTSelfAttention
        return Tree(attention=Tree(attention=self_attention, output=Tree(dense=nn.Linear(C, C))),
                    intermediate=Tree(dense=nn.Linear(C, hidden)), output=Tree(dense=nn.Linear(hidden, C)),
                    layernorm_before=nn.LayerNorm(C), layernorm_after=nn.LayerNorm(C))

    embeddings = Tree(cls_token=_param(1, 1, C), patch_embeddings=Tree(projection=nn.Conv2d(3, C, P, P)),
                      position_embeddings=_param(1, n + 1, C))
    vit = Tree(embeddings=embeddings, encoder=Tree(layer=nn.ModuleList([layer() for _ in range(cfg["depth"])])),
               layernorm=nn.LayerNorm(C))
    if pooler:
        vit.pooler = Tree(dense=nn.Linear(C, C))  # ViTPooler
    if not prefix:
        return vit
    return Tree(vit=vit, classifier=nn.Linear(C, cfg["classes"])) if classifier else Tree(vit=vit)


def hf_swin_skeleton(cfg):
    """SwinForImageClassification from a port Swin config whose every stage's
    grid is at least the window (Hugging Face sizes every table for the
    configured window)."""
    M, D = cfg["window"], len(cfg["depths"])
    grid = cfg["image_size"] // cfg["patch"]
    index = models.rel_pos_index(M)

    def layer(dim, heads):  # SwinLayer
        self_attention = Tree(relative_position_bias_table=_param((2 * M - 1) ** 2, heads),
                              relative_position_index=index.clone(),
                              query=nn.Linear(dim, dim), key=nn.Linear(dim, dim), value=nn.Linear(dim, dim))
        hidden = int(cfg["mlp_ratio"] * dim)
        return Tree(layernorm_before=nn.LayerNorm(dim),
                    attention=Tree(self=self_attention, output=Tree(dense=nn.Linear(dim, dim))),
                    layernorm_after=nn.LayerNorm(dim), intermediate=Tree(dense=nn.Linear(dim, hidden)),
                    output=Tree(dense=nn.Linear(hidden, dim)))

    stages = []
    for s in range(D):
        assert grid // 2 ** s >= M, "Hugging Face's Swin would size this stage's table for the whole window"
        dim = cfg["embed_dim"] * 2 ** s
        stage = Tree(blocks=nn.ModuleList([layer(dim, cfg["heads"][s]) for _ in range(cfg["depths"][s])]))
        if s < D - 1:  # SwinPatchMerging closes every stage but the last
            stage.downsample = Tree(reduction=nn.Linear(4 * dim, 2 * dim, bias=False), norm=nn.LayerNorm(4 * dim))
        stages.append(stage)
    E = cfg["embed_dim"]
    features = E * 2 ** (D - 1)
    embeddings = Tree(patch_embeddings=Tree(projection=nn.Conv2d(3, E, cfg["patch"], cfg["patch"])),
                      norm=nn.LayerNorm(E))
    swin = Tree(embeddings=embeddings, encoder=Tree(layers=nn.ModuleList(stages)), layernorm=nn.LayerNorm(features))
    return Tree(swin=swin, classifier=nn.Linear(features, cfg["classes"]))
