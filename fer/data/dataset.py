"""Load FER2013 from a folder (train/<class>/*), a zip of that layout, or the challenge CSV.

Images stay uint8 [N, 48, 48]; normalisation happens inside the model. A parsed source is
cached as .npz keyed by its size, mtime and content hash, so a second load is fast.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import os
import struct
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from fer.files import MAX_DEPTH, FileRefused, Found, TooManyEntries, read_bytes, walk
from fer.labels import LABELS, label_index

if TYPE_CHECKING:
    from fer.vision.detection import Detector

log = logging.getLogger(__name__)

IMAGE_SIZE = 48
USAGES = ("Training", "PublicTest", "PrivateTest")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
_FOLDER_USAGE = {"train": "Training", "training": "Training", "val": "PublicTest",
                 "valid": "PublicTest", "validation": "PublicTest", "test": "PrivateTest"}
MAX_ZIP_TOTAL = 2 * 1024**3  # uncompressed bytes we accept from one archive
MAX_ZIP_RATIO = 200  # an entry compressed more than this is treated as a zip bomb
MAX_ENTRIES = 200_000
"""Entries one dataset may hold: zip entries (counted in the archive's central directory before any is read),
folder entries (files and folders, counted while walking, which stops past the limit), CSV rows (counted
before pandas parses any); FER2013 has 35,887 images."""
MAX_NAME_CHARS = 512
"""A file whose path in the dataset is longer than this is skipped (its name shortened in the warning)."""
MAX_FILE_BYTES = 16 * 1024**2
"""A dataset image file larger than this is skipped unread (a face image is a few kB)."""
MAX_IMAGE_PIXELS = 1024 * 1024
"""A dataset image whose header claims more pixels than this is skipped without decoding (a bomb, or no
face crop: FER2013's are 48x48)."""
MAX_DECODE_PIXELS = 1_000_000_000
"""Pixels (as the headers claim them) one dataset may ask to decode in all: 12 times FER2013's. A dataset
over it is refused, which bounds the CPU time of one load to seconds."""
MAX_CSV_LINE = 16 * 1024
"""Bytes of one CSV line: a FER2013 row (2,304 pixels of at most 3 digits) is under 10 kB."""
MAX_CSV_COLUMNS = 16
CACHE_VERSION = 4
CACHE_MAX_BYTES = 1024**3
"""The dataset cache folder is kept under this ($FER_CACHE_MAX_MB overrides): least recently used
files go first."""
SKIPPED = {
    "unsafe": "unsafe path, skipped",
    "long_name": "name too long, skipped",
    "damaged": "damaged archive entry (encrypted, unknown compression or bad checksum), skipped",
    "not_image": "not an image, skipped",
    "undecodable": "could not be decoded, skipped",
    "too_large": "too many pixels for a face image, skipped",
    "empty_class": "no images (empty or missing class folder)",
    "not_regular": "a link, FIFO or device, not a regular file: not read",
    "too_deep": "folder nested too deep, not entered",
    "no_face": "no face found in the photo, skipped",
}
"""Why a file or folder was left out, by kind (`Skipped.kind`); the words of the CLI and the logs (the app
shows its own translation of each kind)."""

Progress = Callable[[float, str], None]

DATA_ERROR_KINDS = (
    "not_found", "not_a_dataset",  # the source
    "bad_zip", "zip_too_big", "zip_bomb",  # the archive
    "too_many_files", "bad_layout", "unknown_class", "too_many_pixels", "no_images",  # folder or zip contents
    "csv_header_too_long", "csv_line_too_long", "csv_too_many_columns", "csv_too_many_rows", "csv_empty",  # CSV
    "bad_csv",
    "csv_missing_columns", "csv_no_rows",
    "bad_emotion", "unknown_emotion", "pixels_too_long", "bad_pixels", "pixel_count", "pixel_range",  # CSV rows
    "unknown_usage",
    "too_many_photos",  # a photos dataset (fer.data.photos)
    "no_training", "stratified_test", "stratified_val",  # fer.data.splits
)
"""Why a dataset was refused (`DataError.kind`): one per situation, so a user interface can say it in its
own language from `DataError.details`."""


class DataError(ValueError):
    """A dataset could not be read; the message names the row, file or folder at fault.

    `kind` (one of DATA_ERROR_KINDS) and `details` (the values the message names: `name` the file,
    `row` the CSV line, counts and limits as numbers) let a user interface say the same in its own language;
    the message stays the CLI's and the logs' English.
    """

    def __init__(self, message: str, kind: str, **details: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


@dataclass(frozen=True)
class Skipped:
    """One file or folder a load left out: where it is in the dataset, and why (a key of SKIPPED)."""

    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.where}: {SKIPPED[self.kind]}"


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
    warnings: tuple[Skipped, ...] = field(default=())
    """What the load left out (skipped files, empty classes)."""

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


def _ordered_usages(usage: np.ndarray) -> list[str]:
    present = set(np.unique(usage).tolist())
    return [u for u in USAGES if u in present] + sorted(present - set(USAGES))


def load_dataset(source: str | os.PathLike[str], *, cache_dir: Path | None = None,
                 progress: Progress | None = None, use_cache: bool = True) -> Dataset:
    """Load a folder, zip or CSV source, from the cache when the source is unchanged.

    A folder or zip without split folders (`<emotion>/*` at its top, or under one wrapping folder) is a photos
    dataset: each photo's largest face is found and cropped (`load_photos`), its usage 'Training'."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"dataset not found: {path}", "not_found", name=path.name)
    cache = _cache_path(path, cache_dir) if use_cache else None
    if cache is not None and cache.exists():
        try:
            ds = _read_cache(cache, str(path))
            _touch(cache)
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
        raise DataError(f"{path.name}: not a dataset (expected a folder, a .zip or a .csv)", "not_a_dataset",
                        name=path.name)
    if cache is not None:
        _write_cache(cache, ds)
    return ds


def load_photos(source: str | os.PathLike[str], detector: Detector | None = None,
                progress: Progress | None = None) -> Dataset:
    """A photos dataset: a folder or zip of `<emotion>/*` photos of any size. Each photo's largest face is found
    and cropped to 48x48 by fer.data.photos.face_crop (EXIF orientation, tilted faces); photos without a face
    and bad files are listed in `warnings` (kinds 'no_face', 'not_image', 'undecodable', 'too_large', ...), as a
    FER2013 folder's are. Every image's usage is 'Training' (the stratified and custom splits hold some out);
    `sizes` are the photos' upright sizes. Not cached (load_dataset caches). Raises DataError."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"dataset not found: {path}", "not_found", name=path.name)
    if path.is_dir():
        return _from_entries(_folder_entries(path), str(path), progress, detector=detector, photos=True)
    if path.suffix.lower() == ".zip":
        return _load_zip(path, progress, detector=detector, photos=True)
    raise DataError(f"{path.name}: not a photos dataset (expected a folder or a .zip of <emotion>/* photos)",
                    "not_a_dataset", name=path.name)


# ----------------------------------------------------------------------------- cache
def default_cache_dir() -> Path:
    return Path(os.environ.get("FER_CACHE_DIR", Path.home() / ".cache" / "fer"))


def _cache_path(path: Path, cache_dir: Path | None) -> Path:
    h = hashlib.sha1(f"v{CACHE_VERSION}:{path.resolve()}".encode())
    if path.is_dir():
        for f in _walk(path):  # any depth, links not followed (issue 42: a dangling link, a loop, 1,200 levels)
            h.update(f"{f.path}:{f.kind}:{f.size}:{f.mtime_ns}".encode())
    else:
        st = path.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return (cache_dir or default_cache_dir()) / f"{path.stem}-{h.hexdigest()[:16]}.npz"


def cache_max_bytes() -> int:
    """The cache folder's size cap: $FER_CACHE_MAX_MB, else CACHE_MAX_BYTES."""
    try:
        return int(float(os.environ["FER_CACHE_MAX_MB"]) * 1024**2)
    except (KeyError, ValueError):
        return CACHE_MAX_BYTES


def pack_strings(items: list[str] | tuple[str, ...] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one uint8 buffer (UTF-8) and their end offsets: bytes grow with the total length of the
    strings, not with (longest string x count) as a fixed-width numpy string array does."""
    encoded = [str(s).encode("utf-8", "surrogateescape") for s in items]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64) if encoded else np.zeros(0, np.int64)
    return np.frombuffer(b"".join(encoded), np.uint8), ends


def unpack_strings(data: np.ndarray, ends: np.ndarray) -> list[str]:
    raw = data.tobytes()
    starts = [0, *ends[:-1].tolist()] if len(ends) else []
    return [raw[a:b].decode("utf-8", "surrogateescape") for a, b in zip(starts, ends.tolist(), strict=True)]


def _write_cache(cache: Path, ds: Dataset) -> None:
    """Save `ds` as an .npz (strings packed, see pack_strings), then trim the folder to its size cap."""
    paths, path_ends = pack_strings(ds.paths)
    warns, warn_ends = pack_strings([w.where for w in ds.warnings])
    kinds = np.array([list(SKIPPED).index(w.kind) for w in ds.warnings], np.int8)
    arrays = {"images": ds.images, "labels": ds.labels, "usage": np.asarray(ds.usage, dtype=str), "paths": paths,
              "path_ends": path_ends, "sizes": ds.sizes, "warnings": warns, "warning_ends": warn_ends,
              "warning_kinds": kinds}
    size = sum(a.nbytes for a in arrays.values())
    if size > cache_max_bytes():
        log.info("dataset cache of %s skipped: %d bytes is over the cap", ds.source, size)
        return
    tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, **arrays)
        tmp.replace(cache)
    except OSError as exc:  # a read-only or full cache folder: the dataset is loaded all the same
        log.warning("could not write dataset cache %s: %s", cache, exc)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # on a read-only file system even removing a file that is not there fails (EROFS)
            pass
        return
    evict_cache(cache.parent, keep=cache)


def evict_cache(folder: Path, keep: Path | None = None, limit: int | None = None) -> list[Path]:
    """Delete the least recently used .npz files of `folder` until it holds at most `limit` bytes
    (cache_max_bytes() by default); `keep` is never deleted. Returns what was deleted."""
    limit = cache_max_bytes() if limit is None else limit
    files = []
    for p in folder.glob("*.npz"):
        try:
            st = p.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in files)
    gone = []
    for _, size, p in sorted(files, key=lambda f: f[0]):
        if total <= limit:
            break
        if keep is not None and p == keep:
            continue
        try:
            p.unlink()
        except OSError as exc:
            log.warning("could not delete old dataset cache %s: %s", p, exc)
            continue
        total -= size
        gone.append(p)
    return gone


def _touch(cache: Path) -> None:
    try:
        os.utime(cache)  # most recently used: evicted last
    except OSError:
        pass


def _read_cache(cache: Path, source: str) -> Dataset:
    with np.load(cache, allow_pickle=False) as z:
        paths = np.array(unpack_strings(z["paths"], z["path_ends"]), dtype=object)
        kinds = [list(SKIPPED)[k] for k in z["warning_kinds"].tolist()]
        skipped = tuple(Skipped(where, kind) for where, kind in
                        zip(unpack_strings(z["warnings"], z["warning_ends"]), kinds, strict=True))
        return Dataset(z["images"], z["labels"], z["usage"], paths, z["sizes"], source, skipped)


# ----------------------------------------------------------------------------- folder / zip
Entry = tuple[str, int, Callable[[], bytes]]
"""(path in the dataset, size in bytes, read)."""


NOT_REGULAR, TOO_DEEP = -1, -2
"""The size of a folder entry that is skipped unread: a link (dangling, a loop, or to anything: never followed),
a FIFO or a device; a folder nested deeper than fer.files.MAX_DEPTH."""


def _walk(root: Path, limit: int | None = None) -> Iterator[Found]:
    """fer.files.walk of a dataset folder: every entry met (file, folder, link, anything) counts towards `limit`
    (MAX_ENTRIES by default): past it a DataError (too_many_files) at once."""
    limit = MAX_ENTRIES if limit is None else limit
    try:
        yield from walk(root, MAX_DEPTH, limit)
    except TooManyEntries:
        raise DataError(f"{Path(root).name}: more than {limit:,} files; a face dataset has fewer",
                        "too_many_files", name=Path(root).name, limit=limit) from None


def walk_files(root: Path, limit: int | None = None) -> Iterator[tuple[str, Found]]:
    """(path relative to `root`, what fer.files.walk found) of every regular file under `root`, in sorted order,
    bounded as `_walk` is; links are never followed, special files left out."""
    for f in _walk(Path(root), limit):
        if f.kind == "file":
            yield f.path, f


def _folder_entries(root: Path) -> Iterator[Entry]:
    """The files of a dataset folder, in sorted order, without recursion and without following links."""
    for f in _walk(root):
        if f.kind == "dir":
            continue
        size = {"file": f.size, "too_deep": TOO_DEEP}.get(f.kind, NOT_REGULAR)
        yield f.path, size, (lambda p=root / f.path: read_bytes(p, MAX_FILE_BYTES))


_CD_LENGTHS = struct.Struct("<3H")


def zip_entry_count(fh: BinaryIO, name: str, limit: int | None = None) -> int:
    """Entries in the zip archive `fh` (files and folders), counted in its central directory before
    `zipfile.ZipFile` reads it (which builds an object per entry: 2.1 M entries in 99 MB took 820 MB).

    Raises DataError: bad_zip (no end record), too_many_files (over `limit`, MAX_ENTRIES by default: said at
    once when the end record claims so, else found by walking the directory's headers up to the limit, since
    zipfile reads as many entries as the directory's size holds, whatever the record claims)."""
    limit = MAX_ENTRIES if limit is None else limit
    too_many = DataError(f"{name}: more than {limit:,} files; a face dataset has fewer", "too_many_files",
                         name=name, limit=limit)
    try:
        end = zipfile._EndRecData(fh)  # noqa: SLF001 - the end record as zipfile itself finds it
    except OSError:
        end = None
    if not end:
        raise DataError(f"{name}: not a readable zip file (no end of central directory)", "bad_zip", name=name)
    if end[zipfile._ECD_ENTRIES_TOTAL] > limit:  # noqa: SLF001
        raise too_many
    size_cd = end[zipfile._ECD_SIZE]  # noqa: SLF001
    if size_cd <= limit * zipfile.sizeCentralDir:  # too small to hold more entries than the limit
        return int(end[zipfile._ECD_ENTRIES_TOTAL])  # noqa: SLF001
    start = end[zipfile._ECD_LOCATION] - size_cd  # noqa: SLF001 - as zipfile._RealGetContents places it
    if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:  # noqa: SLF001
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    count, pos, stop = 0, start, start + size_cd
    buf, base = b"", start  # a window of the directory, read 1 MB at a time; base: its offset in the file
    while pos < stop:
        if pos + zipfile.sizeCentralDir > base + len(buf):
            fh.seek(pos)
            buf, base = fh.read(1 << 20), pos
        off = pos - base
        if len(buf) < off + zipfile.sizeCentralDir or buf[off:off + 4] != zipfile.stringCentralDir:
            raise DataError(f"{name}: not a readable zip file (bad central directory)", "bad_zip", name=name)
        count += 1
        if count > limit:
            raise too_many
        n, m, k = _CD_LENGTHS.unpack_from(buf, off + 28)  # the header's name, extra field and comment lengths
        pos += zipfile.sizeCentralDir + n + m + k
    return count


def _load_zip(path: Path, progress: Progress | None, detector: Detector | None = None,
              photos: bool | None = None) -> Dataset:
    try:
        with path.open("rb") as fh:
            zip_entry_count(fh, path.name)
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path.name}: not a readable zip file ({exc})", "bad_zip", name=path.name) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_TOTAL:
            raise DataError(f"{path.name}: unpacks to {total / 1e9:.1f} GB, over the "
                            f"{MAX_ZIP_TOTAL / 1e9:.0f} GB limit (zip bomb?)", "zip_too_big",
                            name=path.name, gb=total / 1e9, limit_gb=round(MAX_ZIP_TOTAL / 1e9))
        for i in infos:
            if i.compress_size and i.file_size / i.compress_size > MAX_ZIP_RATIO and i.file_size > 1 << 20:
                raise DataError(f"{path.name}: entry {i.filename!r} is compressed "
                                f"{i.file_size // i.compress_size}:1 (zip bomb?)", "zip_bomb",
                                name=path.name, entry=_short(i.filename, 80, say_length=False),
                                ratio=i.file_size // i.compress_size)
        entries = ((i.filename, i.file_size, (lambda i=i: zf.read(i))) for i in infos)
        return _from_entries(entries, str(path), progress, n_hint=len(infos), detector=detector, photos=photos)


DAMAGED_ENTRY = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError, ValueError)
"""What reading one damaged zip entry raises: a bad CRC or local header (BadZipFile), a corrupt deflate
stream (zlib.error), the encrypted bit (RuntimeError), an unknown compression method (NotImplementedError)."""


def _short(text: str, keep: int = 80, say_length: bool = True) -> str:
    """`text` cut to `keep` characters with an ellipsis and, with `say_length`, how long it was (a name in a
    message); without, the bare cut (a user's value quoted in a DataError's details)."""
    if len(text) <= keep:
        return text
    return f"{text[:keep]}… ({len(text):,} characters)" if say_length else text[:keep] + "…"


def _split_folder(p: PurePosixPath) -> int | None:
    """The index in `p.parts` of its split folder (train, test, ...: one above the class folder or higher)."""
    return next((j for j, part in enumerate(p.parts[:-2]) if part.lower() in _FOLDER_USAGE), None)


def _is_photos_layout(entries: list[Entry]) -> bool:
    """Whether the images of a folder or zip are `<emotion>/*` with no split folder above them (a photos dataset):
    some image sits in a folder named after an emotion and none is under a train/test folder."""
    images = [PurePosixPath(name) for name, _, _ in entries
              if len(name) <= MAX_NAME_CHARS and PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES
              and not any(part.startswith(".") or part == "__MACOSX" for part in PurePosixPath(name).parts)]
    if not images or any(_split_folder(p) is not None for p in images):
        return False
    return any(len(p.parts) >= 2 and p.parts[-2].lower() in LABELS for p in images)


def _image_entry(name: str, nbytes: int, warnings: list[Skipped]) -> PurePosixPath | None:
    """The path of a dataset entry that may be an image, or None: a name too long, unsafe, not a regular file,
    too deep or not an image is skipped with its reason in `warnings`; hidden files and __MACOSX silently."""
    if len(name) > MAX_NAME_CHARS:
        warnings.append(Skipped(_short(name), "long_name"))
        return None
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        warnings.append(Skipped(name, "unsafe"))
        return None
    if any(part.startswith(".") or part == "__MACOSX" for part in p.parts):
        return None
    if nbytes in (NOT_REGULAR, TOO_DEEP):
        warnings.append(Skipped(name, "not_regular" if nbytes == NOT_REGULAR else "too_deep"))
        return None
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        warnings.append(Skipped(name, "not_image"))
        return None
    return p


def _read_entry(name: str, read: Callable[[], bytes], warnings: list[Skipped]) -> bytes | None:
    """An entry's bytes, or None with the reason added to `warnings`: replaced by a link or a FIFO since it was
    listed, or damaged (a zip member's bad CRC, a short read)."""
    try:
        return read()
    except FileRefused as exc:
        log.info("%s: %s", name, exc)
        warnings.append(Skipped(name, "not_regular"))
    except DAMAGED_ENTRY as exc:
        log.info("%s: %s", name, exc)
        warnings.append(Skipped(name, "damaged"))
    return None


def _from_entries(entries: Iterator[Entry], source: str, progress: Progress | None,
                  n_hint: int | None = None, detector: Detector | None = None, photos: bool | None = None) -> Dataset:
    """Decode `split/class/.../image` entries (any leading folders are skipped), or with `photos` (None: when
    the entries are laid out as one, `_is_photos_layout`) `<emotion>/photo` entries through their faces."""
    import cv2

    entries = list(itertools.islice(entries, MAX_ENTRIES + 1))
    if len(entries) > MAX_ENTRIES:
        raise DataError(f"{Path(source).name}: more than {MAX_ENTRIES:,} files; a face dataset has fewer",
                        "too_many_files", name=Path(source).name, limit=MAX_ENTRIES)
    if photos or (photos is None and _is_photos_layout(entries)):
        return _from_photos(entries, source, progress, detector)
    n = n_hint or len(entries)
    images, labels, usage, keys, sizes, warnings = [], [], [], [], [], []
    per_split: dict[str, set[int]] = {}  # split folder -> classes seen in it
    budget = MAX_DECODE_PIXELS
    for k, (name, nbytes, read) in enumerate(entries):
        p = _image_entry(name, nbytes, warnings)
        if p is None:
            continue
        split_i = _split_folder(p)
        if split_i is None:
            raise DataError(f"{name}: expected the layout train/<class>/<image> or test/<class>/<image> "
                            "(or photos in <emotion>/ folders)",
                            "bad_layout", entry=name)
        cls = p.parts[split_i + 1]
        try:
            y = label_index(cls)
        except ValueError:
            raise DataError(f"{name}: unknown class folder {cls!r}; expected one of {', '.join(LABELS)}",
                            "unknown_class", entry=name, folder=cls, classes=", ".join(LABELS)) from None
        seen = per_split.setdefault("/".join(p.parts[: split_i + 1]), set())
        if nbytes > MAX_FILE_BYTES:
            warnings.append(Skipped(name, "too_large"))
            continue
        raw = _read_entry(name, read, warnings)
        if raw is None:
            continue
        claimed = _claimed_size(raw)
        if claimed is None:
            warnings.append(Skipped(name, "undecodable"))
            continue
        if claimed[0] * claimed[1] > MAX_IMAGE_PIXELS:
            warnings.append(Skipped(name, "too_large"))
            continue
        budget -= claimed[0] * claimed[1]
        if budget < 0:
            raise DataError(f"{Path(source).name}: its images hold over {MAX_DECODE_PIXELS // 1_000_000:,} "
                            "megapixels in all, too many to decode for a face dataset", "too_many_pixels",
                            name=Path(source).name, megapixels=MAX_DECODE_PIXELS // 1_000_000)
        arr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)
        if arr is None:
            warnings.append(Skipped(name, "undecodable"))
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
        raise DataError(f"{Path(source).name}: no images found in the train/<class>/ or test/<class>/ layout",
                        "no_images", name=Path(source).name)
    warnings += [Skipped(f"{split}/{cls}", "empty_class") for split, seen in per_split.items()
                 for y, cls in enumerate(LABELS) if y not in seen]
    if progress:
        progress(1.0, f"decoded {len(images):,} images")
    for w in warnings[:20]:
        log.warning("%s", w)
    return Dataset(np.stack(images), np.array(labels, np.int64), np.array(usage),
                   np.array(keys, dtype=object), np.array(sizes, np.int32).reshape(-1, 2), source, tuple(warnings))


PHOTO_SKIPS = {"empty": "undecodable", "not_image": "not_image", "too_large": "too_large",
               "too_large_decoded": "too_large", "bomb": "too_large", "damaged": "undecodable"}
"""The Skipped kind of a photo the Images page would refuse (fer.vision.preprocessing.ImageError.kind)."""


def _from_photos(entries: list[Entry], source: str, progress: Progress | None,
                 detector: Detector | None) -> Dataset:
    """`.../<emotion>/photo` entries: each photo's largest face (fer.data.photos.face_crop), usage Training."""
    from fer.data.photos import MAX_PHOTOS, face_crop
    from fer.vision.preprocessing import ImageError

    name_of = Path(source).name
    images, labels, keys, sizes, warnings = [], [], [], [], []
    seen: set[int] = set()
    todo: list[tuple[str, int, Callable[[], bytes], int]] = []
    for name, nbytes, read in entries:
        p = _image_entry(name, nbytes, warnings)
        if p is None:
            continue
        cls = p.parts[-2] if len(p.parts) >= 2 else ""
        try:
            y = label_index(cls.lower())
        except ValueError:
            raise DataError(f"{name}: unknown class folder {cls!r}; expected one of {', '.join(LABELS)}",
                            "unknown_class", entry=name, folder=cls, classes=", ".join(LABELS)) from None
        seen.add(y)
        if nbytes > MAX_FILE_BYTES:
            warnings.append(Skipped(name, "too_large"))
            continue
        todo.append((name, nbytes, read, y))
    if len(todo) > MAX_PHOTOS:
        raise DataError(f"{name_of}: more than {MAX_PHOTOS:,} photos; each needs its face found",
                        "too_many_photos", name=name_of, limit=MAX_PHOTOS)
    for k, (name, _, read, y) in enumerate(todo):
        if progress:
            progress(k / max(len(todo), 1), f"finding the face in photo {k + 1:,} of {len(todo):,}")
        raw = _read_entry(name, read, warnings)
        if raw is None:
            continue
        try:
            face = face_crop(raw, name, detector)
        except ImageError as exc:
            log.info("%s", exc)
            warnings.append(Skipped(name, PHOTO_SKIPS.get(exc.kind, "undecodable")))
            continue
        if face.crop is None:
            warnings.append(Skipped(name, "no_face"))
            continue
        images.append(face.crop)
        labels.append(y)
        keys.append(name)
        sizes.append((face.height, face.width))
    if not images:
        raise DataError(f"{name_of}: no face found in any photo of the <emotion>/ folders", "no_images",
                        name=name_of)
    if progress:
        progress(1.0, f"{len(images):,} faces from {len(todo):,} photos")
    for w in warnings[:20]:
        log.warning("%s", w)
    return Dataset(np.stack(images), np.array(labels, np.int64), np.full(len(images), "Training"),
                   np.array(keys, dtype=object), np.array(sizes, np.int32).reshape(-1, 2), source, tuple(warnings))


def _claimed_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) the file's header claims, read without decoding; None when no reader knows it."""
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR":
        return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    if raw[:2] != b"\xff\xd8":
        return _pillow_size(raw)
    i = 2
    while i + 9 < len(raw):
        if raw[i] != 0xFF:
            return _pillow_size(raw)
        marker = raw[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            return int.from_bytes(raw[i + 7:i + 9], "big"), int.from_bytes(raw[i + 5:i + 7], "big")
        i += 2 + int.from_bytes(raw[i + 2:i + 4], "big")
    return _pillow_size(raw)


def _pillow_size(raw: bytes) -> tuple[int, int] | None:
    """The size in the header of any format Pillow knows (it reads the header only), else None."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(raw)) as img:
                w, h = img.size
    except Exception:  # noqa: BLE001 - any failure to read a header means: not an image we can size
        return None
    return int(w), int(h)


def _usage_of(filename: str, split_folder: str) -> str:
    for u in USAGES:
        if filename.startswith(u + "_"):
            return u
    return _FOLDER_USAGE[split_folder.lower()]


# ----------------------------------------------------------------------------- CSV
def _check_csv_lines(path: Path) -> None:
    """Refuse a CSV with a line over MAX_CSV_LINE bytes, a header of more than MAX_CSV_COLUMNS columns or more
    than MAX_ENTRIES rows, reading at most one line's worth at a time (before pandas holds any of it: 24.9 M
    tiny rows in 100 MB made pandas' strings and then np.empty ask for 53 GiB)."""
    with path.open("rb") as fh:
        check_csv_lines(fh, path.name)


def check_csv_lines(fh: BinaryIO, name: str) -> int:
    """The lines of the CSV `fh` (header included), each checked as `load_csv` does (see _check_csv_lines).
    Raises DataError."""
    row = 0
    while line := fh.readline(MAX_CSV_LINE + 1):
        row += 1
        if row > MAX_ENTRIES + 1:
            raise DataError(f"{name}: more than {MAX_ENTRIES:,} rows; FER2013 has 35,887",
                            "csv_too_many_rows", name=name, limit=MAX_ENTRIES)
        if len(line) > MAX_CSV_LINE and not line.endswith(b"\n"):
            if row == 1:
                raise DataError(f"{name}, the header: a line longer than {MAX_CSV_LINE:,} bytes; "
                                "a FER2013 row is under 10 kB", "csv_header_too_long",
                                name=name, limit=MAX_CSV_LINE)
            raise DataError(f"{name}, row {row}: a line longer than {MAX_CSV_LINE:,} bytes; "
                            "a FER2013 row is under 10 kB", "csv_line_too_long",
                            name=name, row=row, limit=MAX_CSV_LINE)
        if row == 1 and line.count(b",") >= MAX_CSV_COLUMNS:
            raise DataError(f"{name}: {line.count(b',') + 1:,} columns in the header; "
                            "expected emotion,pixels[,Usage]", "csv_too_many_columns",
                            name=name, columns=line.count(b",") + 1)
    return row


def check_upload(fh: BinaryIO, suffix: str, name: str) -> None:
    """Refuse an uploaded .zip or .csv (`fh`, at any position; left at 0) that `load_dataset` would refuse for its
    type or size, before it is saved: a zip must be one (its end record found) of at most MAX_ENTRIES entries;
    a CSV's lines, columns and rows are checked as `load_csv` checks them, and its header must name emotion and
    pixels. Reads the central directory of a zip, one line at a time of a CSV. Raises DataError."""
    try:
        if suffix == ".zip":
            fh.seek(0)
            if fh.read(2) != b"PK":
                raise DataError(f"{name}: not a readable zip file", "bad_zip", name=name)
            zip_entry_count(fh, name)
            return
        fh.seek(0)
        header = fh.readline(MAX_CSV_LINE + 1)
        fh.seek(0)
        if check_csv_lines(fh, name) == 0:
            raise DataError(f"{name}: the file is empty", "csv_empty", name=name)
        columns = [c.strip().strip('"') for c in header.decode("utf-8", "replace").strip().split(",")]
        missing = [c for c in ("emotion", "pixels") if c not in columns]
        if missing:
            raise DataError(f"{name}: missing column(s) {', '.join(missing)}; expected emotion,pixels[,Usage]",
                            "csv_missing_columns", name=name, columns=", ".join(missing))
    finally:
        fh.seek(0)


def load_csv(path: Path, progress: Progress | None = None) -> Dataset:
    """Read the challenge CSV (`emotion,pixels[,Usage]`), naming the first bad row."""
    import pandas as pd

    _check_csv_lines(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name}: the file is empty", "csv_empty", name=path.name) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name}: not a readable CSV ({exc})", "bad_csv", name=path.name) from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("emotion", "pixels") if c not in df.columns]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}; "
                        "expected emotion,pixels[,Usage]", "csv_missing_columns",
                        name=path.name, columns=", ".join(missing))
    if df.empty:
        raise DataError(f"{path.name}: no rows", "csv_no_rows", name=path.name)
    n = len(df)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    labels = np.empty(n, np.int64)
    for i, (emo, pix) in enumerate(zip(df["emotion"], df["pixels"], strict=True)):
        row = i + 2  # 1-based, after the header line
        try:
            y = int(emo)
        except ValueError:
            raise DataError(f"{path.name}, row {row}: emotion {emo!r} is not a number", "bad_emotion",
                            name=path.name, row=row, value=_short(emo, 20, say_length=False)) from None
        if not 0 <= y < len(LABELS):
            raise DataError(f"{path.name}, row {row}: unknown emotion index {y} (expected 0-6)",
                            "unknown_emotion", name=path.name, row=row, value=y, last=len(LABELS) - 1)
        if len(pix) > MAX_CSV_LINE:
            raise DataError(f"{path.name}, row {row}: {len(pix):,} characters of pixels, expected "
                            f"{IMAGE_SIZE * IMAGE_SIZE} numbers", "pixels_too_long",
                            name=path.name, row=row, chars=len(pix), expected=IMAGE_SIZE * IMAGE_SIZE)
        try:
            vals = np.array(pix.split(), dtype=np.int64)
        except (ValueError, OverflowError):  # OverflowError: a number of 30 digits
            raise DataError(f"{path.name}, row {row}: pixels must be space-separated integers", "bad_pixels",
                            name=path.name, row=row) from None
        if vals.size != IMAGE_SIZE * IMAGE_SIZE:
            raise DataError(f"{path.name}, row {row}: {vals.size} pixels, expected {IMAGE_SIZE * IMAGE_SIZE}",
                            "pixel_count", name=path.name, row=row, count=int(vals.size),
                            expected=IMAGE_SIZE * IMAGE_SIZE)
        if vals.min() < 0 or vals.max() > 255:
            raise DataError(f"{path.name}, row {row}: pixel values must be 0-255", "pixel_range",
                            name=path.name, row=row)
        images[i] = vals.reshape(IMAGE_SIZE, IMAGE_SIZE)
        labels[i] = y
        if progress and i % 1000 == 0:
            progress(i / n, f"parsed {i:,} of {n:,} rows")
    if "Usage" in df.columns:
        stripped = df["Usage"].str.strip()
        bad = sorted(set(stripped.unique().tolist()) - set(USAGES))
        if bad:  # checked before a fixed-width array is made, which would be as wide as the longest value
            raise DataError(f"{path.name}: unknown Usage value(s) {', '.join(repr(_short(b, 20)) for b in bad[:3])}",
                            "unknown_usage", name=path.name,
                            values=", ".join(_short(b, 20, say_length=False) for b in bad[:3]),
                            expected=", ".join(USAGES))
        usage = stripped.to_numpy().astype(str)
    else:
        usage = np.full(n, "Training")
    if progress:
        progress(1.0, f"parsed {n:,} rows")
    paths = np.array([f"row:{i + 2}" for i in range(n)], dtype=object)
    return Dataset(images, labels, usage, paths, np.full((n, 2), IMAGE_SIZE, np.int32), str(path))
