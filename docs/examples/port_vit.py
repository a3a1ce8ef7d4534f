#!/usr/bin/env python3
"""port_vit.py: a ViT forward pass in numpy, as a first port is often written,
with three mistakes in it for docs/porting.md to find with `vitrace diff`.

    vitrace trace --model vit_shapes --image data/images/ring.png --tensors ref.safetensors
    python3 docs/examples/port_vit.py ref.safetensors -o port.safetensors
    vitrace diff ref.safetensors port.safetensors

The port reads timm's parameter names from --weights, its configuration and
its input from the reference dump: the step input.normalize is the image after
vitrace's preprocessing, so preprocessing drops out of the comparison. Its
values are float32 (matrix products sum in float64, so that the results do not
depend on numpy's BLAS), and it writes every step it computes as a tensor dump
(vitrace.tensors/1) under vitrace's step names and shapes.

The defaults are the mistakes; each flag fixes one:

  --patch-order ppc   patches flattened as einops' '(p1 p2 c)', while the
                      projection weight keeps the conv's (c, p, p) order;
                      cpp flattens them as the conv does
  --gelu tanh         GELU's tanh approximation; erf is the exact form that
                      timm's nn.GELU() computes
  --eps 1e-12         LayerNorm eps as in Hugging Face's ViT; timm's is 1e-6

Needs python3 and numpy, nothing else.
"""

# Dimension key (docs/glossary.md):
#   S   input side in pixels       P         patch side
#   n   patches, (S / P)^2         N         tokens: the cls token, then the patches
#   C   width                      heads     attention heads
#   head_dim  C / heads            hidden    MLP width, C * mlp_ratio
#   classes   outputs of the head

import argparse
import json
import math
import struct
import sys

import numpy as np

# ----------------------------------------------------------------------------
# safetensors: an 8-byte little-endian header length, a JSON header, the data

DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    """Returns ({name: array}, metadata), every array as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    metadata = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + header_len :]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]])
        tensors[name] = values.reshape(entry["shape"]).astype(np.float32)
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """tensors: [(name, float32 array)] in the order they are stored."""
    header, offset = {"__metadata__": metadata}, 0
    for name, values in tensors:
        header[name] = {"dtype": "F32", "shape": list(values.shape), "data_offsets": [offset, offset + values.nbytes]}
        offset += values.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, values in tensors:
            f.write(np.ascontiguousarray(values, dtype="<f4").tobytes())


# ----------------------------------------------------------------------------
# layers


def matmul(a, b):
    # Products summed in float64, rounded once to float32: the result is then the
    # same whichever BLAS numpy uses (each sums float32 products in its own order).
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)


def linear(x, weight, bias):
    # torch: F.linear(x, weight, bias); weight is [out, in]
    return matmul(x, weight.T) + bias


def layernorm(x, weight, bias, eps):
    # torch: F.layer_norm(x, (C,), weight, bias, eps), over the last axis
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as torch
    return (x - mean) / np.sqrt(var + np.float32(eps)) * weight + bias


# numpy has no erf: math.erf element by element, in float64, rounded to float32 below
_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_erf(x):
    # torch: nn.GELU(), the exact form: x * Phi(x)
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(np.float32)


def gelu_tanh(x):
    # torch: nn.GELU(approximate="tanh"), Hugging Face's "gelu_new"
    inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x**3)
    return np.float32(0.5) * x * (np.float32(1.0) + np.tanh(inner))


def softmax(x):
    # subtract the row's max so that exp cannot overflow; the result is the same
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def patchify(image, P, order):
    """image [3, S, S] -> patches [n, 3*P*P], row by row over the h x w grid."""
    h = w = image.shape[1] // P
    grid = image.reshape(3, h, P, w, P)  # [c, h, py, w, px]
    if order == "cpp":  # the order of the conv's weight [C, 3, P, P]: (c, py, px)
        return grid.transpose(1, 3, 0, 2, 4).reshape(h * w, 3 * P * P)
    # einops: rearrange(image, "c (h p1) (w p2) -> (h w) (p1 p2 c)"), right only if the weight is reordered too
    return grid.transpose(1, 3, 2, 4, 0).reshape(h * w, P * P * 3)


# ----------------------------------------------------------------------------
# the forward pass, timm's VisionTransformer with cls-token pooling


def forward(x, w, cfg, opt, record):
    """x [3, S, S] -> logits [classes]; record(name, op, dims, value) sees every step."""
    P, C, heads = cfg["patch"], cfg["width"], cfg["heads"]
    head_dim = C // heads
    gelu = gelu_erf if opt.gelu == "erf" else gelu_tanh

    # timm: x = self.patch_embed(x), a conv with stride P, as one linear layer over the patches
    patches = record("patch_embed.patchify", "patchify", ["n", "patch_dim"], patchify(x, P, opt.patch_order))
    proj_w = w["patch_embed.proj.weight"].reshape(C, -1)  # [C, 3*P*P], the conv's (c, p, p) order
    x = record("patch_embed.proj", "linear", ["n", "C"], linear(patches, proj_w, w["patch_embed.proj.bias"]))

    # timm: x = self._pos_embed(x): the cls token in front, then pos_embed added to all N tokens
    x = record("cls_token", "concat", ["N", "C"], np.concatenate([w["cls_token"].reshape(1, C), x]))  # [N, C]
    x = record("pos_embed", "add", ["N", "C"], x + w["pos_embed"].reshape(-1, C))
    N = x.shape[0]

    for i in range(cfg["depth"]):
        b = f"blocks.{i}."
        p = {name[len(b) :]: value for name, value in w.items() if name.startswith(b)}  # this block's parameters

        # timm: x = x + self.attn(self.norm1(x))
        y = record(b + "norm1", "layernorm", ["N", "C"], layernorm(x, p["norm1.weight"], p["norm1.bias"], opt.eps))
        qkv = record(b + "attn.qkv", "linear", ["N", "3C"], linear(y, p["attn.qkv.weight"], p["attn.qkv.bias"]))
        # timm: qkv.reshape(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        qkv = qkv.reshape(N, 3, heads, head_dim).transpose(1, 2, 0, 3)
        q, k, v = record(b + "attn.split_heads", "split_heads", ["qkv", "heads", "N", "head_dim"], qkv)
        scores = record(b + "attn.scores", "matmul", ["heads", "N_q", "N_k"], matmul(q, k.transpose(0, 2, 1)))
        scores = record(b + "attn.scale", "scale", ["heads", "N_q", "N_k"], scores * np.float32(head_dim**-0.5))
        attn = record(b + "attn.softmax", "softmax", ["heads", "N_q", "N_k"], softmax(scores))
        o = record(b + "attn.weighted_sum", "matmul", ["heads", "N", "head_dim"], matmul(attn, v))
        o = record(b + "attn.merge_heads", "merge_heads", ["N", "C"], o.transpose(1, 0, 2).reshape(N, C))
        o = record(b + "attn.proj", "linear", ["N", "C"], linear(o, p["attn.proj.weight"], p["attn.proj.bias"]))
        x = record(b + "residual1", "add", ["N", "C"], x + o)

        # timm: x = x + self.mlp(self.norm2(x))
        y = record(b + "norm2", "layernorm", ["N", "C"], layernorm(x, p["norm2.weight"], p["norm2.bias"], opt.eps))
        y = record(b + "mlp.fc1", "linear", ["N", "hidden"], linear(y, p["mlp.fc1.weight"], p["mlp.fc1.bias"]))
        y = record(b + "mlp.act", "gelu", ["N", "hidden"], gelu(y))
        y = record(b + "mlp.fc2", "linear", ["N", "C"], linear(y, p["mlp.fc2.weight"], p["mlp.fc2.bias"]))
        x = record(b + "residual2", "add", ["N", "C"], x + y)

    # timm: x = self.norm(x); x = x[:, 0]; x = self.head(x)
    x = record("norm", "layernorm", ["N", "C"], layernorm(x, w["norm.weight"], w["norm.bias"], opt.eps))
    x = record("pool", "pool_token", ["C"], x[0])
    return record("head", "linear", ["classes"], linear(x, w["head.weight"], w["head.bias"]))


# ----------------------------------------------------------------------------
# command line


def read_reference(path):
    """The input image and the model's configuration from a vitrace tensor dump."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != "vitrace.tensors/1" or "input.normalize" not in tensors:
        sys.exit(f"port_vit.py: {path}: expected a dump of `vitrace trace --tensors`, with the step input.normalize")
    model = json.loads(meta["model"])
    cfg = model["config"]
    plain = dict(class_token=True, reg_tokens=0, layer_scale=False, no_embed_class=False, distilled=False, pool="token")
    for key, value in plain.items():
        if cfg.get(key) != value:
            sys.exit(f"port_vit.py: this port handles a plain ViT only: {key} is {cfg.get(key)}, expected {value}")
    if cfg.get("pos_embed_grid", 0) not in (0, cfg["image_size"] // cfg["patch"]):
        sys.exit("port_vit.py: this port does not resample pos_embed: trace at the weights' own image size")
    return tensors["input.normalize"], model, meta["input"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", help="a dump of `vitrace trace --tensors`: the input and the configuration")
    ap.add_argument("-o", "--output", required=True, help="the port's own tensor dump")
    ap.add_argument("--weights", default="data/vit_shapes.safetensors", help="a ViT checkpoint with timm's names")
    ap.add_argument("--patch-order", choices=["ppc", "cpp"], default="ppc", help="ppc (the mistake) or cpp")
    ap.add_argument("--gelu", choices=["tanh", "erf"], default="tanh", help="tanh (the mistake) or erf")
    ap.add_argument("--eps", type=float, default=1e-12, help="LayerNorm eps: 1e-12 (the mistake); timm's is 1e-6")
    opt = ap.parse_args()

    image, model, input_meta = read_reference(opt.reference)
    weights, _ = read_safetensors(opt.weights)

    steps = []  # [(name, op, dims, value)], in the order they ran

    def record(name, op, dims, value):
        steps.append((name, op, dims, np.asarray(value, dtype=np.float32)))
        return value

    logits = forward(image, weights, model["config"], opt, record)

    config = dict(model["config"], norm_eps=opt.eps)
    metadata = {
        "format": "vitrace.tensors/1",
        "trace_format": "vitrace.trace/1",
        "model": json.dumps({"name": model["name"], "family": "vit", "config": config}),
        "input": input_meta,
        "steps": json.dumps([{"name": name, "op": op, "dims": dims} for name, op, dims, _ in steps]),
        "producer": "docs/examples/port_vit.py",
    }
    write_safetensors(opt.output, [(name, value) for name, _, _, value in steps], metadata)
    best = int(np.argmax(logits))
    print(f"{opt.output}: {len(steps)} steps; class {best}, logit {logits[best]:.2f}")


if __name__ == "__main__":
    main()
