#!/usr/bin/python3
"""Learning curves of vit_shapes and swin_shapes: both architectures trained
from scratch on a few training-set sizes, with the same recipe and the same
number of optimisation steps, each scored on one fixed held-out set.

    /usr/bin/python3 data/learning_curves.py --train     (minutes; writes the log)
    /usr/bin/python3 data/learning_curves.py --plot      (a second; reads the log)

--train writes data/learning_curves.json; --plot reads it, prints its table
and draws lessons/images/23-learning-curves.png with PIL.

The protocol (lesson 23 states it too):

  - training set of n shapes, half drawn by renderer A (data/shapes.py, seed 1)
    and half by renderer B (train_shapes.py's PIL renderer, seed 2): the first
    n/2 shapes of each. The shapes are fixed; as in train_shapes.py, every
    time a shape is shown it gets new random colours, noise, a flip or quarter
    turn and a contrast change, so a small set is still shown many ways.
  - the recipe of train_shapes.py (AdamW, weight decay 0.05, learning rate
    2e-3 with linear warm-up and cosine decay, label smoothing 0.1, the
    coverage probe, the colour curriculum), with the same number of steps
    of batch BATCH for every model and every n, so both see the same number
    of images; only how often each shape comes back differs.
  - torch initialisation and augmentation seed 0, one seed per run, one thread.
  - held-out set: 1000 images of renderer C (train_shapes.draw_sdf, seed 202),
    never used in training, and 1000 of renderer A (seed 201), with ImageNet
    normalisation, as vitrace feeds the models.

This script does not touch data/*.safetensors.
"""

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
LOG = os.path.join(HERE, "learning_curves.json")
PNG = os.path.join(ROOT, "lessons", "images", "23-learning-curves.png")

SIZES = [250, 1000, 4000]
STEPS = 450
BATCH = 32
N_EVAL = 1000
SEED_EVAL_A, SEED_EVAL_C = 201, 202
NAMES = ["vit_shapes", "swin_shapes"]


# ---------------------------------------------------------------------------
# Training (needs torch; imported only here so that --plot needs PIL alone)


