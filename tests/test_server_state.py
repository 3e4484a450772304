"""TensorFlow's state survives Streamlit's reruns (ui.server), and the warm-up's progress (ui.warmup)."""

import gc
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import av
import keras
import numpy as np
import pytest
import streamlit_webrtc
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from fer.i18n import t
from fer.vision.preprocessing import ImageError
from tests.helpers import PHOTOS, ROOT, StreamerStub
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


def test_sessions_past_their_time_to_reconnect_are_shut_down_with_their_uploads(monkeypatch, tmp_path) -> None:
    """Streamlit's session storage forgets an expired session only lazily and never shuts it down (its uploaded
    files stayed in memory: issue 42 (7)); ui.server.release_memory shuts such sessions down, and deletes their
    Teach photos, which nobody can reach any more (issue 41: a reload left them on the server)."""
    from types import SimpleNamespace

    from streamlit.runtime import Runtime
    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.session_manager import SessionInfo
    from streamlit.runtime.state import SessionState
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from fer.jobs.teach import teach_dir
    from ui.common import TEACH_ID
    from ui.server import release_memory, shut_down_expired_sessions

    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    files = MemoryUploadedFileManager("/_stcore/upload_file")
    now = [0.0]
    storage = MemorySessionStorage(ttl_seconds=120)
    storage._cache._timer = lambda: now[0]  # the storage's clock, moved by hand

    class Session:
        def __init__(self, sid: str) -> None:
            self.id, self.down = sid, False
            self._session_state = SessionState()
            self._session_state["kept"] = b"x" * 1024
            self._session_state[TEACH_ID] = f"teach{sid}"
            self.photo = teach_dir(tmp_path / "runs", f"teach{sid}") / "happy" / "snap.jpg"
            self.photo.parent.mkdir(parents=True)
            self.photo.write_bytes(b"a face")
            files.add_file(sid, UploadedFileRec(f"f-{sid}", "big.jpg", "image/jpeg", b"x" * 1024))

        def shutdown(self) -> None:  # as AppSession.shutdown does with its files
            self.down = True
            files.remove_session_files(self.id)

    gone, back = Session("gone"), Session("back")
    storage.save(SessionInfo(client=None, session=gone))
    now[0] = 100.0
    storage.save(SessionInfo(client=None, session=back))
    mgr = SimpleNamespace(_session_storage=storage, _storage_lock=threading.Lock())
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: SimpleNamespace(_session_mgr=mgr)))
    now[0] = 150.0  # "gone" closed 150 s ago (past the 120 s), "back" 50 s ago: it may still reconnect
    assert storage._cache._data.keys() == {"gone", "back"}  # expired, yet held: what leaked
    release_memory()
    assert gone.down and not back.down
    assert "kept" not in gone._session_state and back._session_state["kept"]  # a shut-down session holds nothing
    assert not gone.photo.parent.parent.exists() and back.photo.is_file()  # its Teach photos went with it
    assert not files.get_files("gone", ["f-gone"]) and files.get_files("back", ["f-back"])
    assert storage.get("back") is not None and "gone" not in storage._cache._data
    assert shut_down_expired_sessions() == 0  # nothing left to shut down
    now[0] = 300.0
    assert shut_down_expired_sessions() == 1 and back.down
    assert not back.photo.exists() and (tmp_path / "runs" / "teach").is_dir()


def test_without_a_runtime_nothing_is_shut_down_and_nothing_breaks(monkeypatch, caplog) -> None:
    from ui.server import shut_down_expired_sessions

    assert shut_down_expired_sessions() == 0
    assert "expired sessions not shut down" in caplog.text


def _reachable(root: Any) -> Iterator[Any]:
    """Every object reachable from `root` through references, without entering classes, modules or their
    namespaces (the app's code, shared by every session), except a page script's own namespace (pages/: the
    names of one run of one session)."""
    pages = str(ROOT / "pages")
    shared = {id(vars(m)) for m in list(sys.modules.values())
              if m is not None and not str(getattr(m, "__file__", "") or "").startswith(pages)}
    seen, todo = {id(root)}, [root]
    while todo:
        obj = todo.pop()
        yield obj
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, type | types.ModuleType) and id(ref) not in shared:
                seen.add(id(ref))
                todo.append(ref)


def test_a_shut_down_session_reaches_none_of_its_uploads() -> None:
    """Streamlit's runtime keeps the last session it served referenced after it is gone (issue 42 (7): 270 MB of
    uploads stayed): once shut down (ui.server.shut_down_session), nothing that session object reaches may hold an
    upload's bytes. Before: the widgets' callbacks (the Images page's functions) kept the page's last namespace,
    with its photos, and a refused photo's kept error kept the frames of the run that refused it."""
    from streamlit.runtime.fragment import MemoryFragmentStorage

    from ui.server import shut_down_session

    marker = b"issue-42-item-7 " + bytes(range(256))
    at = AppTest.from_file(str(ROOT / "pages" / "images.py"), default_timeout=300)
    at.session_state["lang"] = "en"
    at.run()
    at.file_uploader[0].set_value([("notes.jpg", marker + b" not an image", "image/jpeg"),
                                   ("obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), "image/jpeg")])
    at.run()
    assert not at.exception and at.error  # the refused file is said, the photo is shown
    assert any(t("images.clear_all", "en") == b.label for b in at.button)  # a callback of the page is registered
    state = at._session_state._state
    kept_errors = [got for _, got in state["img_results"].values() if isinstance(got, ImageError)]
    assert len(kept_errors) == 1
    assert not any(isinstance(o, types.FrameType) for o in _reachable(kept_errors[0])), \
        "a kept error holds the frames of the run that raised it"

    down: list[bool] = []
    session = types.SimpleNamespace(id="s", _session_state=state, _fragment_storage=MemoryFragmentStorage(),
                                    shutdown=lambda: down.append(True))
    shut_down_session(session)
    gc.collect()
    assert down == [True]
    holding = [type(o).__name__ for o in _reachable(session) if isinstance(o, bytes | bytearray) and marker in o]
    assert not holding, f"a shut-down session still reaches the upload's bytes ({holding})"
