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


def bomb_png() -> bytes:
    """A PNG whose header claims 100000x100000 pixels (10 gigapixels)."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + _png_chunk(b"IEND", b""))


def exif_rotated_jpeg(photo: bytes) -> bytes:
    """The photo stored sideways with an EXIF tag saying 'rotate 90 degrees clockwise to show'."""
    img = Image.open(io.BytesIO(photo)).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = img.getexif()
    exif[0x0112] = 6
    return _save(img, "JPEG", exif=exif)


def bad_files(photo: bytes) -> dict[str, bytes]:
    """Files that must each give a clear message (the first four) or a correct result (the rest)."""
    rng = np.random.default_rng(0)
    frames = [Image.new("RGB", (40, 30), (i * 60, 0, 0)) for i in range(3)]
    return {
        "notes.jpg": b"this is a text file renamed .jpg\n",
        "empty.jpg": b"",
        "truncated.jpg": photo[: len(photo) // 3],
        "bomb.png": bomb_png(),
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
          "bomb.png": "too many pixels"}
