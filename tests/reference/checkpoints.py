#!/usr/bin/python3
"""Bring your own checkpoint: vitrace given only a downloaded checkpoint (no
--model) against PyTorch, on logits and on features.

    /usr/bin/python3 tests/reference/checkpoints.py --vitrace build/vitrace --case NAME --workdir DIR
    /usr/bin/python3 tests/reference/checkpoints.py --list

A torchvision checkpoint (.pth, a pickled state dict) becomes safetensors in two
lines of Python, run from the repository. Debian has no python3-safetensors, so
with this directory's refio.py:
    import sys, torch; sys.path.insert(0, "tests/reference"); import refio
    refio.save_safetensors("swin_t.safetensors", {k: v.numpy() for k, v in torch.load("swin_t-704ceda3.pth").items()})
or, where the safetensors package is installed (pip install safetensors):
    import torch; from safetensors.torch import save_file
    save_file(torch.load("swin_t-704ceda3.pth"), "swin_t.safetensors")
The torchvision cases save their model with torch.save and convert it with the
first two lines.

Each case builds a small model in PyTorch with seeded random weights (LayerNorm
weights and biases, LayerScale gammas and every bias random too, so that a
wrong or missing one shows), saves it as the library in question saves it,
draws an S×S PNG (vitrace then does no resize), and runs

    vitrace trace --weights FILE_OR_DIR --image IMG --mean a,b,c --std a,b,c --values none -o out.json [--image-size S]
    vitrace inspect FILE_OR_DIR --json

It compares output.features (timm's forward_head(pre_logits=True)) and
output.logits (null or absent without a head) within 1e-4, the top-5 (indices
in PyTorch's order, softmax scores, labels: config.json's id2label,
torchvision's ImageNet names for 1000 classes, null otherwise), and inspect's family, layout, config
fields and parameter count. The reference is our PyTorch port of timm
(models.py) for the timm and Hugging Face layouts, written out under Hugging
Face's names by layouts.py, and torchvision's own classes for torchvision.

The case `selftest` needs no vitrace: it checks the PyTorch side (the layout
tables against Hugging Face's module trees and torchvision's classes, the port
against torchvision's forward and against a naive recomputation).

Exit 0: every comparison within tolerance; 1: not; 77: PyTorch is not installed (or, for
the torchvision cases, torchvision).
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from typing import Optional

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    print("checkpoints: python3-torch is not installed; skipping")
    sys.exit(77)
try:
    import torchvision
except ImportError:
    torchvision = None  # the torchvision cases are skipped (python3-torchvision)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layouts  # noqa: E402
import models  # noqa: E402
import refio  # noqa: E402

LOGITS_TOLERANCE = 1e-4
FEATURES_TOLERANCE = 1e-4
SCORE_TOLERANCE = 1e-4  # top-5 softmax probabilities
RESAMPLE_TOLERANCE = 1e-5  # pos_embed.resample values: one interpolation, O(1) values
PORT_TOLERANCE = 1e-5  # selftest: two PyTorch computations of the same thing

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
HALF = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])  # Hugging Face's ViT preprocessor_config.json
ODD = dict(mean=[0.5, 0.45, 0.4], std=[0.25, 0.3, 0.2])  # no library's, so a swapped channel shows
FRUIT = ["apple", "banana", "cherry", "date", "elderberry", "fig", "grape"]

# A timm checkpoint alone does not say how many heads a ViT has; vitrace follows
# timm's convention, head_dim 64. Every ViT here whose file has no config.json
# (timm, torchvision) keeps to it: width 128 with 2 heads.
TIMM_VIT = dict(image_size=32, patch=8, width=128, depth=2, heads=2, mlp_ratio=4.0, pool="token", classes=7)


@dataclasses.dataclass
class Run:
    """One vitrace run and what it must give."""
    label: str                         # how the run is named in the printout
    weights: str                       # --weights FILE_OR_DIR
    image: str
    norm: dict                         # mean, std
    features: np.ndarray               # [C]
    logits: Optional[np.ndarray]       # [classes], or None: the model has no head
    family: str
    layout: str
    config: dict                       # fields inspect's config must hold
    params: int                        # parameters of the model vitrace builds
    labels: Optional[list] = None      # class names, or None: every label null
    image_size: Optional[int] = None   # --image-size
    resample: Optional[np.ndarray] = None  # the values of step pos_embed.resample, [h', w', C]


# ---------------------------------------------------------------------------
# Building blocks of the cases

def generator(seed):
    return torch.Generator().manual_seed(seed)


def image(d, S, seed, norm):
    """An S×S test picture written as PNG, and the normalised tensor [1, 3, S, S]
    vitrace computes from it."""
    rgb = refio.smooth_image(np.random.default_rng(seed), S)
    path = os.path.join(d, f"image_{S}.png")
    refio.write_png(path, rgb)
    _, x = models.preprocess_steps(rgb, norm["mean"], norm["std"])
    return path, x[None]


def save(path, state):
    refio.save_safetensors(path, {k: v.detach().contiguous().numpy() for k, v in state.items()})
    return path


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def vit_outputs(model, x):
    """(features, logits or None) of a port ViT on x [1, 3, S, S]."""
    with torch.no_grad():
        tokens = model.forward_features(x)
        feats = model.forward_head(tokens, pre_logits=True)[0].numpy()
        logits = model.forward_head(tokens)[0].numpy() if model.cfg["classes"] else None
    return feats, logits


def vit_inspect_config(cfg):
    """The config fields vitrace's inspect shows for a port ViT config."""
    keys = ("image_size", "patch", "width", "depth", "heads", "mlp_ratio", "pool", "classes")
    return dict({k: cfg[k] for k in keys}, **{k: cfg.get(k, v) for k, v in models.VIT_VARIANTS.items()})


