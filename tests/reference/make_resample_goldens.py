#!/usr/bin/python3
"""Writes tests/data/resample_goldens.safetensors: PyTorch's antialiased bicubic
resize, the one timm's resample_abs_pos_embed runs, on a few small grids.

    /usr/bin/python3 tests/reference/make_resample_goldens.py

For each case NAME the file holds
    input_NAME    [C, h, w]          values of a seeded torch.Generator
    output_NAME   [C, out_h, out_w]  F.interpolate(input[None], size=(out_h, out_w),
                                       mode="bicubic", antialias=True, align_corners=False)[0]
tests/unit/test_resample.cpp holds core/resample.cpp to them.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refio  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "resample_goldens.safetensors")
C = 3

# name: (h, w, out_h, out_w)
CASES = {
    "up_14_to_18": (14, 14, 18, 18),  # ViT-B/16 at 224 -> 288
    "up_14_to_24": (14, 14, 24, 24),  # 224 -> 384
    "down_37_to_16": (37, 37, 16, 16),  # shrinking: the kernel widens by the scale
    "same_7": (7, 7, 7, 7),  # same size: a copy
    "mixed_14x10_to_20x7": (14, 10, 20, 7),  # rows grow, columns shrink
}


def main():
    gen = torch.Generator().manual_seed(2024)
    tensors = {}
    for name, (h, w, out_h, out_w) in CASES.items():
        x = torch.randn(C, h, w, generator=gen, dtype=torch.float32)
        y = F.interpolate(x[None], size=(out_h, out_w), mode="bicubic", antialias=True, align_corners=False)[0]
        tensors["input_" + name] = x.numpy()
        tensors["output_" + name] = y.numpy()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    refio.save_safetensors(OUT, tensors)
    print(f"wrote {os.path.normpath(OUT)}: {len(CASES)} cases, torch {torch.__version__}")


if __name__ == "__main__":
    main()
