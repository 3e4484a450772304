"""Real-browser fixtures: a running app and Debian's Chromium driven by Playwright.

Session-scoped, shared by every test under tests/browser/:

- ``app_dir``: the shared server's folder (its log, runs/ and uploads/).
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

Plain helpers (paths, ``wait_for_app``) are imported from ``browserkit`` by the test modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.browserkit import CHROMIUM, CHROMIUM_ARGS, PHOTOS, running_app, write_y4m


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared server's folder: its log, and its runs/ and uploads/ folders."""
    return tmp_path_factory.mktemp("streamlit")


@pytest.fixture(scope="session")
def app_url(app_dir: Path) -> Iterator[str]:
    """URL of the app server shared by the whole test session (runs under `app_dir`/runs)."""
    with running_app(app_dir) as url:
        yield url


@pytest.fixture
def fresh_app_url(tmp_path: Path) -> Iterator[str]:
    """URL of a server started for this test alone (for first-request behaviour, e.g. deep links)."""
    with running_app(tmp_path) as url:
        yield url


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
