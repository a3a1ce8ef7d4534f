#!/usr/bin/env python3
"""The data inside a `vitrace report` page, checked against `vitrace trace`.

The trace JSON (--values full) holds every step's values as vitrace computed
them. This script reads the page's embedded JSON and recomputes, with numpy
alone, what the page should carry:
  - the same steps, in the same order, with the same shapes and statistics;
  - full values bit for bit, pooled values as numpy's block means (float16);
  - ViT: every softmax row (8-bit per row), rollout, mean attention distance
    and entropy, each computed here from the softmax values;
  - Swin: the softmax rows, the relative position index, the mask and the bias
    tables;
  - the cost panel's totals against `vitrace compare --json` / `shapes`.

usage: check_report_data.py VITRACE WORKDIR
"""
import base64
import json
import math
import os
import re
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy is not installed (apt install python3-numpy)")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.path.join(ROOT, "data", "images", "ring.png")
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def page_data(path):
    html = open(path, encoding="utf-8").read()
    m = re.search(r'<script id="vitrace-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def blob(b):
    raw = base64.b64decode(b["data"])
    if b["dtype"] == "f32":
        x = np.frombuffer(raw, "<f4")
    elif b["dtype"] == "f16":
        x = np.frombuffer(raw, "<f2").astype(np.float32)
    else:
        x = np.frombuffer(raw, np.uint8).astype(np.float32)
        if "lo" in b:
            lo, hi = blob(b["lo"]), blob(b["hi"])
            rows = x.reshape(-1, b["shape"][-1])
            x = lo[:, None] + rows / 255.0 * (hi - lo)[:, None]
    return x.reshape(b["shape"])


def block_means(x, pool):
    """Block means along every axis, the last block of an axis possibly shorter."""
    for axis, f in enumerate(pool):
        if f == 1:
            continue
        n = x.shape[axis]
        starts = np.arange(0, n, f)
        sums = np.add.reduceat(x.astype(np.float64), starts, axis=axis)
        counts = np.minimum(starts + f, n) - starts
        shape = [1] * x.ndim
        shape[axis] = len(starts)
        x = sums / counts.reshape(shape)
    return x


def run(vitrace, *args):
    subprocess.run([vitrace, *args], check=True, stdout=subprocess.DEVNULL)


def check_steps(name, data, trace):
    steps, ref = data["steps"], trace["steps"]
    check([s["name"] for s in steps] == [s["name"] for s in ref], f"{name}: the page has the trace's {len(ref)} steps in order")
    worst_pooled = 0.0
    for s, r in zip(steps, ref):
        x = np.array(r["values"], dtype=np.float32).reshape(r["shape"])
        if s["shape"] != r["shape"] or s["dims"] != r["dims"]:
            check(False, f"{name}: {s['name']} shape {s['shape']} {s['dims']} against {r['shape']} {r['dims']}")
        for k in ("min", "max", "mean", "std"):
            if not math.isclose(s["stats"][k], r["stats"][k], rel_tol=1e-6, abs_tol=1e-7):
                check(False, f"{name}: {s['name']} stats.{k} {s['stats'][k]} against {r['stats'][k]}")
        v = s["values"]
        if v["kind"] == "full":
            if not np.array_equal(blob(v["blob"]), x):
                check(False, f"{name}: {s['name']} full values differ from the trace's")
        else:
            want = block_means(x, v["pool"])
            got = blob(v["blob"])
            if got.shape != want.shape:
                check(False, f"{name}: {s['name']} pooled shape {got.shape} against {want.shape}")
                continue
            # float16 keeps 11 significant bits
            err = np.max(np.abs(got - want) / (np.abs(want) + 1e-3))
            worst_pooled = max(worst_pooled, float(err))
    pooled = sum(s["values"]["kind"] == "pooled" for s in steps)
    # docs/report.md: full up to 32,768 values, pooled above (no --steps here)
    wrong = [s["name"] for s in steps if (s["values"]["kind"] == "full") != (math.prod(s["shape"]) <= 32768)]
    check(not wrong, f"{name}: steps of at most 32,768 values are full, larger ones pooled ({', '.join(wrong[:3])})")
    check(worst_pooled < 2e-3, f"{name}: {pooled} pooled steps equal numpy's block means within float16 "
                               f"(worst relative {worst_pooled:.1e})")
    return {s["name"]: np.array(s["values"], dtype=np.float32).reshape(s["shape"]) for s in ref}


def quantised_close(got, want, name):
    """8-bit rows: each value within half a level of its row's range."""
    span = want.max(axis=-1, keepdims=True) - want.min(axis=-1, keepdims=True)
    err = np.max(np.abs(got - want) - span / 255 * 0.5001)
    check(err <= 1e-6, f"{name}: 8-bit rows within half a level of the softmax values")


def rollout(layers, fuse):
    n = layers[0].shape[1]
    r = np.eye(n)
    for a in layers:
        f = {"mean": a.mean(0), "max": a.max(0), "min": a.min(0)}[fuse] + np.eye(n)
        r = (f / f.sum(1, keepdims=True)) @ r
    return r


def check_vit(name, data, values):
    att = data["attention"]
    g, P, patch = att["grid"], att["prefix"], att["patch"]
    layers = [values[l["step"]] for l in att["layers"]]
    for l, a in zip(att["layers"], layers):
        quantised_close(blob(l["probs"]), a, f"{name}: {l['step']}")
    for fuse in ("mean", "max", "min"):
        want = rollout([a.astype(np.float64) for a in layers], fuse)
        err = np.max(np.abs(blob(att["rollout"][fuse]) - want))
        check(err < 1e-5, f"{name}: rollout ({fuse}) against numpy, max |diff| {err:.1e}")
    yy, xx = np.divmod(np.arange(g * g), g)
    dist = patch * np.sqrt((yy[:, None] - yy[None, :]) ** 2 + (xx[:, None] - xx[None, :]) ** 2)
    worst_d = worst_e = 0.0
    for l, a in enumerate(layers):
        a = a.astype(np.float64)
        patches = a[:, P:, P:]  # patch queries, patch keys
        want_d = ((patches * dist).sum(-1) / patches.sum(-1)).mean(-1)
        want_e = -(np.where(a > 0, a * np.log(np.where(a > 0, a, 1)), 0)).sum(-1).mean(-1)
        worst_d = max(worst_d, float(np.max(np.abs(np.array(att["distance"][l]) - want_d))))
        worst_e = max(worst_e, float(np.max(np.abs(np.array(att["entropy"][l]) - want_e))))
    check(worst_d < 1e-3, f"{name}: mean attention distance of every head against numpy, max |diff| {worst_d:.1e} px")
    check(worst_e < 1e-5, f"{name}: entropy of every head against numpy, max |diff| {worst_e:.1e} nats")
    check(math.isclose(att["entropy_max"], math.log(layers[0].shape[1])), f"{name}: entropy_max is ln N")


def check_swin(name, data, values):
    for st in data["attention"]["stages"]:
        s = st["stage"]
        for b in st["blocks"]:
            pre = f"layers.{s}.blocks.{b['block']}.attn."
            quantised_close(blob(b["probs"]), values[pre + "softmax"], f"{name}: {pre}softmax")
            check(np.array_equal(blob(b["bias_table"]), values[pre + "relative_position_bias_table"]),
                  f"{name}: {pre}relative_position_bias_table")
            bias = blob(b["bias_table"])[blob(st["index"]).astype(int)].transpose(2, 0, 1)
            check(np.array_equal(bias, values[pre + "relative_position_bias"]),
                  f"{name}: the bias gathered by the index as the page does it equals {pre}relative_position_bias")
        check(np.array_equal(blob(st["index"]), values[f"layers.{s}.blocks.0.attn.relative_position_index"]),
              f"{name}: stage {s} relative position index")
        if st["mask"] is not None:
            check(np.array_equal(blob(st["mask"]), values[f"layers.{s}.blocks.1.attn_mask"]), f"{name}: stage {s} mask")
        else:
            check(st["shift"] == 0, f"{name}: stage {s} has no mask and no shift")


def check_cost(name, data):
    models = data["cost"]["models"]
    check(data["totals"]["macs"] == models[0]["total_macs"],
          f"{name}: the run's MACs ({data['totals']['macs']}) equal the cost panel's")
    points = {p["image_size"]: p for p in data["cost"]["growth"][0]["points"]}
    S = data["input"]["preprocessing"]["image_size"]
    check(S in points and points[S]["total"] == data["totals"]["macs"],
          f"{name}: the growth curve at the run's own size ({S} px) has the run's MACs")
    check(all(p["projections"] + p["attention"] + p["mlp"] + p["other"] == p["total"] for p in points.values()),
          f"{name}: every growth point's parts add up to its total ({len(points)} sizes, {min(points)}-{max(points)} px)")


def check_pictures(name, data, vitrace, work, flags):
    """The page's pictures are the PNG files `vitrace attention` writes, byte for byte."""
    out = os.path.join(work, name + "-pictures")
    run(vitrace, "attention", "--model", name, *flags, "--image", IMAGE, "--out", out)
    files = data["pictures"]["files"]
    written = sorted(f for f in os.listdir(out) if f.endswith(".png"))
    check(sorted(p["file"] for p in files) == written,
          f"{name}: the page has the {len(written)} pictures vitrace attention writes")
    same = all(base64.b64decode(p["png"]) == open(os.path.join(out, p["file"]), "rb").read() for p in files)
    check(same, f"{name}: each of the page's pictures is byte-identical to its PNG file")


def main():
    vitrace, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    cases = [("vit_shapes", []), ("swin_shapes", []), ("vit_tiny_patch16_224", ["--depth", "3"])]
    for model, flags in cases:
        page, tr = os.path.join(work, model + ".html"), os.path.join(work, model + ".json")
        run(vitrace, "report", "--model", model, *flags, "--image", IMAGE, "-o", page, "-q")
        run(vitrace, "trace", "--model", model, *flags, "--image", IMAGE, "-o", tr, "--values", "full", "-q")
        data, trace = page_data(page), json.load(open(tr))
        check(data["format"] == "vitrace.report/1" and data["kind"] == "run", f"{model}: format and kind")
        top, ref = data["output"]["top5"], trace["output"]["top5"]
        check([(t["index"], t["label"]) for t in top] == [(t["index"], t["label"]) for t in ref] and
              all(math.isclose(a["score"], b["score"], rel_tol=1e-6) for a, b in zip(top, ref)),
              f"{model}: top-5 as in the trace ({top[0]['label']} {top[0]['score']:.4f})")
        values = check_steps(model, data, trace)
        pic = blob(data["input"]["picture"])
        check(np.array_equal(pic, values["input.resize"]), f"{model}: the input picture is input.resize")
        (check_vit if data["attention"]["kind"] == "global" else check_swin)(model, data, values)
        check_cost(model, data)
        check_pictures(model, data, vitrace, work, flags)
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
