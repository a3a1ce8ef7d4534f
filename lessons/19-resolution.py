#!/usr/bin/python3
"""Lesson 19: how often the shipped shape models are right when they run at
another image size than the 64x64 they were trained at.

    python3 lessons/19-resolution.py [--n 25] [--seed 19]

Draws n fresh 64x64 images with data/shapes.py (the same number of each
shape), writes each as a PNG and runs `vitrace trace` on it (vitrace from the
PATH) in each setting below, reading the label of output.top5[0]:

  vit_shapes at 64      the trained setting: an 8x8 grid, pos_embed as trained
  vit_shapes at 128     the image enlarged 2x, patch 8: a 16x16 grid, pos_embed resampled
  vit_shapes at 128,    the image enlarged 2x, patch 16: the 8x8 grid again, pos_embed
    patch 16            as trained; the patch kernel enlarged to 16x16 (each weight
                        spread over 2x2 pixels, divided by 4), so that a patch reads
                        the same part of the shape as at 64
  swin_shapes at 64     the trained setting: a 16x16 grid of tokens, windows of 4x4
  swin_shapes at 128    the image enlarged 2x: a 32x32 grid, the same windows, 4x as many

Nothing is resampled in the third setting, and nothing in Swin. So the first
three rows separate what enlarging the image costs from what a new grid costs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# The repository, also when lessons/ is a link (as in the doc tests' scratch directory).
ROOT = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "data"))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import refio  # noqa: E402
import shapes  # noqa: E402


def patch16_checkpoint(path):
    """vit_shapes with its 8x8 patch kernel enlarged to 16x16: a 16x16 patch of the image
    enlarged 2x, averaged over 2x2 pixels, is (nearly) the 8x8 patch of the original."""
    weights = refio.load_safetensors(os.path.join(ROOT, "data", "vit_shapes.safetensors"))
    k = weights["patch_embed.proj.weight"]  # [C, 3, 8, 8]
    weights["patch_embed.proj.weight"] = np.repeat(np.repeat(k, 2, axis=2), 2, axis=3) / 4  # [C, 3, 16, 16]
    refio.save_safetensors(path, dict(weights))


def top1(png, flags):
    out = png + ".json"
    subprocess.run(["vitrace", "trace", "--image", png, "--values", "none", "-q", "-o", out] + flags, check=True)
    with open(out) as f:
        return json.load(f)["output"]["top5"][0]["label"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=25, help="images, a multiple of 5")
    ap.add_argument("--seed", type=int, default=19)
    a = ap.parse_args()

    images, labels = shapes.dataset(a.n, a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        p16 = os.path.join(tmp, "vit_shapes_patch16.safetensors")
        patch16_checkpoint(p16)
        settings = [  # model, image side, patch, grid, pos_embed, flags
            ("vit_shapes", 64, 8, "8x8", "as trained", ["--model", "vit_shapes"]),
            ("vit_shapes", 128, 8, "16x16", "resampled", ["--model", "vit_shapes", "--image-size", "128"]),
            ("vit_shapes", 128, 16, "8x8", "as trained",
             ["--model", "vit_shapes", "--weights", p16, "--image-size", "128", "--patch", "16"]),
            ("swin_shapes", 64, 4, "16x16", "-", ["--model", "swin_shapes"]),
            ("swin_shapes", 128, 4, "32x32", "-", ["--model", "swin_shapes", "--image-size", "128"]),
        ]
        pngs = []
        for i, img in enumerate(images):
            pngs.append(os.path.join(tmp, f"{i}.png"))
            refio.write_png(pngs[-1], img)
        print(f"{a.n} images drawn by data/shapes.py at 64x64 (seed {a.seed}), {a.n // 5} of each shape")
        print()
        print(f"{'model':12s} {'input':>8s} {'patch':>5s} {'grid':>6s}  {'pos_embed':10s} {'correct':>8s}  per shape")
        for model, side, patch, grid, pos, flags in settings:
            right = np.zeros(len(shapes.CLASSES), dtype=int)
            with ThreadPoolExecutor(2) as pool:  # two vitrace processes at a time
                predicted = list(pool.map(lambda png: top1(png, flags), pngs))
            for label, y in zip(predicted, labels):
                right[y] += label == shapes.CLASSES[y]
            per = " ".join(f"{c} {r}" for c, r in zip(shapes.CLASSES, right))
            print(f"{model:12s} {side:>4d} px {patch:>5d} {grid:>6s}  {pos:10s} {right.sum():>4d}/{a.n:<3d}  {per}",
                  flush=True)


if __name__ == "__main__":
    main()
