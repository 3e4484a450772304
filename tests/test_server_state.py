"""TensorFlow's state survives Streamlit's reruns (ui.server), and the warm-up's progress (ui.warmup)."""

import gc
import threading
from typing import Any

import av
import keras
import numpy as np
import pytest
import streamlit_webrtc
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT, StreamerStub
from ui.server import keep_tensorflow_state
from ui.warmup import Step, WarmUp

PAGE = str(ROOT / "pages" / "webcam.py")


class Counter:
    """Wraps a function and counts the calls that `counts(*args, **kwargs)` says are of interest."""

    def __init__(self, fn: Any, counts: Any = lambda *a, **k: True) -> None:
        self.fn, self.counts, self.calls = fn, counts, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.counts(*args, **kwargs):
            self.calls += 1
        return self.fn(*args, **kwargs)


def test_reruns_keep_the_loaded_model_and_tensorflow_session(monkeypatch: pytest.MonkeyPatch,
                                                            face_photo: Any) -> None:
    import cv2

    stub = StreamerStub()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", stub)
    clear = Counter(keras.backend.clear_session)
    monkeypatch.setattr(keras.backend, "clear_session", clear)
    full_gc = Counter(gc.collect, lambda generation=2: generation == 2)
    monkeypatch.setattr(gc, "collect", full_gc)

    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    proc = at.session_state["live_processor"]
    clf = proc.classifier
    face = cv2.resize(cv2.imread(str(face_photo), cv2.IMREAD_GRAYSCALE)[100:400, 150:450], (48, 48))
    before = clf.scores(face[None])
    assert clf.trace_count == 1

    stub.playing = True
    for i in range(5):  # reruns, with frames going through the callback between them
        frame = av.VideoFrame.from_ndarray(np.full((480, 640, 3), 90, np.uint8), format="rgb24")
        frame.pts = i
        stub.calls[-1]["video_frame_callback"](frame)
        at.run()
        assert not at.exception

    after = at.session_state["live_processor"].classifier
    assert after is clf  # the same cached classifier, not a reloaded one
    np.testing.assert_array_equal(after.scores(face[None]), before)
    assert clf.trace_count == 1  # its tf.function was traced once, and only once
    assert clear.calls == 0, "Streamlit cleared the Keras session after a run"
    assert full_gc.calls == 0, "Streamlit ran a full garbage collection after a run"


def test_keep_tensorflow_state_is_what_stops_the_clean_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit's own clean-up clears the Keras session; ours closes matplotlib figures only."""
    from streamlit import config

    keep_tensorflow_state()
    assert config.get_option("runner.postScriptGC") is False
    clear = Counter(keras.backend.clear_session)
    monkeypatch.setattr(keras.backend, "clear_session", clear)
    script_runner._clean_problem_modules()
    assert clear.calls == 0
    keep_tensorflow_state()  # idempotent
    assert script_runner._clean_problem_modules.__module__ == "ui.server"


def test_warm_up_runs_once_and_reports_its_progress() -> None:
    now = [0.0]
    gate = threading.Event()
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        gate.wait(10)

    warm = WarmUp([Step("first", first, 4.0), Step("second", lambda: ran.append("second"), 1.0)],
                  clock=lambda: now[0])
    assert warm.status().state == "idle" and warm.status().done == 0.0
    assert warm.start() and not warm.start()  # a second start does nothing
    while not ran:
        threading.Event().wait(0.01)
    now[0] = 2.0
    status = warm.status()
    assert (status.state, status.step, status.seconds) == ("running", "first", 2.0)
    assert status.done == pytest.approx(2.0 / 5.0)  # half of the first step's expected 4 s out of 5 s
    now[0] = 30.0  # slower than expected: the bar waits near the step's end instead of running past it
    assert warm.status().done == pytest.approx(0.95 * 4.0 / 5.0)
    assert not warm.wait(0.05)
    gate.set()
    assert warm.wait(10)
    assert ran == ["first", "second"]
    assert warm.status().state == "ready" and warm.status().done == 1.0


def test_a_failed_warm_up_says_why_and_finishes() -> None:
    def broken() -> None:
        raise OSError("model file unreadable")

    warm = WarmUp([Step("model", broken, 1.0)])
    warm.start()
    assert warm.wait(10)
    status = warm.status()
    assert status.state == "failed" and "model file unreadable" in status.error


def test_the_warm_up_waits_for_a_quiet_server() -> None:
    from ui.warmup import Activity, start_when_quiet

    activity = Activity()
    warm = WarmUp([Step("only", lambda: None, 1.0)])
    activity.run_started()  # a visitor's page is running
    waiter = start_when_quiet(warm, activity, quiet_s=0.2, max_wait_s=30.0, poll_s=0.01)
    threading.Event().wait(0.5)
    assert warm.status().state == "idle"  # not while the page runs
    activity.run_ended()
    assert activity.quiet_for() < 0.2
    assert warm.wait(5) and warm.status().state == "ready"  # started once quiet
    waiter.join(1)


def test_the_warm_up_starts_anyway_after_the_longest_wait() -> None:
    from ui.warmup import Activity, start_when_quiet

    activity = Activity()
    activity.run_started()  # never quiet
    warm = WarmUp([Step("only", lambda: None, 1.0)])
    start_when_quiet(warm, activity, quiet_s=10.0, max_wait_s=0.3, poll_s=0.01)
    assert warm.wait(5) and warm.status().state == "ready"
