"""Seeded fuzzing of everything a visitor can upload (issue 30).

Images: a real face photo saved in every format Pillow writes (and a few it only reads), each mutated
(bit flips, header fields set to boundary values, truncation, insertion, duplication, splicing, a wrong
extension) and sent through `fer.media.photo.analyse_photo`, the decoding path of the Images page and
`fer predict`: the outcome must be a PhotoResult or fer.vision.preprocessing.ImageError, nothing else.
Datasets: a small valid zip and CSV, mutated as bytes and as text, through `fer.data.dataset.load_dataset`: a
Dataset (well formed) or fer.data.dataset.DataError, and nothing written outside the test's own folder.

CI runs a few thousand cases in well under a minute. Maintainers run longer from the same script:

    python -m tests.test_fuzz --images 200000 --datasets 20000 --seed 7 [--save failures/]

or, through pytest, FER_FUZZ_IMAGES=200000 FER_FUZZ_DATASETS=20000 FER_FUZZ_SEED=7.
A failure names the seed, the case number and the mutation, which reproduce it exactly.

Issue 40 added videos: tiny clips (mp4 with sound, mov turned as phones record, mkv, avi, a variable frame
rate) and the bad files of tests/test_video.py, mutated the same way, through `fer.media.video.analyse_video` with
an annotated copy: a VideoResult or fer.media.video.VideoError, and no temporary file left beside the output.

Issue 42 added: the pixel formats (16- and 32-bit grey, float, LA, RGBA, palette with transparency, CMYK; an RGBA
header of 50 MP, refused by the bytes it decodes to), a photo of many faces, and datasets of entry counts around
the limit (zips listing them, some with a lying end record; CSVs of tiny rows; folders with link loops and
dangling links), the limit lowered to ENTRY_LIMIT so that each case stays small.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import struct
import sys
import tempfile
import time
import traceback
import unittest.mock
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.helpers import PHOTOS, write_csv, write_zip

CI_IMAGES = 1500
CI_DATASETS = 300
CI_VIDEOS = 60
ENTRY_LIMIT = 60
"""fer.data.dataset.MAX_ENTRIES while the fuzzer sends datasets of about this many entries (issue 42)."""
INTERESTING32 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
                 0xFFFFFFFF, 48, 4096, 65500, 100_000)


@dataclass
class Report:
    """Outcomes of one fuzz run: how many of each, and the failures (anything but a result or our error)."""

    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def add(self, label: str, seconds: float, outcome: str, failure: str | None = None) -> None:
        self.outcomes[outcome] += 1
        if failure:
            self.failures.append(f"{label}: {failure}")
        if seconds > self.slowest[0]:
            self.slowest = (seconds, label)


# ------------------------------------------------------------------------------------------ images
def _save(img, fmt: str, **kw) -> bytes:  # noqa: ANN001
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def image_seeds() -> dict[str, bytes]:
    """{file name: bytes}: the face in every format Pillow can write and read back, some variants, and
    hand-made files of formats Pillow only reads."""
    from PIL import Image

    face = Image.open(PHOTOS / "obama.jpg").convert("RGB")
    face.thumbnail((96, 96))
    seeds: dict[str, bytes] = {}
    Image.init()
    for fmt in sorted(Image.SAVE):
        for mode in ("RGB", "L", "RGBA", "P", "1"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    data = _save(face.convert(mode), fmt)
                    Image.open(io.BytesIO(data)).load()
            except Exception:  # noqa: BLE001, S112 - this format cannot write this mode (or read it back): next
                continue
            seeds[f"seed.{fmt.lower()}"] = data
            break
    exif = face.getexif()
    exif[0x0112] = 6
    seeds |= {
        "exif.jpg": _save(face, "JPEG", exif=exif, progressive=True),
        "gray16.png": _save(Image.fromarray(np.asarray(face.convert("L"), np.uint16) * 257), "PNG"),
        "palette.png": _save(face.convert("P"), "PNG", optimize=True),
        "anim.gif": _save(face, "GIF", save_all=True, append_images=[face.rotate(10), face.rotate(20)]),
        "anim.webp": _save(face, "WEBP", save_all=True, append_images=[face.rotate(10)], lossless=True),
        "lzw.tif": _save(face, "TIFF", compression="tiff_lzw"),
        "g4.tif": _save(face.convert("1"), "TIFF", compression="group4"),
        "pages.tif": _save(face, "TIFF", save_all=True, append_images=[face.convert("L")]),
        "cmyk.jpg": _save(face.convert("CMYK"), "JPEG"),
        "ycc.jp2": _save(face, "JPEG2000", irreversible=True),
    }
    ico = _save(face, "ICO", bitmap_format="bmp", sizes=[(48, 48)])
    seeds["bmp.ico"] = ico
    seeds["seed.cur"] = ico[:2] + b"\x02\x00" + ico[4:]  # a cursor is an icon (of bitmaps) whose type field is 2
    pcx = seeds.get("seed.pcx")
    if pcx:  # DCX: a magic number, a table of PCX offsets, the PCX files
        seeds["seed.dcx"] = struct.pack("<II", 987654321, 12) + struct.pack("<I", 0) + pcx
    small = face.convert("L").resize((16, 12))
    w, h = small.size
    seeds["seed.ras"] = struct.pack(">8I", 0x59A66A95, w, h, 8, w * h, 1, 0, 0) + small.tobytes()  # SUN raster
    seeds["seed.xpm"] = (b'/* XPM */\nstatic char *x[] = {\n"4 2 2 1",\n"a c #000000",\n"b c #FFFFFF",\n'
                         b'"abab",\n"baba"};\n')
    from tests.badfiles import PNG_KINDS, big_png, bomb_png, face_mosaic

    for mode in PNG_KINDS:  # issue 42 (4): every pixel format, converted in bands
        seeds[f"mode-{mode.replace(';', '')}.png"] = big_png(97, 61, mode)
    for mode in ("I", "F", "CMYK", "LA", "I;16"):
        seeds[f"mode-{mode.replace(';', '')}.tif"] = _save(face.convert("L").convert(mode) if mode != "CMYK"
                                                           else face.convert(mode), "TIFF")
    seeds["deep.png"] = bomb_png(7_100, 7_100, color=6)  # 50 MP of RGBA: refused by the bytes it decodes to
    seeds["crowd.jpg"] = face_mosaic((PHOTOS / "obama-240p.jpg").read_bytes(), 4, (80, 100))  # issue 42 (3)
    card = b"".join(k.ljust(80).encode() for k in ("SIMPLE  =                    T", "BITPIX  =                    8",
                                                    "NAXIS   =                    2", f"NAXIS1  = {w:20d}",
                                                    f"NAXIS2  = {h:20d}", "END"))
    seeds["seed.fits"] = card.ljust(2880) + small.tobytes().ljust(2880, b"\0")
    return seeds


def mutate(data: bytes, rng: np.random.Generator, others: list[bytes]) -> tuple[bytes, str]:
    """One random mutation of `data`, and its name."""
    b = bytearray(data)
    kind = rng.integers(8)
    n = len(b)
    if kind == 0 and n:  # flip a few bits, mostly in the header
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(min(n, 128))) if rng.random() < 0.7 else int(rng.integers(n))
            b[i] ^= 1 << int(rng.integers(8))
        return bytes(b), "bitflip"
    if kind == 1 and n > 4:  # a header field set to a boundary value
        i = int(rng.integers(min(n - 4, 256)))
        v = INTERESTING32[int(rng.integers(len(INTERESTING32)))]
        b[i:i + 4] = struct.pack(">I" if rng.random() < 0.5 else "<I", v)
        return bytes(b), f"int32@{i}={v}"
    if kind == 2:  # cut short
        return bytes(b[:int(rng.integers(n + 1))]), "truncate"
    if kind == 3:  # bytes inserted
        i = int(rng.integers(n + 1))
        return bytes(b[:i]) + rng.bytes(int(rng.integers(1, 64))) + bytes(b[i:]), "insert"
    if kind == 4 and n > 8:  # a chunk repeated
        i, j = sorted(int(x) for x in rng.integers(n, size=2))
        return bytes(b[:j]) + bytes(b[i:j]) * int(rng.integers(1, 4)) + bytes(b[j:]), "duplicate"
    if kind == 5:  # the head of one file and the tail of another
        other = others[int(rng.integers(len(others)))]
        return bytes(b[:int(rng.integers(n + 1))]) + other[int(rng.integers(len(other) + 1)):], "splice"
    if kind == 6 and n:  # a run of one value
        i = int(rng.integers(n))
        return bytes(b[:i]) + bytes([int(rng.integers(256))]) * int(rng.integers(1, 512)) + bytes(b[i + 1:]), "fill"
    return bytes(b), "none"  # the seed itself (also covers kinds that did not apply)


class UniformClassifier:
    """Stands in for fer.model.inference.Classifier: the same scores for every face (decoding is what is fuzzed)."""

    def scores(self, faces: np.ndarray) -> np.ndarray:
        return np.full((len(faces), 7), 1 / 7, np.float32)


def fuzz_images(cases: int, seed: int = 0, save: Path | None = None, log: Callable[[str], None] | None = None
                ) -> Report:
    """`cases` mutated images through analyse_photo; see the module docstring."""
    from fer.media.photo import PhotoResult, analyse_photo
    from fer.vision.detection import Detector
    from fer.vision.preprocessing import ImageError

    seeds = image_seeds()
    names, blobs = list(seeds), list(seeds.values())
    detector, clf = Detector(), UniformClassifier()
    rng = np.random.default_rng(seed)
    report = Report()
    for case in range(cases):
        k = case % len(names)
        data, how = mutate(blobs[k], rng, blobs)
        name = names[k] if rng.random() < 0.8 else "renamed.png"  # the name's extension is not trusted
        label = f"seed {seed} case {case} ({names[k]}, {how})"
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = analyse_photo(data, name, detector, clf)
            ok = isinstance(res, PhotoResult) and res.display.ndim == 3 and res.width > 0 and res.height > 0
            outcome, failure = ("result", None) if ok else ("bad result", "a malformed PhotoResult")
        except ImageError as exc:
            outcome, failure = f"ImageError {exc.kind}", None
            if not str(exc).startswith(name + ": "):
                outcome, failure = "bad message", f"message does not start with the file name: {exc}"
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
            outcome = f"CRASH {type(exc).__name__}"
            failure = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
        report.add(label, time.perf_counter() - t0, outcome, failure)
        if failure and save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"image-{seed}-{case}-{name}").write_bytes(data)
        if log and case and case % 10_000 == 0:
            log(f"{case:,} images: {dict(report.outcomes)}")
    return report


# ------------------------------------------------------------------------------------------ videos
def video_seeds(work: Path) -> dict[str, bytes]:
    """{file name: bytes}: tiny valid clips in several containers and the bad files of tests/test_video.py."""
    from tests.test_video import bad_videos
    from tests.videoclips import make_clip

    clips = {"sound.mp4": {"audio": True}, "phone.mov": {"rotation": 90}, "clip.mkv": {},
             "clip.avi": {"codec": "mpeg4"}, "vfr.mp4": {"vfr": True}}
    work.mkdir(parents=True, exist_ok=True)
    seeds = {name: make_clip(work / name, seconds=0.4, size=(160, 120), **kw).read_bytes()
             for name, kw in clips.items()}
    for path, _ in bad_videos(work).values():
        seeds.setdefault(path.name, path.read_bytes())
    return seeds


def fuzz_videos(cases: int, seed: int = 0, save: Path | None = None, log: Callable[[str], None] | None = None
                ) -> Report:
    """`cases` mutated video files through analyse_video with an annotated copy; see the module docstring."""
    from fer.media.video import VideoError, VideoResult, analyse_video
    from fer.vision.detection import Detector

    detector, clf = Detector(), UniformClassifier()
    rng = np.random.default_rng(seed)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seeds = video_seeds(work / "seeds")
        names, blobs = list(seeds), list(seeds.values())
        for case in range(cases):
            k = case % len(names)
            data, how = mutate(blobs[k], rng, blobs)
            name = names[k] if rng.random() < 0.8 else "renamed.mp4"  # the name's extension is not trusted
            label = f"seed {seed} case {case} ({names[k]}, {how})"
            folder = work / f"case{case}"
            folder.mkdir()
            src, out = folder / name, folder / "annotated.mp4"
            src.write_bytes(data)
            t0 = time.perf_counter()
            try:
                res = analyse_video(src, detector, clf, out=out, every=3)
                ok = isinstance(res, VideoResult) and res.frames_done > 0 and out.is_file()
                outcome, failure = ("result", None) if ok else ("bad result", "a malformed VideoResult")
            except VideoError as exc:
                outcome, failure = f"VideoError {exc.kind}", None
            except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                outcome = f"CRASH {type(exc).__name__}"
                failure = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
            left = sorted(p.name for p in folder.iterdir() if p.name not in (name, "annotated.mp4"))
            if left and not failure:
                outcome, failure = "file left", f"temporary files left behind: {left}"
            report.add(label, time.perf_counter() - t0, outcome, failure)
            if failure and save is not None:
                save.mkdir(parents=True, exist_ok=True)
                (save / f"video-{seed}-{case}-{name}").write_bytes(data)
            shutil.rmtree(folder)
            if log and case and case % 1_000 == 0:
                log(f"{case:,} videos: {dict(report.outcomes)}")
    return report


# ------------------------------------------------------------------------------------------ datasets
def mutate_text(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """A random edit of a CSV's text."""
    lines = text.split("\n")
    kind = rng.integers(6)
    i = int(rng.integers(len(lines)))
    if kind == 0:
        pieces = ["", ",", '"', "\n", "-1", "256", "7.5", "x", "\x00", "é", " " * 50, "9" * 30, "Usage", "\r"]
        line = lines[i]
        j = int(rng.integers(len(line) + 1))
        lines[i] = line[:j] + pieces[int(rng.integers(len(pieces)))] + line[j + int(rng.integers(0, 3)):]
        return "\n".join(lines), "edit"
    if kind == 1:
        del lines[i]
        return "\n".join(lines), "drop line"
    if kind == 2:
        lines.insert(i, lines[int(rng.integers(len(lines)))])
        return "\n".join(lines), "repeat line"
    if kind == 3:
        return text[:int(rng.integers(len(text) + 1))], "truncate"
    if kind == 4:
        fields = lines[i].split(",")
        fields.insert(int(rng.integers(len(fields) + 1)), rng.choice(["", "3", "PublicTest", "1 2 3"]))
        lines[i] = ",".join(fields)
        return "\n".join(lines), "extra field"
    return text, "none"