def port_vit(cfg, seed):
    model = models.VisionTransformer(cfg)
    models.randomize(model, generator(seed))
    return model.eval()


def timm_vit_case(d, seed, norm=ODD, **overrides):
    """A timm-layout ViT as a lone .safetensors file, no config.json beside it."""
    cfg = dict(TIMM_VIT, **overrides)
    model = port_vit(cfg, seed)
    weights = save(os.path.join(d, "vit.safetensors"), model.state_dict())
    img, x = image(d, cfg["image_size"], seed, norm)
    feats, logits = vit_outputs(model, x)
    return [Run("file", weights, img, norm, feats, logits, "vit", "timm", vit_inspect_config(model.cfg),
                n_params(model))]


# ---------------------------------------------------------------------------
# ViT in timm's layout

def case_timm_no_qkv_bias(d, seed):
    return timm_vit_case(d, seed, qkv_bias=False)


def case_timm_layer_scale(d, seed):
    return timm_vit_case(d, seed, layer_scale=True)


def case_timm_registers(d, seed):
    """DINOv2 with registers (vit_small_patch14_reg4_dinov2): patch 14, cls then
    4 registers, pos_embed over the patches only, LayerScale, no head."""
    return timm_vit_case(d, seed, image_size=56, patch=14, reg_tokens=4, no_embed_class=True, layer_scale=True,
                         classes=0)


def case_timm_hub_dir(d, seed):
    """The registers model as the timm/… hub repositories hold it: a folder with
    model.safetensors and timm's config.json (timm/models/_hub.py
    save_config_for_hf: architecture, num_classes, num_features, global_pool,
    pretrained_cfg). The architecture is named after no real model: vitrace has
    to go by the weights and the fields, not by a list of names."""
    runs = timm_vit_case(d, seed, image_size=56, patch=14, reg_tokens=4, no_embed_class=True, layer_scale=True,
                         classes=0)
    run = runs[0]
    os.rename(run.weights, os.path.join(d, "model.safetensors"))
    write_json(os.path.join(d, "config.json"), {
        "architecture": "vit_test_patch14_reg4_dinov2", "num_classes": 0, "num_features": TIMM_VIT["width"],
        "global_pool": "token",
        "pretrained_cfg": {"tag": "test", "custom_load": False, "input_size": [3, 56, 56], "fixed_input_size": True,
                           "interpolation": "bicubic", "crop_pct": 1.0, "crop_mode": "center",
                           "mean": ODD["mean"], "std": ODD["std"], "num_classes": 0, "pool_size": None,
                           "first_conv": "patch_embed.proj", "classifier": "head"}})
    run.weights, run.label = d, "folder"
    return runs


def case_timm_avg_no_cls(d, seed):
    """class_token=False, global_pool='avg': fc_norm after the mean over every
    token (there is no prefix token), no norm.* in the file."""
    return timm_vit_case(d, seed, class_token=False, pool="mean")


def case_timm_no_embed_class(d, seed):
    return timm_vit_case(d, seed, no_embed_class=True)


def case_timm_distilled(d, seed):
    """DeiT distilled (timm deit.py VisionTransformerDistilled)."""
    return timm_vit_case(d, seed, distilled=True)


def case_timm_features_only(d, seed):
    return timm_vit_case(d, seed, classes=0)


