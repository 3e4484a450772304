"""Video analyses off the page's script: one background thread per analysis, kept by the server process.

A page run only starts an analysis, or finds the one already running for the same clip and settings, and
reads its progress: a rerun, a language switch, another page and back, or a second tab with the same clip
neither restarts nor loses it. A session holds a `JobHandle` (in st.session_state); the job, its temporary
folder (the upload's copy, the annotated video) and its result live while a handle does. Once the last handle
is gone (the session closed, another clip picked, Clear), a running job is stopped and, finished, its folder
is removed. At most `MAX_RUNNING` analyses run at once on the server: video analysis uses every core.

No Streamlit here: the page passes the work (`analyse_video` with the app's cached detector and classifier)
as a plain function, so the runner is tested without a page.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_RUNNING = 1
"""Analyses running at once on one server (2 cores: a second one would only halve the speed of both)."""
FOLDER_PREFIX = "fer-video-"


@dataclass(frozen=True)
class Work:
    """What one analysis needs from the job: the clip, where the annotated video goes, and how to report
    progress or learn that the user pressed Stop."""

    source: Path
    out: Path
    progress: Callable[[Any], None]
    stop: threading.Event


class VideoJob:
    """One analysis: its thread, the latest progress, then its result (or its error)."""

    def __init__(self, key: str, name: str, folder: Path, source: Path) -> None:
        self.key, self.name, self.folder, self.source = key, name, folder, source
        self.out = folder / "annotated.mp4"
        self.stop_event = threading.Event()
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._progress: Any = None
        self._result: Any = None
        self._error: Exception | None = None
        self._crash: str | None = None
        self._done = threading.Event()
        self._settled = threading.Event()  # set after the end was handled (the folder dropped if nobody holds it)
        self._holders = 0
        self._thread: threading.Thread | None = None

    # -- what the page reads -------------------------------------------------------------------------
    @property
    def progress(self) -> Any:
        """The latest progress the analysis reported (None before the first)."""
        with self._lock:
            return self._progress

    @property
    def result(self) -> Any:
        """The analysis' result once it finished or was stopped (what was done by then); else None."""
        with self._lock:
            return self._result

    @property
    def error(self) -> Exception | None:
        """The expected error the analysis raised (a bad clip: the page says it in words); else None."""
        with self._lock:
            return self._error

    @property
    def crash(self) -> str | None:
        """The reference of an unexpected failure (logged with its traceback); else None."""
        with self._lock:
            return self._crash

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set() and self.running

    def stop(self) -> None:
        """Ask the analysis to stop; it keeps what it has done."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the analysis has ended and its end was handled (its files removed if nobody holds it);
        False on timeout."""
        return self._settled.wait(timeout)

    # -- the thread ----------------------------------------------------------------------------------
    def _report(self, progress: Any) -> None:
        with self._lock:
            self._progress = progress

    def _run(self, work: Callable[[Work], Any], expected: tuple[type[Exception], ...], on_end: Callable[[], None]
             ) -> None:
        try:
            result = work(Work(self.source, self.out, self._report, self.stop_event))
            with self._lock:
                self._result = result
        except expected as exc:
            log.info("video %s refused: %s", self.key[:12], exc)
            with self._lock:
                self._error = exc
        except Exception:  # noqa: BLE001 - the page says it with the reference; the server goes on
            ref = uuid.uuid4().hex[:8]
            log.exception("video analysis %s failed (reference %s)", self.key[:12], ref)
            with self._lock:
                self._crash = ref
        finally:
            self._done.set()
            try:
                on_end()
            finally:
                self._settled.set()


class JobHandle:
    """A session's hold on a job (kept in st.session_state): while one exists the job and its files stay."""

    def __init__(self, job: VideoJob, release: Callable[[], None]) -> None:
        self.job = job
        self._finalizer = weakref.finalize(self, release)

    def release(self) -> None:
        """Let go of the job now (Clear, another clip): the last release stops it and removes its files."""
        self._finalizer()


class VideoJobs:
    """The server's analyses, by key (the clip's content hash and the settings)."""

    def __init__(self, max_running: int = MAX_RUNNING, root: Path | None = None) -> None:
        self.max_running = max_running
        self.root = root
        self._lock = threading.RLock()  # a handle's finalizer may run (garbage collection) while it is held
        self._jobs: dict[str, VideoJob] = {}

    def find(self, key: str) -> JobHandle | None:
        """A new hold on the job of `key` (running or finished), when the server has one."""
        with self._lock:
            job = self._jobs.get(key)
            return self._hold(job) if job is not None else None

    def running(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.running)

    def start(self, key: str, name: str, source: Path | bytes, work: Callable[[Work], Any],
              expected: tuple[type[Exception], ...] = ()) -> JobHandle | None:
        """The job of `key`: the one the server has, else a new one running `work` in a thread; None when
        `max_running` analyses already run (the page says the server is busy). `source` is the clip: a file
        the app ships (read in place) or an upload's bytes (copied into the job's folder). `expected`: the
        errors that say what is wrong with the clip (kept for the page); any other one is logged."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None:
                return self._hold(job)
            if sum(1 for j in self._jobs.values() if j.running) >= self.max_running:
                return None
            folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=self.root))
            if isinstance(source, bytes):
                path = folder / f"source{Path(name).suffix.lower()[:8]}"
                path.write_bytes(source)
            else:
                path = Path(source)
            job = self._jobs[key] = VideoJob(key, name, folder, path)
            handle = self._hold(job)
            job._thread = threading.Thread(target=job._run, args=(work, expected, lambda: self._ended(job)),  # noqa: SLF001
                                           name=f"fer-video-{key[:8]}", daemon=True)
        log.info("video analysis %s started (%s)", key[:12], name)
        job._thread.start()  # noqa: SLF001
        return handle

    def _hold(self, job: VideoJob) -> JobHandle:
        job._holders += 1  # noqa: SLF001 - under self._lock
        return JobHandle(job, lambda: self._release(job))

    def _release(self, job: VideoJob) -> None:
        with self._lock:
            job._holders -= 1  # noqa: SLF001
            if job._holders > 0:  # noqa: SLF001
                return
            if job.running:  # nobody will see it: stop it, and drop it once its thread ends (_ended)
                job.stop()
                return
            self._drop(job)

    def _ended(self, job: VideoJob) -> None:
        with self._lock:
            if job._holders <= 0:  # noqa: SLF001
                self._drop(job)

    def _drop(self, job: VideoJob) -> None:
        """Forget the job and remove its folder (under self._lock)."""
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        shutil.rmtree(job.folder, ignore_errors=True)
        log.info("video analysis %s dropped", job.key[:12])


JOBS = VideoJobs()
"""The server's analyses (one per process: the module is imported once, pages rerun)."""
