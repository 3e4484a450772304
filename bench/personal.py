"""The personal preset measured (issue 41): photos datasets made of FER2013 faces pasted into photo-sized scenes,
fine-tuning time for 20 photos x 3 and x 7 emotions, and the before/after accuracy on photos of other people.

    python -m bench.personal --make /tmp/photos   # only write the photo sets (teach-3, teach-7, test)
    python -m bench.personal                      # make them in a temporary folder, train twice, score, print

Teaching photos come from FER2013's Training faces, test photos from its PrivateTest faces (other people: FER2013
has no identities, its splits were drawn from different image searches); each face is enlarged to 120-200 pixels
and pasted at a random place of a 640x480 scene (smooth noise and a gradient, as a room behind a webcam user), so
the app's detector must find it and crops it its own way. Needs FER_DATA (the full FER2013).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import machine
from fer.labels import LABELS

SCENE = (480, 640)
"""(height, width) of a made photo: a webcam snapshot's size."""


def scene(rng: np.random.Generator, shape: tuple[int, int] = SCENE) -> np.ndarray:
    """A gray uint8 background: low-frequency noise over a gradient, no face-like structure."""
    import cv2

    h, w = shape
    small = rng.uniform(40, 215, (6, 8)).astype(np.float32)
    base = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    base += np.linspace(-25, 25, w, dtype=np.float32)[None, :] * rng.choice([-1, 1])
    base += rng.normal(0, 4, (h, w)).astype(np.float32)
    return np.clip(base, 0, 255).astype(np.uint8)


