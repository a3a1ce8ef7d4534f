"""File formats for the reference scripts, written with the standard library and
numpy only (Debian has no python3-safetensors): safetensors and PNG."""

import json
import struct
import zlib

import numpy as np

_DTYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I64": np.int64,
}


def save_safetensors(path, tensors, dtype="F32"):
    """tensors: dict name -> numpy array (written in insertion order).
    dtype: F32, F16 or BF16 for floating-point arrays; integer arrays are written
    as I64. Shapes are kept as they are: [] for a scalar, [0, C] for an empty tensor."""
    header = {}
    blobs = []
    offset = 0
    for name, array in tensors.items():
        # np.asarray, not np.ascontiguousarray, which makes a 0-d array (BatchNorm's
        # num_batches_tracked) shape [1]; tobytes() writes C order either way
        a = np.asarray(array, order="C")
        if a.dtype.kind == "f":
            if dtype == "BF16":
                # bfloat16 is the top half of a float32 (rounded to nearest even)
                bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
                bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
                raw = bits.astype(np.uint16).tobytes()
                tag = "BF16"
            else:
                raw = a.astype(_DTYPES[dtype]).tobytes()
                tag = dtype
        else:
            raw = a.astype(np.int64).tobytes()
            tag = "I64"
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def bf16_round(a):
    """The float32 values a BF16 file holds for a (same rounding as save_safetensors)."""
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype=_DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def write_png(path, rgb):
    """rgb: uint8 array [H, W, 3]."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def smooth_image(rng, size):
    """A test picture with structure at several scales, uint8 [size, size, 3]."""
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        a, b, p = rng.uniform(1, 6, size=3)
        img[:, :, c] = 0.5 + 0.35 * np.sin(2 * np.pi * (a * x + b * y) + p)
    img += rng.normal(0, 0.08, size=img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
