#!/usr/bin/python3
"""Trains vit_shapes and swin_shapes, the two small models vitrace ships, on the
synthetic shapes dataset, and writes their weights with timm's names:

    /usr/bin/python3 data/train_shapes.py

    -> data/vit_shapes.safetensors, data/swin_shapes.safetensors  (F32)

Three renderers draw the images, so that the models learn shapes rather than
one program's way of drawing them, and so that one accuracy is measured on
drawings the models never saw the like of:

  A  data/shapes.py: exact coverage by k×k samples per pixel, three readings
     of "size"                                      training and held-out test
  B  draw_pil below: PIL's ImageDraw polygons and ellipses, hard edges or
     drawn large and shrunk, other conventions for size, rings and triangles
                                                    training only
  C  draw_sdf below: distance to the outline with a soft edge of random
     width, size read as in the issue (35-65 %)     evaluation only

The models see pixels/255 normalised with ImageNet's mean and std, vitrace's
default. Training also shifts and scales the intensities, and normalises some
images with mean = std = 0.5, so that either normalisation works.

Every random choice is seeded; with the same torch build and thread count a
second run writes the same weights.
"""

import colorsys
import math
import os
import sys
import time

import numpy as np

# Other programs share this CPU: threads that spin while waiting for each
# other then make every step several times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F
from functorch import vmap
from PIL import Image, ImageDraw, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import models  # noqa: E402
import refio  # noqa: E402
import shapes  # noqa: E402

# Every field of vit_shapes and swin_shapes is set here (vitrace lists the same
# in its built-in models), so training needs no other model as a base.
VIT_CONFIG = dict(image_size=64, patch=8, width=64, depth=4, heads=4, mlp_ratio=2.0, classes=5, pool="token")
SWIN_CONFIG = dict(image_size=64, patch=4, embed_dim=32, depths=[2, 2, 2], heads=[2, 4, 8], window=4, mlp_ratio=2.0,
                   classes=5)

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # (mean, std), vitrace's default
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

# Seeds: numpy seeds of each image set, torch seed of initialisation and augmentation.
SEED_TRAIN_A, SEED_TRAIN_B = 1, 2
SEED_VALID_A, SEED_VALID_C = 3, 5  # the per-epoch progress line
SEED_TEST_A, SEED_TEST_C = 101, 102  # the final accuracies
SEED_TORCH, SEED_PAINT = 0, 4
N_TRAIN_A = N_TRAIN_B = 24000
N_VALID = 1000
N_TEST = 5000

VIT_EPOCHS, VIT_LR = 16, 2e-3
SWIN_EPOCHS, SWIN_LR = 10, 2e-3
COVER_WEIGHT = 1.0  # of the coverage loss against the class loss
CURRICULUM = 0.3  # share of the steps over which the colours go from white on black to random
THREADS = 2
BATCH = 64
EVAL_BATCH = 500


# ---------------------------------------------------------------------------
# Renderer B: PIL


def _pil_polygons(kind, s, rng):
    """The filled polygons of a square, triangle or cross of size s, centred near 0."""
    h = s / 2
    if kind == "square":
        h = h if rng.random() < 0.5 else h / math.sqrt(2)  # side s, or inside a circle of diameter s
        return [np.array([(-h, -h), (h, -h), (h, h), (-h, h)])]
    if kind == "triangle":
        style = rng.integers(4)
        if style == 0:  # apex at the top middle of an s×s box
            return [np.array([(0, -h), (h, h), (-h, h)])]
        if style == 1:  # right angle, legs s
            return [np.array([(-h, -h), (h, h), (-h, h)])]
        r = s / math.sqrt(3) if style == 2 else h  # side s, or inside a circle of diameter s
        a = np.radians([270, 30, 150])
        return [np.stack([r * np.cos(a), r * np.sin(a)], axis=1)]
    t = s * rng.uniform(0.15, 0.4) / 2  # half the arm width
    return [np.array([(-t, -h), (t, -h), (t, h), (-t, h)]), np.array([(-h, -t), (h, -t), (h, t), (-h, t)])]


