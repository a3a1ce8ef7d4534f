#!/usr/bin/python3
"""Lesson 22: a PyTorch ViT checked against vitrace with forward hooks.

    vitrace trace --model vit_shapes --image data/images/ring.png --tensors ref.safetensors
    python3 lessons/22-hooked-vit.py ref.safetensors -o torch.safetensors [--bug BUG]
    vitrace diff ref.safetensors torch.safetensors

The model is timm's VisionTransformer as tests/reference/models.py ports it
(timm's module names, so timm's state dict loads as it is), with the weights
of vit_shapes. src/python/vitrace_hooks.py hooks its modules, feeds it the
reference's input.normalize, and writes what the hooks saw as a tensor dump
under vitrace's step names. --bug puts one classic porting mistake in:

  qk-swap    q and k taken from qkv in the wrong order, inside Attention.forward
  gelu-tanh  the MLP's GELU in its tanh approximation, not the exact erf form
  eps        LayerNorm eps 1e-12 (Hugging Face ViT's) instead of timm's 1e-6

Needs torch and numpy (Debian's /usr/bin/python3 has both).
"""

import argparse
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.realpath(__file__))  # the repository's lessons/, also through a link
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "src", "python"), os.path.join(ROOT, "tests", "reference")]

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import models  # noqa: E402
import vitrace_hooks  # noqa: E402


def attention_qk_swapped(self, x):
    """models.Attention.forward with one mistake: q and k trade places."""
    B, N, C = x.shape
    qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
    k, q, v = qkv.unbind(0)  # the mistake: timm's order is q, k, v
    attn = (q * self.scale) @ k.transpose(-2, -1)
    attn = self.attn_drop(attn.softmax(dim=-1))
    x = (attn @ v).transpose(1, 2).reshape(B, N, C)
    return self.proj(x)


def put_bug(model, bug):
    for m in model.modules():
        if bug == "qk-swap" and isinstance(m, models.Attention):
            m.forward = types.MethodType(attention_qk_swapped, m)
        if bug == "gelu-tanh" and isinstance(m, models.Mlp):
            m.act = nn.GELU(approximate="tanh")
        if bug == "eps" and isinstance(m, nn.LayerNorm):
            m.eps = 1e-12


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", help="a dump of `vitrace trace --tensors`: the input and the model's configuration")
    ap.add_argument("-o", "--output", required=True, help="the hooks' tensor dump")
    ap.add_argument("--weights", default="data/vit_shapes.safetensors", help="a ViT checkpoint with timm's names")
    ap.add_argument("--bug", choices=["none", "qk-swap", "gelu-tanh", "eps"], default="none")
    opt = ap.parse_args()
    torch.set_num_threads(1)  # one order of summation, whatever the machine's cores

    _, metadata = vitrace_hooks.read_safetensors(opt.reference)
    described = json.loads(metadata["model"])
    config = {k: described["config"][k] for k in models.CONFIG_FIELDS["vit"]}
    model = models.VisionTransformer(config).eval()
    model.load_state_dict(vitrace_hooks.read_state_dict(opt.weights), strict=True)
    put_bug(model, opt.bug)

    vitrace_hooks.dump(model, "timm", opt.reference, opt.output, name=described["name"])
    steps, _ = vitrace_hooks.read_safetensors(opt.output)
    logits = steps["head"]
    best = int(logits.argmax())
    print(f"{opt.output}: {len(steps)} steps; class {best}, logit {logits[best]:.4f}")


if __name__ == "__main__":
    main()
