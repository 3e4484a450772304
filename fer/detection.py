"""Face detection with OpenCV's Haar cascades (Rainer Lienhart's frontal-face models)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CASCADES: dict[str, str] = {
    "default": "haarcascade_frontalface_default.xml",
    "alt": "haarcascade_frontalface_alt.xml",
    "alt2": "haarcascade_frontalface_alt2.xml",
    "alt_tree": "haarcascade_frontalface_alt_tree.xml",
    "profile": "haarcascade_profileface.xml",
}
FRONTAL_CASCADES = ("default", "alt", "alt2", "alt_tree")
DETECT_MODES = ("upright",)
"""Detection modes: 'upright' runs the chosen frontal cascade on the image as it is."""


@dataclass(frozen=True)
class FaceBox:
    """A face in image pixels: top-left corner, size, and the in-plane angle it was found at."""

    x: int
    y: int
    w: int
    h: int
    angle: float = 0.0
    """Degrees the face is rotated in the image (0 = upright)."""

    @property
    def xywh(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def corners(self) -> np.ndarray:
        """The four corners [4, 2] (float) of the box turned by `angle` around its centre,
        clockwise from top-left: draw these for a face found rotated."""
        cx, cy = self.center
        half = np.array([[-self.w, -self.h], [self.w, -self.h], [self.w, self.h], [-self.w, self.h]]) / 2
        a = np.deg2rad(self.angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        return half @ rot.T + [cx, cy]

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(round(self.x * factor), round(self.y * factor), round(self.w * factor),
                       round(self.h * factor), self.angle)

    def clipped(self, width: int, height: int) -> FaceBox:
        """The box cut to an image of the given size."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        return FaceBox(x0, y0, max(0, x1 - x0), max(0, y1 - y0), self.angle)


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

    def validate(self) -> list[str]:
        errors = []
        if self.cascade not in CASCADES:
            errors.append(f"unknown cascade {self.cascade!r}; choose one of {', '.join(CASCADES)}")
        if not 1.01 <= self.scale_factor <= 2.0:
            errors.append("scaleFactor must be between 1.01 and 2.0")
        if not 0 <= self.min_neighbors <= 50:
            errors.append("minNeighbors must be between 0 and 50")
        if not 8 <= self.min_size <= 2000:
            errors.append("minSize must be between 8 and 2000 pixels")
        if self.mode not in DETECT_MODES:
            errors.append(f"unknown detection mode {self.mode!r}; choose one of {', '.join(DETECT_MODES)}")
        if self.max_side < 160:
            errors.append("max_side must be at least 160 pixels")
        return errors


def cascade_path(name: str) -> Path:
    try:
        return Path(cv2.data.haarcascades) / CASCADES[name]
    except KeyError:
        raise ValueError(f"unknown cascade {name!r}; choose one of {', '.join(CASCADES)}") from None


class Detector:
    """Finds upright frontal faces. Safe to share between threads (one cascade per thread)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        errors = self.config.validate()
        if errors:
            raise ValueError("; ".join(errors))
        self._path = str(cascade_path(self.config.cascade))
        self._local = threading.local()

    def _cascade(self) -> cv2.CascadeClassifier:
        c = getattr(self._local, "cascade", None)
        if c is None:
            c = cv2.CascadeClassifier(self._path)
            if c.empty():
                raise RuntimeError(f"could not load the Haar cascade {self._path}")
            self._local.cascade = c
        return c

    def detect(self, gray: np.ndarray) -> list[FaceBox]:
        """Boxes of the faces in a grayscale uint8 image, left to right."""
        cfg = self.config
        h, w = gray.shape[:2]
        factor = min(1.0, cfg.max_side / max(h, w))
        small = gray if factor == 1.0 else cv2.resize(gray, (round(w * factor), round(h * factor)),
                                                       interpolation=cv2.INTER_AREA)
        min_side = max(8, round(cfg.min_size * factor))
        found = self._cascade().detectMultiScale(small, scaleFactor=cfg.scale_factor,
                                                 minNeighbors=cfg.min_neighbors,
                                                 minSize=(min_side, min_side))
        boxes = [FaceBox(int(x), int(y), int(bw), int(bh)) for x, y, bw, bh in
                 (np.asarray(found).reshape(-1, 4) if len(found) else [])]
        if factor != 1.0:
            boxes = [b.scaled(1 / factor).clipped(w, h) for b in boxes]
        return sorted(boxes, key=lambda b: (b.x, b.y))
