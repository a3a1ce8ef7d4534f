#!/usr/bin/python3
"""The synthetic shapes dataset that vit_shapes and swin_shapes learn from.

One filled shape per 64x64 RGB image, in one of five classes:

    circle, square, triangle, cross, ring (an annulus)

The shape has a random colour and sits on a background of another random
colour; its size is 35-65 % of the image side (the diameter of a circle or
ring, the side of a square or triangle, the span of a cross), at a random
position where it lies fully inside the image; squares, triangles and crosses
are rotated by a random angle; Gaussian noise is added to every pixel.

The drawing varies on purpose, so that a model learns the shapes rather than
one renderer's habits: edges are drawn with 1 to 4 samples per pixel (hard to
smooth), crosses have thin to thick arms, rings thin to thick walls, triangles
are equilateral or slightly stretched, and the noise level varies.

    /usr/bin/python3 data/shapes.py samples data/images   # one image of each class
"""

import math
import os
import sys

import numpy as np

CLASSES = ["circle", "square", "triangle", "cross", "ring"]
SIZE = 64


def _colours(rng):
    """Two colours far enough apart that the shape can be seen."""
    while True:
        bg, fg = rng.uniform(0, 255, size=(2, 3))
        if np.linalg.norm(bg - fg) > 90:
            return bg, fg


def _polygon(kind, s, rng):
    """Corner points of the outline at size s (before rotation), centred on 0."""
    if kind == "square":
        h = s / 2
        return np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    if kind == "triangle":
        stretch = rng.uniform(0.85, 1.15)
        r = s / math.sqrt(3)
        pts = np.array([[r * math.cos(a), r * math.sin(a)] for a in (math.pi / 2, 7 * math.pi / 6, 11 * math.pi / 6)])
        pts[:, 1] *= stretch
        return pts - pts.mean(axis=0)
    raise ValueError(kind)


def _inside(kind, u, v, s, params):
    """Mask of the sample points (u, v), in the shape's own rotated frame."""
    if kind == "circle":
        return u * u + v * v <= (s / 2) ** 2
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 <= (s / 2) ** 2) & (d2 >= (params["inner"] * s / 2) ** 2)
    if kind == "cross":
        t, h = params["arm"] * s / 2, s / 2
        return ((np.abs(u) <= t) & (np.abs(v) <= h)) | ((np.abs(v) <= t) & (np.abs(u) <= h))
    # convex polygon: inside every edge's half-plane
    pts = params["polygon"]
    mask = np.ones_like(u, dtype=bool)
    for i in range(len(pts)):
        (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % len(pts)]
        mask &= (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0
    return mask


def draw(kind, rng, size=SIZE):
    """One image of the given class, uint8 [size, size, 3]."""
    s = rng.uniform(0.35, 0.65) * size
    angle = rng.uniform(0, 2 * math.pi) if kind in ("square", "triangle", "cross") else 0.0
    params = {}
    if kind == "ring":
        params["inner"] = rng.uniform(0.4, 0.75)
    if kind == "cross":
        params["arm"] = rng.uniform(0.22, 0.42)
    if kind in ("square", "triangle"):
        params["polygon"] = _polygon(kind, s, rng)
        if kind == "triangle" and _signed_area(params["polygon"]) < 0:
            params["polygon"] = params["polygon"][::-1]

    # How far the rotated shape reaches from its centre, along x and along y.
    c, si = math.cos(angle), math.sin(angle)
    if kind in ("circle", "ring"):
        reach = np.array([s / 2, s / 2])
    else:
        if kind == "cross":
            t, h = params["arm"] * s / 2, s / 2
            outline = np.array([[x, y] for x, y in [(-t, -h), (t, -h), (t, h), (-t, h), (-h, -t), (h, -t), (h, t), (-h, t)]])
        else:
            outline = params["polygon"]
        rotated = outline @ np.array([[c, si], [-si, c]])
        reach = np.abs(rotated).max(axis=0)
    cx = rng.uniform(reach[0], size - reach[0])
    cy = rng.uniform(reach[1], size - reach[1])

    # Coverage of each pixel by k×k samples, k from 1 (hard edges) to 4.
    k = int(rng.integers(1, 5))
    offsets = (np.arange(k) + 0.5) / k
    ys = (np.arange(size)[:, None] + offsets[None, :]).reshape(-1)
    xs = ys.copy()
    X, Y = np.meshgrid(xs, ys)
    dx, dy = X - cx, Y - cy
    u = c * dx + si * dy
    v = -si * dx + c * dy
    cover = _inside(kind, u, v, s, params).reshape(size, k, size, k).mean(axis=(1, 3))

    bg, fg = _colours(rng)
    img = bg[None, None, :] * (1 - cover[..., None]) + fg[None, None, :] * cover[..., None]
    img += rng.normal(0, rng.uniform(2, 20), size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _signed_area(pts):
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def dataset(n, seed):
    """n images with balanced labels: (uint8 [n, 64, 64, 3], int64 [n])."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    images = np.stack([draw(CLASSES[y], rng) for y in labels])
    return images, labels


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "samples":
        sys.exit(__doc__)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
    import refio

    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2024)
    for kind in CLASSES:
        path = os.path.join(out, kind + ".png")
        refio.write_png(path, draw(kind, rng))
        print(path)


if __name__ == "__main__":
    main()
