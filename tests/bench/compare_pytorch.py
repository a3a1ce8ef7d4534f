#!/usr/bin/python3
"""vitrace against PyTorch on the CPU, side by side, in one run.

    /usr/bin/python3 tests/bench/compare_pytorch.py --vitrace build/vitrace [--repeat 10]

Needs Debian's python3-torch and python3-torchvision, and libopenblas0-pthread
so that PyTorch's matrix products run on OpenBLAS. For each model it times

  - PyTorch: torchvision's vit_b_16 and swin_t (the same architectures as
    timm's vit_base_patch16_224 and swin_tiny_patch4_window7_224), random
    weights, batch 1, under torch.no_grad(), with 1 and with 2 threads; the
    faster setting counts;
  - vitrace: `vitrace bench --model M --repeat N --json` (the trace records
    statistics, no values).

Each measurement runs in a process of its own, one after the other. Both
report the median of N forward passes after one warm-up. The table gives
the ratio vitrace / PyTorch, vitrace's GFLOP/s (2 x multiply-adds per second,
from the loops' own counts), that rate as a share of the machine's peak, and
vitrace's peak resident memory against the size of the float32 weights.

Peak: cores x clock x FLOP per cycle. The clock is read from /proc/cpuinfo
(the TSC rate, "bogomips / 2", when "cpu MHz" is absent). FLOP per cycle is
64 on a core with AVX-512 (two 16-wide fused multiply-add units) and 32
otherwise (two 8-wide AVX2 units), unless --flops-per-cycle says otherwise.
On the machine of docs/performance.md, OpenBLAS's own single-thread matrix
product reaches 187 GFLOP/s, which only the 64 figure allows.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODELS = [
    # (vitrace model, torchvision model)
    ("vit_base_patch16_224", "vit_b_16"),
    ("swin_tiny_patch4_window7_224", "swin_t"),
]


def pytorch_child(name, threads, repeat):
    """Runs in its own process, so that no thread pool of one measurement
    is still spinning while the next one runs."""
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
    print(json.dumps({"median": statistics.median(times), "params": params}))


def time_pytorch(name, repeat):
    best = None
    for threads in (1, 2):
        out = subprocess.run([sys.executable, __file__, "--pytorch-child", name, str(threads), str(repeat)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        if best is None or r["median"] < best[0]:
            best = (r["median"], threads, r["params"])
    return best


def time_vitrace(binary, model, repeat):
    out = subprocess.run([binary, "bench", "--model", model, "--repeat", str(repeat), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def peak_gflops(flops_per_cycle):
    mhz = None
    bogomips = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz") and mhz is None:
                mhz = float(line.split(":")[1])
            if line.startswith("bogomips") and bogomips is None:
                bogomips = float(line.split(":")[1])
    ghz = (mhz if mhz else bogomips / 2) / 1000
    cores = os.cpu_count()
    return cores * ghz * flops_per_cycle, cores, ghz


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--pytorch-child":
        return pytorch_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    import torch
    import torchvision

    ap = argparse.ArgumentParser()
    ap.add_argument("--vitrace", required=True)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--flops-per-cycle", type=float, default=None)
    a = ap.parse_args()
    if a.flops_per_cycle is None:
        with open("/proc/cpuinfo") as f:
            a.flops_per_cycle = 64 if " avx512f" in f.read() else 32

    peak, cores, ghz = peak_gflops(a.flops_per_cycle)
    print(f"machine: {cores} cores at {ghz:.2f} GHz, peak {peak:.0f} GFLOP/s assumed "
          f"({a.flops_per_cycle:g} FLOP/cycle/core); torch {torch.__version__}, torchvision {torchvision.__version__}")
    rows = []
    for name, tv_name in MODELS:
        pt_ms, pt_threads, params = time_pytorch(tv_name, a.repeat)
        vt = time_vitrace(a.vitrace, name, a.repeat)
        rows.append((name, vt["forward_ms"]["median"], pt_ms, pt_threads, vt["gflop_per_s"], vt["peak_rss_mb"],
                     params * 4 / 2**20))

    print()
    print("| model | vitrace ms | PyTorch ms | ratio | GFLOP/s | % of peak | peak RSS MB | RSS / weights |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, vt_ms, pt_ms, threads, gflops, rss, weights_mb in rows:
        print(f"| {name} | {vt_ms:.1f} | {pt_ms:.1f} ({threads} thread{'s' if threads > 1 else ''}) | "
              f"{vt_ms / pt_ms:.2f} | {gflops:.1f} | {100 * gflops / peak:.0f} % | {rss:.0f} | {rss / weights_mb:.2f} |")


if __name__ == "__main__":
    main()
