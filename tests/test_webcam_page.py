"""The live path: fer.media.live (processor, frame callback, records) and an AppTest of the Webcam page (en, pt)."""

import csv
import io
import threading
from dataclasses import replace
from typing import Any

import av
import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from fer.labels import COLORS, LABELS, display_name
from fer.media.live import (
    CSV_KEYS,
    LIVE_MAX_SIDE,
    STAGES,
    LiveProcessor,
    parse_ice_servers,
    records_csv,
    records_rows,
    timeline,
)
from fer.model.inference import Classifier
from fer.model.modelio import load_card
from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector, DetectorConfig
from fer.vision.tracking import TrackingDetector
from tests.helpers import PHOTOS, ROOT, StreamerStub

PAGE = str(ROOT / "pages" / "webcam.py")


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.from_file(ROOT / "models" / "default.keras")


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    """A 640x480 RGB camera frame holding one real face."""
    bgr = cv2.imread(str(PHOTOS / "obama.jpg"))
    bgr = cv2.resize(bgr, (384, 480), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 128:512] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return frame


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowClassifier:
    """A real classifier whose every call takes `cost` seconds on a fake clock."""

    def __init__(self, inner: Classifier, clock: FakeClock, cost: float) -> None:
        self.inner, self.clock, self.cost = inner, clock, cost

    def scores(self, faces: np.ndarray) -> np.ndarray:
        self.clock.now += self.cost
        return self.inner.scores(faces)


