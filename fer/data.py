"""Load FER2013 from a folder (train/<class>/*), a zip of that layout, or the challenge CSV.

Images stay uint8 [N, 48, 48]; normalisation happens inside the model. A parsed source is
cached as .npz keyed by its size, mtime and content hash, so a second load is fast.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from fer.labels import LABELS, label_index

log = logging.getLogger(__name__)

IMAGE_SIZE = 48
USAGES = ("Training", "PublicTest", "PrivateTest")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
_FOLDER_USAGE = {"train": "Training", "training": "Training", "val": "PublicTest",
                 "valid": "PublicTest", "validation": "PublicTest", "test": "PrivateTest"}
MAX_ZIP_TOTAL = 2 * 1024**3  # uncompressed bytes we accept from one archive
MAX_ZIP_RATIO = 200  # an entry compressed more than this is treated as a zip bomb
MAX_IMAGE_PIXELS = 4096 * 4096
"""A dataset image whose header claims more pixels than this is skipped (a decompression bomb)."""
CACHE_VERSION = 2
SKIPPED = {
    "unsafe": "unsafe path, skipped",
    "not_image": "not an image, skipped",
    "undecodable": "could not be decoded, skipped",
    "too_large": "too many pixels for a face image, skipped",
    "empty_class": "no images (empty or missing class folder)",
}
"""Endings of `Dataset.warnings` lines ('<file or folder>: <ending>'); see `warning_parts`."""

Progress = Callable[[float, str], None]


class DataError(ValueError):
    """A dataset could not be read; the message names the row, file or folder at fault."""


@dataclass(frozen=True)
class Dataset:
    """Images (uint8 [N,48,48]), FER2013 label indices, official usage and keys (path in archive)."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    paths: np.ndarray
    sizes: np.ndarray
    """Original (height, width) of each image before resizing to 48x48."""
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx: np.ndarray) -> Dataset:
        return Dataset(self.images[idx], self.labels[idx], self.usage[idx], self.paths[idx],
                       self.sizes[idx], self.source, self.warnings)

    def counts(self) -> dict[str, dict[str, int]]:
        """{usage: {class: count}} for every usage present, classes in LABELS order."""
        out: dict[str, dict[str, int]] = {}
        for usage in _ordered_usages(self.usage):
            lab = self.labels[self.usage == usage]
            out[usage] = {name: int((lab == i).sum()) for i, name in enumerate(LABELS)}
        return out


def warning_parts(text: str) -> tuple[str, str]:
    """(file or folder, SKIPPED key) of one `Dataset.warnings` line; the key is '' for any other line."""
    for kind, ending in SKIPPED.items():
        if text.endswith(": " + ending):
            return text[: -len(ending) - 2], kind
    return text, ""


def _ordered_usages(usage: np.ndarray) -> list[str]:
    present = set(np.unique(usage).tolist())
    return [u for u in USAGES if u in present] + sorted(present - set(USAGES))


