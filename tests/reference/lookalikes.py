#!/usr/bin/env python3
"""Look-alikes of four checkpoints a learner downloads, for the README.

    /usr/bin/python3 tests/reference/lookalikes.py --out /tmp/hub

Each folder holds what the hub repository holds (model.safetensors and its
config.json, preprocessor_config.json for Hugging Face's), with the published
tensor names and shapes and seeded random weights, since there are no
pretrained weights on this machine:

    google/vit-base-patch16-224                  Hugging Face ViTForImageClassification
    microsoft/swin-tiny-patch4-window7-224       Hugging Face SwinForImageClassification
    timm/deit_tiny_distilled_patch16_224.fb_in1k timm, dist_token and head_dist
    timm/vit_small_patch14_reg4_dinov2.lvd142m   timm, 4 registers, LayerScale, no head, 518 px

`vitrace inspect` and `vitrace trace` read them as they would read the real ones.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import layouts  # noqa: E402
import models  # noqa: E402

IMAGENET_LABELS = None


def imagenet_labels():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "data", "imagenet_classes.txt")) as f:
        return [line.rstrip("\n") for line in f]


def timm_config(architecture, classes, size, mean, std):
    """config.json as timm's push_to_hf_hub writes it."""
    return {"architecture": architecture, "num_classes": classes, "num_features": None, "global_pool": "token",
            "pretrained_cfg": {"tag": "", "custom_load": False, "input_size": [3, size, size],
                               "fixed_input_size": False, "interpolation": "bicubic", "crop_pct": 0.875,
                               "crop_mode": "center", "mean": mean, "std": std, "num_classes": classes,
                               "pool_size": None, "first_conv": "patch_embed.proj", "classifier": "head"}}


def vit_base(d):
    cfg = dict(image_size=224, patch=16, width=768, depth=12, heads=12, mlp_ratio=4.0, pool="token", classes=1000,
               norm_eps=1e-12)
    model = checkpoints.port_vit(cfg, 1)
    state = layouts.rename(model.state_dict(), layouts.hf_vit_table())
    checkpoints.hf_folder(d, state, checkpoints.hf_vit_config(model.cfg, "ViTForImageClassification",
                                                              imagenet_labels()), checkpoints.HALF, 224)


def swin_tiny(d):
    cfg = dict(image_size=224, patch=4, embed_dim=96, depths=[2, 2, 6, 2], heads=[3, 6, 12, 24], window=7,
               mlp_ratio=4.0, classes=1000)
    model = models.SwinTransformer(cfg)
    models.randomize(model, checkpoints.generator(2))
    labels = imagenet_labels()
    checkpoints.hf_folder(d, layouts.hf_swin_state_dict(model), {
        "architectures": ["SwinForImageClassification"], "depths": cfg["depths"], "embed_dim": 96,
        "hidden_size": 768, "id2label": {str(i): n for i, n in enumerate(labels)}, "image_size": 224,
        "layer_norm_eps": 1e-05, "mlp_ratio": 4.0, "model_type": "swin", "num_channels": 3,
        "num_heads": cfg["heads"], "num_layers": 4, "patch_size": 4, "qkv_bias": True, "window_size": 7},
        checkpoints.IMAGENET, 224)


def deit_tiny_distilled(d):
    cfg = dict(image_size=224, patch=16, width=192, depth=12, heads=3, mlp_ratio=4.0, pool="token", classes=1000,
               distilled=True)
    model = checkpoints.port_vit(cfg, 3)
    checkpoints.save(os.path.join(d, "model.safetensors"), model.state_dict())
    checkpoints.write_json(os.path.join(d, "config.json"), timm_config(
        "deit_tiny_distilled_patch16_224", 1000, 224, checkpoints.IMAGENET["mean"], checkpoints.IMAGENET["std"]))


def dinov2_small_reg4(d):
    cfg = dict(image_size=518, patch=14, width=384, depth=12, heads=6, mlp_ratio=4.0, pool="token", classes=0,
               reg_tokens=4, no_embed_class=True, layer_scale=True)
    model = checkpoints.port_vit(cfg, 4)
    checkpoints.save(os.path.join(d, "model.safetensors"), model.state_dict())
    checkpoints.write_json(os.path.join(d, "config.json"), timm_config(
        "vit_small_patch14_reg4_dinov2", 0, 518, checkpoints.IMAGENET["mean"], checkpoints.IMAGENET["std"]))


REPOS = {
    "vit-base-patch16-224": vit_base,
    "swin-tiny-patch4-window7-224": swin_tiny,
    "deit_tiny_distilled_patch16_224.fb_in1k": deit_tiny_distilled,
    "vit_small_patch14_reg4_dinov2.lvd142m": dinov2_small_reg4,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", choices=sorted(REPOS), help="make this folder only")
    a = ap.parse_args()
    for name, make in REPOS.items():
        if a.only and name != a.only:
            continue
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        make(d)
        print(d)


if __name__ == "__main__":
    main()