def pil_coverage(kind, rng, size=shapes.SIZE):
    """Coverage drawn with PIL's ImageDraw, float [size, size] in 0..1."""
    f = int(rng.choice([1, 1, 2, 3, 4]))  # drawn f times larger, then shrunk; 1 keeps PIL's hard edges
    S = size * f
    img = Image.new("L", (S, S), 0)
    d = ImageDraw.Draw(img)
    s = rng.uniform(0.3, 0.7) * S
    if kind in ("circle", "ring"):
        x0, y0 = rng.uniform(0, S - 1 - s, size=2)
        box = [x0, y0, x0 + s, y0 + s]
        if kind == "circle":
            d.ellipse(box, fill=255)
        else:
            d.ellipse(box, outline=255, width=max(1, round(s * rng.uniform(0.08, 0.35))))
    else:
        polys = _pil_polygons(kind, s, rng)
        a = rng.uniform(0, 2 * math.pi)
        rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        polys = [p @ rot for p in polys]
        pts = np.concatenate(polys)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        shrink = min(1.0, (S - 1) / (hi - lo).max())
        lo, hi = lo * shrink, hi * shrink
        at = rng.uniform(-lo, S - 1 - hi)
        for p in polys:
            d.polygon([tuple(q) for q in p * shrink + at], fill=255)
    if f > 1:
        img = img.resize((size, size), resample=int(rng.choice([Image.BOX, Image.BILINEAR, Image.LANCZOS])))
    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return np.asarray(img, dtype=np.float64) / 255


# ---------------------------------------------------------------------------
# Renderer C: signed distances, for evaluation only


def _box_distance(u, v, hu, hv):
    """Signed distance to the axis-aligned box |u| <= hu, |v| <= hv."""
    qu, qv = np.abs(u) - hu, np.abs(v) - hv
    return np.hypot(np.maximum(qu, 0), np.maximum(qv, 0)) + np.minimum(np.maximum(qu, qv), 0)


def _polygon_distance(u, v, pts):
    """Distance to the nearest edge line of a convex counter-clockwise polygon
    (exact inside, good enough outside for an edge a pixel or two wide)."""
    d = np.full_like(u, -np.inf)
    for i in range(len(pts)):
        (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % len(pts)]
        ex, ey = x1 - x0, y1 - y0
        d = np.maximum(d, (ey * (u - x0) - ex * (v - y0)) / math.hypot(ex, ey))
    return d


def _hsv_colours(rng):
    while True:
        bg, fg = (np.array(colorsys.hsv_to_rgb(*rng.uniform([0, 0, 0.1], [1, 1, 1]))) * 255 for _ in range(2))
        if np.linalg.norm(bg - fg) > 70:
            return bg, fg


