"""Real-browser fixtures: a running app and Debian's Chromium driven by Playwright.

Session-scoped, shared by every test under tests/browser/:

- ``app_url``: starts ``streamlit run app.py`` (headless, 127.0.0.1, a free port) in a subprocess,
  waits until ``/_stcore/health`` answers, yields ``http://127.0.0.1:<port>``, stops it at the end.
  Its output goes to ``<tmp>/streamlit-<port>.log`` (printed when start-up fails).
- ``fresh_app_url``: the same, but a server of its own for one test (function-scoped).
- ``running_app(log_dir, env=None)``: the context manager behind both, for servers with other settings
  (e.g. several at once, or extra environment variables).
- ``fake_camera``: a .y4m video (YUV4MPEG2, C420jpeg, 640x480, 30 frames) made from a real face photo;
  Chromium plays it in a loop as the camera.
- ``browser``: one Chromium (``/usr/bin/chromium``) with the fake camera and media auto-accept flags.
- ``page``: a fresh browser context and page per test (fresh session: no cookies, no storage),
  1280x900, English locale. Use ``browser.new_context(locale="pt-BR")`` for another language.

Helper: ``wait_for_app(page)`` waits until Streamlit has finished running the script.

Test modules here import helpers with ``from conftest import ...``; pytest keeps one module named
``conftest`` (this one, once this folder is collected), so this file also re-exports the plain names
(constants and helper functions, not fixtures) of tests/conftest.py: the suite's other modules keep
working when they are imported after this folder.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from _pytest.fixtures import FixtureFunctionDefinition


def _reexport_parent_conftest() -> None:
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_fer_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    parent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parent)
    for name, value in vars(parent).items():
        if name.startswith("__") or isinstance(value, FixtureFunctionDefinition):
            continue
        if name.isupper() or getattr(value, "__module__", None) == parent.__name__:
            globals().setdefault(name, value)


_reexport_parent_conftest()

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT.parent / "shared" / "photos"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
]
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def running_app(log_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `streamlit run app.py` on a free port (a fresh server process), yield its URL, stop it."""
    port = free_port()
    log_path = log_dir / f"streamlit-{port}.log"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (exit {proc.poll()}):\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the app server shared by the whole test session."""
    with running_app(tmp_path_factory.mktemp("streamlit")) as url:
        yield url


@pytest.fixture
def fresh_app_url(tmp_path: Path) -> Iterator[str]:
    """URL of a server started for this test alone (for first-request behaviour, e.g. deep links)."""
    with running_app(tmp_path) as url:
        yield url


def write_y4m(photo: Path, path: Path, size: tuple[int, int] = (640, 480), frames: int = 30) -> Path:
    """A YUV4MPEG2 (C420jpeg) video of `photo` letterboxed to `size`, with a slight drift so frames differ."""
    w, h = size
    bgr = cv2.imread(str(photo))
    if bgr is None:
        raise FileNotFoundError(photo)
    scale = min(w / bgr.shape[1], h / bgr.shape[0])
    small = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.full((h, w, 3), 128, np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            shift = int(round(4 * np.sin(2 * np.pi * i / frames)))
            frame = np.roll(canvas, shift, axis=1)
            yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)  # planar Y, U, V
            fh.write(b"FRAME\n")
            fh.write(yuv.tobytes())
    return path


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A looping fake-camera video made from a real photo of one face."""
    return write_y4m(PHOTOS / "obama.jpg", tmp_path_factory.mktemp("camera") / "face.y4m")


@pytest.fixture(scope="session")
def browser(fake_camera: Path) -> Iterator[object]:
    """Debian's Chromium (headless) with a fake camera fed by `fake_camera`."""
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_camera}"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A page in a fresh context (a new browser session) per test."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def wait_for_app(page: object, timeout_ms: int = 90_000) -> None:
    """Wait until the app is connected and its script has run to the end (no rerun pending)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",  # type: ignore[attr-defined]
                           timeout=timeout_ms)