def load_dataset(source: str | os.PathLike[str], *, cache_dir: Path | None = None,
                 progress: Progress | None = None, use_cache: bool = True) -> Dataset:
    """Load a folder, zip or CSV source, from the cache when the source is unchanged."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"dataset not found: {path}")
    cache = _cache_path(path, cache_dir) if use_cache else None
    if cache is not None and cache.exists():
        try:
            ds = _read_cache(cache, str(path))
            if progress:
                progress(1.0, "loaded from cache")
            return ds
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable cache %s: %s", cache, exc)
    if path.is_dir():
        ds = _from_entries(_folder_entries(path), str(path), progress)
    elif path.suffix.lower() == ".zip":
        ds = _load_zip(path, progress)
    elif path.suffix.lower() == ".csv":
        ds = load_csv(path, progress)
    else:
        raise DataError(f"{path.name}: not a dataset (expected a folder, a .zip or a .csv)")
    if cache is not None:
        _write_cache(cache, ds)
    return ds


# ----------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    return Path(os.environ.get("FER_CACHE_DIR", Path.home() / ".cache" / "fer"))


def _cache_path(path: Path, cache_dir: Path | None) -> Path:
    h = hashlib.sha1(f"v{CACHE_VERSION}:{path.resolve()}".encode())
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        st = path.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return (cache_dir or default_cache_dir()) / f"{path.stem}-{h.hexdigest()[:16]}.npz"


def _write_cache(cache: Path, ds: Dataset) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, images=ds.images, labels=ds.labels, usage=ds.usage, paths=ds.paths,
                 sizes=ds.sizes, warnings=np.array(ds.warnings, dtype=str))
        tmp.replace(cache)
    except OSError as exc:
        log.warning("could not write dataset cache %s: %s", cache, exc)


def _read_cache(cache: Path, source: str) -> Dataset:
    with np.load(cache, allow_pickle=False) as z:
        return Dataset(z["images"], z["labels"], z["usage"], z["paths"], z["sizes"], source,
                       tuple(z["warnings"].tolist()))


# ----------------------------------------------------------------------------- folder / zip
def _folder_entries(root: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for f in sorted(root.rglob("*")):
        if f.is_file():
            yield f.relative_to(root).as_posix(), f.read_bytes


def _load_zip(path: Path, progress: Progress | None) -> Dataset:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path.name}: not a readable zip file ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_TOTAL:
            raise DataError(f"{path.name}: unpacks to {total / 1e9:.1f} GB, over the "
                            f"{MAX_ZIP_TOTAL / 1e9:.0f} GB limit (zip bomb?)")
        for i in infos:
            if i.compress_size and i.file_size / i.compress_size > MAX_ZIP_RATIO and i.file_size > 1 << 20:
                raise DataError(f"{path.name}: entry {i.filename!r} is compressed "
                                f"{i.file_size // i.compress_size}:1 (zip bomb?)")
        entries = ((i.filename, (lambda i=i: zf.read(i))) for i in infos)
        return _from_entries(entries, str(path), progress, n_hint=len(infos))


def _from_entries(entries: Iterator[tuple[str, Callable[[], bytes]]], source: str,
                  progress: Progress | None, n_hint: int | None = None) -> Dataset:
    """Decode `split/class/.../image` entries (any leading folders are skipped)."""
    import cv2

    entries = list(entries)
    n = n_hint or len(entries)
    images, labels, usage, keys, sizes, warnings = [], [], [], [], [], []
    per_split: dict[str, set[int]] = {}  # split folder -> classes seen in it
    for k, (name, read) in enumerate(entries):
        p = PurePosixPath(name)
        if p.is_absolute() or ".." in p.parts:
            warnings.append(f"{name}: {SKIPPED['unsafe']}")
            continue
        if any(part.startswith(".") or part == "__MACOSX" for part in p.parts):
            continue
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            warnings.append(f"{name}: {SKIPPED['not_image']}")
            continue
        split_i = next((j for j, part in enumerate(p.parts[:-2]) if part.lower() in _FOLDER_USAGE), None)
        if split_i is None:
            raise DataError(f"{name}: expected the layout train/<class>/<image> or test/<class>/<image>")
        cls = p.parts[split_i + 1]
        try:
            y = label_index(cls)
        except ValueError:
            raise DataError(f"{name}: unknown class folder {cls!r}; expected one of {', '.join(LABELS)}") from None
        seen = per_split.setdefault("/".join(p.parts[: split_i + 1]), set())
        raw = read()
        claimed = _claimed_size(raw)
        if claimed is not None and claimed[0] * claimed[1] > MAX_IMAGE_PIXELS:
            warnings.append(f"{name}: {SKIPPED['too_large']}")
            continue
        arr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)
        if arr is None:
            warnings.append(f"{name}: {SKIPPED['undecodable']}")
            continue
        sizes.append(arr.shape[:2])
        if arr.shape != (IMAGE_SIZE, IMAGE_SIZE):
            arr = cv2.resize(arr, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        images.append(arr)
        labels.append(y)
        seen.add(y)
        usage.append(_usage_of(p.name, p.parts[split_i]))
        keys.append(name)
        if progress and k % 500 == 0:
            progress(k / max(n, 1), f"decoded {k:,} of {n:,} images")
    if not images:
        raise DataError(f"{Path(source).name}: no images found in the train/<class>/ or test/<class>/ layout")
    warnings += [f"{split}/{cls}: {SKIPPED['empty_class']}" for split, seen in per_split.items()
                 for y, cls in enumerate(LABELS) if y not in seen]
    if progress:
        progress(1.0, f"decoded {len(images):,} images")
    for w in warnings[:20]:
        log.warning(w)
    return Dataset(np.stack(images), np.array(labels, np.int64), np.array(usage),
                   np.array(keys), np.array(sizes, np.int32).reshape(-1, 2), source, tuple(warnings))


def _claimed_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) a PNG or JPEG header claims, read without decoding; None for other formats."""
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR":
        return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    if raw[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(raw):
        if raw[i] != 0xFF:
            return None
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            return int.from_bytes(raw[i + 7:i + 9], "big"), int.from_bytes(raw[i + 5:i + 7], "big")
        i += 2 + int.from_bytes(raw[i + 2:i + 4], "big")
    return None


def _usage_of(filename: str, split_folder: str) -> str:
    for u in USAGES:
        if filename.startswith(u + "_"):
            return u
    return _FOLDER_USAGE[split_folder.lower()]


# ----------------------------------------------------------------------------- CSV
def load_csv(path: Path, progress: Progress | None = None) -> Dataset:
    """Read the challenge CSV (`emotion,pixels[,Usage]`), naming the first bad row."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: not a readable CSV ({exc})") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("emotion", "pixels") if c not in df.columns]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}; "
                        "expected emotion,pixels[,Usage]")
    if df.empty:
        raise DataError(f"{path.name}: no rows")
    n = len(df)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    labels = np.empty(n, np.int64)
    for i, (emo, pix) in enumerate(zip(df["emotion"], df["pixels"], strict=True)):
        row = i + 2  # 1-based, after the header line
        try:
            y = int(emo)
        except ValueError:
            raise DataError(f"{path.name}, row {row}: emotion {emo!r} is not a number") from None
        if not 0 <= y < len(LABELS):
            raise DataError(f"{path.name}, row {row}: unknown emotion index {y} (expected 0-6)")
        try:
            vals = np.array(pix.split(), dtype=np.int64)
        except ValueError:
            raise DataError(f"{path.name}, row {row}: pixels must be space-separated integers") from None
        if vals.size != IMAGE_SIZE * IMAGE_SIZE:
            raise DataError(f"{path.name}, row {row}: {vals.size} pixels, expected {IMAGE_SIZE * IMAGE_SIZE}")
        if vals.min() < 0 or vals.max() > 255:
            raise DataError(f"{path.name}, row {row}: pixel values must be 0-255")
        images[i] = vals.reshape(IMAGE_SIZE, IMAGE_SIZE)
        labels[i] = y
        if progress and i % 1000 == 0:
            progress(i / n, f"parsed {i:,} of {n:,} rows")
    if "Usage" in df.columns:
        usage = df["Usage"].str.strip().to_numpy().astype(str)
        bad = sorted(set(usage.tolist()) - set(USAGES))
        if bad:
            raise DataError(f"{path.name}: unknown Usage value(s) {', '.join(map(repr, bad[:3]))}")
    else:
        usage = np.full(n, "Training")
    if progress:
        progress(1.0, f"parsed {n:,} rows")
    paths = np.array([f"row:{i + 2}" for i in range(n)])
    return Dataset(images, labels, usage, paths, np.full((n, 2), IMAGE_SIZE, np.int32), str(path))