def zip_variants(base: Path, rng: np.random.Generator, out: Path) -> str:
    """Write a structurally odd zip (built with zipfile) to `out`; returns what it is."""
    from fer.labels import LABELS

    kind = rng.integers(4)
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w") as dst:
        infos = src.infolist()
        for info in infos:
            name = info.filename
            if kind == 0 and rng.random() < 0.2:  # odd names
                name = rng.choice(["../" + name, "/" + name, name.replace("/", "\\"), name + "\x00.png",
                                   "train/" + LABELS[int(rng.integers(7))] + "/" + "a" * 700 + ".png",
                                   "train/x/" + name.rsplit("/", 1)[-1], name.upper(), " " + name])
            data = src.read(info)
            if kind == 1 and rng.random() < 0.3:  # damaged images inside a sound archive
                data, _ = mutate(data, rng, [data])
            dst.writestr(name, data)
            if kind == 2 and rng.random() < 0.1:  # duplicates and folders
                dst.writestr(name, data)
                dst.writestr(name.rsplit("/", 1)[0] + "/", b"")
        if kind == 3:  # other files
            dst.writestr("README.txt", "hello")
            dst.writestr("train/happy/x.png/", b"")
            dst.writestr("__MACOSX/train/happy/._a.png", b"\0" * 10)
    return ["names", "images", "duplicates", "extras"][kind]