def draw_sdf(kind, rng, size=shapes.SIZE):
    """One image whose edge is a ramp of random width over the distance to the outline."""
    s = rng.uniform(0.35, 0.65) * size
    r = s / 2
    if kind == "circle":
        reach = np.array([[-r, -r], [r, r]])
    elif kind == "ring":
        inner = r * rng.uniform(0.4, 0.8)
        reach = np.array([[-r, -r], [r, r]])
    elif kind == "square":
        pts = np.array([(-r, -r), (r, -r), (r, r), (-r, r)])
    elif kind == "triangle":
        # equilateral with side s, or isosceles with base s
        height = s * (math.sqrt(3) / 2 if rng.random() < 0.5 else rng.uniform(0.75, 1.25))
        pts = np.array([(0, -2 * height / 3), (r, height / 3), (-r, height / 3)])
    else:
        arm = s * rng.uniform(0.2, 0.4) / 2
        pts = np.array([(-arm, -r), (arm, -r), (arm, r), (-arm, r), (-r, -arm), (r, -arm), (r, arm), (-r, arm)])
    a = rng.uniform(0, 2 * math.pi) if kind in ("square", "triangle", "cross") else 0.0
    c, si = math.cos(a), math.sin(a)
    if kind not in ("circle", "ring"):
        reach = pts @ np.array([[c, si], [-si, c]])
    lo, hi = reach.min(axis=0), reach.max(axis=0)
    cx, cy = rng.uniform(-lo, size - hi)

    y, x = np.mgrid[0:size, 0:size] + 0.5
    u = c * (x - cx) + si * (y - cy)
    v = -si * (x - cx) + c * (y - cy)
    if kind == "circle":
        d = np.hypot(u, v) - r
    elif kind == "ring":
        d = np.abs(np.hypot(u, v) - (r + inner) / 2) - (r - inner) / 2
    elif kind == "square":
        d = _box_distance(u, v, r, r)
    elif kind == "triangle":
        d = _polygon_distance(u, v, pts)
    else:
        d = np.minimum(_box_distance(u, v, arm, r), _box_distance(u, v, r, arm))
    edge = 0.0 if rng.random() < 0.3 else rng.uniform(0.5, 1.5)
    cover = (d <= 0).astype(float) if edge == 0 else np.clip(0.5 - d / edge, 0, 1)

    bg, fg = _hsv_colours(rng)
    img = bg * (1 - cover[..., None]) + fg * cover[..., None]
    img += rng.normal(0, rng.uniform(0, 25), size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Model input


def coverage_set(n, seed, cover_one):
    """n coverage maps, uint8 [n, S, S] (255 = fully covered), with balanced labels int64 [n]."""
    return shapes.dataset(n, seed, lambda kind, rng: np.round(255 * cover_one(kind, rng)).astype(np.uint8))


def paint_batch(covers, rng, t):
    """uint8 coverage [n, S, S] -> uint8 images [n, S, S, 3], coloured at curriculum stage t.

    With random colours every class has the same average image, so at first
    the gradient holds no hint of the shape and training stalls for a long
    time. White shapes on black give the models a start (t = 0); the colours
    then move towards random ones, which they are from t = 1 on."""
    images = np.empty(covers.shape + (3,), dtype=np.uint8)
    for i, cover in enumerate(covers):
        bg, fg = shapes.random_colours(rng)
        images[i] = shapes.paint(cover / 255, rng, (t * bg, (1 - t) * 255 + t * fg))
    return images


def to_input(images, norm=IMAGENET):
    """uint8 [n, S, S, 3] -> float32 [n, 3, S, S], as vitrace's input.scale and input.normalize."""
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in norm)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - mean) / std


def dihedral(x, g):
    """Each image of x [n, c, S, S] in one of its 8 mirror/quarter-turn forms."""
    form = torch.randint(0, 8, (len(x),), generator=g)
    for k in range(8):
        sel = form == k
        y = torch.rot90(x[sel], k % 4, dims=(2, 3))
        x[sel] = y.flip(3) if k >= 4 else y
    return x


def augment(images, covers, g):
    """A training batch: uint8 images [n, S, S, 3] and coverage [n, S, S] ->
    model input float32 [n, 3, S, S] and coverage float32 [n, 1, S, S].

    All five classes keep their label under flips and quarter turns, so each
    image is shown in one of its 8 mirror/rotation forms. The intensities are
    scaled (x0.7-1.3 around mid-grey) and shifted (±0.1 per channel), and
    three images in ten are normalised with mean = std = 0.5 instead of
    ImageNet's values."""
    n = len(images)
    x = torch.cat([torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(covers)[:, None]], dim=1)
    x = dihedral(x.float() / 255.0, g)
    x, cover = x[:, :3], x[:, 3:]
    scale = torch.exp(torch.empty(n, 1, 1, 1).uniform_(math.log(0.7), math.log(1.3), generator=g))
    shift = torch.empty(n, 3, 1, 1).uniform_(-0.1, 0.1, generator=g)
    x = (x - 0.5) * scale + 0.5 + shift
    half = torch.rand(n, 1, 1, 1, generator=g) < 0.3
    mean = torch.where(half, torch.tensor(HALF[0]).view(1, 3, 1, 1), torch.tensor(IMAGENET[0]).view(1, 3, 1, 1))
    std = torch.where(half, torch.tensor(HALF[1]).view(1, 3, 1, 1), torch.tensor(IMAGENET[1]).view(1, 3, 1, 1))
    return (x - mean) / std, cover


