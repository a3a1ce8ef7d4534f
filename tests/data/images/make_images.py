#!/usr/bin/python3
"""Writes the image fixtures of tests/unit/test_image.cpp with Debian's python3-pil.

    /usr/bin/python3 tests/data/images/make_images.py

Every file is a few hundred bytes at most and committed. The pixel values are
chosen so that the test can state them by hand: the comment above each good
image gives its pixels, and test_image.cpp repeats them.

PIL writes the ordinary images. A small PNG writer of our own writes what PIL
cannot (16-bit RGB) and what no encoder would (a header claiming 100000 x 100000
pixels), so those files hold exactly the chunks we mean them to.
"""

import io
import os
import struct
import zlib

from PIL import Image

OUT = os.path.dirname(os.path.abspath(__file__))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, bit_depth, colour_type, rows):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (none) on every row
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def encode(img, fmt, **options):
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def ihdr_of(data):
    """(bit depth, colour type) of a PNG, to make sure PIL wrote the format we asked for."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return data[24], data[25]


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    files = {}

    # 3 wide, 7 high, 8-bit gray: pixel (x, y) = 10 * (3y + x) + 5
    gray = Image.new("L", (3, 7))
    gray.putdata([10 * i + 5 for i in range(21)])
    files["gray_3x7.png"] = (encode(gray, "PNG"), (8, 0))

    # 2x2 gray + alpha: gray 0, 85, 170, 255 with alpha 255, 128, 0, 10
    gray_alpha = Image.new("LA", (2, 2))
    gray_alpha.putdata([(0, 255), (85, 128), (170, 0), (255, 10)])
    files["gray_alpha.png"] = (encode(gray_alpha, "PNG"), (8, 4))

    # 2x2 RGBA; the colour under alpha 0 must survive, since alpha is dropped, not applied
    rgba = Image.new("RGBA", (2, 2))
    rgba.putdata([(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0), (12, 34, 56, 7)])
    files["rgba.png"] = (encode(rgba, "PNG"), (8, 6))

    # 4x1 palette image: indices 3, 0, 1, 2 into red, green, blue, (12, 34, 56);
    # PIL packs four colours into 2-bit indices
    palette = Image.new("P", (4, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 12, 34, 56])
    palette.putdata([3, 0, 1, 2])
    files["palette.png"] = (encode(palette, "PNG"), (2, 3))

    # 2x1 16-bit gray: 0xABCD, 0x1234 (8 bits keep the high byte: 0xAB, 0x12)
    gray16 = Image.new("I;16", (2, 1))
    gray16.putdata([0xABCD, 0x1234])
    files["gray16.png"] = (encode(gray16, "PNG"), (16, 0))

    # 2x1 16-bit RGB: (0xABCD, 0x1234, 0xFF00), (0x0001, 0x8080, 0x7FFF)
    rgb16 = struct.pack(">6H", 0xABCD, 0x1234, 0xFF00, 0x0001, 0x8080, 0x7FFF)
    files["rgb16.png"] = (png(2, 1, 16, 2, [rgb16]), (16, 2))

    # 1x1 RGB: (7, 8, 9)
    files["one_pixel.png"] = (encode(Image.new("RGB", (1, 1), (7, 8, 9)), "PNG"), (8, 2))

    # 7 wide, 3 high RGB: pixel (x, y) = (40x, 100y, 10 * (7y + x))
    rgb = Image.new("RGB", (7, 3))
    rgb.putdata([(40 * x, 100 * y, 10 * (7 * y + x)) for y in range(3) for x in range(7)])
    files["rgb_7x3.png"] = (encode(rgb, "PNG"), (8, 2))

    for name, (data, depth_and_type) in files.items():
        assert ihdr_of(data) == depth_and_type, (name, ihdr_of(data))
        write(name, data)

    # 8x8 JPEG of one colour, (200, 100, 50); lossy, so the test allows a few levels
    jpeg = encode(Image.new("RGB", (8, 8), (200, 100, 50)), "JPEG", quality=95, subsampling=0, optimize=True)
    write("solid.jpg", jpeg)

    # Bad files, each refused with a message that names the fault.
    good_png = files["rgb_7x3.png"][0]
    write("empty.png", b"")
    write("truncated.png", good_png[: len(good_png) // 2])  # ends inside IDAT
    write("truncated.jpg", jpeg[: len(jpeg) // 2])
    corrupt = bytearray(good_png)
    idat = corrupt.index(b"IDAT")
    corrupt[idat + 4] ^= 0x01  # the first data byte; the chunk's CRC no longer matches
    write("bad_crc.png", bytes(corrupt))
    write("text.png", b"this is a text file, not an image\n")
    write("png_named.jpg", files["one_pixel.png"][0])

    # Headers that claim far more pixels than the limit, with every CRC and
    # segment length valid, so that only the size can refuse them.
    huge_ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    write("huge.png", PNG_SIGNATURE + chunk(b"IHDR", huge_ihdr) +
          chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))
    huge_jpeg = bytearray(jpeg)
    sof = huge_jpeg.index(b"\xff\xc0")
    huge_jpeg[sof + 5:sof + 9] = struct.pack(">HH", 40000, 40000)  # height, width
    write("huge.jpg", bytes(huge_jpeg))


if __name__ == "__main__":
    main()