def entry_count_variant(rng: np.random.Generator, work: Path, limit: int) -> tuple[Path, str]:
    """Issue 42 (8): a zip listing, a CSV of or a folder holding about `limit` entries (the limit lowered by the
    caller), some over it, a zip's end record sometimes lying about its count."""
    from tests.badfiles import TINY_PNG, many_entries_zip, tiny_rows_csv

    n = int(rng.integers(1, 2 * limit))
    kind = int(rng.integers(3))
    if kind == 0:
        claimed = n if rng.random() < 0.5 else int(rng.integers(0, 2 * limit))
        return many_entries_zip(work / "d.zip", n, claimed), f"zip of {n} entries claiming {claimed}"
    if kind == 1:
        return tiny_rows_csv(work / "d.csv", n), f"CSV of {n} rows"
    root = work / "d"
    for i in range(n):
        f = root / "train" / "happy" / f"s{i % 5}" / f"{i}.png"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(TINY_PNG)
    if rng.random() < 0.5:
        (root / "train" / "happy" / "loop").symlink_to(root)
        (root / "train" / "happy" / "gone.png").symlink_to(work / "nowhere")
    return root, f"folder of {n} files"


def fuzz_datasets(cases: int, seed: int = 0, save: Path | None = None, log: Callable[[str], None] | None = None
                  ) -> Report:
    """`cases` mutated zips and CSVs through load_dataset; see the module docstring."""
    from fer.data import dataset as fer_data
    from fer.data.dataset import DataError, Dataset, load_dataset

    rng = np.random.default_rng(seed)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        os.environ["FER_CACHE_DIR"] = str(tmp / "cache")
        (tmp / "cache").mkdir()
        base_zip = write_zip(tmp / "base.zip", n_per_class=1)
        zip_bytes = base_zip.read_bytes()
        csv_text = write_csv(tmp / "base.csv", n_per_class=1).read_text()
        work = tmp / "work"
        for case in range(cases):
            work.mkdir()
            kind = case % 4
            limited = contextlib.nullcontext()
            if kind == 3:
                path, how = entry_count_variant(rng, work, ENTRY_LIMIT)
                limited = unittest.mock.patch.object(fer_data, "MAX_ENTRIES", ENTRY_LIMIT)
            elif kind == 0:
                data, how = mutate(zip_bytes, rng, [zip_bytes])
                path = work / "d.zip"
                path.write_bytes(data)
            elif kind == 1:
                path = work / "d.zip"
                how = zip_variants(base_zip, rng, path)
            else:
                text, how = mutate_text(csv_text, rng)
                path = work / "d.csv"
                path.write_bytes(text.encode("utf-8", "surrogatepass"))
            label = f"seed {seed} case {case} ({path.suffix}, {how})"
            before = sorted(p.name for p in tmp.iterdir())
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings(), limited:
                    warnings.simplefilter("ignore")
                    ds = load_dataset(path, use_cache=bool(case % 2))
                ok = (isinstance(ds, Dataset) and ds.images.dtype == np.uint8 and ds.images.shape[1:] == (48, 48)
                      and len(ds.labels) == len(ds.images) == len(ds.paths) == len(ds.usage) == len(ds.sizes))
                outcome, failure = ("dataset", None) if ok else ("bad dataset", "a malformed Dataset")
            except DataError:
                outcome, failure = "DataError", None
            except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                outcome = f"CRASH {type(exc).__name__}"
                failure = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
            if sorted(p.name for p in tmp.iterdir()) != before or sorted(p.name for p in work.iterdir()) != [path.name]:
                outcome, failure = "wrote files", "files appeared beside the dataset"
            report.add(label, time.perf_counter() - t0, outcome, failure)
            if failure and save is not None:
                save.mkdir(parents=True, exist_ok=True)
                (save / f"dataset-{seed}-{case}{path.suffix}").write_bytes(path.read_bytes())
            shutil.rmtree(work)
            if log and case and case % 1000 == 0:
                log(f"{case:,} datasets: {dict(report.outcomes)}")
    return report