def resample_case(d, seed, cfg, new_size):
    """A plain timm ViT made at cfg's size, traced at new_size: the reference
    resamples pos_embed as timm does (models.resample_abs_pos_embed), and the
    trace's step pos_embed.resample is held to F.interpolate itself."""
    model = port_vit(cfg, seed)
    weights = save(os.path.join(d, "vit.safetensors"), model.state_dict())
    img, x = image(d, new_size, seed, ODD)
    feats, logits = vit_outputs(models.vit_at_size(model, new_size), x)
    h, h2, C = cfg["image_size"] // cfg["patch"], new_size // cfg["patch"], cfg["width"]
    grid = model.pos_embed.detach()[0, 1:].reshape(h, h, C).permute(2, 0, 1)[None]  # after the cls row: [1, C, h, w]
    grid = F.interpolate(grid, size=(h2, h2), mode="bicubic", antialias=True, align_corners=False)
    return [Run(f"{cfg['image_size']} -> {new_size}", weights, img, ODD, feats, logits, "vit", "timm",
                vit_inspect_config(model.cfg), n_params(model), image_size=new_size,
                resample=grid[0].permute(1, 2, 0).numpy())]


def case_timm_resample_40(d, seed):
    return resample_case(d, seed, TIMM_VIT, 40)  # grid 4 -> 5


def case_timm_resample_64(d, seed):
    return resample_case(d, seed, TIMM_VIT, 64)  # grid 4 -> 8


# ViT-B/16's grid at 224 (14), narrow and one block deep so that 384 stays fast;
# width 64 keeps timm's head_dim 64 with one head.
WIDE_GRID = dict(TIMM_VIT, image_size=224, patch=16, width=64, depth=1, heads=1)


def case_timm_resample_288(d, seed):
    return resample_case(d, seed, WIDE_GRID, 288)  # grid 14 -> 18


def case_timm_resample_384(d, seed):
    return resample_case(d, seed, WIDE_GRID, 384)  # grid 14 -> 24


# ---------------------------------------------------------------------------
# Hugging Face transformers

# Three heads of width 16: not timm's head_dim, so vitrace must read
# num_attention_heads from config.json.
HF_VIT = dict(image_size=32, patch=8, width=48, depth=2, heads=3, mlp_ratio=2.0, pool="token", classes=6,
              norm_eps=1e-12)


def hf_vit_config(cfg, architecture, labels):
    """config.json as save_pretrained writes it for google/vit-base-patch16-224."""
    out = {"architectures": [architecture], "attention_probs_dropout_prob": 0.0, "encoder_stride": cfg["patch"],
           "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "hidden_size": cfg["width"],
           "image_size": cfg["image_size"], "initializer_range": 0.02,
           "intermediate_size": int(cfg["width"] * cfg["mlp_ratio"]), "layer_norm_eps": cfg["norm_eps"],
           "model_type": "vit", "num_attention_heads": cfg["heads"], "num_channels": 3,
           "num_hidden_layers": cfg["depth"], "patch_size": cfg["patch"], "qkv_bias": cfg["qkv_bias"],
           "torch_dtype": "float32", "transformers_version": "4.46.0"}
    if labels:
        out["id2label"] = {str(i): name for i, name in enumerate(labels)}
        out["label2id"] = {name: i for i, name in enumerate(labels)}
    return out


def hf_folder(d, state, config, norm, size):
    save(os.path.join(d, "model.safetensors"), state)
    write_json(os.path.join(d, "config.json"), config)
    write_json(os.path.join(d, "preprocessor_config.json"), {
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": norm["mean"],
        "image_processor_type": "ViTImageProcessor", "image_std": norm["std"], "resample": 2,
        "rescale_factor": 1 / 255, "size": {"height": size, "width": size}})


def case_hf_vit_classifier(d, seed):
    """ViTForImageClassification (google/vit-base-patch16-224), as a folder and
    as the file in it (its config.json is read from beside it)."""
    model = port_vit(HF_VIT, seed)
    state = layouts.rename(model.state_dict(), layouts.hf_vit_table())
    layouts.hf_vit_skeleton(model.cfg).load_state_dict(state, strict=True)
    labels = FRUIT[:HF_VIT["classes"]]
    hf_folder(d, state, hf_vit_config(model.cfg, "ViTForImageClassification", labels), HALF, HF_VIT["image_size"])
    img, x = image(d, HF_VIT["image_size"], seed, HALF)
    feats, logits = vit_outputs(model, x)
    run = Run("folder", d, img, HALF, feats, logits, "vit", "hf", vit_inspect_config(model.cfg), n_params(model),
              labels=labels)
    return [run, dataclasses.replace(run, label="file", weights=os.path.join(d, "model.safetensors"))]