def paste_face(face: np.ndarray, rng: np.random.Generator, shape: tuple[int, int] = SCENE,
               side: tuple[int, int] = (120, 200), angle: float = 0.0) -> np.ndarray:
    """An RGB photo of `shape` with the 48x48 `face` enlarged to a random side in `side`, turned `angle` degrees
    (clockwise), pasted at a random place, its edges blended into the scene."""
    import cv2

    h, w = shape
    s = int(rng.integers(side[0], side[1] + 1))
    big = cv2.resize(face, (s, s), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    pad = s // 2
    canvas = scene(rng, shape).astype(np.float32)
    x = int(rng.integers(pad, w - s - pad)) if w - s - 2 * pad > 0 else (w - s) // 2
    y = int(rng.integers(pad, h - s - pad)) if h - s - 2 * pad > 0 else (h - s) // 2
    mask = np.zeros((s, s), np.float32)
    cv2.circle(mask, (s // 2, s // 2), int(s * 0.62), 1.0, -1)
    mask = cv2.GaussianBlur(np.minimum(mask + 0.0, 1.0), (0, 0), s * 0.04)
    mask = np.maximum(mask, 0.0)
    region = canvas[y:y + s, x:x + s]
    canvas[y:y + s, x:x + s] = region * (1 - mask) + big * mask
    if angle:
        m = cv2.getRotationMatrix2D((x + s / 2, y + s / 2), -angle, 1.0)
        canvas = cv2.warpAffine(canvas, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    gray = np.clip(canvas, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def write_photos(folder: Path, images: np.ndarray, labels: np.ndarray, seed: int = 0,
                 angle: float = 0.0) -> int:
    """`<folder>/<emotion>/<n>.jpg` for each face (a made photo each); returns how many were written."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for n, (face, y) in enumerate(zip(images, labels, strict=True)):
        out = folder / LABELS[int(y)]
        out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(paste_face(face, rng, angle=angle)).save(out / f"{n:04d}.jpg", quality=90)
    return len(images)


def pick(labels: np.ndarray, usage: np.ndarray, which: str, classes: tuple[int, ...], per_class: int,
         seed: int) -> np.ndarray:
    """`per_class` indices of each class in `classes` among the images of usage `which`, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    idx = [rng.choice(np.flatnonzero((labels == c) & (usage == which)), per_class, replace=False) for c in classes]
    return np.concatenate(idx)


def make_sets(root: Path, per_class: int = 20, test_per_class: int = 20, seed: int = 0) -> dict[str, Path]:
    """teach-3 (happy, sad, surprise), teach-7 (every emotion) from Training faces and test (every emotion) from
    PrivateTest faces, as photos datasets under `root`."""
    from fer.data.dataset import load_dataset
    from fer.train.presets import from_root, full_data

    ds = load_dataset(from_root(full_data()))
    three = tuple(LABELS.index(c) for c in ("happy", "sad", "surprise"))
    sets = {"teach-3": pick(ds.labels, ds.usage, "Training", three, per_class, seed),
            "teach-7": pick(ds.labels, ds.usage, "Training", tuple(range(len(LABELS))), per_class, seed + 1),
            "test": pick(ds.labels, ds.usage, "PrivateTest", tuple(range(len(LABELS))), test_per_class, seed + 2)}
    out = {}
    for k, (name, idx) in enumerate(sets.items()):
        out[name] = root / name
        write_photos(out[name], ds.images[idx], ds.labels[idx], seed + k)
    return out


def score(model_path: Path | str, images: np.ndarray, labels: np.ndarray,
          **views: object) -> tuple[float, dict[str, float | None]]:
    """Accuracy and per-emotion recall of a model file on faces, predicting as its card says unless `views`
    (fer.model.inference.Classifier.from_file's keywords) say otherwise."""
    from fer.model.evaluation import before_after
    from fer.model.inference import Classifier

    clf = Classifier.from_file(model_path, **views)
    r = before_after(clf, clf, images, labels)
    return r.accuracy("after") or 0.0, dict(zip(LABELS, r.recall("after"), strict=True))


def finetune(cfg_changes: dict, data: Path, out: Path, dataset=None) -> tuple[float, float, Path]:  # noqa: ANN001
    """Train the personal preset (with `cfg_changes`) on the photos dataset `data` into `out`, as `fer train` does
    (the start model loaded, trained, scored, before/after written); (wall seconds, CPU seconds, model)."""
    from fer.train.presets import preset
    from fer.train.trainer import train

    cfg = preset("personal").replace(data=str(data), **cfg_changes)
    shutil.rmtree(out, ignore_errors=True)  # a run folder left by an earlier measurement would be resumed, not trained
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(cfg, out, dataset=dataset)
    return time.perf_counter() - t0, time.process_time() - c0, result.model_path


GRID = ({"freeze": "none"}, {"replay": ""}, {"replay_classes": "all"}, {"replay_per_class": 8}, {"freeze": "features"},
        {"learning_rate": 1e-3}, {"epochs": 16}, {"augment": False}, {"learning_rate": 1e-4}, {"epochs": 4})
"""One setting changed at a time from the preset (`--grid`, on teach-3): what each choice of the preset rests on
(the preset itself is the row 'personal, teach-3')."""


def row(name: str, seconds: tuple[float, float], acc: float, recall: dict[str, float | None], taught: set[str]) -> str:
    taught_r = [v for k, v in recall.items() if k in taught and v is not None]
    kept_r = [v for k, v in recall.items() if k not in taught and v is not None]
    mean = (lambda xs: f"{sum(xs) / len(xs):.1%}" if xs else "-")  # noqa: E731  (no kept emotion when all 7 are taught)
    return (f"| {name} | {seconds[0]:.0f} s ({seconds[1]:.0f} s CPU) | {acc:.1%} | {mean(taught_r)} | "
            f"{mean(kept_r)} | " + " | ".join("-" if recall[c] is None else f"{recall[c]:.0%}" for c in LABELS)
            + " |")


def main() -> None:
    from fer.data.dataset import load_dataset
    from fer.train.presets import SHIPPED, from_root

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--make", type=Path, help="only write the photo sets into this folder")
    p.add_argument("--sets", type=Path, help="use (or make) the photo sets in this folder")
    p.add_argument("--grid", action="store_true", help="also train the preset with one setting changed at a time")
    p.add_argument("--skip", type=int, default=0, help="leave out the grid's first SKIP variants (measured before)")
    p.add_argument("--cached", action="store_true", help="load the photo sets from the cache (faces not timed)")
    p.add_argument("--grid-only", action="store_true", help="only the grid (the preset's own rows measured before)")
    p.add_argument("--json", action="store_true", help="the table on stderr, its rows as JSON on stdout at the end")
    args = p.parse_args()
    out = sys.stderr if args.json else sys.stdout
    rows: list[dict[str, object]] = []

    def show(name: str, seconds: tuple[float, float], acc: float, recall: dict[str, float | None],
             taught: set[str]) -> None:
        print(row(name, seconds, acc, recall, taught), file=out, flush=True)
        rows.append({"model": name, "wall_s": round(seconds[0], 1), "cpu_s": round(seconds[1], 1),
                     "accuracy": round(acc, 4), "recall": recall, "taught": sorted(taught)})

    if args.make:
        print(json.dumps({k: str(v) for k, v in make_sets(args.make).items()}))
        return
    root = args.sets or Path(tempfile.mkdtemp(prefix="personal-"))
    names = ("teach-3", "teach-7", "test")
    sets = {n: root / n for n in names} if all((root / n).is_dir() for n in names) else make_sets(root)
    loaded = {}
    for n in names:
        t0, c0 = time.perf_counter(), time.process_time()
        loaded[n] = load_dataset(sets[n], use_cache=args.cached or n == "test")  # the teaching sets' faces timed
        photos = len(loaded[n]) + sum(w.kind == "no_face" for w in loaded[n].warnings)
        print(f"{n}: {photos} photos, {len(loaded[n])} faces found in {time.perf_counter() - t0:.1f} s "
              f"({time.process_time() - c0:.1f} s CPU)", file=out, flush=True)
    test = loaded["test"]
    head = "| model | fine-tuning | test accuracy | taught emotions (mean recall) | kept emotions | " + \
        " | ".join(LABELS) + " |"
    print("\n" + head + "\n|" + "---|" * (head.count("|") - 1), file=out)
    acc, rec = score(from_root(SHIPPED), test.images, test.labels)
    show("shipped", (0.0, 0.0), acc, rec, {"happy", "sad", "surprise"})
    shipped_views = {"tta_flip": True, "zoom": 1.05, "shift": 4}  # models/default.json's views, not its correction

    def report(name: str, seconds: tuple[float, float], model: Path, taught: set[str]) -> None:
        acc, rec = score(model, test.images, test.labels)
        show(name, seconds, acc, rec, taught)
        acc, rec = score(model, test.images, test.labels, **shipped_views)
        show(f"{name}, the shipped card's views", seconds, acc, rec, taught)

    for n in ("teach-7", "teach-3"):
        taught = {LABELS[c] for c in np.unique(loaded[n].labels).tolist()}
        if not args.grid_only:
            wall, cpu, model = finetune({}, sets[n], root / f"run-{n}", loaded[n])
            report(f"personal, {n}", (wall, cpu), model, taught)
        if args.grid and n == "teach-3":
            for i, change in enumerate(GRID[args.skip:], start=args.skip):
                wall, cpu, model = finetune(change, sets[n], root / f"grid-{i}", loaded[n])
                report(f"{n}, {change}", (wall, cpu), model, taught)
    if args.json:
        print(json.dumps({"rows": rows, "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
