"""The summary of a webcam session once it stops: time per emotion, each face's dominant emotion.

Faces are followed from one analysed frame to the next by where they are (the nearest centre within
`MATCH_DISTANCE` face sizes), so "Face 2" of the summary is one person even when the detector lists
faces in another order from frame to frame.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from fer.labels import LABELS
from fer.media.live import DEFAULT_INTERVAL_S, FrameRecord
from fer.vision.tracking import MATCH_DISTANCE, FaceFollower

MAX_GAP_S = 1.0
"""An analysed frame stands for the time until the next one, at most this long (a pause is not a mood)."""
MIN_SHARE = 0.05
"""Faces seen in fewer than this share of the analysed frames are left out (detector flicker)."""


@dataclass(frozen=True)
class FaceSummary:
    """One person followed through the session."""

    number: int
    """1, 2, ... in order of first appearance (left to right among faces that appear together)."""
    frames: int
    """Analysed frames the face was in."""
    seconds: float
    """Time the face was in view (each of its frames counted as in `SessionSummary.seconds_per_label`)."""
    dominant: str
    """The label it showed longest."""
    dominant_share: float
    """Share of its time with that label (0..1)."""
    mean_scores: tuple[float, ...]
    """Mean probability of each label (LABELS order) over its frames."""


@dataclass(frozen=True)
class SessionSummary:
    duration_s: float
    """First to last analysed frame, plus the last frame's own interval."""
    analysed: int
    """Analysed frames."""
    seconds_per_label: dict[str, float]
    """Seconds the main (largest) face showed each label; frames without a face are not counted."""
    no_face_s: float
    """Seconds with no face in view."""
    faces: tuple[FaceSummary, ...]

    @property
    def dominant(self) -> str | None:
        """The label the main face showed longest (None when no face was seen)."""
        shown = {k: v for k, v in self.seconds_per_label.items() if v > 0}
        return max(shown, key=shown.__getitem__) if shown else None


def frame_weights(records: list[FrameRecord]) -> list[float]:
    """Seconds each analysed frame stands for: the gap to the next one (at most MAX_GAP_S); the last
    frame gets the median gap (a camera frame's interval when it is the only one)."""
    gaps = [min(MAX_GAP_S, max(0.0, b.t - a.t)) for a, b in zip(records, records[1:], strict=False)]
    last = statistics.median(gaps) if gaps else DEFAULT_INTERVAL_S
    return [*gaps, last] if records else []


def follow_faces(records: list[FrameRecord]) -> list[list[tuple[int, int]]]:
    """Tracks of faces: each a list of (record index, face index), matched from frame to frame by nearest
    centre (fer.vision.tracking.FaceFollower: a track must be in the previous analysed frame)."""
    tracks: list[list[tuple[int, int]]] = []
    follower = FaceFollower(MATCH_DISTANCE)
    for ri, rec in enumerate(records):
        ids = follower.update([f.box for f in rec.faces])
        tracks.extend([] for _ in range(len(follower) - len(tracks)))
        for fi in sorted(range(len(ids)), key=lambda fi: rec.faces[fi].box.x):
            tracks[ids[fi]].append((ri, fi))
    return tracks


def summarise(records: list[FrameRecord]) -> SessionSummary:
    """Time per emotion of the main face, and each followed face's dominant emotion."""
    weights = frame_weights(records)
    per_label = dict.fromkeys(LABELS, 0.0)
    no_face = 0.0
    for rec, w in zip(records, weights, strict=True):
        main = rec.main_face()
        if main is None:
            no_face += w
        else:
            per_label[main.label] += w
    faces = []
    for track in follow_faces(records):
        if len(track) < MIN_SHARE * len(records):
            continue
        time_by_label = dict.fromkeys(LABELS, 0.0)
        sums = [0.0] * len(LABELS)
        for ri, fi in track:
            face = records[ri].faces[fi]
            time_by_label[face.label] += weights[ri]
            sums = [s + v for s, v in zip(sums, face.scores, strict=True)]
        seconds = sum(time_by_label.values())
        dominant = max(LABELS, key=time_by_label.__getitem__)
        faces.append(FaceSummary(len(faces) + 1, len(track), seconds, dominant,
                                 time_by_label[dominant] / seconds if seconds else 0.0,
                                 tuple(s / len(track) for s in sums)))
    duration = (records[-1].t - records[0].t + weights[-1]) if records else 0.0
    return SessionSummary(duration, len(records), per_label, no_face, tuple(faces))
