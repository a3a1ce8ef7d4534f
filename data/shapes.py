#!/usr/bin/python3
"""The synthetic shapes dataset that vit_shapes and swin_shapes learn from.

One filled shape per 64x64 RGB image, in one of five classes:

    circle, square, triangle, cross, ring (an annulus)

The shape has a random colour and sits on a background of another random
colour; its size is roughly 35-65 % of the image side, at a random position
where it lies fully inside the image; squares, triangles and crosses are
rotated by a random angle; Gaussian noise is added to every pixel.

The drawing varies on purpose, so that a model learns the shapes rather than
one renderer's habits:

  - "size" means different things to different people, so it is drawn from
    28-72 % of the side and read one of three ways: the shape's own size (the
    diameter of a circle or ring, the side of a square, the longest side of a
    triangle, the span of a cross), the diameter of the circle around the
    shape, or the side of its bounding box; a shape too big to fit is shrunk;
  - edges are drawn with 1 to 4 samples per pixel (hard to smooth), and some
    images are slightly blurred;
  - crosses have thin to thick arms, rings thin to thick walls, triangles are
    equilateral or have any angles between 35 and 95 degrees;
  - the colours range from strong to weak contrast, some images are grey, and
    the noise goes from none to a standard deviation of 25 levels, either
    independent per channel or the same in all three.

    /usr/bin/python3 data/shapes.py samples data/images   # one image of each class
"""

import math
import os
import sys

import numpy as np

CLASSES = ["circle", "square", "triangle", "cross", "ring"]
SIZE = 64


def random_colours(rng):
    """Background and shape colours, float [3] each, far enough apart that the shape can be seen."""
    grey = rng.random() < 0.15
    while True:
        bg, fg = rng.uniform(0, 255, size=(2, 3))
        if grey:
            bg, fg = np.full(3, bg[0]), np.full(3, fg[0])
        if np.linalg.norm(bg - fg) > 60:
            return bg, fg


def _triangle(rng):
    """Corners of a counter-clockwise triangle whose longest side is 1, centred on 0.

    Corners on a circle are separated by arcs of twice the opposite angles, so
    drawing the three angles first gives any triangle shape we want."""
    if rng.random() < 0.4:
        angles = np.radians([60.0, 60.0, 60.0])
    else:
        while True:
            a, b = rng.uniform(35, 95, size=2)
            if 35 <= 180 - a - b <= 95:
                angles = np.radians([a, b, 180 - a - b])
                break
    at = np.array([0.0, 2 * angles[2], 2 * (angles[2] + angles[0])])
    pts = np.stack([np.cos(at), np.sin(at)], axis=1)
    longest = max(np.linalg.norm(pts[i] - pts[i - 1]) for i in range(3))
    return (pts - pts.mean(axis=0)) / longest


def _params(kind, rng):
    """The random proportions of one shape at size 1."""
    p = {}
    if kind == "ring":
        p["inner"] = rng.uniform(0.3, 0.85)  # inner diameter / outer diameter
    if kind == "cross":
        p["arm"] = rng.uniform(0.14, 0.45)  # arm width / span
    if kind == "square":
        p["polygon"] = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    if kind == "triangle":
        p["polygon"] = _triangle(rng)
    return p


def _outline(kind, p):
    """Points on the edge of the shape at size 1 (before rotation), enough to
    find how far it reaches."""
    if kind in ("circle", "ring"):
        a = np.radians(np.arange(0, 360, 5))
        return 0.5 * np.stack([np.cos(a), np.sin(a)], axis=1)
    if kind == "cross":
        t, h = p["arm"] / 2, 0.5
        return np.array([(-t, -h), (t, -h), (t, h), (-t, h), (-h, -t), (h, -t), (h, t), (-h, t)])
    return p["polygon"]


def _inside(kind, u, v, p):
    """Mask of the sample points (u, v), in the shape's own rotated frame at size 1."""
    if kind == "circle":
        return u * u + v * v <= 0.25
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 <= 0.25) & (d2 >= (p["inner"] / 2) ** 2)
    if kind == "cross":
        t, h = p["arm"] / 2, 0.5
        return ((np.abs(u) <= t) & (np.abs(v) <= h)) | ((np.abs(v) <= t) & (np.abs(u) <= h))
    # convex polygon, counter-clockwise: inside every edge's half-plane
    pts = p["polygon"]
    mask = np.ones_like(u, dtype=bool)
    for i in range(len(pts)):
        (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % len(pts)]
        mask &= (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0
    return mask


def _blur(a, sigma):
    """Separable Gaussian blur of a 2-D array, edges repeated."""
    r = np.arange(-3, 4)
    k = np.exp(-r * r / (2 * sigma * sigma))
    k /= k.sum()
    n, m = a.shape
    a = np.pad(a, 3, mode="edge")
    a = sum(w * a[:, i:i + m] for i, w in enumerate(k))
    return sum(w * a[i:i + n, :] for i, w in enumerate(k))


def coverage(kind, rng, size=SIZE):
    """How much of each pixel the shape covers, float [size, size] in 0..1."""
    p = _params(kind, rng)
    outline = _outline(kind, p)
    angle = rng.uniform(0, 2 * math.pi) if kind in ("square", "triangle", "cross") else 0.0
    c, si = math.cos(angle), math.sin(angle)
    rotated = outline @ np.array([[c, si], [-si, c]])
    extent = rotated.max(axis=0) - rotated.min(axis=0)

    # Size 1 measured the three ways: own size, circle around it, bounding box.
    unit = [1.0, 2 * np.linalg.norm(outline, axis=1).max(), extent.max()][rng.integers(3)]
    scale = min(rng.uniform(0.28, 0.72) * size / unit, (size - 1) / extent.max())
    lo, hi = rotated.min(axis=0) * scale, rotated.max(axis=0) * scale
    cx = rng.uniform(-lo[0], size - hi[0])
    cy = rng.uniform(-lo[1], size - hi[1])

    # k×k samples per pixel, k from 1 (hard edges) to 4.
    k = int(rng.integers(1, 5))
    offsets = (np.arange(k) + 0.5) / k
    ys = (np.arange(size)[:, None] + offsets[None, :]).reshape(-1)
    X, Y = np.meshgrid(ys, ys)
    dx, dy = (X - cx) / scale, (Y - cy) / scale
    u = c * dx + si * dy
    v = -si * dx + c * dy
    cover = _inside(kind, u, v, p).reshape(size, k, size, k).mean(axis=(1, 3))
    if rng.random() < 0.3:
        cover = _blur(cover, rng.uniform(0.3, 1.0))
    return cover


def paint(cover, rng, colours=None):
    """The image of a coverage map: the shape colour where it covers, the
    background colour elsewhere, then noise. uint8 [size, size, 3]."""
    bg, fg = colours if colours is not None else random_colours(rng)
    img = bg[None, None, :] * (1 - cover[..., None]) + fg[None, None, :] * cover[..., None]
    channels = 1 if rng.random() < 0.3 else 3
    img = img + rng.normal(0, rng.uniform(0, 25), size=cover.shape + (channels,))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def draw(kind, rng, size=SIZE):
    """One image of the given class, uint8 [size, size, 3]."""
    return paint(coverage(kind, rng, size), rng)


def dataset(n, seed, draw_one=draw):
    """n images with balanced labels: (uint8 [n, 64, 64, 3], int64 [n]).
    draw_one(kind, rng) may be another renderer with the same contract as draw."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    rng.shuffle(labels)
    images = np.stack([draw_one(CLASSES[y], rng) for y in labels])
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
