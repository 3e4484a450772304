"""Live video: classify frames as they come, draw the result, keep per-frame records for charts and CSV.

The webcam page hands `LiveProcessor.callback` to streamlit-webrtc; it runs in a worker thread and
never touches Streamlit. The page reads `snapshot()` and `records()` from its own thread; a lock
guards everything they share.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fer.csvcells import cell
from fer.labels import LABELS
from fer.media.annotate import annotate
from fer.model.inference import Classifier, FacePrediction
from fer.vision.detection import Detector
from fer.vision.preprocessing import crop_faces, to_gray
from fer.vision.tracking import FULL_EVERY, TrackingDetector

MAX_EVERY = 10
"""Never skip more than this many frames between two analysed ones."""
LIVE_MAX_SIDE = 320
"""Webcam frames are detected on a copy shrunk to this longer side (webcam faces are large)."""
STAGES = ("convert", "detect", "crop", "classify", "draw")
"""Parts of one analysed frame timed by `LiveProcessor.last_stages` (milliseconds)."""
MAX_RECORDS = 20_000
"""Per-frame records kept (the oldest go first): about 11 minutes at 30 analysed frames a second."""
RECORD_BYTES, FACE_BYTES = 200, 520
"""Memory of one FrameRecord and of each face in it (measured with tracemalloc: 185 and 507 bytes)."""
MAX_RECORD_BYTES = 64 * 1024**2
"""Memory the records of one session may take (`record_bytes`; the oldest go first): 20,000 records of one face
take 14 MB, of 47 faces 480 MB (541 MB measured) were it not for this bound (2,700 such records)."""
DEFAULT_INTERVAL_S = 1 / 30
"""Assumed camera frame interval until skipped frames have measured the real one."""
STALE_S = 2.0
"""No frame for this long: the stream has stopped (the readout then shows the session's averages)."""
RATE_WINDOW = 120
"""Frame arrival times kept to measure the recent frame rate."""
CSV_KEYS = ("time_s", "timestamp", "frame", "face", "x", "y", "w", "h", "label", *LABELS)


@dataclass(frozen=True)
class FrameRecord:
    """The result of one analysed frame."""

    t: float
    """Seconds since the first frame of the session."""
    wall: float
    """Unix time of the frame."""
    frame: int
    """Number of the frame (from 1) among all frames received."""
    faces: tuple[FacePrediction, ...]

    def main_face(self) -> FacePrediction | None:
        """The largest face, the one the timeline follows."""
        return max(self.faces, key=lambda f: f.box.w * f.box.h, default=None)


def record_bytes(record: FrameRecord) -> int:
    """The memory a record takes (RECORD_BYTES + FACE_BYTES a face), as MAX_RECORD_BYTES counts it."""
    return RECORD_BYTES + FACE_BYTES * len(record.faces)


@dataclass(frozen=True)
class LiveSnapshot:
    """What the readout shows: counters, speed and the latest faces."""

    frames: int
    """Frames received (and sent back) so far."""
    analysed: int
    """Frames detected and classified so far."""
    fps: float | None
    """Frames per second arriving: over the last seconds while frames come, over the whole session once
    they stopped; None until two frames have arrived (never a 0 while frames are counted)."""
    analysed_fps: float | None
    """Analysed frames per second: `fps` times `analysed_share`, so the two never disagree."""
    analysed_share: float | None
    """Share of the frames analysed (0..1), over the same frames as `fps`: the recent ones while frames come,
    the whole session once they stopped; None with `fps`. The page's words about how many frames are analysed
    come from it, never from `every` (the plan for the next frames, which moves as analyses speed up)."""
    streaming: bool
    """A frame arrived within the last STALE_S seconds."""
    every: int
    """The plan for the next frames: one in `every` is to be analysed (1 = all)."""
    process_ms: float
    """Average time to detect, classify and draw one frame."""
    faces: tuple[FacePrediction, ...]
    """The faces of the latest analysed frame."""


def rate(times: list[float], count: int, first: float | None, last: float | None, streaming: bool) -> float | None:
    """Events per second: over the recent `times` while streaming, else `count` events from `first` to
    `last`; None when fewer than two events make a rate."""
    if streaming and len(times) > 1 and times[-1] > times[0]:
        return (len(times) - 1) / (times[-1] - times[0])
    if count > 1 and first is not None and last is not None and last > first:
        return (count - 1) / (last - first)
    return None


def analysed_rates(frames: list[tuple[float, bool]], count: int, analysed: int, first: float | None,
                   last: float | None, streaming: bool) -> tuple[float | None, float | None, float | None]:
    """(frames per second, analysed frames per second, share analysed) over one set of frames: the recent
    `frames` ((arrival time, analysed)) while streaming, else the whole session's `count` frames of which
    `analysed` were analysed, from `first` to `last`. One source for the readout's numbers and words."""
    fps = rate([t for t, _ in frames], count, first, last, streaming)
    if fps is None:
        return None, None, None
    if streaming and len(frames) > 1 and frames[-1][0] > frames[0][0]:
        share = sum(a for _, a in frames) / len(frames)
    else:
        share = analysed / count if count else 0.0
    return fps, fps * share, share


class LiveProcessor:
    """Thread-safe frame processor: adapts how many frames it skips to the time one analysis takes.

    Faces are detected with a full scan every `full_every` analysed frames and re-found near where
    they were in between (fer.vision.tracking). `configure` swaps the detector, classifier and drawing
    options between frames (the page calls it when sidebar settings change); with no classifier yet (the
    model still loading) frames go back as they came, counted but not analysed. `clock` is injectable
    for tests; `max_every` caps the frames skipped (1: analyse every frame).
    """

    def __init__(self, detector: Detector, classifier: Classifier | None, margin: float = 0.0, lang: str = "en",
                 show_confidence: bool = True, clock: Callable[[], float] = time.monotonic,
                 max_records: int = MAX_RECORDS, max_every: int = MAX_EVERY, full_every: int = FULL_EVERY,
                 max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._max_every, self._full_every = max_every, full_every
        self._tracker: TrackingDetector | None = None
        self._stages: dict[str, float] = {}
        self._records: deque[FrameRecord] = deque()
        self._max_records, self._max_record_bytes = max_records, max_record_bytes
        self._record_bytes = 0
        self._generation = 0
        self.configure(detector, classifier, margin, lang, show_confidence)
        self.reset()

    @property
    def classifier(self) -> Classifier | None:
        """The classifier frames are analysed with (None while the model is still loading)."""
        with self._lock:
            return self._classifier

    def configure(self, detector: Detector, classifier: Classifier | None, margin: float = 0.0, lang: str = "en",
                  show_confidence: bool = True) -> None:
        with self._lock:
            if self._tracker is None or self._tracker.detector is not detector:
                self._tracker = TrackingDetector(detector, self._full_every)
            self._classifier = classifier
            self._margin, self._lang, self._show_confidence = margin, lang, show_confidence

    def reset(self) -> None:
        """Forget the records and counters (a new recording starts)."""
        with self._lock:
            if self._tracker is not None:
                self._tracker.reset()
            self._records.clear()
            self._record_bytes = 0
            self._generation += 1
            self._frames = 0
            self._analysed = 0
            self._every = 1
            self._proc_s = 0.0
            self._interval_s = DEFAULT_INTERVAL_S
            self._since_analysed = 0
            self._prev_analysed = False
            self._last_in: float | None = None
            self._start: float | None = None
            self._start_wall = 0.0
            self._times: deque[tuple[float, bool]] = deque(maxlen=RATE_WINDOW)
            """The recent frames: (arrival time, analysed)."""
            self._faces: tuple[FacePrediction, ...] = ()

    # -- the frame path (worker thread) -------------------------------------------------------------

    def process(self, rgb: np.ndarray) -> np.ndarray:
        """One RGB frame in, the same frame with boxes and labels out (analysed or with the last result)."""
        now = self._clock()
        with self._lock:
            self._frames += 1
            frame_no = self._frames
            if self._start is None:
                self._start, self._start_wall = now, time.time()
            if self._last_in is not None and not self._prev_analysed:
                # only gaps after a cheap (skipped) frame show the camera's own pace
                self._interval_s = 0.8 * self._interval_s + 0.2 * (now - self._last_in)
            self._last_in = now
            analyse = self._analysed == 0 or self._since_analysed + 1 >= self._every
            self._since_analysed = 0 if analyse else self._since_analysed + 1
            detector, classifier, margin = self._tracker, self._classifier, self._margin
            self._times.append((now, analyse and classifier is not None))
            if classifier is None:  # the model is still loading: the frame goes back as it came
                self._prev_analysed = False
                return rgb
            self._prev_analysed = analyse
            lang, show_conf = self._lang, self._show_confidence
            faces = self._faces
        if analyse:
            t0 = self._clock()
            faces, out, stages = analyse_frame(rgb, detector, classifier, margin, lang, show_conf)
            spent = self._clock() - t0
            with self._lock:
                self._stages = stages
                self._analysed += 1
                self._faces = faces
                self._proc_s = spent if self._proc_s == 0 else 0.7 * self._proc_s + 0.3 * spent
                self._every = self._pick_every()
                self._keep(FrameRecord(now - self._start, self._start_wall + (now - self._start), frame_no, faces))
            return out
        return draw_faces(rgb, faces, lang, show_conf)

    def _keep(self, record: FrameRecord) -> None:
        """Append a record; drop the oldest past MAX_RECORDS records or MAX_RECORD_BYTES (caller holds the lock)."""
        self._records.append(record)
        self._record_bytes += record_bytes(record)
        while len(self._records) > 1 and (len(self._records) > self._max_records
                                          or self._record_bytes > self._max_record_bytes):
            self._record_bytes -= record_bytes(self._records.popleft())

    @property
    def version(self) -> tuple[int, int]:
        """(recording, analysed frames): changes whenever the records do, so what is computed from them (the
        session summary, the CSV) can be kept until then."""
        with self._lock:
            return self._generation, self._analysed

    def _pick_every(self) -> int:
        """Analyse one frame in N, N = how many frame intervals one analysis takes (caller holds the lock)."""
        return int(min(self._max_every, max(1, math.ceil(self._proc_s / self._interval_s))))

    def callback(self, frame: Any) -> Any:
        """streamlit-webrtc's `video_frame_callback`: av.VideoFrame in, annotated av.VideoFrame out."""
        import av

        t0 = time.perf_counter()
        rgb = frame.to_ndarray(format="rgb24")
        convert = time.perf_counter() - t0
        drawn = self.process(rgb)
        t1 = time.perf_counter()
        out = av.VideoFrame.from_ndarray(drawn, format="rgb24")
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        convert += time.perf_counter() - t1
        with self._lock:
            self._stages["convert"] = 1000 * convert
        return out

    def last_stages(self) -> dict[str, float]:
        """Milliseconds per stage (STAGES) of the latest analysed frame ('convert': of the latest frame)."""
        with self._lock:
            return dict(self._stages)

    # -- the readout (page thread) ------------------------------------------------------------------

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            frames = list(self._times)
            streaming = bool(frames) and self._clock() - frames[-1][0] <= STALE_S
            fps, analysed_fps, share = analysed_rates(frames, self._frames, self._analysed, self._start,
                                                      self._last_in, streaming)
            return LiveSnapshot(self._frames, self._analysed, fps, analysed_fps, share, streaming, self._every,
                                1000 * self._proc_s, self._faces)

    def records(self, last_s: float | None = None) -> list[FrameRecord]:
        """Analysed frames, oldest first; only those of the last `last_s` seconds when given."""
        with self._lock:
            recs = list(self._records)
        if last_s is not None and recs:
            recs = [r for r in recs if r.t >= recs[-1].t - last_s]
        return recs


def find_faces(rgb: np.ndarray, detector: Detector | TrackingDetector, classifier: Classifier, margin: float = 0.0,
               ) -> tuple[tuple[FacePrediction, ...], dict[str, float]]:
    """Detect and classify (all faces in one batch) the faces of one RGB frame: (faces, ms per stage)."""
    t0 = time.perf_counter()
    gray = to_gray(rgb)
    boxes = detector.detect(gray)
    t1 = time.perf_counter()
    crops = crop_faces(gray, boxes, margin)
    t2 = time.perf_counter()
    scores = classifier.scores(crops) if boxes else []
    faces = tuple(FacePrediction(b, tuple(float(v) for v in s)) for b, s in zip(boxes, scores, strict=True))
    t3 = time.perf_counter()
    return faces, {"detect": 1000 * (t1 - t0), "crop": 1000 * (t2 - t1), "classify": 1000 * (t3 - t2)}


def analyse_frame(rgb: np.ndarray, detector: Detector | TrackingDetector, classifier: Classifier, margin: float = 0.0,
                  lang: str = "en", show_confidence: bool = True,
                  ) -> tuple[tuple[FacePrediction, ...], np.ndarray, dict[str, float]]:
    """Detect, classify (all faces in one batch) and draw one frame: (faces, drawn frame, ms per stage)."""
    faces, stages = find_faces(rgb, detector, classifier, margin)
    t3 = time.perf_counter()
    out = draw_faces(rgb, faces, lang, show_confidence)
    stages["draw"] = 1000 * (time.perf_counter() - t3)
    return faces, out, stages


def draw_faces(rgb: np.ndarray, faces: tuple[FacePrediction, ...], lang: str = "en",
               show_confidence: bool = True, numbers: Sequence[int | None] | None = None) -> np.ndarray:
    """The frame with every face boxed and labelled '1 · Happy 87%', numbered in the order of `faces` (the
    readout beside the video names them 'Face 1', 'Face 2' in that order) or by `numbers` (a video file's
    people; None: no number)."""
    shown = range(1, len(faces) + 1) if numbers is None else numbers
    return annotate(rgb, faces, lang, show_confidence, numbers=shown)


def timeline(records: list[FrameRecord]) -> dict[str, list[float]]:
    """Columns for a chart: 't' (seconds) and one score list per label for the main face (NaN: no face)."""
    cols: dict[str, list[float]] = {"t": [r.t for r in records]}
    for i, name in enumerate(LABELS):
        cols[name] = [(f.scores[i] if (f := r.main_face()) is not None else math.nan) for r in records]
    return cols


def records_rows(records: list[FrameRecord], blank: Any = "") -> list[dict[str, Any]]:
    """One row per face per analysed frame; a frame without faces gives one row of `blank` values
    ("" for CSV; None for a table, whose numeric columns must not mix numbers and strings)."""
    return list(iter_records_rows(records, blank))


def iter_records_rows(records: Iterable[FrameRecord], blank: Any = "") -> Iterator[dict[str, Any]]:
    """The rows of `records_rows`, one at a time."""
    for r in records:
        base = {"time_s": round(r.t, 3),
                "timestamp": datetime.fromtimestamp(r.wall, UTC).isoformat(timespec="milliseconds"),
                "frame": r.frame}
        if not r.faces:
            yield {**base, **dict.fromkeys(("face", "x", "y", "w", "h", "label", *LABELS), blank)}
        for i, f in enumerate(r.faces, start=1):
            x, y, w, h = f.box.xywh
            yield {**base, "face": i, "x": x, "y": y, "w": w, "h": h, "label": f.label,
                   **{k: round(v, 6) for k, v in f.score_dict().items()}}


def records_csv(records: list[FrameRecord], headers: dict[str, str] | None = None) -> str:
    """The rows of `records_rows` as CSV, written one row at a time (never all rows at once); `headers` renames
    columns (e.g. translated for the user)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([cell((headers or {}).get(k, k)) for k in CSV_KEYS])
    for row in iter_records_rows(records):
        writer.writerow([cell(row[k]) for k in CSV_KEYS])  # text as text in a spreadsheet (fer.csvcells)
    return buf.getvalue()


def parse_ice_servers(value: Any) -> list[dict[str, Any]]:
    """ICE servers for WebRTC from JSON text or a list: [{"urls": [...], "username": .., "credential": ..}].

    Accepts a bare URL string ("stun:stun.example.org:3478") or a list of such strings too.
    Raises ValueError with a readable message on anything else.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith(("stun:", "turn:", "turns:")):
            return [{"urls": [text]}]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"ICE servers: not valid JSON ({exc})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("ICE servers: expected a list of {urls, username, credential} objects")
    servers = []
    for item in value:
        entry = {"urls": [item]} if isinstance(item, str) else dict(item) if isinstance(item, dict) else None
        if entry is None or not entry.get("urls"):
            raise ValueError(f"ICE servers: every server needs 'urls' (got {item!r})")
        if isinstance(entry["urls"], str):
            entry["urls"] = [entry["urls"]]
        servers.append(entry)
    return servers
