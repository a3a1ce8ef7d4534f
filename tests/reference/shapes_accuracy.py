#!/usr/bin/python3
"""Accuracy of the shipped vit_shapes and swin_shapes as vitrace runs them:
draws fresh images, writes each as a PNG, runs `vitrace trace` on it and reads
the label of output.top5[0]. So the whole path is checked, PNG decoding and
vitrace's own preprocessing included, not only the models in our PyTorch
port of timm (models.py) that data/train_shapes.py measured.

    /usr/bin/python3 tests/reference/shapes_accuracy.py --vitrace build/vitrace [--n 500] [--seed 7]

Two renderers: data/shapes.py (A, what the models trained on) and the
signed-distance renderer of data/train_shapes.py (C, never used in training).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "data"))
sys.path.insert(0, HERE)
import refio  # noqa: E402
import shapes  # noqa: E402


def renderer_c():
    # train_shapes imports torch; only its drawing function is needed here.
    import train_shapes
    return train_shapes.draw_sdf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vitrace", required=True)
    ap.add_argument("--n", type=int, default=500, help="images per renderer")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()

    sets = {"A": shapes.dataset(a.n, a.seed), "C": shapes.dataset(a.n, a.seed + 1, renderer_c())}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'model':12s} " + " ".join(f"{'renderer ' + k:>11s}" for k in sets))
        for model in ["vit_shapes", "swin_shapes"]:
            row = []
            for name, (images, labels) in sets.items():
                correct = 0
                for i, (img, y) in enumerate(zip(images, labels)):
                    png = os.path.join(tmp, f"{name}{i}.png")
                    out = os.path.join(tmp, "trace.json")
                    refio.write_png(png, img)
                    subprocess.run([a.vitrace, "trace", "--model", model, "--image", png, "--values", "none",
                                    "-o", out], check=True, stdout=subprocess.DEVNULL)
                    with open(out) as f:
                        label = json.load(f)["output"]["top5"][0]["label"]
                    correct += label == shapes.CLASSES[y]
                row.append(correct / len(labels))
            print(f"{model:12s} " + " ".join(f"{v:11.4f}" for v in row), flush=True)
    print(f"({a.n} images per renderer, seeds {a.seed} and {a.seed + 1})")


if __name__ == "__main__":
    main()
