"""ui.video_jobs: video analyses in server threads, shared by key, bounded, held by sessions, cleaned up."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from ui.video_jobs import JobHandle, VideoJobs, Work


class Clip(ValueError):
    """Stands for fer.media.video.VideoError: an error that says what is wrong with the clip."""


def gated(calls: list[Path], gate: threading.Event, result: object = "done"):
    """A work function that reports progress, then waits for `gate` or Stop, and returns what it did."""

    def work(w: Work) -> object:
        calls.append(w.source)
        w.progress(1)
        while not gate.wait(0.01):
            if w.stop.is_set():
                return "stopped"
        w.out.write_bytes(b"annotated")
        return result

    return work


@pytest.fixture
def jobs(tmp_path: Path) -> VideoJobs:
    return VideoJobs(max_running=1, root=tmp_path)


def test_the_same_clip_and_settings_join_the_running_analysis(jobs: VideoJobs) -> None:
    calls: list[Path] = []
    gate = threading.Event()
    first = jobs.start("k", "clip.mp4", b"video bytes", gated(calls, gate))
    second = jobs.start("k", "clip.mp4", b"video bytes", gated(calls, gate))  # a second tab, a rerun
    assert isinstance(first, JobHandle) and second is not None and second.job is first.job
    assert jobs.find("k") is not None and jobs.find("other") is None
    gate.set()
    assert first.job.wait(10)
    assert calls == [first.job.source] and first.job.result == "done" and first.job.progress == 1
    assert first.job.source.read_bytes() == b"video bytes"  # the upload's copy, in the job's own folder
    assert first.job.source.parent == first.job.folder and first.job.out.read_bytes() == b"annotated"


def test_a_second_analysis_is_refused_while_one_runs(jobs: VideoJobs) -> None:
    gate = threading.Event()
    running = jobs.start("a", "a.mp4", b"a", gated([], gate))
    assert running is not None and jobs.running() == 1
    assert jobs.start("b", "b.mp4", b"b", gated([], gate)) is None  # busy: the page says so
    gate.set()
    assert running.job.wait(10) and jobs.running() == 0
    later = jobs.start("b", "b.mp4", b"b", gated([], gate))
    assert later is not None and later.job.wait(10) and later.job.result == "done"


def test_stop_keeps_what_was_done(jobs: VideoJobs) -> None:
    handle = jobs.start("k", "clip.mp4", b"x", gated([], threading.Event()))
    assert handle is not None
    handle.job.stop()
    assert handle.job.wait(10) and handle.job.result == "stopped" and handle.job.error is None


def test_the_last_release_stops_a_running_job_and_removes_its_folder(jobs: VideoJobs) -> None:
    one = jobs.start("k", "clip.mp4", b"x", gated([], threading.Event()))
    two = jobs.find("k")
    assert one is not None and two is not None
    job, folder = one.job, one.job.folder
    one.release()
    one.release()  # a second release of the same handle counts once
    assert job.running and not job.stop_event.is_set() and folder.is_dir()  # the other tab still shows it
    two.release()
    assert job.wait(10) and job.result == "stopped"
    assert not folder.exists() and jobs.find("k") is None


def test_a_finished_job_goes_with_its_last_holder_even_by_garbage_collection(jobs: VideoJobs) -> None:
    gate = threading.Event()
    gate.set()
    handle = jobs.start("k", "clip.mp4", b"x", gated([], gate))
    assert handle is not None and handle.job.wait(10)
    folder = handle.job.folder
    assert folder.is_dir() and jobs.find("k") is not None  # find() is a second hold, dropped at once
    gc.collect()
    assert folder.is_dir()
    del handle  # the session ended: Streamlit dropped its state
    gc.collect()
    assert not folder.exists() and jobs.find("k") is None


def test_a_shipped_clip_is_read_in_place(jobs: VideoJobs, tmp_path: Path) -> None:
    clip = tmp_path / "example.mp4"
    clip.write_bytes(b"example")
    gate = threading.Event()
    gate.set()
    handle = jobs.start("k", clip.name, clip, gated([], gate))
    assert handle is not None and handle.job.wait(10) and handle.job.source == clip
    handle.release()
    assert clip.read_bytes() == b"example"  # never removed with the job's folder


def test_a_bad_clip_is_kept_as_its_error_and_a_crash_as_a_logged_reference(jobs: VideoJobs,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    def refuse(_: Work) -> object:
        raise Clip("not a video")

    def crash(_: Work) -> object:
        raise RuntimeError("a bug")

    bad = jobs.start("bad", "notes.mp4", b"x", refuse, expected=(Clip,))
    assert bad is not None and bad.job.wait(10)
    assert isinstance(bad.job.error, Clip) and bad.job.crash is None and bad.job.result is None
    broken = jobs.start("crash", "clip.mp4", b"x", crash, expected=(Clip,))
    assert broken is not None and broken.job.wait(10)
    ref = broken.job.crash
    assert ref and broken.job.error is None
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)  # the traceback is in the log
    assert jobs.running() == 0
