"""Work done once per server in a background thread (import TensorFlow, load and trace the default model),
and the words and progress bar a page shows while it still waits for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

LOGGER = logging.getLogger(__name__)


def import_webrtc_before_tensorflow() -> None:
    """Import aiortc (with av and pylibsrtp, the native libraries under streamlit_webrtc): pylibsrtp imported
    after tensorflow crashes the process (segfault). The one place of this workaround: called before anything
    can import tensorflow, at server start, in every visitor's run (app.py) and in every test process
    (tests/__init__.py); the benchmarks never import pylibsrtp. streamlit_webrtc itself is imported by the webcam page,
    inside a visitor's run: its component is only registered with Streamlit when imported there."""
    import aiortc  # noqa: F401


@dataclass(frozen=True)
class Step:
    """One step of the warm-up: its name (a translation key under `warm.`), the work, and about how many
    seconds it takes on 2 cores (the bar moves by it; the step's end moves it for real)."""

    name: str
    run: Callable[[], object]
    expected_s: float


@dataclass(frozen=True)
class WarmUpStatus:
    state: str
    """'idle' (not started), 'running', 'ready' or 'failed'."""
    step: str
    """The step in progress (its name), or the last one."""
    done: float
    """Share of the whole warm-up behind it, 0..1."""
    seconds: float
    """Seconds since it started."""
    error: str = ""


class WarmUp:
    """Runs its steps once, in a daemon thread; any thread may ask how far it is or wait for it."""

    def __init__(self, steps: list[Step], clock: Callable[[], float] = time.monotonic) -> None:
        self._steps, self._clock = steps, clock
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._state, self._index, self._error = "idle", 0, ""
        self._started = self._step_started = 0.0

    def start(self) -> bool:
        """Start the thread unless it already ran or runs; True when this call started it."""
        with self._lock:
            if self._state != "idle":
                return False
            self._state = "running"
            self._started = self._step_started = self._clock()
        threading.Thread(target=self._run, name="fer-warm-up", daemon=True).start()
        return True

    def _run(self) -> None:
        for i, step in enumerate(self._steps):
            with self._lock:
                self._index, self._step_started = i, self._clock()
            try:
                step.run()
            except Exception as exc:  # noqa: BLE001 - the page that needs the model reports it in its own words
                LOGGER.warning("warm-up step %s failed: %s", step.name, exc)
                with self._lock:
                    self._state, self._error = "failed", f"{type(exc).__name__}: {exc}"
                self._finished.set()
                return
            LOGGER.info("warm-up: %s done after %.1f s", step.name, self._clock() - self._started)
        with self._lock:
            self._state, self._index = "ready", len(self._steps) - 1
        self._finished.set()

    def status(self) -> WarmUpStatus:
        with self._lock:
            now = self._clock()
            total = sum(s.expected_s for s in self._steps) or 1.0
            if self._state in ("ready", "idle"):
                done = 1.0 if self._state == "ready" else 0.0
            else:
                before = sum(s.expected_s for s in self._steps[:self._index])
                step = self._steps[self._index]
                within = min(0.95, (now - self._step_started) / step.expected_s) if step.expected_s else 0.0
                done = (before + within * step.expected_s) / total
            elapsed = now - self._started if self._state != "idle" else 0.0
            return WarmUpStatus(self._state, self._steps[self._index].name if self._steps else "", done, elapsed,
                                self._error)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until it has finished (ready or failed); False on timeout."""
        return self._finished.wait(timeout)


class Activity:
    """When the server last did something for a visitor (a request, a websocket message, a page run), and
    whether a page run is in progress: the warm-up waits for a quiet moment, so it never slows a page."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._running = 0
        self._last = clock()

    def touch(self) -> None:
        with self._lock:
            self._last = self._clock()

    def run_started(self) -> None:
        with self._lock:
            self._running += 1
            self._last = self._clock()

    def run_ended(self) -> None:
        with self._lock:
            self._running = max(0, self._running - 1)
            self._last = self._clock()

    def quiet_for(self) -> float:
        """Seconds since the last activity; 0 while a page run is in progress."""
        with self._lock:
            return 0.0 if self._running else self._clock() - self._last


def start_when_quiet(warm_up: WarmUp, activity: Activity, quiet_s: float = 2.0, max_wait_s: float = 30.0,
                     poll_s: float = 0.1, clock: Callable[[], float] = time.monotonic) -> threading.Thread:
    """Start `warm_up` once the server has been quiet `quiet_s` seconds (no request, no page run), or after
    `max_wait_s` at the latest; a page that needs the model meanwhile starts it itself."""

    def wait_then_start() -> None:
        deadline = clock() + max_wait_s
        while activity.quiet_for() < quiet_s and clock() < deadline and warm_up.status().state == "idle":
            time.sleep(poll_s)
        warm_up.start()

    thread = threading.Thread(target=wait_then_start, name="fer-warm-up-waiter", daemon=True)
    thread.start()
    return thread


def wait_with_progress(warm_up: WarmUp, text: Callable[[WarmUpStatus], str], poll_s: float = 0.2) -> None:
    """Show words and a progress bar until the warm-up has finished (starting it when nothing did yet);
    show nothing when it already has."""
    if warm_up.wait(0):
        return
    warm_up.start()
    status = warm_up.status()
    bar = st.progress(status.done, text=text(status))
    while not warm_up.wait(poll_s):
        status = warm_up.status()
        bar.progress(status.done, text=text(status))
    bar.empty()
