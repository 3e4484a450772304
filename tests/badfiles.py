"""Every kind of awkward upload, generated in memory: {file name: bytes}. Used by the CLI and page tests."""

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims width x height pixels (by default 10 gigapixels) over a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + _png_chunk(b"IEND", b""))


def exif_rotated_jpeg(photo: bytes) -> bytes:
    """The photo stored sideways with an EXIF tag saying 'rotate 90 degrees clockwise to show'."""
    img = Image.open(io.BytesIO(photo)).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = img.getexif()
    exif[0x0112] = 6
    return _save(img, "JPEG", exif=exif)


def bad_files(photo: bytes) -> dict[str, bytes]:
    """Files that must each give a clear message (those in ERRORS) or a correct result (the rest)."""
    rng = np.random.default_rng(0)
    frames = [Image.new("RGB", (40, 30), (i * 60, 0, 0)) for i in range(3)]
    return {
        "notes.jpg": b"this is a text file renamed .jpg\n",
        "empty.jpg": b"",
        "truncated.jpg": photo[: len(photo) // 3],
        "bomb.png": bomb_png(),
        "huge.png": bomb_png(8_000, 8_000),  # 64 megapixels: under Pillow's bomb limit, over the app's
        "sixteen_bit.png": _save(Image.fromarray((rng.random((60, 50)) * 65535).astype(np.uint16)), "PNG"),
        "rgba.png": _save(Image.new("RGBA", (40, 30), (10, 200, 10, 128)), "PNG"),
        "palette.png": _save(Image.new("RGB", (40, 30), (200, 10, 10)).convert("P"), "PNG"),
        "cmyk.jpg": _save(Image.new("CMYK", (40, 30), (0, 50, 100, 0)), "JPEG"),
        "gray.png": _save(Image.new("L", (40, 30), 128), "PNG"),
        "one_pixel.png": _save(Image.new("RGB", (1, 1)), "PNG"),
        "wide.png": _save(Image.new("RGB", (10_000, 10)), "PNG"),
        "animated.gif": _save(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "exif_rotated.jpg": exif_rotated_jpeg(photo),
    }


ERRORS = {"notes.jpg": "not an image", "empty.jpg": "empty", "truncated.jpg": "truncated",
          "bomb.png": "too many pixels", "huge.png": "8000x8000 pixels is too large"}
"""The files that must be refused, and words their (English, library/CLI) message must hold."""
KINDS = {"notes.jpg": "not_image", "empty.jpg": "empty", "truncated.jpg": "damaged", "bomb.png": "bomb",
         "huge.png": "too_large"}
"""fer.preprocessing.ImageError.kind of each refused file."""