def hf_backbone_case(d, seed, prefix):
    """A ViTModel backbone with its pooler (dense + tanh on the cls token, which
    vitrace leaves out): features only."""
    cfg = dict(HF_VIT, classes=0)
    model = port_vit(cfg, seed)
    state = layouts.rename(model.state_dict(), layouts.hf_vit_table(prefix))
    gen = generator(seed + 1)
    C = cfg["width"]
    state[prefix + "pooler.dense.weight"] = torch.randn(C, C, generator=gen) / math.sqrt(C)
    state[prefix + "pooler.dense.bias"] = 0.5 * torch.randn(C, generator=gen)
    skeleton = layouts.hf_vit_skeleton(model.cfg, classifier=False, pooler=True, prefix=bool(prefix))
    skeleton.load_state_dict(state, strict=True)
    hf_folder(d, state, hf_vit_config(model.cfg, "ViTModel", None), HALF, cfg["image_size"])
    img, x = image(d, cfg["image_size"], seed, HALF)
    feats, logits = vit_outputs(model, x)
    return [Run("folder", d, img, HALF, feats, logits, "vit", "hf", vit_inspect_config(model.cfg), n_params(model))]


def case_hf_vit_backbone(d, seed):
    """The names under vit. (as ViTForImageClassification has them) plus vit.pooler.dense."""
    return hf_backbone_case(d, seed, "vit.")


def case_hf_vit_model(d, seed):
    """What ViTModel.save_pretrained writes (google/vit-base-patch16-224-in21k):
    the same names without the vit. prefix, and pooler.dense."""
    return hf_backbone_case(d, seed, "")


# Stage 1's grid (4) is the window: Hugging Face, timm and torchvision agree on
# it (one window, no shift). A smaller grid would not do: Hugging Face sizes
# every relative position table for the configured window.
HF_SWIN = dict(image_size=16, patch=2, embed_dim=16, depths=[2, 2], heads=[2, 4], window=4, mlp_ratio=4.0, classes=5)


def swin_outputs(model, x):
    with torch.no_grad():
        tokens = model.forward_features(x)
        return model.forward_head(tokens, pre_logits=True)[0].numpy(), model.forward_head(tokens)[0].numpy()


def swin_inspect_config(cfg):
    return {k: cfg[k] for k in ("image_size", "patch", "embed_dim", "depths", "heads", "window", "mlp_ratio",
                                "classes")}


def case_hf_swin_classifier(d, seed):
    """SwinForImageClassification (microsoft/swin-tiny-patch4-window7-224)."""
    cfg = HF_SWIN
    model = models.SwinTransformer(cfg)
    models.randomize(model, generator(seed))
    model.eval()
    state = layouts.hf_swin_state_dict(model)
    layouts.hf_swin_skeleton(cfg).load_state_dict(state, strict=True)
    labels = FRUIT[:cfg["classes"]]
    D = len(cfg["depths"])
    hf_folder(d, state, {
        "architectures": ["SwinForImageClassification"], "attention_probs_dropout_prob": 0.0,
        "depths": cfg["depths"], "drop_path_rate": 0.1, "embed_dim": cfg["embed_dim"],
        "encoder_stride": cfg["patch"] * 2 ** (D - 1), "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "hidden_size": cfg["embed_dim"] * 2 ** (D - 1), "id2label": {str(i): n for i, n in enumerate(labels)},
        "image_size": cfg["image_size"], "initializer_range": 0.02, "label2id": {n: i for i, n in enumerate(labels)},
        "layer_norm_eps": 1e-05, "mlp_ratio": cfg["mlp_ratio"], "model_type": "swin", "num_channels": 3,
        "num_heads": cfg["heads"], "num_layers": D, "patch_size": cfg["patch"], "path_norm": True, "qkv_bias": True,
        "torch_dtype": "float32", "transformers_version": "4.46.0", "use_absolute_embeddings": False,
        "window_size": cfg["window"]}, IMAGENET, cfg["image_size"])
    img, x = image(d, cfg["image_size"], seed, IMAGENET)
    feats, logits = swin_outputs(model, x)
    return [Run("folder", d, img, IMAGENET, feats, logits, "swin", "hf", swin_inspect_config(cfg), n_params(model),
                labels=labels)]


# ---------------------------------------------------------------------------
# torchvision: its own classes, saved with torch.save(model.state_dict())

def need_torchvision():
    if torchvision is None:
        print("checkpoints: python3-torchvision is not installed; skipping")
        sys.exit(77)


def torchvision_file(d, model, name):
    """model.state_dict() as torchvision's .pth files hold it, turned into
    safetensors by the two lines in this file's docstring."""
    pth = os.path.join(d, name + ".pth")
    torch.save(model.state_dict(), pth)
    out = os.path.join(d, name + ".safetensors")
    refio.save_safetensors(out, {k: v.numpy() for k, v in torch.load(pth).items()})
    return out


