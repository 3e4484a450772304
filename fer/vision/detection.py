"""Face detection with OpenCV's Haar cascades (Rainer Lienhart's frontal-face models).

Modes: `upright` runs the frontal cascade on the image as it is; `rotated` also runs it on copies
of the image turned by `DetectorConfig.angles` and maps the boxes back (FaceBox.angle records the
face's in-plane turn); `all` adds the profile cascade on the image and its mirror (side faces).
Duplicates are merged by non-maximum suppression (fer.vision.rotation.merge). See docs/detection.md.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer.vision.boxes import FaceBox

if TYPE_CHECKING:
    from fer.vision.rotation import Candidate

CASCADES: dict[str, str] = {
    "default": "haarcascade_frontalface_default.xml",
    "alt": "haarcascade_frontalface_alt.xml",
    "alt2": "haarcascade_frontalface_alt2.xml",
    "alt_tree": "haarcascade_frontalface_alt_tree.xml",
    "profile": "haarcascade_profileface.xml",
}
FRONTAL_CASCADES = ("default", "alt", "alt2", "alt_tree")
DETECT_MODES = ("upright", "rotated", "all")
"""'upright': the frontal cascade on the image as it is; 'rotated': also on turned copies of it
(tilted faces); 'all': rotated plus the profile cascade on the image and its mirror (side faces)."""

SCALE_FACTOR_RANGE = (1.01, 2.0)
"""The detector's search step (OpenCV scaleFactor) allowed: 1.0 would never end, over 2 misses most faces."""
MIN_NEIGHBORS_RANGE = (0, 50)
MIN_SIZE_RANGE = (8, 2000)
"""The smallest face side, in pixels, a search may ask for."""


@dataclass(frozen=True)
class DetectorConfig:
    """Cascade choice and `detectMultiScale` parameters."""

    cascade: str = "default"
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 30
    """Smallest face side in pixels of the original image."""
    max_side: int = 1280
    """Images larger than this are downscaled for detection; boxes are mapped back."""
    mode: str = "upright"
    """One of DETECT_MODES."""
    angles: tuple[float, ...] = (-40.0, -20.0, 20.0, 40.0)
    """Turns (degrees, clockwise positive) of the extra passes in the 'rotated' and 'all' modes."""
    retry_scale: float = 0.5
    """The extra passes (turned copies, profile) run on the detection image shrunk by this factor."""
    verify_neighbors: int = 12
    """A frontal face counts only if the 'alt' cascade, run on its upright crop turned by -10, 0 and
    +10 degrees, gives it at least this many neighbours (0: no check). In every mode: in 'upright' it
    drops boxes on backgrounds (obama-1080p's collar) and no real face of the shared photos
    (bench/false_faces.py, docs/detection.md)."""

    def validate(self) -> list[str]:
        errors = []
        if self.cascade not in CASCADES:
            errors.append(f"unknown cascade {self.cascade!r}; choose one of {', '.join(CASCADES)}")
        if not SCALE_FACTOR_RANGE[0] <= self.scale_factor <= SCALE_FACTOR_RANGE[1]:
            errors.append("scaleFactor must be between {} and {}".format(*SCALE_FACTOR_RANGE))
        if not MIN_NEIGHBORS_RANGE[0] <= self.min_neighbors <= MIN_NEIGHBORS_RANGE[1]:
            errors.append("minNeighbors must be between {} and {}".format(*MIN_NEIGHBORS_RANGE))
        if not MIN_SIZE_RANGE[0] <= self.min_size <= MIN_SIZE_RANGE[1]:
            errors.append("minSize must be between {} and {} pixels".format(*MIN_SIZE_RANGE))
        if self.mode not in DETECT_MODES:
            errors.append(f"unknown detection mode {self.mode!r}; choose one of {', '.join(DETECT_MODES)}")
        if any(not -90 <= a <= 90 or a == 0 for a in self.angles):
            errors.append("angles must be non-zero turns between -90 and 90 degrees")
        if not 0.25 <= self.retry_scale <= 1.0:
            errors.append("retry_scale must be between 0.25 and 1")
        if not 0 <= self.verify_neighbors <= 100:
            errors.append("verify_neighbors must be between 0 and 100")
        if self.max_side < 160:
            errors.append("max_side must be at least 160 pixels")
        return errors