# ------------------------------------------------------------------------------------------ folders (issue 42)
SPECIAL = ("fifo", "zero-link", "passwd-link", "dangling-link", "loop-link", "folder")
ODD_VALUES = (float("nan"), float("inf"), float("-inf"), 1e308, 10**400, -1, -(2**63), 2**63, 0, "x", "", [], {}, None,
              True, [[1]], {"a": 1})
ODD_CELLS = ("nan", "inf", "-inf", "1e400", "-1", "x", "", "1" * 400, "0x10")
RUN_FILES = ("config.json", "job.json", "progress.json", "state.json", "metrics.json", "history.csv", "model.json",
             "model.report.json", "train.log", ".trainer.pid", "model.keras")


def make_special(path: Path, kind: str) -> None:
    """Put a FIFO, a link (to a device, outside, nowhere, itself) or a folder where a file belongs."""
    if path.is_symlink() or path.exists():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
        (path / "inside").write_bytes(b"x")
    else:
        target = {"zero-link": "/dev/zero", "passwd-link": "/etc/passwd", "dangling-link": str(path) + ".gone",
                  "loop-link": str(path)}[kind]
        path.symlink_to(target)


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def mutate_json(data: object, rng: np.random.Generator) -> tuple[object, str]:
    """One value somewhere in `data` set to an odd one (NaN, 1e308, 10**400, text, a list, ...)."""
    import copy

    data = copy.deepcopy(data)
    where = _leaves(data)[int(rng.integers(len(_leaves(data))))]
    value = ODD_VALUES[int(rng.integers(len(ODD_VALUES)))]
    if not where:
        return value, f"the whole file = {value!r:.30}"
    parent = data
    for k in where[:-1]:
        parent = parent[k]
    parent[where[-1]] = value
    return data, f"{'.'.join(map(str, where))} = {value!r:.30}"