def tv_vit_outputs(model, x):
    """torchvision's VisionTransformer.forward, stopped before heads for the features."""
    with torch.no_grad():
        tokens = model._process_input(x)
        tokens = torch.cat([model.class_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        feats = model.encoder(tokens)[:, 0]
        logits = model.heads(feats)
        assert torch.equal(logits, model(x))
    return feats[0].numpy(), logits[0].numpy()


def tv_swin_outputs(model, x):
    """torchvision's SwinTransformer.forward, stopped before head for the features."""
    with torch.no_grad():
        feats = model.flatten(model.avgpool(model.permute(model.norm(model.features(x)))))
        logits = model.head(feats)
        assert torch.equal(logits, model(x))
    return feats[0].numpy(), logits[0].numpy()


TV_VIT = dict(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=128, mlp_dim=256, num_classes=7)


def case_torchvision_vit(d, seed):
    need_torchvision()
    model = torchvision.models.vision_transformer.VisionTransformer(**TV_VIT)
    models.randomize(model, generator(seed))
    model.eval()
    weights = torchvision_file(d, model, "vit")
    img, x = image(d, TV_VIT["image_size"], seed, IMAGENET)
    feats, logits = tv_vit_outputs(model, x)
    config = dict(image_size=32, patch=8, width=128, depth=2, heads=2, mlp_ratio=2.0, pool="token", classes=7,
                  norm_eps=1e-6)
    return [Run("file", weights, img, IMAGENET, feats, logits, "vit", "torchvision", config, n_params(model))]


def tv_swin_case(d, seed, model, config, image_size, image_size_flag, labels):
    models.randomize(model, generator(seed))
    model.eval()
    weights = torchvision_file(d, model, "swin")
    img, x = image(d, image_size, seed, IMAGENET)
    feats, logits = tv_swin_outputs(model, x)
    return [Run("file", weights, img, IMAGENET, feats, logits, "swin", "torchvision", config, n_params(model),
                labels=labels, image_size=image_size_flag)]


def case_torchvision_swin_t(d, seed):
    """torchvision.models.swin_t at 224 (Swin-T's real shape, random weights).
    No --image-size: a swin_t.pth does not say its input size, and 224 is the
    one it is made for. 1000 classes get ImageNet's names, as torchvision lists
    them for its pretrained weights (every name distinct)."""
    need_torchvision()
    from torchvision.models._meta import _IMAGENET_CATEGORIES
    config = dict(patch=4, embed_dim=96, depths=[2, 2, 6, 2], heads=[3, 6, 12, 24], window=7, mlp_ratio=4.0,
                  classes=1000)
    return tv_swin_case(d, seed, torchvision.models.swin_t(weights=None), config, 224, None,
                        list(_IMAGENET_CATEGORIES))


def case_torchvision_swin_small(d, seed):
    need_torchvision()
    model = torchvision.models.swin_transformer.SwinTransformer(
        patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[4, 4], num_classes=5)
    config = dict(patch=2, embed_dim=8, depths=[2, 2], heads=[2, 2], window=4, mlp_ratio=4.0, classes=5)
    return tv_swin_case(d, seed, model, config, 16, 16, None)


# ---------------------------------------------------------------------------
# Running vitrace and comparing

def run_vitrace(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure(f"`{' '.join(cmd)}` exited {p.returncode}:\n{p.stderr.strip()}")
    return p.stdout


class Failure(Exception):
    pass


def max_diff(name, got, want, tolerance):
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        raise Failure(f"{name}: expected shape {list(want.shape)}, got {list(got.shape)}")
    diff = float(np.abs(got - want).max())
    print(f"  {name}: max |vitrace - pytorch| = {diff:.3g} (tolerance {tolerance:g}, |{name}| up to "
          f"{np.abs(want).max():.3f})")
    if not diff <= tolerance:
        i = int(np.abs(got - want).reshape(-1).argmax())
        raise Failure(f"{name} differ at flat index {i}\n    vitrace {got.reshape(-1)[:4]}\n"
                      f"    pytorch {want.reshape(-1)[:4]}")
    return diff


def check_top5(top5, logits, labels):
    """top5: best first, in PyTorch's order up to ties within the tolerance,
    scores the softmax, labels as the case expects."""
    k = min(5, len(logits))
    if len(top5) != k:
        raise Failure(f"top5: expected {k} entries, got {len(top5)}")
    idx = [t["index"] for t in top5]
    rest = np.delete(logits, idx)
    ranked = all(logits[a] >= logits[b] - 2 * LOGITS_TOLERANCE for a, b in zip(idx, idx[1:]))
    if not ranked or (len(rest) and logits[idx].min() < rest.max() - 2 * LOGITS_TOLERANCE):
        raise Failure(f"top5 indices {idx}, pytorch's are {list(np.argsort(-logits)[:k])}")
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    max_diff("top5 scores", [t["score"] for t in top5], probs[idx], SCORE_TOLERANCE)
    got = [t.get("label") for t in top5]
    if labels is None:
        ok, want = all(g is None for g in got), "null labels (no class names known)"
    else:
        want = [labels[i] for i in idx]
        ok = got == want
    if not ok:
        raise Failure(f"top5 labels: expected {want}, got {got}")
    print(f"  top5: {list(zip(idx, got))}")


def same_value(a, b):
    if isinstance(b, float) or isinstance(a, float):
        return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=1e-6)
    return a == b


def check_inspect(info, run):
    for key, want in (("family", run.family), ("layout", run.layout)):
        if info.get(key) != want:
            raise Failure(f"inspect: {key} expected '{want}', got {info.get(key)!r}")
    config = info.get("config") or {}
    wrong = {k: (v, config.get(k, "(absent)")) for k, v in run.config.items() if not same_value(config.get(k), v)}
    if wrong:
        raise Failure("inspect: config fields (expected, got): " + ", ".join(f"{k} {w}" for k, w in wrong.items()))
    if "params" not in info:
        raise Failure("inspect: no 'params' field")
    params = info["params"]
    if isinstance(params, int) and params != run.params:
        raise Failure(f"inspect: params expected {run.params} (the parameters the model uses), got {params}")
    print(f"  inspect: family {run.family}, layout {run.layout}, {len(run.config)} config fields, params {params}")


def check(vitrace, d, run):
    print(f"{run.label}: --weights {os.path.relpath(run.weights, d) if run.weights != d else '<folder>'}")
    out = os.path.join(d, "out.json")
    cmd = [vitrace, "trace", "--weights", run.weights, "--image", run.image,
           "--mean", ",".join(map(str, run.norm["mean"])), "--std", ",".join(map(str, run.norm["std"])),
           "--values", "none", "-o", out, "-q"]
    if run.image_size:
        cmd += ["--image-size", str(run.image_size)]
    if run.resample is not None:
        cmd += ["--steps", "pos_embed.resample"]
    run_vitrace(cmd)
    with open(out) as f:
        trace = json.load(f)
    output = trace.get("output") or {}
    if output.get("features") is None:
        raise Failure("output.features is missing")
    max_diff("features", output["features"], run.features.astype(np.float64), FEATURES_TOLERANCE)
    if run.logits is None:
        if output.get("logits") is not None:
            raise Failure("the model has no head, but output.logits is not null")
        print("  logits: null, as the model has no head")
    else:
        if output.get("logits") is None:
            raise Failure("output.logits is missing")
        max_diff("logits", output["logits"], run.logits.astype(np.float64), LOGITS_TOLERANCE)
        check_top5(output.get("top5") or [], run.logits.astype(np.float64), run.labels)
    if run.resample is not None:
        steps = [s for s in trace.get("steps", []) if s.get("name") == "pos_embed.resample"]
        if not steps:
            raise Failure("no step pos_embed.resample in the trace")
        if steps[0].get("shape") != list(run.resample.shape):
            raise Failure(f"pos_embed.resample: expected shape {list(run.resample.shape)}, got {steps[0].get('shape')}")
        values = np.asarray(steps[0]["values"], dtype=np.float64).reshape(run.resample.shape)
        max_diff("pos_embed.resample", values, run.resample.astype(np.float64), RESAMPLE_TOLERANCE)
    check_inspect(json.loads(run_vitrace([vitrace, "inspect", run.weights, "--json"])), run)


# ---------------------------------------------------------------------------
# selftest: the PyTorch side on its own

def naive_vit(sd, cfg, x):
    """A ViT from its timm state dict alone, one line per timm statement and
    with einsum where the port reshapes: the oracle for the port's variants."""
    cfg = dict(models.VIT_VARIANTS, **cfg)
    C, heads, eps = cfg["width"], cfg["heads"], cfg["norm_eps"]
    hd = C // heads

    def ln(t, name):
        return F.layer_norm(t, (C,), sd[name + ".weight"], sd[name + ".bias"], eps)

    def lin(t, name):
        return F.linear(t, sd[name + ".weight"], sd.get(name + ".bias"))

    t = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=cfg["patch"])
    t = t.flatten(2).transpose(1, 2)
    prefix = [sd[k] for k in ("cls_token", "dist_token", "reg_token") if k in sd]
    if cfg["no_embed_class"]:
        t = torch.cat(prefix + [t + sd["pos_embed"]], dim=1)
    else:
        t = torch.cat(prefix + [t], dim=1) + sd["pos_embed"]
    B, N, _ = t.shape
    for i in range(cfg["depth"]):
        p = f"blocks.{i}."
        q, k, v = lin(ln(t, p + "norm1"), p + "attn.qkv").reshape(B, N, 3, heads, hd).unbind(2)
        a = torch.softmax(torch.einsum("bnhd,bmhd->bhnm", q, k) / math.sqrt(hd), dim=-1)
        o = lin(torch.einsum("bhnm,bmhd->bnhd", a, v).reshape(B, N, C), p + "attn.proj")
        t = t + (o * sd[p + "ls1.gamma"] if cfg["layer_scale"] else o)
        m = lin(F.gelu(lin(ln(t, p + "norm2"), p + "mlp.fc1")), p + "mlp.fc2")
        t = t + (m * sd[p + "ls2.gamma"] if cfg["layer_scale"] else m)
    if cfg["distilled"]:
        t = ln(t, "norm")
        return (t[:, 0] + t[:, 1]) / 2, (lin(t[:, 0], "head") + lin(t[:, 1], "head_dist")) / 2
    if cfg["pool"] == "token":
        feats = ln(t, "norm")[:, 0]
    else:
        feats = ln(t[:, len(prefix):].mean(dim=1), "fc_norm")
    return feats, (lin(feats, "head") if cfg["classes"] else None)


def compare(name, got, want):
    diff = (got - want).abs().max().item()
    print(f"  {name}: max diff {diff:.3g}")
    if not diff <= PORT_TOLERANCE:
        raise Failure(f"{name}: {diff:.3g} > {PORT_TOLERANCE:g}")


def same_keys(name, got, want):
    got, want = {k: list(v.shape) for k, v in got.items()}, {k: list(v.shape) for k, v in want.items()}
    if got != want:
        raise Failure(f"{name}: names differ; only ours {sorted(set(got) - set(want))[:6]}, "
                      f"only theirs {sorted(set(want) - set(got))[:6]}, shapes "
                      f"{[(k, got[k], want[k]) for k in set(got) & set(want) if got[k] != want[k]][:4]}")
    print(f"  {name}: {len(got)} names and shapes agree")


def case_selftest(d, seed):
    x = torch.randn(1, 3, 32, 32, generator=generator(seed))

    print("port ViT variants against a naive recomputation from the state dict:")
    for name, over in [("qkv_bias=False", dict(qkv_bias=False)), ("LayerScale", dict(layer_scale=True)),
                       ("registers", dict(reg_tokens=4, no_embed_class=True, layer_scale=True, classes=0)),
                       ("avg, no cls", dict(class_token=False, pool="mean")),
                       ("no_embed_class", dict(no_embed_class=True)), ("distilled", dict(distilled=True)),
                       ("no head", dict(classes=0)), ("eps 1e-12", dict(HF_VIT))]:
        model = port_vit(dict(TIMM_VIT, **over), seed)
        with torch.no_grad():
            feats, logits = naive_vit(model.state_dict(), model.cfg, x)
            tokens = model.forward_features(x)
            compare(f"{name} features", model.forward_head(tokens, pre_logits=True), feats)
            if logits is not None:
                compare(f"{name} logits", model(x), logits)

    print("resample_abs_pos_embed:")
    model = port_vit(TIMM_VIT, seed)
    pe = model.pos_embed.detach()
    same = models.resample_abs_pos_embed(pe, (4, 4), 1)
    compare("same grid is a copy", same, pe)
    up = models.resample_abs_pos_embed(pe, (5, 5), 1)
    compare("prefix row kept", up[:, :1], pe[:, :1])
    grid = pe[:, 1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    plain = F.interpolate(grid, size=(5, 5), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, 25, -1)
    print(f"  antialias matters when growing too: antialiased vs plain bicubic differ by "
          f"{(up[:, 1:] - plain).abs().max().item():.3g}")
    x40 = F.pad(x, (4, 4, 4, 4))
    with torch.no_grad():
        big = models.vit_at_size(model, 40)
        feats, _ = naive_vit(big.state_dict(), big.cfg, x40)
        compare("the model at 40 vs naive", big.forward_head(big.forward_features(x40), pre_logits=True), feats)

    print("Hugging Face names: rename, load into the module tree (strict), rename back:")
    backbone = dict(HF_VIT, classes=0)
    for title, cfg, prefix, tree in [
            ("ViTForImageClassification", HF_VIT, "vit.", dict()),
            ("ViTModel under vit.", backbone, "vit.", dict(classifier=False, pooler=True)),
            ("ViTModel", backbone, "", dict(classifier=False, pooler=True, prefix=False))]:
        model = port_vit(cfg, seed)
        state = layouts.rename(model.state_dict(), layouts.hf_vit_table(prefix))
        if tree.get("pooler"):
            state[prefix + "pooler.dense.weight"] = torch.zeros(cfg["width"], cfg["width"])
            state[prefix + "pooler.dense.bias"] = torch.zeros(cfg["width"])
        layouts.hf_vit_skeleton(model.cfg, **tree).load_state_dict(state, strict=True)
        back = layouts.unrename(state, layouts.hf_vit_table(prefix))
        same_keys(title + " round trip", back, model.state_dict())
        assert all(torch.equal(back[k], v) for k, v in model.state_dict().items())
    model = models.SwinTransformer(HF_SWIN)
    models.randomize(model, generator(seed))
    state = layouts.hf_swin_state_dict(model)
    layouts.hf_swin_skeleton(HF_SWIN).load_state_dict(state, strict=True)
    back = layouts.unrename(state, layouts.HF_SWIN)
    ms = {k: v for k, v in models.swin_microsoft_state_dict(model).items() if not k.endswith("attn_mask")}
    same_keys("SwinForImageClassification round trip (Microsoft layout)", back, ms)
    assert all(torch.equal(back[k], v) for k, v in ms.items())

    if torchvision is None:
        print("torchvision: python3-torchvision is not installed; its checks are skipped")
        return []
    print("torchvision: its names are the port's renamed, and its forward is the port's:")
    port = port_vit(dict(TIMM_VIT, mlp_ratio=2.0), seed)
    tv = torchvision.models.vision_transformer.VisionTransformer(**TV_VIT).eval()
    state = layouts.rename(port.state_dict(), layouts.TORCHVISION_VIT)
    same_keys("VisionTransformer", state, tv.state_dict())
    tv.load_state_dict(state, strict=True)
    feats, logits = tv_vit_outputs(tv, x)
    want_feats, want_logits = vit_outputs(port, x)
    compare("VisionTransformer features", torch.from_numpy(feats), torch.from_numpy(want_feats))
    compare("VisionTransformer logits", torch.from_numpy(logits), torch.from_numpy(want_logits))
    for title, tv, cfg, S in [
            ("SwinTransformer small", torchvision.models.swin_transformer.SwinTransformer(
                patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[4, 4], num_classes=5),
             dict(image_size=16, patch=2, embed_dim=8, depths=[2, 2], heads=[2, 2], window=4, mlp_ratio=4.0,
                  classes=5), 16),
            ("swin_t", torchvision.models.swin_t(weights=None),
             dict(image_size=224, patch=4, embed_dim=96, depths=[2, 2, 6, 2], heads=[3, 6, 12, 24], window=7,
                  mlp_ratio=4.0, classes=1000), 224)]:
        port = models.SwinTransformer(cfg)
        models.randomize(port, generator(seed))
        port.eval()
        tv.eval()
        state = layouts.torchvision_swin_state_dict(port)
        same_keys(title, state, tv.state_dict())
        tv.load_state_dict(state, strict=True)
        xs = torch.randn(1, 3, S, S, generator=generator(seed))
        feats, logits = tv_swin_outputs(tv, xs)
        want_feats, want_logits = swin_outputs(port, xs)
        compare(f"{title} features", torch.from_numpy(feats), torch.from_numpy(want_feats))
        compare(f"{title} logits", torch.from_numpy(logits), torch.from_numpy(want_logits))
    return []


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def case_main(doc, cases, check_result, label, offline):
    """The command line of a script of cases (this one, hooks.py): --list; or --case NAME, built in
    WORKDIR/NAME (removed when it passes) and handed to check_result(vitrace, dir, what the case returned).
    The cases named in `offline` need no --vitrace."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitrace", help=f"the vitrace binary (every case but {' and '.join(offline)})")
    ap.add_argument("--case", choices=sorted(cases))
    ap.add_argument("--workdir", help="checkpoints and traces go to WORKDIR/CASE, removed when the case passes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--list", action="store_true", help="print the case names")
    a = ap.parse_args()
    if a.list:
        print("\n".join(sorted(cases)))
        return
    if not a.case or not a.workdir or (a.case not in offline and not a.vitrace):
        ap.error(f"--case and --workdir are required, and --vitrace for every case but {' and '.join(offline)}")

    torch.set_num_threads(2)
    d = os.path.abspath(os.path.join(a.workdir, a.case))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    try:
        check_result(a.vitrace, d, cases[a.case](d, a.seed))
    except Failure as e:
        print(f"{label} {a.case}: FAIL: {e}\n  (files kept in {d})")
        sys.exit(1)
    shutil.rmtree(d)
    print(f"{label} {a.case}: pass")


def check_runs(vitrace, d, runs):
    for run in runs:
        check(vitrace, d, run)


if __name__ == "__main__":
    case_main(__doc__, CASES, check_runs, "checkpoint", ("selftest",))
