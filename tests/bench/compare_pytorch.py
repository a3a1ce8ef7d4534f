#!/usr/bin/python3
"""vitrace beside PyTorch and beside OpenBLAS's matrix product, in one run.

    /usr/bin/python3 tests/bench/compare_pytorch.py --vitrace build/vitrace [--repeat 10]
        [--models vit_base_patch16_224,swin_tiny_patch4_window7_224]

Needs Debian's python3-numpy, python3-torch and python3-torchvision, and
libopenblas0-pthread so that numpy's and PyTorch's matrix products run on
OpenBLAS. Four models by default (--models picks some of them, by vitrace
name): vit_base_patch16_224, vit_large_patch16_224,
swin_tiny_patch4_window7_224 and swin_base_patch4_window7_224. For each one
the script measures three things.

  - vitrace: `vitrace bench --model M --repeat N --json` (the trace records
    statistics, no values).
  - PyTorch: torchvision's vit_b_16, vit_l_16, swin_t and swin_b (the same
    architectures as the timm models above), random weights, batch 1, under
    torch.no_grad(), once with torch.set_num_threads(1) and once with 2; the
    faster setting counts. OpenBLAS, which does PyTorch's matrix products,
    keeps its own thread count (one per core unless OPENBLAS_NUM_THREADS says
    otherwise): torch.set_num_threads does not reach it in Debian's build, so
    the table names both counts. Holding OpenBLAS to torch's count made
    PyTorch slower in trials on a 2-core machine.
  - The OpenBLAS roofline: how long OpenBLAS alone takes for the model's
    matrix products, nothing else. The products come from vitrace's own
    steps (below); each distinct shape is timed with numpy's float32 matmul,
    once with OPENBLAS_NUM_THREADS=1 and once with 2, and the roofline of a
    model at a setting is the sum over its products of the time of the
    product's shape. The faster setting counts.

vitrace and PyTorch report the median of N forward passes after one warm-up;
the roofline takes, for each shape, the median of N samples after a warm-up
(a sample repeats a small product until it lasts a few milliseconds).

Where the products come from: `vitrace shapes` prints a table but has no JSON
output, so the script asks `vitrace trace --values none -o -` (one forward
pass on data/images/ring.png, whose content does not matter) for the trace
JSON of docs/trace-format.md, which lists the same steps with exact
multiply-add counts. A step of op "linear" is a product of rows x in by
in x out: rows is the product of the leading axes of its shape, out the last
axis, in = macs / (rows x out). A step of op "matmul" (attn.scores, q times k
transposed, and attn.weighted_sum, the attention weights times v) is a batch
of M x K by K x N products: M and N are the last two axes of its shape, the
batch the product of the others (heads, and windows for Swin), and
K = macs / (batch x M x N). Each derivation is checked: the product of the
dimensions must equal the step's macs exactly (else the script stops), and a
warning says so if the sum over the products differs from the multiply-adds
behind vitrace bench's GFLOP figure.

The table:

  - vitrace / PyTorch: vitrace's time over PyTorch's; below 1 vitrace is
    faster.
  - share of roofline: roofline ms / vitrace ms. Both count the same
    multiply-adds, so this is vitrace's GFLOP/s as a fraction of the GFLOP/s
    OpenBLAS reaches at the model's own shapes. vitrace's time also holds
    everything that is not a product (layer norms, softmax, GELU, the
    trace), and the roofline's operands stay warm in cache from one sample to
    the next, so the share stays below 1 unless vitrace's products are
    faster than OpenBLAS's.
  - GFLOP/s: vitrace's 2 x multiply-adds per second, from the loops' counts.
  - peak RSS: the largest resident set of the vitrace bench process, and that
    over the size of the model's float32 weights.

Under the table, per model: the GFLOP/s OpenBLAS reached on the linear
layers' shapes alone and on all products, at both thread settings.

The single trace, a second table: what one `vitrace trace --model M --image
data/images/ring.png -o FILE` costs, a process of its own from start to exit
(wall time, the median of min(N, 5) runs). Its weights are made or read in
that process too, so each run is paired with a `vitrace bench --repeat 1
--json` run, whose setup gives the time to make (or read) and pack the
weights; the median of those is the weights column. "past the weights" is
the wall time less that, and the bound is 1.5 x the bench forward of the
first table.

Last, the targets, each met or missed in this run:
  - share of roofline at least 0.95 for the ViTs, 0.75 for the Swins;
  - vitrace / PyTorch at most 0.5 for ViT-B/16, 0.4 for Swin-T;
  - the single trace of ViT-B/16 and of Swin-T, past the weights, within its
    bound;
  - peak RSS at most 1.3 x the float32 weights.
The PyTorch ratio and the single trace are targets for ViT-B/16 and Swin-T
only; ViT-L/16's and Swin-B's rows show them with "-" in the last column.

Environment: every child process that runs PyTorch or numpy gets a copy of
the environment without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE. They
override what OpenBLAS detects (OPENBLAS_CORETYPE=Haswell, say, gives an
AVX-512 CPU the AVX2 kernels, and OPENBLAS_L2_SIZE the cache size its blocking
assumes), and the PyTorch time and the roofline would then describe that
older kernel rather than the machine. The vitrace processes keep the environment as it is: vitrace
does not use OpenBLAS. The script prints the BLAS library numpy loaded and the
core OpenBLAS picked (openblas_get_corename); when numpy runs on another
BLAS, such as the reference BLAS, it says so, because the roofline column is
then meaningless.

Each measurement runs in a process of its own, one after the other, so that no
thread pool of one is still spinning while the next one runs.
"""

