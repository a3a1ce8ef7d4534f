#!/usr/bin/python3
"""Full-size logit parity: vitrace against our PyTorch port of timm
(models.py) on the same timm-named weights.

    /usr/bin/python3 tests/reference/parity.py --vitrace build/vitrace --model vit_tiny_patch16_224 \
        --workdir /tmp/parity [--dtype F32|F16|BF16] [--layout timm|microsoft] [--tolerance 1e-4]

It builds the model in the port at its real size (the configuration that
`vitrace models --json` lists for it), gives it seeded random weights, writes
them as a safetensors checkpoint with timm's names (for Swin, in timm's or the
original Microsoft layout), draws a test image at the model's input size, and
runs

    vitrace trace --model M --weights W --image IMG --mean ... --std ... --values none -o out.json

then compares output.logits with the port's, printing the largest difference.
Exit 0: within tolerance; 1: not; 77: PyTorch is not installed (ctest: skipped).
Large checkpoints are written to --workdir, never to the repository.
"""

import argparse
import json
import os
import subprocess
import sys
import time

try:
    import numpy as np
    import torch
except ImportError:
    print("parity: python3-torch is not installed; skipping")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import refio  # noqa: E402


def build(vitrace, name, seed):
    gen = torch.Generator().manual_seed(seed)
    vit, swin = models.builtin_configs(vitrace, "vit"), models.builtin_configs(vitrace, "swin")
    if name in vit:
        model = models.VisionTransformer(vit[name])
    elif name in swin:
        model = models.SwinTransformer(swin[name])
    else:
        sys.exit(f"parity: {vitrace} has no model {name} (see `vitrace models`)")
    models.randomize(model, gen)
    return model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitrace", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--layout", default="timm", choices=["timm", "microsoft"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    a = ap.parse_args()

    torch.set_num_threads(2)
    os.makedirs(a.workdir, exist_ok=True)
    tag = f"{a.model}_{a.dtype}_{a.layout}_{a.seed}"
    weights = os.path.join(a.workdir, tag + ".safetensors")
    image = os.path.join(a.workdir, tag + ".png")
    out = os.path.join(a.workdir, tag + ".json")
    mean, std = [0.5, 0.45, 0.4], [0.25, 0.3, 0.2]

    model = build(a.vitrace, a.model, a.seed)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    if a.dtype != "F32":
        # The port computes with exactly the values the file holds.
        held = {k: (v.astype(np.float16).astype(np.float32) if a.dtype == "F16" else refio.bf16_round(v))
                for k, v in state.items()}
        model.load_state_dict({k: torch.from_numpy(v) for k, v in held.items()})
    if a.layout == "microsoft":
        if not isinstance(model, models.SwinTransformer):
            sys.exit("parity: the Microsoft layout is a Swin checkpoint layout")
        state = {k: v.numpy() for k, v in models.swin_microsoft_state_dict(model).items()}
    refio.save_safetensors(weights, state, dtype=a.dtype)

    S = model.cfg["image_size"]
    rgb = refio.smooth_image(np.random.default_rng(a.seed), S)
    refio.write_png(image, rgb)
    with torch.no_grad():
        _, x = models.preprocess_steps(rgb, mean, std)
        want = model(x[None])[0].numpy()

    cmd = [a.vitrace, "trace", "--model", a.model, "--weights", weights, "--image", image,
           "--mean", ",".join(map(str, mean)), "--std", ",".join(map(str, std)), "--values", "none", "-o", out, "-q"]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    elapsed = time.time() - t0
    with open(out) as f:
        got = np.array(json.load(f)["output"]["logits"], dtype=np.float64)

    diff = np.abs(got - want).max()
    print(f"parity {a.model} {a.dtype} {a.layout}: {len(got)} logits, |logit| up to {np.abs(want).max():.3f}, "
          f"max |vitrace - pytorch| = {diff:.3g} (tolerance {a.tolerance:g}); vitrace run {elapsed:.1f} s")
    print(f"  vitrace {got[:4]}\n  pytorch {want[:4]}")
    for path in (weights, image, out):
        os.remove(path)
    sys.exit(0 if diff <= a.tolerance else 1)


if __name__ == "__main__":
    main()
