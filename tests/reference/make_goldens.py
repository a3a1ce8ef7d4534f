#!/usr/bin/python3
"""Writes the golden fixtures in tests/golden/ with our PyTorch port of timm
(models.py, on Debian's python3-torch).

    /usr/bin/python3 tests/reference/make_goldens.py --vitrace build/vitrace

Each fixture is a built-in model with overrides, which test_golden.cpp applies
to vitrace's own configuration of that model; the port starts from the same
one, read from `vitrace models --json`.

For each fixture it writes, in tests/golden/:
    NAME.json                 the model name, config overrides, mean and std
    NAME.png                  the input image, already at the input size
    NAME.safetensors          random weights under timm's names (Swin: also
                              NAME.microsoft.safetensors, the original release's layout)
    NAME.steps.safetensors    every vitrace step, computed by models.py, under vitrace's step names
The files are small (tens of kB) and committed; tests/golden/test_golden.cpp
compares every step of vitrace's trace against them.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import refio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])

FIXTURES = [
    dict(name="vit_token", model="vit_tiny_patch16_224", seed=1, **IMAGENET,
         overrides=dict(image_size=32, patch=8, width=16, depth=2, heads=2, classes=10)),
    dict(name="vit_mean", model="vit_tiny_patch16_224", seed=2, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
         overrides=dict(image_size=24, patch=4, width=12, depth=1, heads=3, mlp_ratio=2.0, classes=7, pool="mean")),
    # 8x8 grid, window 4: four windows, odd blocks shifted by 2; stage 1's 4x4 grid is one window, unshifted.
    dict(name="swin_shift", model="swin_tiny_patch4_window7_224", seed=3, **IMAGENET,
         overrides=dict(image_size=16, patch=2, embed_dim=8, depths=[2, 2], heads=[2, 2], window=4, classes=5)),
    # window 3 (odd): 16 then 4 windows, both stages shifted by 1.
    dict(name="swin_window3", model="swin_tiny_patch4_window7_224", seed=4, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5],
         overrides=dict(image_size=24, patch=2, embed_dim=6, depths=[2, 2], heads=[2, 4], window=3, mlp_ratio=2.0,
                        classes=4)),
]


def make(vitrace, fx):
    gen = torch.Generator().manual_seed(fx["seed"])
    rng = np.random.default_rng(fx["seed"])
    swin = fx["model"].startswith("swin")
    if swin:
        cfg = models.swin_config(vitrace, fx["model"], **fx["overrides"])
        model = models.SwinTransformer(cfg).eval()
    else:
        cfg = models.vit_config(vitrace, fx["model"], **fx["overrides"])
        model = models.VisionTransformer(cfg).eval()
    models.randomize(model, gen)

    S = cfg["image_size"]
    rgb = refio.smooth_image(rng, S)
    with torch.no_grad():
        steps, x = models.preprocess_steps(rgb, fx["mean"], fx["std"])
        steps.update(models.swin_steps(model, x) if swin else models.vit_steps(model, x))
        logits = model(x[None])[0]
    # The step-by-step recomputation must agree with the module forward pass.
    diff = (steps["head.fc" if swin else "head"] - logits).abs().max().item()
    assert diff < 1e-5, f"{fx['name']}: step-by-step head differs from model(x) by {diff}"

    base = os.path.join(OUT, fx["name"])
    refio.write_png(base + ".png", rgb)
    refio.save_safetensors(base + ".safetensors", {k: v.numpy() for k, v in model.state_dict().items()})
    weights = [fx["name"] + ".safetensors"]
    if swin:
        refio.save_safetensors(base + ".microsoft.safetensors",
                               {k: v.numpy() for k, v in models.swin_microsoft_state_dict(model).items()})
        weights.append(fx["name"] + ".microsoft.safetensors")
    refio.save_safetensors(base + ".steps.safetensors",
                           {k: v.detach().contiguous().numpy() for k, v in steps.items()})
    with open(base + ".json", "w") as f:
        json.dump(dict(model=fx["model"], overrides=fx["overrides"], mean=fx["mean"], std=fx["std"],
                       weights=weights, steps=list(steps.keys())), f, indent=1)
        f.write("\n")
    print(f"{fx['name']}: {len(steps)} steps, logits {logits[:3].tolist()}...")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitrace", required=True, help="the vitrace binary, for its built-in model configurations")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for fx in FIXTURES:
        make(a.vitrace, fx)