def run_folder_seed(run: Path) -> None:
    """A finished run folder whose files are all valid."""
    import json

    from fer.config import TrainConfig
    from fer.labels import LABELS
    from fer.model.modelio import ModelCard

    report = {"split": "test", "n": 14, "accuracy": 0.5, "loss": 1.2, "macro_f1": 0.5,
              "per_class": {c: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2} for c in LABELS},
              "confusion": [[2 if i == j else 0 for j in range(7)] for i in range(7)]}
    cfg = TrainConfig(data="data/sample", epochs=3).to_dict()
    card = ModelCard(arch="tiny-cnn", params=1000, config=cfg, epochs_trained=2, best_epoch=2,
                     metrics={"test": {"n": 14, "accuracy": 0.5, "loss": 1.2, "macro_f1": 0.5,
                                       "recall": dict.fromkeys(LABELS, 0.5)}}).to_dict()
    run.mkdir(parents=True)
    files = {"config.json": cfg, "job.json": {"state": "finished", "pid": 1, "started": "", "finished": ""},
             "progress.json": {"phase": "done", "epoch": 2, "epochs": 3, "batch": 7, "batches": 7, "elapsed": 3.5,
                               "logs": {"loss": 1.0}, "epoch_logs": {"val_loss": 1.1}, "learning_rate": 0.001},
             "state.json": {"epoch": 2, "best": 1.1, "train_seconds": 7.0, "complete": True},
             "metrics.json": {"test": report}, "model.json": card,
             "model.report.json": {"model": "model.keras", "split": "x", "reports": {"test": report},
                                   "history": [{"epoch": 1, "loss": 1.5}, {"epoch": 2, "loss": 1.2}]}}
    for name, content in files.items():
        (run / name).write_text(json.dumps(content))
    (run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy\n"
                                     "1,1.5,0.3,1.4,0.3\n2,1.2,0.4,1.1,0.5\n")
    (run / "train.log").write_text("epoch 1/3\nepoch 2/3\n")
    (run / "model.keras").write_bytes(b"a model")


