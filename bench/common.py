"""Helpers shared by the benchmark scripts: timing, machine description, JSON/table output."""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fer.paths import ROOT

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
FACE_PHOTOS = ("obama.jpg", "biden.jpg", "obama2.jpg")
"""One frontal face each: the faces composed into benchmark webcam frames."""

def _full_data() -> Path:
    from fer.train.presets import from_root, full_data

    return from_root(full_data())


FER_ZIP = _full_data()
"""The full FER2013 where FER_DATA says (fer.train.presets.full_data), for the benchmarks that score on it."""


def public_test(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, 48, 48] and labels of the dataset's PublicTest split (the official validation split)."""
    from fer.data.dataset import load_dataset
    from fer.data.splits import official_split

    ds = load_dataset(data)
    val = official_split(ds).val
    return ds.images[val], ds.labels[val]


def public_test_line(labels: np.ndarray, scores: np.ndarray) -> str:
    """'PublicTest accuracy A  macro F1 F' of class scores [N, 7] against the labels."""
    from fer.model.evaluation import report_from_scores

    r = report_from_scores(labels, scores, "PublicTest")
    return f"PublicTest accuracy {r.accuracy:.4f}  macro F1 {r.macro_f1:.4f}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:  # noqa: PTH123
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "python": platform.python_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")}


def time_ms(fn: Callable[[], Any], repeat: int = 50, warmup: int = 5) -> dict[str, float]:
    """Median and 90th percentile of `fn` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 3),
            "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 3)}


def emit(result: dict[str, Any], as_json: bool, table: list[list[Any]] | None = None,
         header: list[str] | None = None) -> None:
    """Print JSON, or a plain table plus the machine line."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    if table and header:
        widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
        for row in [header, *table]:
            print("  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)))
    print(f"machine: {result.get('machine')}")


def summary_ms(samples: list[float]) -> dict[str, float]:
    """Mean, median and 90th percentile of samples already in milliseconds."""
    ordered = sorted(samples)
    return {"mean_ms": round(statistics.fmean(ordered), 3), "median_ms": round(statistics.median(ordered), 3),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 3)}


def face_crops(side: int) -> list[np.ndarray]:
    """Head-and-shoulders BGR crops (side x side) of the face found in each of FACE_PHOTOS."""
    import cv2

    from fer.vision.detection import Detector

    crops = []
    for name in FACE_PHOTOS:
        bgr = cv2.imread(str(PHOTOS / name))
        if bgr is None:
            raise FileNotFoundError(PHOTOS / name)
        face = max(Detector().detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)), key=lambda b: b.w * b.h)
        grow = face.w // 2  # the face fills half of the crop's side
        x0, y0 = max(0, face.x - grow), max(0, face.y - grow)
        crop = bgr[y0:face.y + face.h + grow, x0:face.x + face.w + grow]
        crops.append(cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA))
    return crops


def background(width: int = 640, height: int = 480) -> np.ndarray:
    """A real BGR backdrop without faces: the streamers and stage lights left of the speakers in
    obama_and_biden.jpg. A flat backdrop would flatter the cascade (it rejects featureless windows
    at its first stage: a full scan costs about a tenth)."""
    import cv2

    bgr = cv2.imread(str(PHOTOS / "obama_and_biden.jpg"))
    if bgr is None:
        raise FileNotFoundError(PHOTOS / "obama_and_biden.jpg")
    h, w = bgr.shape[:2]
    return cv2.resize(bgr[: round(0.45 * h), : round(0.3 * w)], (width, height), interpolation=cv2.INTER_AREA)


def webcam_frames(n_faces: int, count: int, width: int = 640, height: int = 480) -> list[np.ndarray]:
    """`count` BGR frames with `n_faces` (1 or 3) real faces side by side, drifting a few pixels per frame."""
    side = 300 if n_faces == 1 else (width - 16) // 3
    crops = face_crops(side)[:n_faces]
    if len(crops) < n_faces:
        raise ValueError(f"at most {len(FACE_PHOTOS)} faces")
    frames = []
    base = background(width, height)
    for i in range(count):
        frame = base.copy()
        dx, dy = round(6 * np.sin(i / 5)), round(4 * np.cos(i / 7))  # the user moves a little
        gap = (width - n_faces * side) // (n_faces + 1)
        for k, crop in enumerate(crops):
            x = gap + k * (side + gap) + dx
            y = (height - side) // 2 + dy
            x, y = min(max(0, x), width - side), min(max(0, y), height - side)
            frame[y:y + side, x:x + side] = crop
        frames.append(frame)
    return frames


def twelve_megapixels(name: str = "obama_and_biden.jpg", quality: int = 90) -> bytes:
    """A real photo upscaled to 4000x3000 (12 MP), encoded as JPEG."""
    from PIL import Image

    img = Image.open(PHOTOS / name).convert("RGB").resize((4000, 3000), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
