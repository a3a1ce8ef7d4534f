#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (run with Debian's python3-torch):

    /usr/bin/python3 tests/fuzz/make_corpus.py --vitrace build/vitrace

corpus/safetensors: checkpoints that fit the fuzz targets' small ViT and Swin
(timm and Microsoft layouts, F32/F16/BF16), plus a few near-misses, so that
mutations start from files that reach deep into the loader. Like the fuzz
targets, the models are built-in ones with overrides; their configurations come
from `vitrace models --json`.
corpus/image: copies of the small PNG and JPEG test images.
"""

import argparse
import os
import shutil
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import models  # noqa: E402
import refio  # noqa: E402

OUT = os.path.join(HERE, "corpus")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitrace", required=True, help="the vitrace binary, for its built-in model configurations")
    a = ap.parse_args()
    st = os.path.join(OUT, "safetensors")
    os.makedirs(st, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    # The same configurations as fuzz_safetensors.cpp.
    vit = models.VisionTransformer(models.vit_config(a.vitrace, "vit_tiny_patch16_224", image_size=8, patch=4, width=8,
                                                     depth=1, heads=2, classes=3))
    swin = models.SwinTransformer(models.swin_config(a.vitrace, "swin_tiny_patch4_window7_224", image_size=16, patch=2,
                                                     embed_dim=4, depths=[2, 1], heads=[1, 2], window=4, classes=3))
    for m in (vit, swin):
        models.randomize(m, gen)
    vit_sd = {k: v.numpy() for k, v in vit.state_dict().items()}
    refio.save_safetensors(os.path.join(st, "vit_f32.safetensors"), vit_sd)
    refio.save_safetensors(os.path.join(st, "vit_f16.safetensors"), vit_sd, dtype="F16")
    refio.save_safetensors(os.path.join(st, "vit_bf16.safetensors"), vit_sd, dtype="BF16")
    refio.save_safetensors(os.path.join(st, "swin_timm.safetensors"), {k: v.numpy() for k, v in swin.state_dict().items()})
    refio.save_safetensors(os.path.join(st, "swin_microsoft.safetensors"),
                           {k: v.numpy() for k, v in models.swin_microsoft_state_dict(swin).items()})
    first = dict(list(vit_sd.items())[:3])
    refio.save_safetensors(os.path.join(st, "vit_partial.safetensors"), first)
    header = b'{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    with open(os.path.join(st, "metadata.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with open(os.path.join(st, "empty_header.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 2) + b"{}")

    img = os.path.join(OUT, "image")
    os.makedirs(img, exist_ok=True)
    src = os.path.join(HERE, "..", "data", "images")
    for name in sorted(os.listdir(src)):
        if name.endswith((".png", ".jpg")) and os.path.getsize(os.path.join(src, name)) < 4096:
            shutil.copy(os.path.join(src, name), os.path.join(img, name))
    print("corpora written to", OUT)


if __name__ == "__main__":
    main()
