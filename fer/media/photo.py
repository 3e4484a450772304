"""One photo from bytes to faces, and the results of many photos as table rows and JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer.labels import LABELS
from fer.media.annotate import fit
from fer.model.inference import Classifier, FacePrediction
from fer.vision.detection import Detector
from fer.vision.preprocessing import crop_faces, decode_reduced, to_gray

DISPLAY_MAX_SIDE = 1280
"""Photos are shown (and annotated) at most this large; detection has its own limit (DetectorConfig.max_side)."""
MAX_PHOTOS = 20
"""Photos analysed per upload (the Images page): 34 photos cost 37 s of CPU on every rerun when the results were
kept in a cache of 32."""
MAX_UPLOAD_BYTES = 100 * 1024**2
"""Bytes of photos analysed per upload, all files together (Streamlit's own limit is 100 MB per file)."""
MAX_FACES_DRAWN = 40
"""Faces of one photo boxed on it and given a chart (the Images page); the table and the downloads list every
face (a mosaic of 1,024 faces drew 1,024 charts)."""


def photos_within_limits(sizes: Sequence[int]) -> int:
    """How many of the first photos of an upload (their sizes in bytes, in order) are analysed: at most
    MAX_PHOTOS, at most MAX_UPLOAD_BYTES in all."""
    total = 0
    for n, size in enumerate(sizes[:MAX_PHOTOS]):
        total += size
        if total > MAX_UPLOAD_BYTES:
            return n
    return min(len(sizes), MAX_PHOTOS)


@dataclass(frozen=True, eq=False)
class PhotoResult:
    """The faces of one photo (boxes in its full-size pixels) and a display-size copy to draw on."""

    name: str
    width: int
    height: int
    faces: tuple[FacePrediction, ...]
    display: np.ndarray = field(repr=False)
    """RGB uint8, downscaled to at most DISPLAY_MAX_SIDE."""
    display_scale: float
    """display pixels per original pixel (<= 1)."""
    seconds: float
    """Time from bytes to predictions and the display copy."""
    stages_ms: dict[str, float] = field(default_factory=dict)
    """Milliseconds per stage: decode (with EXIF orientation), detect, classify, display (resize)."""


def analyse_photo(data: bytes, name: str, detector: Detector, classifier: Classifier, margin: float = 0.0,
                  display_max: int = DISPLAY_MAX_SIDE) -> PhotoResult:
    """Decode (EXIF orientation applied), detect and classify every face in one batch.

    Raises fer.vision.preprocessing.ImageError with a plain message when the bytes are not a usable image.

    A large JPEG is decoded reduced (fer.vision.preprocessing.decode_reduced) to no less than the larger of
    the detection size (DetectorConfig.max_side) and `display_max`: what detection and display
    would shrink it to anyway. Boxes are mapped back to the photo's full-size pixels.
    """
    start = time.perf_counter()
    img = decode_reduced(data, name, max(detector.config.max_side, display_max))
    t_decode = time.perf_counter()
    gray = to_gray(img.rgb)
    boxes = detector.detect(gray, img.scale)
    t_detect = time.perf_counter()
    scores = classifier.scores(crop_faces(gray, boxes, margin)) if boxes else []
    if img.scale != 1.0:  # back to the photo's full-size pixels
        boxes = [f.clipped(img.width, img.height) if f.angle == 0 else f for f in (b.scaled(img.scale) for b in boxes)]
    faces = tuple(FacePrediction(b, tuple(float(v) for v in s)) for b, s in zip(boxes, scores, strict=True))
    t_classify = time.perf_counter()
    display, scale = fit(img.rgb, display_max)
    end = time.perf_counter()
    stages = {"decode": t_decode - start, "detect": t_detect - t_decode, "classify": t_classify - t_detect,
              "display": end - t_classify}
    return PhotoResult(name, img.width, img.height, faces, display, scale / img.scale, end - start,
                       {k: round(1000 * v, 3) for k, v in stages.items()})


ROW_KEYS = ("file", "face", "x", "y", "w", "h", "angle", "label", "confidence", *LABELS)
"""Column order of `result_rows` (English keys; the app translates the headers it shows)."""

NO_FACE = "no_face"
"""The `label` of a photo's row when no face was found in it (its face number is 0)."""


def result_rows(results: Sequence[PhotoResult],
                dropped: Mapping[int, Collection[int]] | None = None) -> list[dict[str, Any]]:
    """One row per face of every photo: file, face number (from 1), box, angle, label, confidence, 7 scores.

    A photo without a face gets one row saying so (face 0, label NO_FACE, no box or scores).
    `dropped`: face numbers the user left out, by photo index in `results`; the other faces keep
    their numbers. A photo whose faces were all left out gets no row.
    """
    rows = []
    for n, res in enumerate(results):
        if not res.faces:
            rows.append({"file": res.name, "face": 0, "x": None, "y": None, "w": None, "h": None, "angle": None,
                         "label": NO_FACE, "confidence": None, **dict.fromkeys(LABELS)})
            continue
        skip = set((dropped or {}).get(n, ()))
        for i, face in enumerate(res.faces, start=1):
            if i in skip:
                continue
            x, y, w, h = face.box.xywh
            rows.append({"file": res.name, "face": i, "x": x, "y": y, "w": w, "h": h,
                         "angle": float(face.box.angle), "label": face.label,
                         "confidence": round(face.confidence, 6),
                         **{k: round(v, 6) for k, v in face.score_dict().items()}})
    return rows


def results_json(results: Sequence[PhotoResult], dropped: Mapping[int, Collection[int]] | None = None) -> str:
    """All photos as JSON: [{file, width, height, faces: [{face, box: [x, y, w, h], angle, label, scores}]}]
    (faces left out by `dropped`, as in `result_rows`, are not listed; the others keep their numbers)."""
    out = [{"file": r.name, "width": r.width, "height": r.height,
            "faces": [{"face": i, **f.to_dict(), "angle": float(f.box.angle)}
                      for i, f in enumerate(r.faces, start=1) if i not in set((dropped or {}).get(n, ()))]}
           for n, r in enumerate(results)]
    return json.dumps(out, indent=2)
