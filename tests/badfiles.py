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


def bomb_png(width: int = 100_000, height: int = 100_000, color: int = 2) -> bytes:
    """A PNG whose header claims width x height pixels (by default 10 gigapixels of RGB; `color` the PNG colour
    type: 6 RGBA) over a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + _png_chunk(b"IEND", b""))


PNG_KINDS = {"L": (0, 8, 1), "I;16": (0, 16, 2), "LA": (4, 8, 2), "RGB": (2, 8, 3), "RGBA": (6, 8, 4),
             "P": (3, 8, 1), "PA": (3, 8, 1)}
"""Pillow mode a PNG decodes to: (PNG colour type, bit depth, bytes a pixel). PA: palette with transparency."""


def big_png(width: int, height: int, mode: str = "I;16") -> bytes:
    """Issue 42 (4): a real PNG of width x height pixels in `mode` (a key of PNG_KINDS), written row by row (a
    ramp with a transparent stripe): 60 MP of 16-bit grey in about 130 kB, never held at full size here."""
    color, depth, per_pixel = PNG_KINDS[mode]
    ramp = (np.arange(width * per_pixel, dtype=np.uint32) * 7 % 256).astype(np.uint8)
    if mode in ("LA", "RGBA"):
        ramp.reshape(width, per_pixel)[: width // 3, -1] = 0  # the left third transparent
    row = b"\0" + ramp.tobytes()
    z = zlib.compressobj(9)
    data = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    chunks = [_png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))]
    if color == 3:
        chunks.append(_png_chunk(b"PLTE", bytes(range(256)) * 3))
        if mode == "PA":
            chunks.append(_png_chunk(b"tRNS", bytes(range(256))))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def face_mosaic(photo: bytes, n: int, tile: tuple[int, int] = (160, 200)) -> bytes:
    """Issue 42 (3): a JPEG of n x n copies of a face photo, each resized to `tile` (32 x 32 tiles of 40 x 50:
    a 1,280 x 1,600 photo of about a thousand faces at a minimum face size of 10)."""
    face = Image.open(io.BytesIO(photo)).convert("RGB").resize(tile)
    mosaic = Image.new("RGB", (tile[0] * n, tile[1] * n))
    for i in range(n):
        for j in range(n):
            mosaic.paste(face, (i * tile[0], j * tile[1]))
    return _save(mosaic, "JPEG", quality=85)


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
        "deep.png": bomb_png(7_100, 7_100, color=6),  # 50 megapixels of RGBA: 192 MB decoded, over the app's
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
          "bomb.png": "too many pixels", "huge.png": "8000x8000 pixels is too large",
          "deep.png": "7100x7100 pixels of RGBA take 192 MB decoded"}
"""The files that must be refused, and words their (English, library/CLI) message must hold."""
KINDS = {"notes.jpg": "not_image", "empty.jpg": "empty", "truncated.jpg": "damaged", "bomb.png": "bomb",
         "huge.png": "too_large", "deep.png": "too_large_decoded"}
"""fer.vision.preprocessing.ImageError.kind of each refused file."""


TINY_PNG = _save(Image.new("L", (1, 1), 128), "PNG")
"""A 1x1 PNG (67 bytes)."""


def long_name_zip(path, entries: int = 5_000, name_chars: int = 60_000):  # noqa: ANN001, ANN201
    """Issue 30 (1): `entries` 1x1 PNGs plus one entry whose name is `name_chars` characters long (about 1 MB)."""
    import zipfile

    from fer.labels import LABELS

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(entries):
            zf.writestr(f"train/{LABELS[i % 7]}/{i}.png", TINY_PNG)
        zf.writestr("train/happy/" + "a" * name_chars + ".png", TINY_PNG)
    return path


DAMAGED_ENTRIES = ("encrypted", "method99", "bad_crc", "bad_local_header", "bad_deflate")
"""Entries of `damaged_zip`: train/happy/<kind>.png each."""


def damaged_zip(path, good: dict[str, bytes]):  # noqa: ANN001, ANN201
    """A zip of the `good` entries plus one damaged entry of each kind in DAMAGED_ENTRIES (issue 30 (4))."""
    import zipfile

    face = _save(Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 48), dtype=np.uint8)), "PNG")
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in good.items():
            zf.writestr(name, data)
        infos = {}
        for kind in DAMAGED_ENTRIES:
            method = zipfile.ZIP_DEFLATED if kind == "bad_deflate" else zipfile.ZIP_STORED
            zf.writestr(f"train/happy/{kind}.png", face, compress_type=method)
            infos[kind] = zf.getinfo(f"train/happy/{kind}.png")
        infos["encrypted"].flag_bits |= 0x1  # the central directory says: encrypted
        infos["method99"].compress_type = 99  # and: compressed with an unknown method
    raw = bytearray(open(path, "rb").read())  # noqa: PTH123, SIM115
    for kind in ("bad_crc", "bad_local_header", "bad_deflate"):
        info = infos[kind]
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        if kind == "bad_crc":
            raw[start + 20] ^= 0xFF
        elif kind == "bad_local_header":
            raw[info.header_offset + 3] = 0x05  # PK\3\5: not a local file header
        else:
            raw[start:start + 12] = b"\xff" * 12  # an invalid deflate block type
    open(path, "wb").write(bytes(raw))  # noqa: PTH123, SIM115
    return path


def huge_pixels_zip(path, n: int = 300, side: int = 4096):  # noqa: ANN001, ANN201
    """Issue 30 (6): `n` PNGs of side x side pixels (a few MB in all: one blank PNG repeated)."""
    import zipfile

    png = _save(Image.new("L", (side, side), 0), "PNG", optimize=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            zf.writestr(f"train/happy/{i}.png", png)
    return path


def one_line_csv(path, mb: int = 80):  # noqa: ANN001, ANN201
    """Issue 30 (6): a CSV whose one data row has `mb` MB of pixels."""
    with open(path, "w") as fh:  # noqa: PTH123
        fh.write("emotion,pixels\n0,")
        chunk = "1 " * (1 << 19)  # 1 MB
        for _ in range(mb):
            fh.write(chunk)
        fh.write("\n")
    return path


def many_entries_zip(path, n: int, claimed: int | None = None):  # noqa: ANN001, ANN201
    """Issue 42 (8): a zip whose central directory lists `n` empty entries (no data; names of 1 to 6 hex digits:
    about 52 bytes each, 2 M in 100 MB), its end record (zip64) claiming `claimed` entries (default `n`: a lying
    record says fewer)."""
    import struct
    import zipfile

    claimed = n if claimed is None else claimed
    head = struct.Struct(zipfile.structCentralDir)
    cd = b"".join(head.pack(zipfile.stringCentralDir, 20, 3, 20, 0, 0, 0, 0, 0x21, 0, 0, 0, len(b"%x" % i), 0, 0, 0,
                            0, 0, 0)
                  + b"%x" % i for i in range(n))
    end64 = struct.pack(zipfile.structEndArchive64, zipfile.stringEndArchive64, 44, 45, 45, 0, 0, claimed, claimed,
                        len(cd), 0)
    locator = struct.pack(zipfile.structEndArchive64Locator, zipfile.stringEndArchive64Locator, 0, len(cd), 1)
    end = struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                      0xFFFFFFFF, 0)
    with open(path, "wb") as fh:  # noqa: PTH123
        fh.write(cd + end64 + locator + end)
    return path


def tiny_rows_csv(path, rows: int):  # noqa: ANN001, ANN201
    """Issue 42 (8): a CSV of `rows` rows of 4 bytes (24.9 M rows in 100 MB asked np.empty for 53 GiB)."""
    with open(path, "wb") as fh:  # noqa: PTH123
        fh.write(b"emotion,pixels\n")
        chunk = b"1,2\n" * 100_000
        for _ in range(rows // 100_000):
            fh.write(chunk)
        fh.write(b"1,2\n" * (rows % 100_000))
    return path


def _raw_exif(entries: list[tuple[int, int, int, int]], extra: bytes = b"") -> bytes:
    """An EXIF block (little-endian TIFF) of IFD entries (tag, type, count, value or -1: offset of `extra`)."""
    base = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, base if value < 0 else value)
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + extra


def hostile_images() -> dict[str, bytes]:
    """Issue 30 (3): crafted images that crashed predict, the Images page and How it works."""
    small = Image.new("RGB", (64, 48), (120, 80, 40))
    dds = bytearray(_save(Image.new("RGBA", (8, 8)), "DDS"))
    dds[80:84] = struct.pack("<I", 4)  # pixel format flags: a FourCC follows
    dds[84:88] = b"ABCD"  # that no decoder knows
    return {
        "tall.png": _save(Image.new("RGB", (1, 3000), (90, 90, 90)), "PNG"),  # shrunk to 0 px wide for detection
        # EXIF orientation 6 and tag 0x0106 (PhotometricInterpretation) with 37 values: KeyError 262
        "exif_keyerror.jpg": _save(small, "JPEG", exif=_raw_exif([(0x0106, 3, 37, -1), (0x0112, 3, 1, 6)],
                                                                  b"\x01\x00" * 80)),
        # the same tag as 37 bytes: struct.error when the EXIF is written back
        "exif_struct.jpg": _save(small, "JPEG", exif=_raw_exif([(0x0106, 1, 37, -1), (0x0112, 3, 1, 6)],
                                                                b"\x01\x00" * 80)),
        "dds_named.png": bytes(dds),  # NotImplementedError: unimplemented pixel format
    }


CSV_ROW = " ".join(["7"] * 2304)
"""The pixels of one good FER2013 CSV row."""


def broken_datasets(folder) -> dict[str, object]:  # noqa: ANN001
    """One dataset for each fer.data.dataset.DataError kind a file can cause, written under `folder`:
    {kind: path}. (Kinds that need a lowered limit or a split are made by tests/test_bad_datasets.py.)"""
    import zipfile

    def csv(name: str, text: str):  # noqa: ANN202
        p = folder / name
        p.write_text(text)
        return p

    def zipped(name: str, entries: dict[str, bytes], method: int = zipfile.ZIP_STORED):  # noqa: ANN202
        p = folder / name
        with zipfile.ZipFile(p, "w", method) as zf:
            for entry, data in entries.items():
                zf.writestr(entry, data)
        return p

    def tree(name: str, files: list[str]):  # noqa: ANN202
        root = folder / name
        root.mkdir()
        for f in files:
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            if not f.endswith("/"):
                (root / f).write_bytes(TINY_PNG)
        return root

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("not a dataset")
    (folder / "cut.zip").write_bytes(b"PK\x03\x04 this is no zip")
    good = "emotion,pixels\n1," + CSV_ROW + "\n"
    return {
        "not_found": folder / "gone.zip",
        "not_a_dataset": folder / "notes.txt",
        "bad_zip": folder / "cut.zip",
        "zip_bomb": zipped("bomb.zip", {"train/happy/Training_big.png": b"\0" * (8 << 20)}, zipfile.ZIP_DEFLATED),
        "bad_layout": zipped("flat.zip", {"x.png": TINY_PNG}),  # no class folder (happy/x.png: a photos dataset)
        "unknown_class": tree("bored", ["train/happy/a.png", "train/bored/b.png"]),
        "no_images": tree("empty", ["train/happy/"]),
        "csv_header_too_long": csv("header.csv", "emotion,pixels," + "x" * 20_000 + "\n"),
        "csv_line_too_long": csv("long.csv", good + "1," + "1 " * 10_000 + "\n"),
        "csv_too_many_columns": csv("wide.csv", ",".join(f"c{i}" for i in range(40)) + "\n"),
        "csv_empty": csv("empty.csv", ""),
        "bad_csv": csv("ragged.csv", "emotion,pixels\n1,2\n1,2,3,4\n"),  # pandas: expected 2 fields, saw 4
        "csv_missing_columns": csv("columns.csv", "emotion,Usage\n1,Training\n"),
        "csv_no_rows": csv("header_only.csv", "emotion,pixels\n"),
        "bad_emotion": csv("emotion.csv", good + "happy," + CSV_ROW + "\n"),
        "unknown_emotion": csv("index.csv", good + "7," + CSV_ROW + "\n"),
        # a quoted field over several lines: each line is short, the pixels are not
        "pixels_too_long": csv("quoted.csv", good + '1,"' + "\n".join(["7 " * 100] * 100) + '"\n'),
        "bad_pixels": csv("floats.csv", good + "1," + CSV_ROW.replace("7", "7.5", 1) + "\n"),
        "pixel_count": csv("five.csv", good + "1,1 2 3 4 5\n"),
        "pixel_range": csv("range.csv", good + "1," + CSV_ROW.replace("7", "300", 1) + "\n"),
        "unknown_usage": csv("usage.csv", "emotion,pixels,Usage\n1," + CSV_ROW + ",Train\n"),
    }