def test_callback_on_a_real_face_frame(classifier: Classifier, face_frame: np.ndarray) -> None:
    proc = LiveProcessor(Detector(), classifier, lang="pt")
    frame = av.VideoFrame.from_ndarray(face_frame, format="rgb24")
    frame.pts = 3000
    out = proc.callback(frame)
    assert isinstance(out, av.VideoFrame) and (out.width, out.height) == (640, 480) and out.pts == 3000
    snap = proc.snapshot()
    assert snap.frames == 1 and snap.analysed == 1 and len(snap.faces) == 1
    label = snap.faces[0].label
    assert label in LABELS
    drawn = out.to_ndarray(format="rgb24")
    changed = np.any(drawn != face_frame, axis=2)
    assert changed.sum() > 500  # box and label drawn
    box = snap.faces[0].box
    assert tuple(drawn[box.y + box.h // 2, box.x]) == COLORS[label]
    [rec] = proc.records()
    assert rec.frame == 1 and rec.faces == snap.faces and rec.t == 0.0


def test_webcam_boxes_are_numbered_as_the_readout_names_the_faces(classifier: Classifier,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The readout says 'Face 1', 'Face 2' in the order of snapshot().faces: the video's labels carry
    the same numbers, on analysed frames and on the frames in between (issue 39, item 15)."""
    import fer.media.live as live

    drawn: list[tuple] = []
    real = live.annotate

    def spy(rgb, faces, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        drawn.append((tuple(faces), list(kwargs.get("numbers") or [])))
        return real(rgb, faces, *args, **kwargs)

    monkeypatch.setattr(live, "annotate", spy)
    rgb = cv2.cvtColor(cv2.imread(str(PHOTOS / "obama_and_biden.jpg")), cv2.COLOR_BGR2RGB)
    frame = cv2.resize(rgb, (640, round(640 * rgb.shape[0] / rgb.shape[1])), interpolation=cv2.INTER_AREA)
    clock = FakeClock()
    proc = LiveProcessor(Detector(), SlowClassifier(classifier, clock, cost=0.2), clock=clock)  # type: ignore[arg-type]
    for _ in range(3):  # one analysed frame, then frames drawn with its result
        proc.process(frame)
        clock.now += 1 / 30
    faces = proc.snapshot().faces
    assert len(faces) == 2 and proc.snapshot().analysed < 3
    assert drawn and all(f == faces and n == [1, 2] for f, n in drawn)


def test_slow_analysis_skips_frames_but_draws_every_frame(classifier: Classifier, face_frame: np.ndarray) -> None:
    clock = FakeClock()
    slow = SlowClassifier(classifier, clock, cost=0.1)
    proc = LiveProcessor(Detector(), slow, clock=clock)  # type: ignore[arg-type]
    outs = []
    for _ in range(30):
        outs.append(proc.process(face_frame))
        clock.now += 1 / 30
    snap = proc.snapshot()
    assert snap.frames == 30
    assert snap.every == 3  # 100 ms per analysis at 30 frames per second
    assert snap.analysed == 10
    assert snap.process_ms == pytest.approx(100, rel=0.05)
    assert all(np.any(o != face_frame) for o in outs)  # skipped frames show the last result
    recs = proc.records()
    assert len(recs) == snap.analysed and [r.frame for r in recs] == list(range(1, 30, 3))
    # analysis blocks the frame path: 29 frame gaps took 29/30 s plus 10 analyses of 0.1 s
    assert recs[-1].t == pytest.approx(27 / 30 + 0.9)
    assert snap.fps == pytest.approx(29 / (29 / 30 + 1.0))
    # the analysed rate and share come from the same 30 frames as the frame rate: 10 of them analysed
    assert snap.streaming and snap.analysed_share == pytest.approx(10 / 30)
    assert snap.analysed_fps == pytest.approx(snap.fps * 10 / 30)


def test_the_share_analysed_is_measured_not_the_plan(classifier: Classifier, face_frame: np.ndarray) -> None:
    """Analyses get faster (the model warmed up, a face left): the plan (`every`) is back to 1 at once while most
    of the recent frames were skipped. The readout's words come from the measured share, like its two rates
    (issue 39: "13.7 of 25.8 analysed per second" beside "every frame is analysed")."""
    clock = FakeClock()
    slow = SlowClassifier(classifier, clock, cost=0.1)
    proc = LiveProcessor(Detector(), slow, clock=clock)  # type: ignore[arg-type]
    for _ in range(60):
        proc.process(face_frame)
        clock.now += 1 / 30
    slow.cost = 0.0
    while proc.snapshot().every > 1:
        proc.process(face_frame)
        clock.now += 1 / 30
    snap = proc.snapshot()
    assert snap.every == 1 and snap.analysed_share < 0.5  # "every frame" is the plan, not what the rates measured
    assert snap.analysed_fps == pytest.approx(snap.fps * snap.analysed_share)
    clock.now += 5  # stopped: the whole session's averages, still one source
    stopped = proc.snapshot()
    assert stopped.analysed_share == pytest.approx(stopped.analysed / stopped.frames)
    assert not stopped.streaming and stopped.analysed_fps == pytest.approx(stopped.fps * stopped.analysed_share)


def test_fast_analysis_keeps_every_frame_and_reset(classifier: Classifier, face_frame: np.ndarray) -> None:
    clock = FakeClock()
    proc = LiveProcessor(Detector(), SlowClassifier(classifier, clock, cost=0.005), clock=clock)  # type: ignore[arg-type]
    for _ in range(5):
        proc.process(face_frame)
        clock.now += 1 / 30
    assert proc.snapshot().every == 1 and proc.snapshot().analysed == 5
    streaming = proc.snapshot().fps
    clock.now += 5  # no frames for a while: the stream stopped
    stopped = proc.snapshot()
    # the session's average, never 0 while frames are counted
    assert not stopped.streaming and stopped.fps == pytest.approx(streaming) and stopped.fps > 25
    assert stopped.analysed_fps == pytest.approx(stopped.fps)
    proc.reset()
    assert proc.snapshot().frames == 0 and proc.records() == []
    assert proc.snapshot().fps is None and proc.snapshot().analysed_fps is None


def test_frames_pass_through_while_the_model_loads(classifier: Classifier, face_frame: np.ndarray) -> None:
    proc = LiveProcessor(Detector(), None)
    assert proc.classifier is None
    out = proc.process(face_frame)
    assert out is face_frame  # returned as it came: nothing drawn, nothing analysed
    snap = proc.snapshot()
    assert (snap.frames, snap.analysed, proc.records()) == (1, 0, [])
    proc.configure(Detector(), classifier)  # the page sets the classifier once it is loaded
    drawn = proc.process(face_frame)
    assert proc.snapshot().analysed == 1 and np.any(drawn != face_frame)


def test_one_frame_makes_no_rate(classifier: Classifier, face_frame: np.ndarray) -> None:
    clock = FakeClock()
    proc = LiveProcessor(Detector(), classifier, clock=clock)
    proc.process(face_frame)
    snap = proc.snapshot()
    assert snap.frames == 1 and snap.fps is None and snap.analysed_fps is None
    clock.now += 10
    assert proc.snapshot().fps is None  # still no rate (and never 0.0) with one frame counted


def shifted(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The frame's content moved by (dx, dy) pixels, as a user moving in front of the camera."""
    return cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), (frame.shape[1], frame.shape[0]),
                          borderMode=cv2.BORDER_REPLICATE)


def three_faces(face_frame: np.ndarray) -> np.ndarray:
    """A 640x480 frame with three copies of the face side by side."""
    face = cv2.resize(face_frame[40:440, 170:470], (200, 266), interpolation=cv2.INTER_AREA)
    frame = np.full_like(face_frame, 90)
    for k in range(3):
        frame[107:373, 12 + k * 210:212 + k * 210] = face
    return frame


class CountingDetector(Detector):
    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__(config)
        self.full = self.near = 0

    def detect(self, gray: np.ndarray) -> list[FaceBox]:
        self.full += 1
        return super().detect(gray)

    def detect_near(self, gray: np.ndarray, known: Any, *args: Any) -> list[FaceBox]:
        self.near += 1
        return super().detect_near(gray, known, *args)


@pytest.mark.parametrize("faces", [1, 3])
def test_tracking_refinds_moving_faces_like_a_full_scan(face_frame: np.ndarray, faces: int) -> None:
    base = cv2.cvtColor(face_frame if faces == 1 else three_faces(face_frame), cv2.COLOR_RGB2GRAY)
    det = CountingDetector(DetectorConfig(max_side=LIVE_MAX_SIDE))
    tracker = TrackingDetector(det, full_every=5)
    for i in range(10):
        gray = shifted(base, 3 * i, -2 * i)
        tracked, full = tracker.detect(gray), Detector(det.config).detect(gray)
        assert len(tracked) == len(full) == faces
        for a, b in zip(tracked, full, strict=True):  # the same faces (Haar boxes jitter by a scale step, 10 %)
            assert max(abs(a.x - b.x), abs(a.y - b.y), abs(a.w - b.w), abs(a.h - b.h)) <= 0.15 * b.w
    assert (det.full, det.near) == (2, 8)  # a full scan on frames 1 and 6 only


def test_tracking_finds_a_new_face_at_the_next_full_scan(face_frame: np.ndarray) -> None:
    gray = cv2.cvtColor(face_frame, cv2.COLOR_RGB2GRAY)
    empty = np.full_like(gray, 90)
    tracker = TrackingDetector(Detector(DetectorConfig(max_side=LIVE_MAX_SIDE)), full_every=3)
    assert [len(tracker.detect(g)) for g in (empty, gray, gray, gray, gray, empty, gray)] == [0, 0, 0, 1, 1, 0, 1]
    tracker.reset()
    assert len(tracker.detect(gray)) == 1
    rotated = TrackingDetector(CountingDetector(DetectorConfig(max_side=LIVE_MAX_SIDE, mode="rotated")))
    for _ in range(3):
        rotated.detect(gray)
    assert rotated.detector.full == 3  # tilted faces are not tracked: every frame is scanned
    with pytest.raises(ValueError):
        TrackingDetector(Detector(), full_every=0)


def test_callback_times_every_stage(classifier: Classifier, face_frame: np.ndarray) -> None:
    proc = LiveProcessor(Detector(DetectorConfig(max_side=LIVE_MAX_SIDE)), classifier, max_every=1)
    frame = av.VideoFrame.from_ndarray(face_frame, format="rgb24").reformat(format="yuv420p")
    for _ in range(3):
        proc.callback(frame)
    stages = proc.last_stages()
    assert set(stages) == set(STAGES) and all(v >= 0 for v in stages.values())
    assert proc.snapshot().analysed == 3 and len(proc.snapshot().faces) == 1


def test_records_are_thread_safe(classifier: Classifier, face_frame: np.ndarray) -> None:
    clock = FakeClock()
    proc = LiveProcessor(Detector(), classifier, clock=clock, max_records=50)
    small = cv2.resize(face_frame, (320, 240))
    stop = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(len(proc.records()))
            proc.snapshot()

    th = threading.Thread(target=reader)
    th.start()
    try:
        for _ in range(60):
            proc.process(small)
    finally:
        stop.set()
        th.join()
    assert proc.snapshot().frames == 60 and len(proc.records()) == 50  # oldest records dropped
    assert max(seen) <= 50


def test_timeline_and_csv(classifier: Classifier, face_frame: np.ndarray) -> None:
    clock = FakeClock()
    proc = LiveProcessor(Detector(), classifier, clock=clock)
    proc.process(face_frame)
    clock.now += 0.5
    proc.process(np.full_like(face_frame, 128))  # no face
    recs = proc.records()
    cols = timeline(recs)
    assert cols["t"] == [0.0, 0.5]
    assert sum(cols[k][0] for k in LABELS) == pytest.approx(1, abs=1e-4)
    assert all(np.isnan(cols[k][1]) for k in LABELS)
    rows = records_rows(recs)
    assert rows[0]["face"] == 1 and rows[0]["label"] in LABELS and rows[1]["label"] == ""
    # the page's table: frames with and without faces side by side must convert to Arrow (as st.dataframe does)
    table = pd.DataFrame(records_rows(recs, blank=None))
    arrow = pa.Table.from_pandas(table)
    assert arrow.num_rows == 2 and table["face"].isna().tolist() == [False, True]
    with pytest.raises(pa.ArrowException):
        pa.Table.from_pandas(pd.DataFrame(rows))  # the CSV rows ("" for no face) would not
    text = records_csv(recs, {"frame": "Quadro", "happy": "Feliz"})
    parsed = list(csv.reader(io.StringIO(text)))
    assert len(parsed) == 3 and "Quadro" in parsed[0] and "Feliz" in parsed[0] and len(parsed[0]) == len(CSV_KEYS)
    assert parsed[1][parsed[0].index("timestamp")].endswith("+00:00")


def test_parse_ice_servers() -> None:
    assert parse_ice_servers("") == []
    assert parse_ice_servers("stun:stun.example.org:3478") == [{"urls": ["stun:stun.example.org:3478"]}]
    turn = '[{"urls": "turn:t.example.org:3478", "username": "u", "credential": "p"}]'
    assert parse_ice_servers(turn) == [{"urls": ["turn:t.example.org:3478"], "username": "u", "credential": "p"}]
    assert parse_ice_servers(["stun:a", {"urls": ["stun:b"]}]) == [{"urls": ["stun:a"]}, {"urls": ["stun:b"]}]
    with pytest.raises(ValueError, match="JSON"):
        parse_ice_servers("[{oops")
    with pytest.raises(ValueError, match="urls"):
        parse_ice_servers([{"username": "u"}])


# -- the page -----------------------------------------------------------------------------------------


@pytest.fixture
def streamer(monkeypatch: pytest.MonkeyPatch) -> StreamerStub:
    stub = StreamerStub()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", stub)
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    return stub


def run_page(lang: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["lang"] = lang
    return at.run()


def test_page_wires_the_streamer_and_shows_live_results(streamer: StreamerStub, face_frame: np.ndarray) -> None:
    at = run_page("en")
    assert not at.exception
    assert at.title[0].value == "Webcam"
    call = streamer.calls[-1]
    assert call["rtc_configuration"] == {"iceServers": []}
    assert call["media_stream_constraints"] == {"video": True, "audio": False}
    assert call["translations"]["start"] == "Start"
    assert "Press Start to switch the camera on." in [i.value for i in at.info]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Frames"] == "0" and metrics["Frames per second"] == "–"
    # the webcam looks once through the shipped model's webcam network, whose card averages each face with its
    # mirror image on photos
    card = load_card(ROOT / "models" / "webcam.keras")
    live = at.session_state["live_processor"].classifier
    assert card.tta_flip and not live.tta_flip
    assert (live.zoom, live.prior_correction) == (card.zoom, card.prior_correction)

    callback = call["video_frame_callback"]
    for i in range(3):
        frame = av.VideoFrame.from_ndarray(face_frame, format="rgb24")
        frame.pts = i
        out = callback(frame)
        assert np.any(out.to_ndarray(format="rgb24") != face_frame)
    streamer.playing = True
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Frames"] == "3" and float(metrics["Frames per second"]) > 0
    assert metrics["Analysed"] == str(at.session_state["live_processor"].snapshot().analysed)
    assert any(c.value.startswith("One analysis takes ") for c in at.caption)
    names = {display_name(k, "en") for k in LABELS}
    face_lines = [m.value for m in at.markdown if m.value.startswith("**Face 1: ")]
    assert len(face_lines) == 1 and face_lines[0].split(": ")[1].split("**")[0] in names
    assert len(at.get("plotly_chart")) == 1
    analysed = at.session_state["live_processor"].snapshot().analysed
    assert 1 <= analysed <= 3  # the first, then one in N when an analysis takes longer than a frame
    assert f"{analysed} analysed frames recorded in this session." in [c.value for c in at.caption]
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    assert len(at.dataframe[0].value) == analysed
    clear = [b for b in at.button if b.label == "Clear"][0]
    clear.click()
    at.run()
    assert "0 analysed frames recorded in this session." in [c.value for c in at.caption]


def test_page_in_portuguese_with_ice_servers_from_env(streamer: StreamerStub, face_frame: np.ndarray,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    at = run_page("pt")
    assert not at.exception
    call = streamer.calls[-1]
    assert call["rtc_configuration"] == {"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}
    assert call["translations"]["start"] == "Iniciar"
    call["video_frame_callback"](av.VideoFrame.from_ndarray(face_frame, format="rgb24"))
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quadros"] == "1" and "Quadros por segundo" in metrics
    names = {display_name(k, "pt") for k in LABELS}
    face_lines = [m.value for m in at.markdown if m.value.startswith("**Rosto 1: ")]
    assert len(face_lines) == 1 and face_lines[0].split(": ")[1].split("**")[0] in names
    table = at.dataframe[-1].value  # the recording (the session summary's table comes first)
    assert {"Quadro", "Tempo (s)", "Emoção"} <= set(table.columns)
    assert "Resumo da sessão" in [h.value for h in at.subheader]


def test_page_reports_bad_ice_setting(streamer: StreamerStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_ICE_SERVERS", "[{not json")
    at = run_page("en")
    assert streamer.calls[-1]["rtc_configuration"] == {"iceServers": []}
    assert any("ICE server setting is invalid" in e.value for e in at.error)


def test_page_says_when_it_analyses_one_frame_in_n(streamer: StreamerStub, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page("en")
    proc = at.session_state["live_processor"]
    slow = replace(proc.snapshot(), frames=90, analysed=30, fps=29.5, analysed_fps=9.8, analysed_share=9.8 / 29.5,
                   streaming=True, every=1, process_ms=95.0)  # `every`, the plan, says 1: the words follow the share
    monkeypatch.setattr(proc, "snapshot", lambda: slow)
    streamer.playing = True
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Frames"], metrics["Analysed"]) == ("90", "30")
    assert (metrics["Frames per second"], metrics["Analysed per second"]) == ("29.5", "9.8")
    captions = [c.value for c in at.caption]
    assert "One analysis takes 95 ms; 33% of the frames are analysed, the others show the last result." in captions
    assert not any("every frame" in c for c in captions)
    full = replace(slow, analysed=90, analysed_fps=29.5, analysed_share=1.0, every=2)
    monkeypatch.setattr(proc, "snapshot", lambda: full)
    at.run()
    assert "One analysis takes 95 ms; every frame is analysed." in [c.value for c in at.caption]
    at.session_state["lang"] = "pt"
    monkeypatch.setattr(proc, "snapshot", lambda: slow)
    at.run()
    assert ("Uma análise leva 95 ms; 33% dos quadros são analisados, os outros mostram o último resultado."
            in [c.value for c in at.caption])


def test_stop_shows_the_session_summary(streamer: StreamerStub, face_frame: np.ndarray) -> None:
    at = run_page("en")
    callback = streamer.calls[-1]["video_frame_callback"]
    streamer.playing = True
    at.run()
    assert "Session summary" not in [h.value for h in at.subheader]
    for i in range(4):
        frame = av.VideoFrame.from_ndarray(face_frame, format="rgb24")
        frame.pts = i
        callback(frame)
    streamer.playing = False  # the user pressed Stop
    at.run()
    assert not at.exception
    assert "Session summary" in [h.value for h in at.subheader]
    metrics = {m.label: m.value for m in at.metric}
    records = at.session_state["live_processor"].records()
    assert metrics["Analysed frames"] == str(len(records))
    assert metrics["Dominant emotion"] in {display_name(k, "en") for k in LABELS}
    faces = at.dataframe[0].value
    assert list(faces["Face"]) == [1] and faces["Dominant emotion"][0] == metrics["Dominant emotion"]
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # time per emotion and the session's timeline
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]
    assert "The camera is off: these are the session's averages." in [c.value for c in at.caption]


def test_the_session_summary_is_computed_once_per_recording(monkeypatch, streamer, face_frame):
    """Issue 42 (9): after Stop every rerun recomputed the summary (34 s of CPU for 20,000 frames of 47 faces):
    now once, until the records change."""
    import av

    from fer.media import session

    calls = []
    real = session.summarise
    monkeypatch.setattr(session, "summarise", lambda recs: (calls.append(len(recs)), real(recs))[1])
    at = run_page("en")
    callback = streamer.calls[-1]["video_frame_callback"]
    streamer.playing = True
    at.run()

    def frames(n):
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(face_frame, format="rgb24")
            frame.pts = i
            callback(frame)

    frames(3)
    streamer.playing = False  # Stop
    for _ in range(3):
        at.run()
        assert not at.exception and "Session summary" in [h.value for h in at.subheader]
    proc = at.session_state["live_processor"]
    assert calls == [len(proc.records())]
    proc.reset()  # a new recording (the page's Clear button)
    streamer.playing = True
    at.run()
    frames(2)  # the first frame of a recording is always analysed
    streamer.playing = False
    at.run()
    at.run()
    assert len(calls) == 2 and calls[1] == len(proc.records())