def show_run_like_the_pages(run: Path) -> None:
    """What the Train and Results pages do with a run's files: read them and compute every figure they draw."""
    from fer.i18n import fmt_number, fmt_percent
    from fer.jobs import launcher as jobs
    from fer.jobs.results import best_epoch, confused_pairs, curve_figure, load_reports, read_model_report
    from fer.model.modelio import read_card
    from fer.train.runlock import holder

    info = jobs.run_info(run)
    jobs.list_runs(run.parent)
    jobs.active_job(run.parent)
    holder(run)
    info.log_tail()
    if info.progress is not None:
        p = info.progress
        fmt_percent(p.fraction)
        for v in (*p.logs.values(), *p.epoch_logs.values(), p.elapsed, p.eta or 0, p.learning_rate or 0):
            fmt_number(v)
        int(round(p.elapsed))
    history = info.history()
    names = {"train": "t", "val": "v", "epoch": "e", "title": "x", "best": "b", "stop": "s"}
    curve_figure(history, "loss", names, best=best_epoch(history)).to_json()
    card, _ = read_card(run / "model.keras")
    if card is not None:
        fmt_number(card.params, digits=0)
        fmt_number(card.train_seconds / 60)
        for m in card.metrics.values():
            int(m.get("n", 0))
            for k in ("accuracy", "macro_f1", "loss"):
                if k in m:
                    fmt_percent(m[k])
    report, _ = read_model_report(run / "model.keras")
    reports = list(load_reports(run).values()) + (list(report.reports.values()) if report else [])
    for rep in reports:
        confused_pairs(rep)
        cm = np.array(rep.confusion, dtype=float)
        _ = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        fmt_number(rep.n, digits=0)
        fmt_percent(rep.accuracy)


