"""Video files: probe, analyse frame by frame (every person followed), write an annotated copy, summarise.

`probe_video` checks a file before any work (one `VideoError` kind per bad input); `analyse_video` streams
its frames (never the whole video in memory) through the webcam's path (fer.media.live: detection on a
shrunk copy, a full scan every few frames and tracking in between, one batched classification) on every
`every`-th frame, carries the last faces over the frames in between, numbers each person consistently
(fer.vision.tracking.FaceFollower), and writes the annotated H.264 mp4 (fer.media.videoio) as it goes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fer.csvcells import cell
from fer.labels import LABELS
from fer.media.live import (
    FACE_BYTES,
    LIVE_MAX_SIDE,
    MAX_EVERY,
    MAX_RECORD_BYTES,
    MAX_RECORDS,
    RECORD_BYTES,
    draw_faces,
    find_faces,
)
from fer.media.session import MAX_GAP_S
from fer.media.videoio import (
    MAX_VIDEO_BYTES,
    MAX_VIDEO_PIXELS,
    MAX_VIDEO_S,
    VIDEO_ERROR_KINDS,
    VIDEO_TYPES,
    AnnotatedWriter,
    FrameReader,
    VideoError,
    VideoInfo,
    probe,
)
from fer.model.inference import Classifier, FacePrediction
from fer.vision.detection import Detector
from fer.vision.tracking import FULL_EVERY, FaceFollower, TrackingDetector

log = logging.getLogger(__name__)

__all__ = ["MAX_VIDEO_BYTES", "MAX_VIDEO_PIXELS", "MAX_VIDEO_S", "VIDEO_ERROR_KINDS", "VIDEO_TYPES", "PersonFace",
           "PersonSummary", "VideoError", "VideoInfo", "VideoProgress", "VideoRecord", "VideoResult", "analyse_video",
           "probe_video", "video_csv", "video_json"]

VIDEO_MAX_SIDE = LIVE_MAX_SIDE
"""Frames are detected on a copy shrunk to this longer side, as the webcam's (the detector's own max_side when
smaller)."""
OUT_MAX_SIDE = 1280
"""Frames are decoded, analysed and written at most this large (a 1080p or 4K video comes back as 720p: its
annotated copy encodes several times faster and plays as well in the page)."""
MEASURE = FULL_EVERY + 1
"""With no `every` given, the first frames analysed one after another to measure the cost (the first one,
which warms the model up, is not counted; the others hold one full detection scan and FULL_EVERY - 1 tracked)."""
KEEP_S = 1.0
"""A person missing from the analysed frames for up to this long keeps their number when they come back."""
CONFIRM = 2
"""Analysed frames a new face must be in before it is given a number (a detector's one-frame flicker is not)."""
PROGRESS_S = 0.25
"""The progress callback is called at most this often (and once at the end)."""
CSV_KEYS = ("time_s", "frame", "person", "x", "y", "w", "h", "label", *LABELS)


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
    size: tuple[int, int] = (0, 0)
    """(width, height) the frames were analysed and written at: the upright size, shrunk to at most
    OUT_MAX_SIDE (boxes in `records` are in these pixels)."""

    def timeline(self, person: int) -> dict[str, list[float]]:
        """Columns for a chart of one person: 't' (seconds into the clip) and one probability list per label
        (LABELS keys), over the analysed frames from the person's first to last; NaN where they were not in view
        (a chart then shows a gap rather than a line across their absence)."""
        cols: dict[str, list[float]] = {"t": [], **{k: [] for k in LABELS}}
        rows = [(r.t, next((pf.face for pf in r.faces if pf.person == person), None)) for r in self.records]
        seen = [i for i, (_, f) in enumerate(rows) if f is not None]
        if not seen:
            return cols
        for t, face in rows[seen[0]:seen[-1] + 1]:
            cols["t"].append(t)
            for i, k in enumerate(LABELS):
                cols[k].append(face.scores[i] if face is not None else math.nan)
        return cols

    def notes(self) -> tuple[tuple[str, dict[str, Any]], ...]:
        """What a reader should know about this result, as (catalog key, values) for `t(key, lang, **values)`:
        the frames analysed, Stop, a truncated file, no face found, a video written smaller than it came."""
        out: list[tuple[str, dict[str, Any]]] = []
        if self.analysed_every > 1:
            out.append(("video.note.every", {"every": self.analysed_every, "analysed": self.analysed,
                                             "frames": self.frames_done}))
        if self.stopped:
            out.append(("video.note.stopped", {"frames": self.frames_done, "total": self.info.frames}))
        if self.truncated:
            out.append(("video.note.truncated", {"frames": self.frames_done}))
        if not self.people:
            out.append(("video.note.no_faces", {}))
        if self.size != (self.info.width, self.info.height):
            out.append(("video.note.smaller", {"w": self.size[0], "h": self.size[1]}))
        return tuple(out)


@dataclass(frozen=True)
class _Span:
    """A person's running totals while the clip is read."""

    first_s: float
    last_s: float
    seconds: dict[str, float]


def probe_video(path: Path) -> VideoInfo:
    """Read a file's video stream (size, frame rate, length, rotation, audio) and decode its first frame.

    Raises VideoError: 'empty', 'too_large' (over MAX_VIDEO_BYTES), 'not_video' (also an image or a text file
    named .mp4), 'no_video_stream' (e.g. sound only), 'broken' (a video container that does not decode),
    'no_frames' (zero-length), 'too_long' (over MAX_VIDEO_S), 'too_many_pixels' (over MAX_VIDEO_PIXELS)."""
    return probe(Path(path))


def output_size(info: VideoInfo, max_side: int | None = None) -> tuple[int, int]:
    """The upright size frames are analysed and written at: at most `max_side` (OUT_MAX_SIDE), both sides even
    (yuv420p)."""
    max_side = max_side or OUT_MAX_SIDE
    factor = min(1.0, max_side / max(info.width, info.height))
    w, h = max(2, round(info.width * factor)), max(2, round(info.height * factor))
    return w - w % 2, h - h % 2


class _Records:
    """The analysed frames kept: past MAX_RECORDS or MAX_RECORD_BYTES every other one is dropped, and from then
    on only every second (fourth, ...) analysed frame is kept, so they always span the whole clip."""

    def __init__(self, max_records: int = MAX_RECORDS, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self.items: list[VideoRecord] = []
        self._max, self._max_bytes = max_records, max_bytes
        self._bytes, self._step, self._seen = 0, 1, 0

    def add(self, record: VideoRecord) -> None:
        self._seen += 1
        if (self._seen - 1) % self._step:
            return
        self.items.append(record)
        self._bytes += RECORD_BYTES + FACE_BYTES * len(record.faces)
        if len(self.items) > self._max or self._bytes > self._max_bytes:
            self.items = self.items[::2]
            self._bytes = sum(RECORD_BYTES + FACE_BYTES * len(r.faces) for r in self.items)
            self._step *= 2


@dataclass(frozen=True, eq=False)
class Overlay:
    """What `draw_faces` drew on a frame (boxes, numbers, labels: all opaque), to put on the next frames again
    without drawing (and placing) the labels anew: the pixels it changed within their bounding rectangle."""

    y0: int
    x0: int
    mask: np.ndarray
    """[h, w, 1] bool: the pixels drawn."""
    pixels: np.ndarray
    """[h, w, 3]: their colours."""

    @classmethod
    def of(cls, plain: np.ndarray, drawn: np.ndarray) -> Overlay:
        changed = np.any(plain != drawn, axis=2)
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        if not len(rows):
            return cls(0, 0, np.zeros((0, 0, 1), bool), np.zeros((0, 0, 3), np.uint8))
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return cls(int(y0), int(x0), changed[y0:y1, x0:x1, None], drawn[y0:y1, x0:x1].copy())

    def on(self, rgb: np.ndarray) -> np.ndarray:
        """A copy of `rgb` with the overlay on it."""
        out = rgb.copy()
        h, w = self.mask.shape[:2]
        if h and w:
            region = out[self.y0:self.y0 + h, self.x0:self.x0 + w]
            np.copyto(region, self.pixels, where=self.mask)
        return out


def _keep(fps: float, every: int) -> int:
    """Analysed frames a person may be missing from and keep their number: those of KEEP_S seconds."""
    return max(0, round(KEEP_S * fps / every) - 1)


def _choose_every(costs: list[tuple[float, float]], fps: float) -> int:
    """One frame in N analysed so that the work keeps up with the clip: `costs` are (analysis, everything
    else) seconds of the measured frames; N frames take N * else + analysis, at most N frame intervals."""
    analysis = sum(a for a, _ in costs) / len(costs)
    other = sum(o for _, o in costs) / len(costs)
    room = 1 / fps - other
    if room <= 0:
        return MAX_EVERY
    return int(min(MAX_EVERY, max(1, math.ceil(analysis / room))))


def analyse_video(path: Path, detector: Detector, classifier: Classifier, *, out: Path | None = None,
                  lang: str = "en", progress: Callable[[VideoProgress], None] | None = None,
                  stop: threading.Event | None = None, every: int | None = None) -> VideoResult:
    """Analyse a video file (probed first: VideoError as `probe_video`).

    Frames are read one at a time at `output_size`, upright; one in `every` is detected (on a copy shrunk to
    VIDEO_MAX_SIDE, a full scan every FULL_EVERY analysed frames and tracking in between) and classified, the
    others carry the last faces. `every` None: the first MEASURE frames are all analysed to time the work, then
    one in N so that the analysis keeps up with the clip's own frame rate (at most MAX_EVERY). People are
    numbered 1, 2 ... in order of appearance and keep their number (fer.vision.tracking.FaceFollower, through
    gaps up to KEEP_S). `out`: the annotated H.264 mp4 (boxes, numbers and emotions in `lang`, the original
    timing, audio kept) is written to a temporary file beside it and renamed when done; on an error nothing
    is left behind. `progress` is called from this thread at most every PROGRESS_S seconds and at the end;
    `stop` set ends the analysis early and keeps what was done (the video too, up to there)."""
    if every is not None and not 1 <= every <= 1000:
        raise ValueError("every must be from 1 to 1000")
    path = Path(path)
    info = probe(path)
    started = time.monotonic()
    size = output_size(info)
    if detector.config.max_side > VIDEO_MAX_SIDE:
        detector = Detector(replace(detector.config, max_side=VIDEO_MAX_SIDE))
    tracker = TrackingDetector(detector)
    fps = info.fps
    follower = FaceFollower()
    person_of: dict[int, int] = {}
    spans: dict[int, _Span] = {}
    records = _Records()
    tmp = None if out is None else Path(out).with_name(f".{Path(out).name}.{uuid.uuid4().hex[:8]}.part")
    writer: AnnotatedWriter | None = None
    reader = FrameReader(path, size, info.rotation)
    chosen = every or 1
    follower.keep = _keep(fps, chosen)
    costs: list[tuple[float, float]] = []
    analysed = frames_done = 0
    stopped = False
    shown: tuple[FacePrediction, ...] = ()
    numbers: list[int | None] = []
    last: VideoRecord | None = None
    last_t = 0.0
    last_report = -math.inf
    overlay: Overlay | None = None
    warm_at: float | None = None
    warm_done = 0

    def credit(record: VideoRecord, until: float) -> None:
        """The faces of `record` stand for the time up to `until` (at most MAX_GAP_S)."""
        weight = min(MAX_GAP_S, max(0.0, until - record.t))
        for pf in record.faces:
            if pf.person:
                span = spans[pf.person]
                span.seconds[pf.face.label] += weight

    def report(final: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if progress is None or (not final and now - last_report < PROGRESS_S):
            return
        last_report = now
        eta = None
        if warm_at is not None and frames_done - warm_done >= max(10, 2 * chosen) and now > warm_at:
            per_frame = (now - warm_at) / (frames_done - warm_done)
            eta = 0.0 if final else max(0.0, (info.frames - frames_done) * per_frame)
        progress(VideoProgress(frames_done, max(info.frames, frames_done), analysed, now - started, eta))

    try:
        if tmp is not None:
            writer = AnnotatedWriter(tmp, path, size, fps, reader.time_base, info.has_audio)
        report(final=True)
        tick = time.perf_counter()
        for frame in reader:
            if stop is not None and stop.is_set():
                stopped = True
                break
            t = frame.t if math.isfinite(frame.t) else (frame.index - 1) / fps
            if t > MAX_VIDEO_S + 1:  # a container that understated its length
                raise VideoError(f"the video lasts over {MAX_VIDEO_S:.0f} s", "too_long", seconds=math.ceil(t),
                                 limit_min=round(MAX_VIDEO_S / 60))
            frames_done += 1
            measuring = every is None and analysed < MEASURE
            if measuring or (frames_done - 1) % chosen == 0 or analysed == 0:
                a0 = time.perf_counter()
                shown, _ = find_faces(frame.rgb, tracker, classifier)
                tracks = follower.update([f.box for f in shown])
                numbers = []
                for k in tracks:
                    if k not in person_of and follower.hits(k) >= CONFIRM:
                        person_of[k] = len(person_of) + 1
                    numbers.append(person_of.get(k))
                faces = tuple(PersonFace(n or 0, f) for n, f in zip(numbers, shown, strict=True))
                record = VideoRecord(t, frame.index, faces)
                for pf in faces:
                    if pf.person:
                        span = spans.get(pf.person)
                        spans[pf.person] = (_Span(t, t, dict.fromkeys(LABELS, 0.0)) if span is None
                                            else replace(span, last_s=t))
                if last is not None:
                    credit(last, t)
                last = record
                records.add(record)
                analysed += 1
                analysis = time.perf_counter() - a0
                if analysed == 1:
                    warm_at, warm_done = time.monotonic(), frames_done
            else:
                analysis = None
            if writer is not None:
                if analysis is not None or overlay is None:
                    drawn = draw_faces(frame.rgb, shown, lang, numbers=numbers)
                    overlay = Overlay.of(frame.rgb, drawn)
                else:
                    drawn = overlay.on(frame.rgb)
                writer.write(drawn, frame.pts, t)
            now = time.perf_counter()
            if analysis is not None and every is None and 1 < analysed <= MEASURE:
                costs.append((analysis, now - tick - analysis))
                if analysed == MEASURE:
                    chosen = _choose_every(costs, fps)
                    follower.keep = _keep(fps, chosen)
                    log.info("video: analysing one frame in %d (%.0f ms an analysis, %.0f ms the rest a frame)",
                             chosen, 1000 * costs[-1][0], 1000 * costs[-1][1])
            tick = now
            last_t = t
            report()
        if frames_done == 0 and not stopped:  # the first frame decoded once (probe) but not in sequence
            raise VideoError("the file is damaged: its video does not decode", "broken")
        if last is not None:
            credit(last, last_t + 1 / fps)
        if writer is not None and frames_done == 0:  # stopped before the first frame: no video to give
            writer.abort()
            writer = None
            tmp.unlink(missing_ok=True)  # type: ignore[union-attr]
            out = None
        if writer is not None:
            writer.close(audio_until=last_t + 1 / fps if (stopped or reader.truncated) else math.inf)
            tmp.replace(Path(out))  # type: ignore[union-attr]
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        reader.close()
    report(final=True)
    people = tuple(PersonSummary(p, s.first_s, s.last_s, dict(s.seconds),
                                 max(LABELS, key=s.seconds.__getitem__))
                   for p, s in sorted(spans.items()))
    return VideoResult(info, frames_done, analysed, chosen, stopped, reader.truncated, people,
                       tuple(records.items), Path(out) if out is not None else None, time.monotonic() - started,
                       size)


def video_rows(result: VideoResult, blank: Any = "") -> list[dict[str, Any]]:
    """One row per face per analysed frame (CSV_KEYS); a frame without faces gives one row of `blank` values,
    and a face not yet given a number (seen once) has `blank` for its person."""
    rows = []
    for r in result.records:
        base = {"time_s": round(r.t, 3), "frame": r.frame}
        if not r.faces:
            rows.append({**base, **dict.fromkeys(CSV_KEYS[2:], blank)})
        for pf in r.faces:
            x, y, w, h = pf.face.box.xywh
            rows.append({**base, "person": pf.person or blank, "x": x, "y": y, "w": w, "h": h, "label": pf.face.label,
                         **{k: round(v, 6) for k, v in pf.face.score_dict().items()}})
    return rows


def video_csv(result: VideoResult, headers: dict[str, str] | None = None) -> str:
    """One row per face per analysed frame (a frame without faces: one row of blanks), like the webcam's and the
    Images page's CSV: time_s, frame, person, x, y, w, h, label and the seven probabilities (boxes in the
    pixels of the frames analysed: `VideoResult.size`); `headers` renames columns (e.g. translated)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([cell((headers or {}).get(k, k)) for k in CSV_KEYS])
    for row in video_rows(result):
        writer.writerow([cell(row[k]) for k in CSV_KEYS])
    return buf.getvalue()


def video_json(result: VideoResult) -> str:
    """The result as JSON: info, counters, people and every analysed frame's faces (boxes in the pixels of
    `VideoResult.size`)."""
    def num(x: float) -> float | None:
        return round(x, 6) if math.isfinite(x) else None

    doc = {"info": asdict(result.info), "size": list(result.size), "frames_done": result.frames_done,
           "analysed": result.analysed, "analysed_every": result.analysed_every, "stopped": result.stopped,
           "truncated": result.truncated, "elapsed_s": round(result.elapsed_s, 3),
           "annotated": str(result.annotated) if result.annotated else None,
           "people": [{"person": p.person, "first_s": round(p.first_s, 3), "last_s": round(p.last_s, 3),
                       "dominant": p.dominant, "seconds": {k: round(v, 3) for k, v in p.seconds.items()}}
                      for p in result.people],
           "frames": [{"t": round(r.t, 3), "frame": r.frame,
                       "faces": [{"person": pf.person or None, **pf.face.to_dict(),
                                  "scores": {k: num(v) for k, v in pf.face.score_dict().items()}}
                                 for pf in r.faces]}
                      for r in result.records]}
    return json.dumps(doc, indent=1)
