"""Video files: probe, analyse frame by frame (every person followed), write an annotated copy, summarise.

`probe_video` checks a file before any work (one `VideoError` kind per bad input); `analyse_video` streams
its frames (never the whole video in memory) through the webcam's path (fer.media.live: detection on a
shrunk copy, a full scan every few frames and tracking in between, one batched classification) on every
`every`-th frame, carries the last faces over the frames in between, numbers each person consistently
(fer.vision.tracking.FaceFollower), and writes the annotated H.264 mp4 (fer.media.videoio) as it goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fer.model.inference import Classifier, FacePrediction
from fer.vision.detection import Detector

MAX_VIDEO_BYTES = 200 * 1024**2
"""The largest video file analysed (stated on the Videos page)."""
MAX_VIDEO_S = 600.0
"""The longest video analysed, in seconds (10 minutes)."""
VIDEO_TYPES = ("mp4", "mov", "webm", "avi", "mkv")
"""File extensions the Videos page offers (any container PyAV opens is read)."""
MAX_VIDEO_PIXELS = 4096 * 2160
"""The most pixels a frame may have (DCI 4K): larger videos are refused ('too_many_pixels')."""

VIDEO_ERROR_KINDS = ("empty", "not_video", "no_video_stream", "broken", "no_frames", "too_long", "too_large",
                     "too_many_pixels")
"""Every `VideoError.kind`; the page says each with `video.error.<kind>`."""


class VideoError(ValueError):
    """A file that cannot be analysed, with one plain message. `kind` (one of VIDEO_ERROR_KINDS) names it and
    `details` (numbers as numbers, e.g. {"seconds": 731.0, "limit": 600.0}) fill the page's
    `t(f"video.error.{kind}", **details)`."""

    def __init__(self, message: str, kind: str, **details: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reads from a file before any analysis."""

    width: int
    """Upright width in pixels (rotation metadata applied)."""
    height: int
    """Upright height in pixels."""
    fps: float
    """Average frame rate (frames per second)."""
    frames: int
    """Frames in the video stream: the container's count, else estimated from duration * fps."""
    duration_s: float
    rotation: int
    """Degrees (0, 90, 180, 270) the stored frames are turned counter-clockwise to stand upright."""
    has_audio: bool
    codec: str
    """The video codec's name, e.g. 'h264'."""


@dataclass(frozen=True)
class VideoProgress:
    """What `analyse_video` reports while it runs (to its `progress` callback)."""

    frames_done: int
    frames_total: int
    """`VideoInfo.frames` (an estimate for some containers: frames_done may pass it)."""
    analysed: int
    """Frames detected and classified so far (the others carry the last faces)."""
    elapsed_s: float
    eta_s: float | None
    """Seconds left, measured from the frames done so far; None until it can be measured."""


@dataclass(frozen=True)
class PersonFace:
    """One face of an analysed frame and the person it belongs to."""

    person: int
    """1, 2, 3 ... the number drawn on the video; 0 while a new face is not yet confirmed (seen once)."""
    face: FacePrediction


@dataclass(frozen=True)
class VideoRecord:
    """One analysed frame."""

    t: float
    """Seconds from the start of the clip (the frame's own timestamp)."""
    frame: int
    """Frame number, from 1."""
    faces: tuple[PersonFace, ...]


@dataclass(frozen=True)
class PersonSummary:
    """One person followed through the clip."""

    person: int
    first_s: float
    """When the person was first seen (seconds into the clip)."""
    last_s: float
    seconds: dict[str, float]
    """Seconds per emotion (every fer.labels.LABELS key); each analysed frame stands for the time to the next."""
    dominant: str
    """The emotion shown longest."""

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())


@dataclass(frozen=True)
class VideoResult:
    """Everything `analyse_video` found."""

    info: VideoInfo
    frames_done: int
    """Frames read (all of them unless stopped or truncated)."""
    analysed: int
    """Frames detected and classified."""
    analysed_every: int
    """One frame in this many was analysed (after the first frames, analysed all to measure the cost)."""
    stopped: bool
    """Stop was asked: the frames up to then are kept (and the annotated video ends there)."""
    truncated: bool
    """The file broke off (a truncated download): the frames decoded up to there are kept."""
    people: tuple[PersonSummary, ...]
    """Every person seen, in order of first appearance (empty: no face in the clip)."""
    records: tuple[VideoRecord, ...]
    """The analysed frames in order (thinned evenly past MAX_RECORDS, so they always span the whole clip)."""
    annotated: Path | None
    """The annotated H.264 mp4, when `out` was given."""
    elapsed_s: float = 0.0
    """Wall-clock seconds the analysis took."""

    def timeline(self, person: int) -> dict[str, list[float]]:
        """Columns for a chart of one person: 't' (seconds) and one probability list per label, over the
        analysed frames the person is in."""
        raise NotImplementedError


def probe_video(path: Path) -> VideoInfo:
    """Read a file's video stream (size, frame rate, length, rotation, audio) and decode its first frame.

    Raises VideoError: 'empty', 'too_large' (over MAX_VIDEO_BYTES), 'not_video', 'no_video_stream' (e.g. audio
    only), 'broken' (a video container that does not decode), 'no_frames' (zero-length), 'too_long' (over
    MAX_VIDEO_S), 'too_many_pixels' (over MAX_VIDEO_PIXELS)."""
    raise NotImplementedError


def analyse_video(path: Path, detector: Detector, classifier: Classifier, *, out: Path | None = None,
                  lang: str = "en", progress: Callable[[VideoProgress], None] | None = None,
                  stop: threading.Event | None = None, every: int | None = None) -> VideoResult:
    """Analyse a video file (probed first: VideoError as `probe_video`).

    `every`: analyse one frame in `every` (None: chosen from the measured cost so that the analysis keeps up
    with the clip's own frame rate). `out`: write the annotated H.264 mp4 there (original frame rate, audio
    kept, labels in `lang`); nothing is left behind on error. `progress` is called from this thread about
    twice a second; `stop` set ends the analysis early with what was done."""
    raise NotImplementedError


def video_csv(result: VideoResult, headers: dict[str, str] | None = None) -> str:
    """One row per face per analysed frame (a frame without faces: one row of blanks), like the Images page's
    CSV: time_s, frame, person, x, y, w, h, label and the seven probabilities; `headers` renames columns."""
    raise NotImplementedError


def video_json(result: VideoResult) -> str:
    """The result as JSON: info, counters, people and every analysed frame's faces."""
    raise NotImplementedError
