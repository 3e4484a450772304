"""AppTest of the Videos page (English and Portuguese): the example clip and uploads analysed in a server thread,
people, timelines, the annotated video and downloads; a bad file's message; Stop; a second tab; navigation."""

from __future__ import annotations

import gc
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fer.i18n import t
from fer.labels import LABELS, display_name
from tests.helpers import ROOT, shown
from tests.test_i18n_pages import rerun_app_py
from tests.videoclips import make_clip
from ui.video_jobs import JOBS

PAGE = str(ROOT / "pages" / "videos.py")
HANDLE = "vid_job"


@pytest.fixture(autouse=True)
def _no_analysis_left_running() -> Iterator[None]:
    """Each test starts on a server without analyses (one runs at a time, and a test's clip must not join the
    finished analysis of an earlier test's session that is not yet collected): stop and drop what a test left."""
    yield
    gc.collect()  # the sessions (AppTests) of the test: their holds go
    for job in list(JOBS._jobs.values()):  # noqa: SLF001 - the test's own clean-up
        job.stop()
        job.wait(60)
        with JOBS._lock:  # noqa: SLF001
            JOBS._drop(job)  # noqa: SLF001


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Tiny clips made from the public-domain photos (tests.videoclips)."""
    folder = tmp_path_factory.mktemp("clips")
    made = {"two": make_clip(folder / "two.mp4", seconds=1.0, fps=15, size=(320, 240), faces=2),
            "long": make_clip(folder / "long.mp4", seconds=20.0, fps=30, size=(160, 120), faces=1)}
    return {k: p.read_bytes() for k, p in made.items()}


def run_page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["lang"] = lang
    return run(at)


def run(what: Any) -> AppTest:
    """One run of the page (`what`: the AppTest, or a widget just set or clicked) that raised nothing."""
    at = what.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def job(at: AppTest) -> Any:
    return at.session_state[HANDLE].job


def finish(at: AppTest, timeout: float = 300) -> AppTest:
    """Wait for the session's analysis to end, then one more run shows what it found."""
    assert job(at).wait(timeout), "the analysis did not end"
    return run(at)


def some_frames_done(at: AppTest, frames: int = 5) -> None:
    """Wait until the session's analysis has done `frames` frames (it must still be running then)."""
    deadline = time.monotonic() + 120
    while (job(at).progress is None or job(at).progress.frames_done < frames) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job(at).running, "the 20 s clip was analysed before Stop could be pressed"


def texts(at: AppTest, kind: str) -> list[str]:
    return [shown(e.value) for e in getattr(at, kind)]


