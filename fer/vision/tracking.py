"""Faces in video: detection with a full scan every few frames and in between only around the faces last seen
(`TrackingDetector`), and each face followed from frame to frame as one person (`FaceFollower`).

A Haar scan of a whole 320x240 frame costs tens of milliseconds on a laptop CPU, most of it on
windows far from any face. Between two full scans `TrackingDetector` re-finds the faces of the
previous frame with `Detector.detect_near` (a small window around each, sizes close to it), which
costs a few milliseconds. A face that enters the picture is found at the next full scan, at most
`full_every - 1` frames later. Modes other than 'upright' scan every frame.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

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


MATCH_DISTANCE = 0.75
"""A face continues a track when its centre is within this many face sizes of the track's last box."""


class FaceFollower:
    """Numbers the faces of consecutive frames so that one person keeps one number: each face continues the
    track whose last box is nearest (centres within `match_distance` of that box's size, the nearest pairs
    first), the others start new tracks, numbered from 0 in order of appearance (left to right among faces
    that appear together). A track not seen for more than `keep` frames ends (0: it must be in the previous
    frame). The webcam's session summary (fer.media.session) and video files (fer.media.video) both use it."""

    def __init__(self, match_distance: float = MATCH_DISTANCE, keep: int = 0) -> None:
        self.match_distance, self.keep = match_distance, keep
        self._last: list[FaceBox] = []
        self._seen: list[int] = []  # the frame each track was last seen in
        self._hits: list[int] = []
        self._live: list[int] = []  # tracks that may still continue, ascending: only these are looked at
        self._frame = -1

    def __len__(self) -> int:
        """Tracks started so far."""
        return len(self._last)

    def hits(self, track: int) -> int:
        """Frames `track` was seen in."""
        return self._hits[track]

    def update(self, boxes: Sequence[FaceBox]) -> list[int]:
        """The track of each box of the next frame (in the order of `boxes`).

        The distances of every face to every live track are one numpy array, and only the pairs within
        `match_distance` are sorted (47 faces a frame over 20,000 frames took 34 s as Python pairs); the
        result is the same as sorting every pair."""
        self._frame += 1
        # every track ever was scanned here: 20,000 frames of 47 faces (118,580 tracks) took 54 s
        active = [k for k in self._live if self._frame - self._seen[k] <= self.keep + 1]
        order = sorted(range(len(boxes)), key=lambda fi: boxes[fi].x)
        track_of: dict[int, int] = {}
        taken: set[int] = set()
        if order and active:
            faces = np.array([boxes[fi].center for fi in order], float)
            prev = np.array([self._last[k].center for k in active], float)
            size = np.array([max(self._last[k].w, self._last[k].h, 1) for k in active], float)
            dist = np.hypot(*(faces[:, None, :] - prev[None, :, :]).transpose(2, 0, 1)) / size[None, :]
            rows, cols = np.nonzero(dist <= self.match_distance)  # row-major: faces in `order`, tracks in `active`
            for j in np.argsort(dist[rows, cols], kind="stable"):
                fi, k = order[rows[j]], active[cols[j]]
                if fi not in track_of and k not in taken:
                    track_of[fi] = k
                    taken.add(k)
        for fi in order:
            if fi not in track_of:
                track_of[fi] = len(self._last)
                self._last.append(boxes[fi])
                self._seen.append(self._frame)
                self._hits.append(0)
        for fi, k in track_of.items():
            self._last[k] = boxes[fi]
            self._seen[k] = self._frame
            self._hits[k] += 1
        self._live = sorted(set(active) | set(track_of.values()))
        return [track_of[fi] for fi in range(len(boxes))]
