#!/usr/bin/env python3
"""Lesson 20's pictures of what vit_shapes learned, drawn from its weights.

    python3 lessons/20-pictures.py --out DIR [--weights FILE]

Writes, and lists with one legend line each:
  DIR/pos_embed_cosine.png   for every patch (y, x), the cosine similarity of its
                             pos_embed row with every patch's row, as a small map
                             placed at (y, x) (as in Dosovitskiy et al. 2021, Fig. 7 centre)
  DIR/patch_filters.png      the 64 filters of patch_embed.proj.weight [C, 3, P, P]
                             as colour pictures, then their first principal components
Needs numpy and PIL (Debian's python3-numpy, python3-pil).
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

# refio reads safetensors; found from this file's real place, also through a link to lessons/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "tests", "reference"))
import refio  # noqa: E402

# vitrace's diverging colour map (src/io/picture.cpp, colour_stops): blue, near-white at 0, red.
DIVERGING = [(0.0, (35, 70, 150)), (0.25, (110, 160, 210)), (0.5, (246, 246, 244)), (0.75, (232, 135, 105)),
             (1.0, (160, 25, 40))]
INK, QUERY = (31, 35, 40), (255, 122, 0)


def diverging(values, limit):
    """values [...] in [-limit, limit] -> uint8 colours [..., 3]."""
    t = np.clip((values / limit + 1) / 2, 0, 1)
    stops = np.array([s for s, _ in DIVERGING])
    colours = np.array([c for _, c in DIVERGING], dtype=np.float64)
    out = np.stack([np.interp(t, stops, colours[:, i]) for i in range(3)], axis=-1)
    return np.round(out).astype(np.uint8)


def enlarged(rgb, factor):
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1)


def titled(image, lines, width=None):
    """The image under lines of text, on white."""
    width = max(width or 0, image.width)
    out = Image.new("RGB", (width + 16, image.height + 16 * len(lines) + 20), "white")
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((8, 6 + 16 * i), line, fill=INK)
    out.paste(image, (8, 16 * len(lines) + 12))
    return out


def tiles(pictures, columns, gap):
    """uint8 pictures [h, w, 3], all one size, in a grid on white."""
    h, w, _ = pictures[0].shape
    rows = (len(pictures) + columns - 1) // columns
    out = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), 255, np.uint8)
    for i, p in enumerate(pictures):
        y, x = (i // columns) * (h + gap), (i % columns) * (w + gap)
        out[y:y + h, x:x + w] = p
    return out


def pos_embed_cosine(weights, path):
    pe = weights["pos_embed"][0, 1:]  # [n, C]: the cls slot's row 0 left out
    n = pe.shape[0]
    g = int(round(np.sqrt(n)))
    unit = pe / np.linalg.norm(pe, axis=1, keepdims=True)
    cos = unit @ unit.T  # [n, n]
    cell = 6
    maps = []
    for q in range(n):
        m = enlarged(diverging(cos[q].reshape(g, g), 1.0), cell)
        y, x = divmod(q, g)  # outline the patch itself
        m[y * cell:(y + 1) * cell, x * cell] = QUERY
        m[y * cell:(y + 1) * cell, (x + 1) * cell - 1] = QUERY
        m[y * cell, x * cell:(x + 1) * cell] = QUERY
        m[(y + 1) * cell - 1, x * cell:(x + 1) * cell] = QUERY
        maps.append(m)
    grid = Image.fromarray(tiles(maps, g, 5))
    bar = Image.fromarray(enlarged(diverging(np.linspace(-1, 1, 200)[None, :], 1.0), 1).repeat(12, axis=0))
    body = Image.new("RGB", (grid.width, grid.height + 36), "white")
    body.paste(grid, (0, 0))
    body.paste(bar, (0, grid.height + 8))
    draw = ImageDraw.Draw(body)
    draw.text((bar.width + 8, grid.height + 8), "cosine  -1 (blue) .. 0 (white) .. 1 (red)", fill=INK)
    titled(body, [f"vit_shapes: cosine similarity of position embeddings, {g}x{g} patches",
                  "map at (y, x): patch (y, x) (outlined) against every patch"]).save(path)
    return f"the cosine of each patch's pos_embed row with every patch's row, one {g}x{g} map per patch"


def patch_filters(weights, path):
    w = weights["patch_embed.proj.weight"]  # [C, 3, P, P]
    C, _, P, _ = w.shape

    def picture(f):  # [3, P, P] -> colours [P, P, 3], 0 grey, each filter on its own scale
        f = f.transpose(1, 2, 0)
        return np.round(127.5 + 127.5 * f / np.abs(f).max()).astype(np.uint8)

    filters = [enlarged(picture(w[c]), 6) for c in range(C)]
    # Principal components of the filters (as the ViT paper's Fig. 7, left): the right singular
    # vectors of the filters as rows [C, 3*P*P], uncentred, the first ones first.
    _, s, vt = np.linalg.svd(w.reshape(C, -1), full_matrices=False)
    share = s ** 2 / (s ** 2).sum()
    k = 8
    components = [enlarged(picture(vt[i].reshape(3, P, P)), 6) for i in range(k)]
    top = titled(Image.fromarray(tiles(filters, 8, 4)),
                 [f"vit_shapes: the {C} patch filters of patch_embed.proj",
                  "as colours: grey = 0, each filter on its own scale"])
    bottom = titled(Image.fromarray(tiles(components, 8, 4)),
                    [f"their first {k} principal components; shares of the energy:",
                     " ".join(f"{100 * v:.1f}%" for v in share[:k])], top.width - 16)
    out = Image.new("RGB", (top.width, top.height + bottom.height), "white")
    out.paste(top, (0, 0))
    out.paste(bottom, (0, top.height))
    out.save(path)
    return (f"the {C} filters of patch_embed.proj as colour pictures, and their first {k} principal components "
            f"({100 * share[:k].sum():.1f} % of the energy)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--weights", default="data/vit_shapes.safetensors")
    a = p.parse_args()
    weights = refio.load_safetensors(a.weights)
    os.makedirs(a.out, exist_ok=True)
    for name, draw in (("pos_embed_cosine.png", pos_embed_cosine), ("patch_filters.png", patch_filters)):
        path = os.path.join(a.out, name)
        print(path + "  " + draw(weights, path))


if __name__ == "__main__":
    main()