class Downloads:
    """What the page's download buttons would give (AppTest keeps files, and deferred callables, in its media
    file manager)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from streamlit.runtime.media_file_manager import MediaFileManager

        self.files: dict[str, Any] = {}
        add, deferred = MediaFileManager.add, MediaFileManager.add_deferred

        def record(mgr, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
            if file_name:
                self.files[file_name] = data
            return add(mgr, data, mimetype, coordinates, file_name, is_for_static_download)

        def record_deferred(mgr, data_callable, mimetype, coordinates, file_name=None, **kwargs):
            if file_name:
                self.files[file_name] = data_callable
            return deferred(mgr, data_callable, mimetype, coordinates, file_name, **kwargs)

        monkeypatch.setattr(MediaFileManager, "add", record)
        monkeypatch.setattr(MediaFileManager, "add_deferred", record_deferred)

    def get(self, name: str) -> bytes:
        data = self.files[name]
        data = data() if callable(data) else data
        return data.encode() if isinstance(data, str) else bytes(data)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_page_offers_an_upload_and_the_example_and_states_its_limits(lang: str) -> None:
    at = run_page(lang)
    assert texts(at, "title") == [t("videos.title", lang)]
    uploader = at.file_uploader[0]
    assert uploader.proto.max_upload_size_mb == 200 and not uploader.allowed_type  # any file: the page names it
    limits = [c for c in texts(at, "caption") if "200 MB" in c]
    assert limits and ("10 minutes" if lang == "en" else "10 minutos") in limits[0]
    assert at.button(key="vid_example").label == t("videos.example", lang)
    assert texts(at, "info") == [t("videos.empty", lang)]
    assert HANDLE not in at.session_state


def test_the_example_clip_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    downloads = Downloads(monkeypatch)
    at = run_page("en")
    run(at.button(key="vid_example").click())
    assert job(at).name == "clip.mp4"
    res = finish(at) and job(at).result
    assert res is not None and not res.stopped and res.frames_done == res.info.frames
    people = at.dataframe[0].value
    assert len(res.people) == 3 and len(people) == 3  # three heads in the example, one row each
    assert list(people["Person"]) == ["Person 1", "Person 2", "Person 3"]
    assert set(people["Dominant emotion"]) <= {display_name(k, "en") for k in LABELS}
    charts = at.get("plotly_chart")
    assert len(charts) == 1 + 3  # seconds per emotion of everyone, then one timeline per person
    timeline = json.loads(charts[1].proto.spec)
    assert [d["name"] for d in timeline["data"]] == [display_name(k, "en") for k in LABELS]
    assert [m.value for m in at.markdown if m.value.startswith("**Person 1: mostly ")]  # above it: wraps on a phone
    assert len(at.get("video")) == 1
    assert any(c.startswith(("Every frame analysed", "One frame in ")) for c in texts(at, "caption"))  # the skip
    mp4 = downloads.get("clip-emotions.mp4")
    assert mp4[4:8] == b"ftyp" and len(mp4) > 1000
    csv = pd.read_csv(io.BytesIO(downloads.get("clip-frames.csv")))
    assert {"Time (s)", "Frame", "Person", "Label (key)", "Emotion", "Happy"} <= set(csv.columns)
    assert set(csv["Person"].dropna()) == {1, 2, 3}
    assert json.loads(downloads.get("clip-frames.json"))


def test_an_upload_in_portuguese_gives_its_table_and_a_csv_with_decimal_commas(monkeypatch: pytest.MonkeyPatch,
                                                                              clips: dict[str, bytes]) -> None:
    downloads = Downloads(monkeypatch)
    at = run_page("pt")
    run(at.file_uploader[0].upload("entrevista.mp4", clips["two"], "video/mp4"))
    finish(at)
    assert job(at).result is not None and len(job(at).result.people) == 2
    assert list(at.dataframe[0].value["Pessoa"]) == ["Pessoa 1", "Pessoa 2"]
    text = downloads.get("entrevista-frames.csv").decode()
    assert text.splitlines()[0].startswith("Tempo (s);Quadro;Pessoa;")
    csv = pd.read_csv(io.StringIO(text), sep=";", decimal=",")
    probs = csv[[display_name(k, "pt") for k in LABELS]].dropna()
    assert len(probs) and ((probs.sum(axis=1) - 1).abs() < 1e-3).all()  # read back as numbers: 0,123456
    skip = (t("videos.every_frame", "pt").split("(")[0], t("video.note.every", "pt").split("{")[0])
    assert any(c.startswith(skip) for c in texts(at, "caption"))


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_file_that_is_not_a_video_gets_one_message_in_the_page_language(lang: str) -> None:
    at = run_page(lang)
    run(at.file_uploader[0].upload("notes.mp4", b"these are my notes, not a video " * 20, "video/mp4"))
    finish(at)
    err = job(at).error
    assert err is not None and err.kind in ("not_video", "broken")
    message = texts(at, "error")
    assert len(message) == 1 and message[0] == t(err.key, lang, **err.details)
    assert "Traceback" not in message[0] and not at.get("video")


def test_stop_keeps_what_was_analysed(clips: dict[str, bytes]) -> None:
    at = run_page("en")
    run(at.file_uploader[0].upload("long.mp4", clips["long"], "video/mp4"))
    some_frames_done(at)
    run(at.button(key="vid_stop").click())
    finish(at)
    res = job(at).result
    assert res is not None and res.stopped and 0 < res.frames_done < res.info.frames
    assert res.records and len(at.get("video")) == 1
    said = t("video.note.stopped", "en", frames=f"{res.frames_done:,}", total=f"{res.info.frames:,}")
    assert texts(at, "info") == [said]


def test_a_second_tab_with_the_same_clip_finds_the_running_analysis(clips: dict[str, bytes]) -> None:
    first, second = run_page("en"), run_page("pt")
    run(first.file_uploader[0].upload("long.mp4", clips["long"], "video/mp4"))
    run(second.file_uploader[0].upload("same-clip.mp4", clips["long"], "video/mp4"))
    assert job(second) is job(first) and JOBS.running() == 1  # one analysis, shown in both tabs
    assert second.get("progress") and not texts(second, "warning")
    some_frames_done(first)  # a Stop before the first frame would leave no video to show
    run(first.button(key="vid_stop").click())
    finish(second)
    assert job(second).result.stopped and len(second.get("video")) == 1


def test_a_different_clip_while_one_runs_is_told_the_server_is_busy(clips: dict[str, bytes]) -> None:
    first, second = run_page("en"), run_page("en")
    run(first.file_uploader[0].upload("long.mp4", clips["long"], "video/mp4"))
    run(second.file_uploader[0].upload("two.mp4", clips["two"], "video/mp4"))
    assert texts(second, "warning") == [t("videos.busy", "en", n=1)] and HANDLE not in second.session_state
    run(first.button(key="vid_stop").click())
    finish(first)
    run(second.button(key="vid_retry").click())  # the upload is still in the uploader: it starts now
    finish(second)
    assert job(second).name == "two.mp4" and job(second).result is not None and not texts(second, "warning")


def test_the_results_survive_navigation_and_a_language_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = "en"
    run(at)
    at.switch_page("pages/videos.py")
    run(run(at).button(key="vid_example").click())
    finish(at)
    before = job(at)
    at.switch_page("pages/home.py")
    run(at)
    at.switch_page("pages/videos.py")
    run(at)
    assert job(at) is before and len(at.dataframe[0].value) == len(before.result.people)
    at.session_state["lang"] = "pt"
    at.query_params["lang"] = "pt"
    run(at)
    assert job(at) is before and list(at.dataframe[0].value.columns)[0] == "Pessoa"
    assert len(at.get("video")) == 1


def test_clear_lets_go_of_the_analysis_and_its_files(clips: dict[str, bytes]) -> None:
    at = run_page("en")
    run(at.file_uploader[0].upload("two.mp4", clips["two"], "video/mp4"))
    folder = finish(at) and job(at).folder
    assert folder.is_dir()
    run(at.button(key="vid_clear").click())
    assert HANDLE not in at.session_state and not folder.exists() and texts(at, "info") == [t("videos.empty", "en")]


def test_the_example_clip_is_small_and_as_its_script_says() -> None:
    import av

    clip = ROOT / "data" / "examples" / "clip.mp4"
    assert clip.stat().st_size < 1.5 * 1024**2
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (640, 360)
        assert 3 <= float(stream.duration * stream.time_base) <= 8