def cascade_path(name: str) -> Path:
    try:
        return Path(cv2.data.haarcascades) / CASCADES[name]
    except KeyError:
        raise ValueError(f"unknown cascade {name!r}; choose one of {', '.join(CASCADES)}") from None


class Detector:
    """Finds faces per `DetectorConfig.mode`. Safe to share between threads (one cascade per thread)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        errors = self.config.validate()
        if errors:
            raise ValueError("; ".join(errors))
        self._path = str(cascade_path(self.config.cascade))
        self._profile_path = str(cascade_path("profile"))
        self._verify_path = str(cascade_path("alt"))
        self._local = threading.local()

    def _cascade(self, path: str | None = None) -> cv2.CascadeClassifier:
        path = path or self._path
        cascades = getattr(self._local, "cascades", None)
        if cascades is None:
            cascades = self._local.cascades = {}
        c = cascades.get(path)
        if c is None:
            c = cv2.CascadeClassifier(path)
            if c.empty():
                raise RuntimeError(f"could not load the Haar cascade {path}")
            cascades[path] = c
        return c

    def _run(self, path: str, image: np.ndarray, min_side: int,
             max_side: int = 0) -> list[tuple[int, int, int, int, int]]:
        """(x, y, w, h, neighbours) of each face the cascade finds (sides from min_side to max_side; 0: any)."""
        cfg = self.config
        found, counts = self._cascade(path).detectMultiScale2(image, scaleFactor=cfg.scale_factor,
                                                              minNeighbors=cfg.min_neighbors,
                                                              minSize=(min_side, min_side),
                                                              maxSize=(max_side, max_side))
        if not len(found):
            return []
        return [(int(x), int(y), int(w), int(h), int(n))
                for (x, y, w, h), n in zip(np.asarray(found).reshape(-1, 4), np.ravel(counts), strict=True)]

    def _shrunk(self, gray: np.ndarray, pixel_scale: float = 1.0) -> tuple[np.ndarray, float, int]:
        """The detection image (at most max_side), its scale factor and the smallest face side in it."""
        cfg = self.config
        h, w = gray.shape[:2]
        factor = min(1.0, cfg.max_side / max(h, w))
        small = gray if factor == 1.0 else cv2.resize(gray, (max(1, round(w * factor)), max(1, round(h * factor))),
                                                       interpolation=cv2.INTER_AREA)  # a 1x3000 image stays 1 wide
        return small, factor, max(8, round(cfg.min_size * factor / pixel_scale))

    def detect(self, gray: np.ndarray, pixel_scale: float = 1.0) -> list[FaceBox]:
        """Boxes of the faces in a grayscale uint8 image, left to right.

        `pixel_scale`: original pixels per pixel of `gray` when it is a reduced copy of the original
        (e.g. a JPEG decoded at half size), so that `min_size` still counts original pixels.
        """
        cfg = self.config
        h, w = gray.shape[:2]
        small, factor, min_side = self._shrunk(gray, pixel_scale)
        upright = self._run(self._path, small, min_side)
        if cfg.mode == "upright":
            from fer.vision.rotation import Candidate

            boxes = [FaceBox(x, y, bw, bh) for x, y, bw, bh, n in upright
                     if self._confirmed(small, Candidate(FaceBox(x, y, bw, bh), float(n), 0))]
        else:
            boxes = self._merged(small, min_side, upright)
        if factor != 1.0:
            boxes = [b.scaled(1 / factor) for b in boxes]
        boxes = [b.clipped(w, h) if b.angle == 0 else b for b in boxes]
        return sorted(boxes, key=lambda b: (b.x, b.y))

    def detect_near(self, gray: np.ndarray, known: Sequence[FaceBox], grow: float = 0.3,
                    size_ratio: float = 1.3) -> list[FaceBox]:
        """Re-find known upright faces: the frontal cascade runs only on a window around each known box
        (grown by `grow` of its size on every side) at sizes within `size_ratio` of it.

        A fraction of a full `detect` for a video frame whose faces moved a little since the last
        one; faces that are new (or tilted, or lost) are not found. Boxes left to right.
        """
        h, w = gray.shape[:2]
        small, factor, min_side = self._shrunk(gray)
        sh, sw = small.shape[:2]
        found: list[FaceBox] = []
        for box in known:
            b = box.scaled(factor)
            g = round(max(b.w, b.h) * grow)
            x0, y0, x1, y1 = max(0, b.x - g), max(0, b.y - g), min(sw, b.x + b.w + g), min(sh, b.y + b.h + g)
            lo, hi = max(min_side, round(b.w / size_ratio)), round(b.w * size_ratio)
            if x1 - x0 < lo or y1 - y0 < lo:
                continue
            for x, y, bw, bh, _ in self._run(self._path, small[y0:y1, x0:x1], lo, hi):
                face = FaceBox(x + x0, y + y0, bw, bh)
                cx, cy = face.center
                if not any(f.x <= cx < f.x + f.w and f.y <= cy < f.y + f.h for f in found):  # two windows, one face
                    found.append(face)
        if factor != 1.0:
            found = [f.scaled(1 / factor) for f in found]
        return sorted((f.clipped(w, h) for f in found), key=lambda b: (b.x, b.y))

    def _merged(self, small: np.ndarray, min_side: int, upright: list[tuple[int, int, int, int, int]]) -> list[FaceBox]:
        """Upright, turned (and, in 'all' mode, profile) detections merged by NMS, in `small`'s pixels."""
        from fer.vision.rotation import Candidate, merge, rotate_image

        cfg = self.config
        cands = [Candidate(FaceBox(x, y, bw, bh), float(n), 0) for x, y, bw, bh, n in upright]
        retry_min = max(8, round(min_side * cfg.retry_scale))
        for angle in cfg.angles:
            turned = rotate_image(small, angle, cfg.retry_scale)
            cands += [Candidate(turned.box_back(x, y, bw, bh), float(n), 1)
                      for x, y, bw, bh, n in self._run(self._path, turned.image, retry_min)]
        if cfg.mode == "all":
            shrunk = rotate_image(small, 0.0, cfg.retry_scale)
            sw = shrunk.image.shape[1]
            for mirrored in (False, True):
                img = shrunk.image[:, ::-1] if mirrored else shrunk.image
                for x, y, bw, bh, n in self._run(self._profile_path, np.ascontiguousarray(img), retry_min):
                    x = sw - x - bw if mirrored else x
                    cands.append(Candidate(shrunk.box_back(x, y, bw, bh), float(n), 2))
        return [c.box for c in merge(cands) if self._confirmed(small, c)]

    def _confirmed(self, small: np.ndarray, cand: Candidate) -> bool:
        """Whether the verifying cascade also sees a face at the centre of the candidate's upright crop.

        Turned copies of a photo make the frontal cascade fire on textures (streamers, foliage); on
        the bench photos the 'alt' cascade gives such boxes at most 10 neighbours and true faces at
        least 15 (bench/detect_rotated.py, docs/detection.md).
        """
        from fer.vision.rotation import upright_crop

        need = self.config.verify_neighbors
        if cand.rank == 2 or need == 0:
            return True
        face, b = 60, cand.box  # the face's side in the crop, in pixels
        best = 0
        for offset in (0.0, -10.0, 10.0):
            patch = upright_crop(small, FaceBox(b.x, b.y, b.w, b.h, b.angle + offset), 0.25, round(face * 1.5))
            found, counts = self._cascade(self._verify_path).detectMultiScale2(
                patch, scaleFactor=1.1, minNeighbors=1, minSize=(face // 2, face // 2))
            mid = face * 0.75
            best = max([best] + [int(n) for (x, y, w, h), n in zip(np.asarray(found).reshape(-1, 4), np.ravel(counts),
                                                                    strict=True)
                                 if abs(x + w / 2 - mid) < face * 0.3 and abs(y + h / 2 - mid) < face * 0.3])
            if best >= need:
                return True
        return False
