#!/usr/bin/python3
"""Writes data/imagenet_classes.txt: the 1000 ImageNet-1k class names, one per
line, line i + 1 naming class index i (the order of every ImageNet classifier's
logits, timm's and torchvision's alike).

    /usr/bin/python3 data/make_imagenet_classes.py

The names are the list Debian's python3-torchvision ships for its pretrained
models (torchvision.models._meta._IMAGENET_CATEGORIES), in which every name
is distinct: where the original synset words repeat, torchvision tells them
apart ("crane bird", 134, and "crane", 517; "maillot", 638, and "maillot tank
suit", 639).
"""

import os

from torchvision.models._meta import _IMAGENET_CATEGORIES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt")


def main():
    names = list(_IMAGENET_CATEGORIES)
    if len(names) != 1000:
        raise SystemExit(f"expected 1000 ImageNet-1k class names from torchvision, got {len(names)}")
    for i, name in enumerate(names):
        if not name or name != name.strip() or "\n" in name:
            raise SystemExit(f"class {i}: name {name!r} cannot be written as one line")
    if len(set(names)) != len(names):
        raise SystemExit("torchvision's ImageNet-1k class names repeat; a name would not identify its class")
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(names) + "\n")
    print(f"wrote {os.path.normpath(OUT)}: {len(names)} names")


if __name__ == "__main__":
    main()