def fuzz_run_folders(cases: int, seed: int = 0, log: Callable[[str], None] | None = None) -> Report:
    """`cases` run folders with one to three files replaced by a FIFO, a link (to /dev/zero, /etc/passwd, nowhere,
    itself), a folder, or a valid file with one value made odd (NaN, 10**400, text, a list): reading and showing
    them gives a run, never an exception, and never waits (a FIFO opened for reading would wait for ever)."""
    import json
    import signal

    rng = np.random.default_rng(seed)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        for case in range(cases):
            run = tmp / f"case-{case}" / "run"  # its own runs folder: list_runs sees one run
            run_folder_seed(run)
            hows = []
            for name in rng.choice(RUN_FILES, size=int(rng.integers(1, 4)), replace=False):
                path = run / str(name)
                if rng.random() < 0.4:
                    kind = SPECIAL[int(rng.integers(len(SPECIAL)))]
                    make_special(path, kind)
                    hows.append(f"{name}: {kind}")
                elif name.endswith(".json"):
                    data, how = mutate_json(json.loads(path.read_text()), rng)
                    path.write_text(json.dumps(data))
                    hows.append(f"{name}: {how}")
                elif name == "history.csv":
                    rows = [r.split(",") for r in path.read_text().splitlines()]
                    r, c = int(rng.integers(len(rows))), int(rng.integers(len(rows[0])))
                    rows[r][c] = ODD_CELLS[int(rng.integers(len(ODD_CELLS)))]
                    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
                    hows.append(f"history.csv row {r + 1} column {c + 1} = {rows[r][c]!r:.20}")
            label = f"seed {seed} case {case} ({'; '.join(hows)})"
            t0 = time.perf_counter()
            previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("hung")))
            signal.setitimer(signal.ITIMER_REAL, 20.0)
            try:
                show_run_like_the_pages(run)
                outcome, failure = "shown", None
            except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                outcome = f"CRASH {type(exc).__name__}"
                failure = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            report.add(label, time.perf_counter() - t0, outcome, failure)
            if log and case and case % 500 == 0:
                log(f"{case:,} run folders: {dict(report.outcomes)}")
    return report


def fuzz_dataset_folders(cases: int, seed: int = 0) -> Report:
    """`cases` folder datasets with FIFOs, links (to /dev/zero, /etc/passwd, nowhere, themselves, a parent folder)
    and folders nested 40 deep among their images: a Dataset or a DataError, never a hang or an exception."""
    import shutil
    import signal

    from fer.data.dataset import DataError, Dataset, load_dataset
    from tests.helpers import write_folder

    rng = np.random.default_rng(seed)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        base = write_folder(tmp / "base", n_per_class=1)
        files = sorted(p.relative_to(base) for p in base.rglob("*"))
        for case in range(cases):
            data = tmp / f"ds-{case}"
            shutil.copytree(base, data)
            hows = []
            for _ in range(int(rng.integers(1, 4))):
                where = data / files[int(rng.integers(len(files)))]
                target = where if where.is_dir() else where.parent
                name = target / f"x{len(hows)}{rng.choice(['.png', '.jpg', ''])}"
                kind = rng.choice([*SPECIAL, "parent-link", "deep"])
                if kind == "parent-link":
                    name.symlink_to(data)
                elif kind == "deep":
                    (name / "/".join(["d"] * 40)).mkdir(parents=True)
                else:
                    make_special(name, str(kind))
                hows.append(f"{name.relative_to(data)}: {kind}")
            label = f"seed {seed} case {case} ({'; '.join(hows)})"
            t0 = time.perf_counter()
            previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("hung")))
            signal.setitimer(signal.ITIMER_REAL, 30.0)
            try:
                ds = load_dataset(data, cache_dir=tmp / "cache", use_cache=bool(case % 2))
                ok = isinstance(ds, Dataset) and ds.images.shape[1:] == (48, 48)
                outcome, failure = ("dataset", None) if ok else ("bad dataset", "a malformed Dataset")
            except DataError:
                outcome, failure = "DataError", None
            except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
                outcome = f"CRASH {type(exc).__name__}"
                failure = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            report.add(label, time.perf_counter() - t0, outcome, failure)
    return report


# ------------------------------------------------------------------------------------------ pytest
def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def test_fuzzed_images_give_a_result_or_an_image_error():
    report = fuzz_images(_env_int("FER_FUZZ_IMAGES", CI_IMAGES), _env_int("FER_FUZZ_SEED", 0))
    assert not report.failures, f"{len(report.failures)} failures:\n" + "\n".join(report.failures[:10])
    assert report.outcomes["result"] > 0 and sum(v for k, v in report.outcomes.items() if k.startswith("ImageError"))