# ---------------------------------------------------------------------------
# Training


def init_like_timm(model):
    """timm's initialisation: truncated normal (std 0.02) for weights, position
    embeddings and the relative position bias table, zero biases."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                continue
            if name.endswith("bias"):
                p.zero_()
            else:
                torch.nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)


def batched(model):
    """forward(x [n, 3, S, S]) -> logits [n, classes]. The reference Swin runs
    one image at a time; vmap runs it on a whole batch at once."""
    if isinstance(model, models.SwinTransformer):
        return vmap(lambda x: model(x[None])[0])
    return model


def accuracy(forward, images, labels, norm=IMAGENET):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), EVAL_BATCH):
            logits = forward(to_input(images[i:i + EVAL_BATCH], norm))
            correct += (logits.argmax(dim=1).numpy() == labels[i:i + EVAL_BATCH]).sum()
    return correct / len(images)


def with_tokens(model, seen):
    """forward(x [n, 3, S, S]) -> (logits [n, classes], tokens [n, grid², C]),
    the tokens being the patch tokens after the final norm, row by row.
    `seen` receives them from a hook on model.norm."""
    if isinstance(model, models.SwinTransformer):
        return vmap(lambda x: (model(x[None])[0], seen["norm"].flatten(0, 1)))
    return lambda x: (model(x), seen["norm"][:, 1:])  # without the cls token


def losses(forward, probe, x, cover, y):
    """One batch: (logits [n, classes], the class loss, the coverage loss).
    forward is with_tokens(...); cover float32 [n, 1, S, S]; y int64 [n]."""
    logits, tokens = forward(x)
    tokens = tokens.reshape(len(tokens), -1, tokens.shape[-1])  # [n, grid², C]; Swin's come as [n, H, W, C]
    grid = math.isqrt(tokens.shape[1])
    target = F.avg_pool2d(cover, cover.shape[-1] // grid).flatten(1)  # [n, grid²]
    loss = F.cross_entropy(logits, y, label_smoothing=0.1)
    cover_loss = F.binary_cross_entropy_with_logits(probe(tokens)[..., 0], target)
    return logits, loss, cover_loss


def train(name, model, covers, labels, valid_set, epochs, lr):
    """Cross-entropy on the class, plus a coverage loss: a linear probe on each
    patch token guesses how much of its patch the shape covers. The probe is
    thrown away afterwards; it gives the model many targets per image instead
    of one, and it learns to tell shape from background much sooner."""
    g = torch.Generator().manual_seed(SEED_TORCH)
    rng = np.random.default_rng(SEED_PAINT)
    seen = {}
    hook = model.norm.register_forward_hook(lambda module, args, out: seen.__setitem__("norm", out))
    forward = with_tokens(model, seen)
    probe = torch.nn.Linear(model.norm.normalized_shape[0], 1)
    params = list(model.parameters()) + list(probe.parameters())
    per_epoch = len(covers) // BATCH
    steps, warmup = epochs * per_epoch, per_epoch
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    # linear warm-up for one epoch, then cosine decay to zero
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: t / warmup if t < warmup else 0.5 * (1 + math.cos(math.pi * (t - warmup) / (steps - warmup))))
    start, step = time.time(), 0
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(covers), generator=g).numpy()
        total, correct, loss_sum, cover_sum = 0, 0, 0.0, 0.0
        for i in range(per_epoch):
            idx = np.sort(order[i * BATCH:(i + 1) * BATCH])
            t = min(1.0, step / (CURRICULUM * steps))
            x, cover = augment(paint_batch(covers[idx], rng, t), covers[idx], g)
            y = torch.from_numpy(labels[idx])
            logits, loss, cover_loss = losses(forward, probe, x, cover, y)
            opt.zero_grad()
            (loss + COVER_WEIGHT * cover_loss).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            loss_sum += loss.item() * len(y)
            cover_sum += cover_loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            total += len(y)
        model.eval()
        valid = [accuracy(batched(model), *v) for v in valid_set]
        print(f"{name} epoch {epoch + 1:2d}/{epochs}  colours {t:.2f}  loss {loss_sum / total:.4f}"
              f"  coverage loss {cover_sum / total:.4f}  train acc {correct / total:.4f}"
              f"  valid acc A {valid[0]:.4f} C {valid[1]:.4f}  {time.time() - start:5.0f} s", flush=True)
        # The weights of the last epoch are written every epoch, so that a run
        # stopped early still leaves a usable model behind.
        save(model, name)
    hook.remove()


def save(model, name):
    path = os.path.join(HERE, name + ".safetensors")
    refio.save_safetensors(path, {k: v.numpy() for k, v in model.state_dict().items()})
    return path


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["vit_shapes", "swin_shapes", "both"], default="both")
    ap.add_argument("--threads", type=int, default=THREADS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED_TORCH)
    torch.use_deterministic_algorithms(True)

    t0 = time.time()
    a = coverage_set(N_TRAIN_A, SEED_TRAIN_A, shapes.coverage)
    b = coverage_set(N_TRAIN_B, SEED_TRAIN_B, pil_coverage)
    covers, labels = np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
    valid_set = [shapes.dataset(N_VALID, SEED_VALID_A), shapes.dataset(N_VALID, SEED_VALID_C, draw_sdf)]
    test_a = shapes.dataset(N_TEST, SEED_TEST_A)
    test_c = shapes.dataset(N_TEST, SEED_TEST_C, draw_sdf)
    print(f"drew {len(covers)} training shapes (A and B), 2 x {N_VALID} validation and "
          f"2 x {N_TEST} test images in {time.time() - t0:.0f} s", flush=True)

    results = []
    for name, cls, cfg, epochs, lr in [("vit_shapes", models.VisionTransformer, VIT_CONFIG, VIT_EPOCHS, VIT_LR),
                                       ("swin_shapes", models.SwinTransformer, SWIN_CONFIG, SWIN_EPOCHS, SWIN_LR)]:
        if args.model not in (name, "both"):
            continue
        torch.manual_seed(SEED_TORCH)
        model = cls(cfg)
        init_like_timm(model)
        t = time.time()
        train(name, model, covers, labels, valid_set, epochs, lr)
        minutes = (time.time() - t) / 60
        path = save(model, name)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)", flush=True)
        forward = batched(model)
        acc = [accuracy(forward, *test_a), accuracy(forward, *test_c),
               accuracy(forward, *test_a, HALF), accuracy(forward, *test_c, HALF)]
        results.append((name, minutes, acc))

    print(f"\nheld-out accuracy, {N_TEST} images per column (A: data/shapes.py, C: draw_sdf; normalisation of pixels/255)")
    print(f"{'model':12s} {'train min':>9s} {'A imagenet':>10s} {'C imagenet':>10s} {'A 0.5/0.5':>10s} {'C 0.5/0.5':>10s}")
    for name, minutes, acc in results:
        print(f"{name:12s} {minutes:9.1f} " + " ".join(f"{v:10.4f}" for v in acc))


if __name__ == "__main__":
    main()