def train_one(ts, name, covers, labels, steps, batch):
    """Trains a fresh model of architecture `name`; returns it with its wall seconds."""
    import numpy as np
    import torch
    cls, cfg = {"vit_shapes": (ts.models.VisionTransformer, ts.VIT_CONFIG),
                "swin_shapes": (ts.models.SwinTransformer, ts.SWIN_CONFIG)}[name]
    torch.manual_seed(ts.SEED_TORCH)
    model = cls(cfg)
    ts.init_like_timm(model)
    g = torch.Generator().manual_seed(ts.SEED_TORCH)
    rng = np.random.default_rng(ts.SEED_PAINT)
    seen = {}
    hook = model.norm.register_forward_hook(lambda module, args, out: seen.__setitem__("norm", out))
    forward = ts.with_tokens(model, seen)
    probe = torch.nn.Linear(model.norm.normalized_shape[0], 1)
    params = list(model.parameters()) + list(probe.parameters())
    warmup = max(1, steps // 10)
    opt = torch.optim.AdamW(params, lr=ts.SWIN_LR if name == "swin_shapes" else ts.VIT_LR, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: t / warmup if t < warmup else 0.5 * (1 + math.cos(math.pi * (t - warmup) / (steps - warmup))))
    start = time.time()
    model.train()
    order = np.empty(0, dtype=np.int64)
    for step in range(steps):
        while len(order) < batch:  # a fresh shuffle whenever the set runs out
            order = np.concatenate([order, torch.randperm(len(covers), generator=g).numpy()])
        idx, order = np.sort(order[:batch]), order[batch:]
        t = min(1.0, step / (ts.CURRICULUM * steps))
        x, cover = ts.augment(ts.paint_batch(covers[idx], rng, t), covers[idx], g)
        y = torch.from_numpy(labels[idx])
        logits, loss, cover_loss = ts.losses(forward, probe, x, cover, y)
        opt.zero_grad()
        (loss + ts.COVER_WEIGHT * cover_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0:
            print(f"  {name} n={len(covers)} step {step + 1}/{steps} loss {loss.item():.3f}"
                  f"  {time.time() - start:.0f} s", flush=True)
    hook.remove()
    model.eval()
    return model, time.time() - start


def train_all(args):
    import numpy as np
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    sys.path.insert(0, HERE)
    import train_shapes as ts
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    t0 = time.time()
    half = max(args.sizes) // 2
    a = ts.coverage_set(half, ts.SEED_TRAIN_A, ts.shapes.coverage)
    b = ts.coverage_set(half, ts.SEED_TRAIN_B, ts.pil_coverage)
    eval_a = ts.shapes.dataset(N_EVAL, SEED_EVAL_A)
    eval_c = ts.shapes.dataset(N_EVAL, SEED_EVAL_C, ts.draw_sdf)
    print(f"drew {2 * half} training shapes and 2 x {N_EVAL} held-out images in {time.time() - t0:.0f} s", flush=True)

    def write():
        log = dict(
            about="vit_shapes and swin_shapes trained from scratch on n shapes; "
                  "written by data/learning_curves.py --train",
            command="/usr/bin/python3 data/learning_curves.py --train" + ("" if args.sizes == SIZES else
                                                                          " --sizes " + ",".join(map(str, args.sizes)))
                    + ("" if args.steps == STEPS else f" --steps {args.steps}"),
            torch=torch.__version__, threads=1, seed=ts.SEED_TORCH,
            eval=dict(a=dict(renderer="A (data/shapes.py)", seed=SEED_EVAL_A, images=N_EVAL),
                      c=dict(renderer="C (train_shapes.draw_sdf)", seed=SEED_EVAL_C, images=N_EVAL)),
            total_wall_seconds=round(time.time() - t0, 1),
            runs=runs)
        with open(args.out, "w") as f:
            json.dump(log, f, indent=1)
            f.write("\n")

    runs = []
    for n in args.sizes:
        covers = np.concatenate([a[0][:n // 2], b[0][:n // 2]])
        labels = np.concatenate([a[1][:n // 2], b[1][:n // 2]])
        for name in args.models:
            model, seconds = train_one(ts, name, covers, labels, args.steps, args.batch)
            forward = ts.batched(model)
            acc_a, acc_c = ts.accuracy(forward, *eval_a), ts.accuracy(forward, *eval_c)
            run = dict(model=name, train_size=int(n), steps=args.steps, batch=args.batch,
                       epochs=round(args.steps * args.batch / n, 2), wall_seconds=round(seconds, 1),
                       params=sum(p.numel() for p in model.parameters()),
                       accuracy_a=float(acc_a), accuracy_c=float(acc_c),
                       accuracy=float((acc_a + acc_c) / 2))
            print(json.dumps(run), flush=True)
            runs.append(run)
            write()  # after every run, so that a run cut short leaves its log
            if args.time_only:
                return

    print(f"wrote {args.out} in {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------------------
# Table and picture (PIL only)


def table(log):
    print(f"{'model':12s} {'params':>8s} {'shapes':>6s} {'steps':>5s} {'epochs':>6s} {'A':>7s} {'C':>7s}"
          f" {'mean':>7s} {'train s':>7s}")
    for r in sorted(log["runs"], key=lambda r: (NAMES.index(r["model"]), r["train_size"])):
        print(f"{r['model']:12s} {r['params'] / 1000:7.2f}k {r['train_size']:6d} {r['steps']:5d} {r['epochs']:6.1f}"
              f" {100 * r['accuracy_a']:6.1f}% {100 * r['accuracy_c']:6.1f}% {100 * r['accuracy']:6.1f}%"
              f" {r['wall_seconds']:7.0f}")


def plot(log, path):
    from PIL import Image, ImageDraw, ImageFont
    W, H = 760, 500
    left, right, top, bottom = 90, 200, 50, 80
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)

    def font(size):
        for f in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf"):
            try:
                return ImageFont.truetype(f, size)
            except OSError:
                pass
        return ImageFont.load_default()

    small, big = font(15), font(18)
    sizes = sorted({r["train_size"] for r in log["runs"]})
    lo, hi = math.log10(sizes[0] / 1.5), math.log10(sizes[-1] * 1.5)
    y_lo, y_hi = 0.0, 100.0

    def X(n):
        return left + (math.log10(n) - lo) / (hi - lo) * (W - left - right)

    def Y(p):
        return top + (y_hi - p) / (y_hi - y_lo) * (H - top - bottom)

    # grid, ticks and labels
    for p in range(0, 101, 20):
        d.line([(left, Y(p)), (W - right, Y(p))], fill=(225, 225, 225))
        d.text((left - 10, Y(p)), f"{p}%", fill="black", font=small, anchor="rm")
    d.line([(left, Y(20)), (W - right, Y(20))], fill=(170, 170, 170), width=1)
    d.text((W - right - 4, Y(20) - 4), "chance (5 classes)", fill=(120, 120, 120), font=small, anchor="rb")
    for n in sizes:
        d.line([(X(n), top), (X(n), H - bottom)], fill=(235, 235, 235))
        d.line([(X(n), H - bottom), (X(n), H - bottom + 6)], fill="black")
        d.text((X(n), H - bottom + 10), str(n), fill="black", font=small, anchor="mt")
    d.rectangle([left, top, W - right, H - bottom], outline="black")
    d.text(((left + W - right) / 2, H - 30), "training shapes (log scale)", fill="black", font=big, anchor="mm")
    d.text((left, 22), "held-out accuracy: mean of renderers A and C, 1000 images each", fill="black", font=big,
           anchor="lm")

    colours = {"vit_shapes": (214, 39, 40), "swin_shapes": (31, 119, 180)}
    # Each point's label goes above it if it is the higher of the two at its size, below if not.
    best = {}
    for r in log["runs"]:
        best[r["train_size"]] = max(best.get(r["train_size"], 0.0), r["accuracy"])
    for i, name in enumerate(NAMES):
        runs = sorted((r for r in log["runs"] if r["model"] == name), key=lambda r: r["train_size"])
        pts = [(X(r["train_size"]), Y(100 * r["accuracy"])) for r in runs]
        if len(pts) > 1:
            d.line(pts, fill=colours[name], width=3)
        for r, (x, y) in zip(runs, pts):
            d.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colours[name])
            above = r["accuracy"] >= best[r["train_size"]]
            d.text((x, y + (-10 if above else 10)), f"{100 * r['accuracy']:.1f}", fill=colours[name], font=small,
                   anchor="mb" if above else "mt")
        # legend
        lx, ly = W - right + 20, top + 20 + 50 * i
        d.line([(lx, ly), (lx + 30, ly)], fill=colours[name], width=3)
        d.ellipse([lx + 10, ly - 5, lx + 20, ly + 5], fill=colours[name])
        d.text((lx + 38, ly), name, fill="black", font=small, anchor="lm")
        if runs:
            d.text((lx + 38, ly + 18), f"{runs[0]['params'] / 1000:.2f}k params", fill=(90, 90, 90), font=small,
                   anchor="lm")
    if log["runs"]:
        r = log["runs"][0]
        d.text((W - right + 20, top + 130), f"{r['steps']} steps of {r['batch']}", fill=(90, 90, 90), font=small)
        d.text((W - right + 20, top + 150), "each, one seed", fill=(90, 90, 90), font=small)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    img.save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--train", action="store_true", help="train every run and write the log")
    mode.add_argument("--plot", action="store_true", help="read the log, print its table, draw the picture")
    ap.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=SIZES)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--models", type=lambda s: s.split(","), default=NAMES)
    ap.add_argument("--time-only", action="store_true", help="stop after the first run (to size the protocol)")
    ap.add_argument("--log", default=LOG, help="the JSON log (--plot reads it)")
    ap.add_argument("--out", default=None, help="--train: the log to write; --plot: the PNG to write")
    args = ap.parse_args()
    if args.train:
        args.out = args.out or LOG
        train_all(args)
    else:
        with open(args.log) as f:
            log = json.load(f)
        table(log)
        out = args.out or PNG
        plot(log, out)
        print(f"wrote {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
