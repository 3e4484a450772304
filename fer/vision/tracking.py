"""Face detection for video: a full scan every few frames, and in between only around the faces last seen.

A Haar scan of a whole 320x240 frame costs tens of milliseconds on a laptop CPU, most of it on
windows far from any face. Between two full scans `TrackingDetector` re-finds the faces of the
previous frame with `Detector.detect_near` (a small window around each, sizes close to it), which
costs a few milliseconds. A face that enters the picture is found at the next full scan, at most
`full_every - 1` frames later. Modes other than 'upright' scan every frame.
"""

from __future__ import annotations

import threading

import numpy as np

from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector, DetectorConfig

FULL_EVERY = 5
"""A full scan every this many frames (at 30 frames a second: 6 a second, a new face shows within 0.13 s)."""


class TrackingDetector:
    """Detector-like (`detect(gray)`) for consecutive frames of one video stream. Thread-safe."""

    def __init__(self, detector: Detector, full_every: int = FULL_EVERY) -> None:
        if full_every < 1:
            raise ValueError("full_every must be at least 1")
        self.detector = detector
        self.full_every = full_every
        self._lock = threading.Lock()
        self._count = 0
        self._last: list[FaceBox] = []

    @property
    def config(self) -> DetectorConfig:
        return self.detector.config

    def reset(self) -> None:
        """Forget the faces seen: the next frame gets a full scan."""
        with self._lock:
            self._count, self._last = 0, []

    def detect(self, gray: np.ndarray) -> list[FaceBox]:
        """Boxes of the faces in a grayscale frame, left to right."""
        with self._lock:
            full = self._count % self.full_every == 0 or self.config.mode != "upright"
            self._count += 1
            last = self._last
        if full:
            boxes = self.detector.detect(gray)
        elif last:
            boxes = self.detector.detect_near(gray, last)
        else:
            boxes = []
        with self._lock:
            self._last = boxes
        return boxes