def test_fuzzed_videos_give_a_result_or_a_video_error_and_leave_no_file():
    report = fuzz_videos(_env_int("FER_FUZZ_VIDEOS", CI_VIDEOS), _env_int("FER_FUZZ_SEED", 0))
    assert not report.failures, f"{len(report.failures)} failures:\n" + "\n".join(report.failures[:10])
    assert report.outcomes["result"] > 0 and sum(v for k, v in report.outcomes.items() if k.startswith("VideoError"))


def test_the_image_seeds_cover_every_format_pillow_writes_and_some_it_only_reads():
    from PIL import Image

    names = set(image_seeds())
    writable = {"AVIF", "BLP", "BMP", "DDS", "DIB", "GIF", "ICNS", "ICO", "IM", "JPEG", "JPEG2000", "MPO", "MSP",
                "PCX", "PNG", "PPM", "QOI", "SGI", "SPIDER", "TGA", "TIFF", "WEBP", "XBM"}  # and read back
    assert {f"seed.{f.lower()}" for f in writable} <= names
    for name in ("seed.cur", "seed.dcx", "seed.ras", "seed.xpm", "seed.fits"):
        assert Image.open(io.BytesIO(image_seeds()[name])).format in ("CUR", "DCX", "SUN", "XPM", "FITS"), name


def test_fuzzed_zips_and_csvs_give_a_dataset_or_a_data_error():
    report = fuzz_datasets(_env_int("FER_FUZZ_DATASETS", CI_DATASETS), _env_int("FER_FUZZ_SEED", 0))
    assert not report.failures, f"{len(report.failures)} failures:\n" + "\n".join(report.failures[:10])
    assert report.outcomes["dataset"] > 0 and report.outcomes["DataError"] > 0


CI_RUN_FOLDERS = 200
CI_DATASET_FOLDERS = 40


def test_fuzzed_run_folders_are_shown_never_crash_and_never_wait():
    report = fuzz_run_folders(_env_int("FER_FUZZ_RUN_FOLDERS", CI_RUN_FOLDERS), _env_int("FER_FUZZ_SEED", 0))
    assert not report.failures, f"{len(report.failures)} failures:\n" + "\n".join(report.failures[:10])
    assert report.outcomes["shown"] == _env_int("FER_FUZZ_RUN_FOLDERS", CI_RUN_FOLDERS)


def test_folder_datasets_with_fifos_and_links_give_a_dataset_or_a_data_error():
    report = fuzz_dataset_folders(_env_int("FER_FUZZ_DATASET_FOLDERS", CI_DATASET_FOLDERS),
                                  _env_int("FER_FUZZ_SEED", 0))
    assert not report.failures, f"{len(report.failures)} failures:\n" + "\n".join(report.failures[:10])
    assert report.outcomes["dataset"] > 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzz uploads (images, dataset zips and CSVs, videos); see the "
                                                 "docstring.")
    parser.add_argument("--images", type=int, default=CI_IMAGES)
    parser.add_argument("--datasets", type=int, default=CI_DATASETS)
    parser.add_argument("--videos", type=int, default=CI_VIDEOS)
    parser.add_argument("--run-folders", type=int, default=CI_RUN_FOLDERS)
    parser.add_argument("--dataset-folders", type=int, default=CI_DATASET_FOLDERS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="write every failing case here")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)  # the loader's warnings about skipped files are expected here
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    failed = 0
    for what, run, n in (("images", fuzz_images, args.images), ("datasets", fuzz_datasets, args.datasets),
                         ("videos", fuzz_videos, args.videos)):
        t0 = time.perf_counter()
        report = run(n, args.seed, args.save, print)
        print(f"{what}: {n:,} cases in {time.perf_counter() - t0:.1f} s, slowest {report.slowest[0]:.2f} s "
              f"({report.slowest[1]}): {dict(report.outcomes.most_common())}")
        for f in report.failures[:20]:
            print("FAIL", f)
        failed += len(report.failures)
    for what, run, n in (("run folders", fuzz_run_folders, args.run_folders),
                         ("dataset folders", fuzz_dataset_folders, args.dataset_folders)):
        t0 = time.perf_counter()
        report = run(n, args.seed)
        print(f"{what}: {n:,} cases in {time.perf_counter() - t0:.1f} s, slowest {report.slowest[0]:.2f} s "
              f"({report.slowest[1]}): {dict(report.outcomes.most_common())}")
        for f in report.failures[:20]:
            print("FAIL", f)
        failed += len(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