import argparse
import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODELS = {
    # vitrace model: torchvision model
    "vit_base_patch16_224": "vit_b_16",
    "vit_large_patch16_224": "vit_l_16",
    "swin_tiny_patch4_window7_224": "swin_t",
    "swin_base_patch4_window7_224": "swin_b",
}
THREADS = (1, 2)
BLAS_VARS_REMOVED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
IMAGE = Path(__file__).resolve().parents[2] / "data" / "images" / "ring.png"
SAMPLE_S = 0.003  # a roofline sample lasts at least this long


def blas_env(threads=None):
    """The environment of a PyTorch or numpy child: OpenBLAS free to pick the
    CPU's own kernel, and with `threads`, held to that many threads."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS_REMOVED}
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(threads)
    return env


def run_child(args, env):
    r = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"child {' '.join(args)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def blas_info():
    """Which BLAS this process loaded (from /proc/self/maps), and OpenBLAS's
    own account of itself when it is OpenBLAS."""
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if path.startswith("/") and "blas" in os.path.basename(path) and path not in libs:
                libs.append(path)
    # The libopenblas file itself first, then anything else that may be OpenBLAS under another name.
    for path in sorted(libs, key=lambda p: "openblas" not in os.path.basename(p)):
        try:
            lib = ctypes.CDLL(path)
            corename, config = lib.openblas_get_corename, lib.openblas_get_config
        except (OSError, AttributeError):
            continue
        corename.restype = config.restype = ctypes.c_char_p
        return {"openblas": True, "library": path, "libraries": libs, "corename": corename().decode(),
                "config": config().decode(), "threads": lib.openblas_get_num_threads()}
    return {"openblas": False, "libraries": libs}


def pytorch_child(name, threads, repeat):
    import torch
    import torchvision

    torch.set_num_threads(threads)
    model = getattr(torchvision.models, name)().eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        model(x)  # warm-up
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"median": statistics.median(times), "params": params, "torch": torch.__version__,
                      "torchvision": torchvision.__version__, "blas": blas_info()}))


def numpy_child(repeat):
    """Times np.matmul at each shape read from stdin; prints the median
    seconds of each, by key."""
    import numpy as np

    shapes = json.load(sys.stdin)
    rng = np.random.default_rng(0)
    seconds = {}
    for key, (batch, m, k, n) in shapes.items():
        lead = (batch,) if batch else ()  # batch 0: a plain 2-D product (a linear layer)
        a = rng.standard_normal(lead + (m, k), dtype=np.float32)
        b = rng.standard_normal(lead + (k, n), dtype=np.float32)
        c = np.empty(lead + (m, n), dtype=np.float32)

        def once():
            np.matmul(a, b, out=c)

        t0 = time.perf_counter()
        calls = 0
        while calls < 3 or time.perf_counter() - t0 < SAMPLE_S:  # warm-up
            once()
            calls += 1
        per_sample = max(1, math.ceil(SAMPLE_S / ((time.perf_counter() - t0) / calls)))
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(per_sample):
                once()
            samples.append((time.perf_counter() - t0) / per_sample)
        seconds[key] = statistics.median(samples)
    print(json.dumps({"numpy": np.__version__, "blas": blas_info(), "seconds": seconds}))


def products(binary, model):
    """The model's matrix products, from vitrace's trace JSON: a list of
    (step name, op, key, macs) and the shapes by key, (batch, M, K, N) with
    batch 0 for a linear layer."""
    r = subprocess.run([binary, "trace", "--model", model, "--image", str(IMAGE), "--values", "none", "-o", "-"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{binary} trace --model {model} failed:\n{r.stderr}")
    steps = json.loads(r.stdout)["steps"]
    out, shapes = [], {}
    for s in steps:
        shape, macs = s["shape"], s["macs"]
        if s["op"] == "linear":
            rows, n = math.prod(shape[:-1]), shape[-1]
            batch, m, k = 0, rows, macs // (rows * n)
            key = f"linear {m}x{k}->{n}"
            check = m * k * n
        elif s["op"] == "matmul":
            batch, m, n = math.prod(shape[:-2]), shape[-2], shape[-1]
            k = macs // (batch * m * n)
            key = f"matmul {batch}x[{m}x{k} @ {k}x{n}]"
            check = batch * m * k * n
        else:
            if macs:
                sys.exit(f"{model}: step {s['name']} ({s['op']}) counts {macs} multiply-adds but is no product")
            continue
        if check != macs or k < 1:
            sys.exit(f"{model}: step {s['name']} ({s['op']}, shape {shape}, {macs} macs) is not a whole product")
        shapes[key] = (batch, m, k, n)
        out.append((s["name"], s["op"], key, macs))
    return out, shapes


def time_pytorch(name, repeat):
    runs = {t: run_child(["--pytorch-child", name, str(t), str(repeat)], blas_env()) for t in THREADS}
    best = min(THREADS, key=lambda t: runs[t]["median"])
    return runs[best]["median"], best, runs[best]


def time_vitrace(binary, model, repeat):
    out = subprocess.run([binary, "bench", "--model", model, "--repeat", str(repeat), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def time_single_trace(binary, model, runs):
    """Median wall seconds of a whole `vitrace trace` process, and the median
    weights time (made or read, and packed) of as many `vitrace bench
    --repeat 1` processes, run alternately."""
    out = Path(f"/tmp/vitrace-compare-{os.getpid()}.json")
    walls, weights = [], []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([binary, "trace", "--model", model, "--image", str(IMAGE), "-o", str(out)],
                           check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
            setup = time_vitrace(binary, model, 1)["setup"]
            weights.append((setup["weights_ms"] + setup["pack_ms"]) / 1000)
    finally:
        out.unlink(missing_ok=True)
    return statistics.median(walls), statistics.median(weights)


def threads_label(t):
    return f"{t} thread{'s' if t > 1 else ''}"


def machine():
    name = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {name}"


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--pytorch-child":
        return pytorch_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    if len(sys.argv) == 3 and sys.argv[1] == "--numpy-child":
        return numpy_child(int(sys.argv[2]))

    ap = argparse.ArgumentParser(description="vitrace against PyTorch and OpenBLAS's roofline")
    ap.add_argument("--vitrace", required=True, help="the vitrace binary")
    ap.add_argument("--repeat", type=int, default=10, help="timed runs of each measurement")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated vitrace model names (default: all four)")
    a = ap.parse_args()
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            ap.error(f"--models: {m} is not one of {', '.join(MODELS)}")
    if not IMAGE.is_file():
        sys.exit(f"{IMAGE} is missing")

    # The products first: a shape that does not add up stops the run before anything is timed.
    prods = {m: products(a.vitrace, m) for m in models}
    all_shapes = {}
    for _, shapes in prods.values():
        all_shapes.update(shapes)

    # The roofline: one numpy process per thread setting, over the shapes of all the models.
    roof_runs = {}
    for t in THREADS:
        r = subprocess.run([sys.executable, __file__, "--numpy-child", str(a.repeat)], env=blas_env(t),
                           input=json.dumps(all_shapes), capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"numpy child ({threads_label(t)}) failed:\n{r.stderr}")
        roof_runs[t] = json.loads(r.stdout)

    rows = []
    versions = None
    torch_blas = None
    for m in models:
        pt_ms, pt_threads, pt = time_pytorch(MODELS[m], a.repeat)
        versions = (pt["torch"], pt["torchvision"])
        torch_blas = pt["blas"]
        vt = time_vitrace(a.vitrace, m, a.repeat)
        pt_label = (f"torch {pt_threads}, OpenBLAS {pt['blas']['threads']} threads" if pt["blas"]["openblas"]
                    else f"torch {threads_label(pt_threads)}, not OpenBLAS")
        trace_s, weights_s = time_single_trace(a.vitrace, m, min(a.repeat, 5))
        rows.append((m, vt, pt_ms, pt_label, pt["params"], trace_s, weights_s))

    blas = roof_runs[THREADS[0]]["blas"]
    print(f"machine: {machine()}; numpy {roof_runs[THREADS[0]]['numpy']}, "
          f"torch {versions[0]}, torchvision {versions[1]}")
    print(f"PyTorch and numpy run without {' and '.join(BLAS_VARS_REMOVED)} "
          f"(here: {', '.join(f'{v}={os.environ[v]}' for v in BLAS_VARS_REMOVED if v in os.environ) or 'none set'}); "
          "vitrace keeps the environment")
    if blas["openblas"]:
        print(f"numpy's BLAS: {blas['library']}")
        print(f"OpenBLAS core: {blas['corename']} ({blas['config']}); threads as set: "
              + ", ".join(f"{roof_runs[t]['blas']['threads']}" for t in THREADS))
    else:
        bar = "!" * 78
        print(bar)
        print("!!! numpy is NOT on OpenBLAS: it loaded " + (", ".join(blas["libraries"]) or "no BLAS library"))
        print("!!! (the reference BLAS?). The roofline below is MEANINGLESS: install libopenblas0-pthread,")
        print("!!! or select it with update-alternatives --config libblas.so.3-x86_64-linux-gnu.")
        print(bar)
    if torch_blas and torch_blas["openblas"]:
        print(f"PyTorch's OpenBLAS core: {torch_blas['corename']}")
    elif torch_blas:
        print("PyTorch is not on OpenBLAS: it loaded " + (", ".join(torch_blas["libraries"]) or "no BLAS library"))

    print()
    print(f"{'OpenBLAS' if blas['openblas'] else 'NOT OpenBLAS:'} roofline: numpy float32 matmul at each of "
          f"the model's products, median of {a.repeat} samples per distinct shape")
    roof = {}
    vt_by_model = {row[0]: row[1] for row in rows}
    for m in models:
        steps, shapes = prods[m]
        total_macs = sum(s[3] for s in steps)
        lin_macs = sum(s[3] for s in steps if s[1] == "linear")
        per_t = {}
        for t in THREADS:
            sec = roof_runs[t]["seconds"]
            all_s = sum(sec[key] for _, _, key, _ in steps)
            lin_s = sum(sec[key] for _, op, key, _ in steps if op == "linear")
            per_t[t] = (all_s * 1000, 2 * lin_macs / lin_s / 1e9, 2 * total_macs / all_s / 1e9)
        best = min(THREADS, key=lambda t: per_t[t][0])
        bench_gflop = vt_by_model[m]["gflops"]
        if abs(bench_gflop - 2 * total_macs / 1e9) > 1e-6 * bench_gflop:
            print(f"warning: {m}: vitrace bench counts {bench_gflop:.4f} GFLOP, the products of its trace "
                  f"{2 * total_macs / 1e9:.4f}")
        roof[m] = (per_t[best][0], best, total_macs)
        n_lin = sum(1 for s in steps if s[1] == "linear")
        print(f"- {m}: {total_macs / 1e9:.2f} G multiply-adds in {len(steps)} products "
              f"({n_lin} linear, {len(steps) - n_lin} attention; {len(shapes)} distinct shapes)")
        for t in THREADS:
            ms, lin_gf, all_gf = per_t[t]
            print(f"    {threads_label(t)}: {ms:.1f} ms, {lin_gf:.1f} GFLOP/s on the linear shapes, "
                  f"{all_gf:.1f} GFLOP/s on all products{'  <- roofline' if t == best else ''}")

    print()
    print("| model | vitrace ms | PyTorch ms | OpenBLAS roofline ms | vitrace / PyTorch | share of roofline "
          "| GFLOP/s | peak RSS MB | RSS / weights |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    targets = []
    for m, vt, pt_ms, pt_label, params, trace_s, weights_s in rows:
        vt_ms = vt["forward_ms"]["median"]
        roof_ms, roof_threads, total_macs = roof[m]
        flag = "" if blas["openblas"] else " (not OpenBLAS!)"
        weights_mb = params * 4 / 2**20
        print(f"| {m} | {vt_ms:.1f} | {pt_ms:.1f} ({pt_label}) | "
              f"{roof_ms:.1f} ({threads_label(roof_threads)}){flag} | {vt_ms / pt_ms:.2f} | {roof_ms / vt_ms:.2f} | "
              f"{vt['gflop_per_s']:.1f} | {vt['peak_rss_mb']:.0f} | {vt['peak_rss_mb'] / weights_mb:.2f} |")
        vit = m.startswith("vit_")
        share_min, ratio_max = (0.95, 0.5) if vit else (0.75, 0.4)
        # The PyTorch ratio and the single trace are set for these two only.
        main_pair = m in ("vit_base_patch16_224", "swin_tiny_patch4_window7_224")
        past_ms, bound_ms = (trace_s - weights_s) * 1000, 1.5 * vt_ms
        targets += [
            (m, f"share of roofline at least {share_min}", f"{roof_ms / vt_ms:.2f}", roof_ms / vt_ms >= share_min),
            (m, f"vitrace / PyTorch at most {ratio_max}" if main_pair else "vitrace / PyTorch (no target)",
             f"{vt_ms / pt_ms:.2f}", vt_ms / pt_ms <= ratio_max if main_pair else None),
            (m, "single trace past the weights at most 1.5 x the bench forward" if main_pair
             else "single trace past the weights, against 1.5 x the bench forward (no target)",
             f"{past_ms:.0f} ms against {bound_ms:.0f} ms", past_ms <= bound_ms if main_pair else None),
            (m, "peak RSS at most 1.3 x the weights", f"{vt['peak_rss_mb'] / weights_mb:.2f}",
             vt["peak_rss_mb"] / weights_mb <= 1.3),
        ]

    print()
    print(f"The single trace: `vitrace trace --model M --image data/images/ring.png -o FILE`, one process, "
          f"median wall time of {min(a.repeat, 5)} runs; the weights made or read and packed, median of as many "
          "`vitrace bench --repeat 1` runs")
    print()
    print("| model | single trace ms | weights ms | past the weights ms | bound: 1.5 x bench forward ms |")
    print("| --- | --- | --- | --- | --- |")
    for m, vt, _, _, _, trace_s, weights_s in rows:
        print(f"| {m} | {trace_s * 1000:.0f} | {weights_s * 1000:.0f} | {(trace_s - weights_s) * 1000:.0f} | "
              f"{1.5 * vt['forward_ms']['median']:.0f} |")

    print()
    print("| model | target | this run | met |")
    print("| --- | --- | --- | --- |")
    for m, target, value, met in targets:
        print(f"| {m} | {target} | {value} | {'-' if met is None else 'yes' if met else 'NO'} |")


if __name__ == "__main__":
    main()
