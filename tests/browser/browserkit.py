"""Plain helpers for the real-browser tests: paths, a Streamlit server in a subprocess, a fake camera video."""

from __future__ import annotations

import collections
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

from fer.paths import ROOT

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
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
def app_server(log_dir: Path, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start `streamlit run app.py` on a free port (a fresh server process), yield (the process, its URL),
    stop it. Runs and uploads go under `log_dir` (never into the repository) unless `env` says otherwise."""
    port = free_port()
    env = {"FER_RUNS_DIR": str(log_dir / "runs"), "FER_UPLOAD_DIR": str(log_dir / "uploads"), **(env or {})}
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
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running_app(log_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`app_server`, yielding only the URL."""
    with app_server(log_dir, env) as (_, url):
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
    shifts = [int(round(4 * np.sin(2 * np.pi * i / frames))) for i in range(frames)]
    return write_y4m_frames([np.roll(canvas, s, axis=1) for s in shifts], path)


def write_y4m_frames(frames: list[np.ndarray], path: Path, fps: int = 30) -> Path:
    """A YUV4MPEG2 (C420jpeg) video of BGR frames (all of one even size): Chromium's fake camera loops it."""
    h, w = frames[0].shape[:2]
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())  # planar Y, U, V
    return path


def wait_for_app(page: object, timeout_ms: int = 90_000) -> None:
    """Wait until the app is connected and its script has run to the end (no rerun pending)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",  # type: ignore[attr-defined]
                           timeout=timeout_ms)


def pick_option(page: object, box: object, word: str, attempts: int = 4) -> None:
    """Choose the option `word` of a selectbox or multiselect (`box`: its element) as a person does: click its
    input, type the word's start, click the option; then wait until the box shows it (the chip of a multiselect,
    the value of a selectbox). On a busy server a dropdown opened during a rerun can close again at once, and a
    click that lands while a rerun redraws the list can be lost: then it is closed and tried again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    inp = box.locator("input")  # type: ignore[attr-defined]
    multi = box.get_attribute("data-testid") == "stMultiSelect"  # type: ignore[attr-defined]
    for attempt in range(attempts):
        try:
            inp.click()
            inp.fill("")
            inp.press_sequentially(word[:3])
            page.get_by_role("option", name=word, exact=True).click(timeout=4_000)  # type: ignore[attr-defined]
            time.sleep(0.5)
            wait_for_app(page)
            if multi:
                expect(box.get_by_text(word, exact=True)).to_be_visible(timeout=15_000)  # type: ignore[attr-defined]
            else:
                expect(box.get_by_role("combobox")).to_have_value(word, timeout=15_000)  # type: ignore[attr-defined]
            return
        except (PlaywrightTimeout, AssertionError):  # the list was not open, or the pick was lost
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")  # type: ignore[attr-defined]
            time.sleep(1)


def ensure_streaming(page: object, attempts: int = 3, wait_ms: int = 60_000) -> None:
    """Wait for the webcam component's video; press Start again when it never came (a click that lands
    while the component is still loading on a busy server is lost)."""
    from playwright.sync_api import expect

    frame = page.frame_locator("iframe[title*='streamlit_webrtc']")  # type: ignore[attr-defined]
    for attempt in range(attempts):
        try:
            expect(frame.locator("video")).to_be_visible(timeout=wait_ms)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise
            start = frame.get_by_role("button", name="Start")
            if start.is_visible():
                start.click()


class PageWatch:
    """What each page went through (console errors, page errors, crashes, closed websockets), with times,
    and per-page screenshots on demand: the evidence a failed multi-session test leaves behind."""

    def __init__(self, pages: list[object], names: list[str]) -> None:
        self.t0 = time.monotonic()
        self.events: list[str] = []
        self.pages, self.names = pages, names
        self.pending: dict[int, tuple[str, str, float]] = {}  # id(request): (page, url, start)
        self.messages: dict[str, collections.deque[str]] = {n: collections.deque(maxlen=400) for n in names}
        for pg, name in zip(pages, names, strict=True):
            pg.on("console", lambda m, n=name: self.console(n, m))  # type: ignore[attr-defined]
            pg.on("pageerror", lambda e, n=name: self.note(n, f"page error: {e}"))  # type: ignore[attr-defined]
            pg.on("crash", lambda _p, n=name: self.note(n, "renderer crashed"))  # type: ignore[attr-defined]
            pg.on("request", lambda r, n=name: self.pending.__setitem__(id(r), (n, r.url, time.monotonic())))  # type: ignore[attr-defined]
            pg.on("requestfinished", lambda r, n=name: self.finished(n, r, ""))  # type: ignore[attr-defined]
            pg.on("requestfailed", lambda r, n=name: self.finished(n, r, f"failed ({r.failure})"))  # type: ignore[attr-defined]
            pg.on("response", lambda r, n=name: r.status >= 400 and self.note(n, f"HTTP {r.status} {r.url}"))  # type: ignore[attr-defined]
            pg.on("websocket", lambda ws, n=name: self.websocket(n, ws))  # type: ignore[attr-defined]

    def websocket(self, name: str, ws: object) -> None:
        ws.on("close", lambda _w: self.note(name, f"websocket closed {ws.url}"))  # type: ignore[attr-defined]
        ws.on("framereceived", lambda payload: self.messages[name].append(self.describe(payload)))  # type: ignore[attr-defined]

    def describe(self, payload: bytes | str) -> str:
        """One line per message Streamlit sends: its kind, delta path, fragment and element type."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        t = f"{time.monotonic() - self.t0:7.2f}s"
        if isinstance(payload, str):
            return f"{t} text {payload[:80]}"
        msg = ForwardMsg.FromString(payload)
        kind = msg.WhichOneof("type")
        run = msg.metadata.run
        line = f"{t} run={run.script_run_id[:8]} fragments={[f[:8] for f in run.fragment_ids]} {kind}"
        if kind == "delta":
            d = msg.delta
            what = d.WhichOneof("type")
            sub = (d.new_element.WhichOneof("type") if what == "new_element"
                   else d.add_block.WhichOneof("type") if what == "add_block" else "")
            line += f" {list(msg.metadata.delta_path)} {what}:{sub} fragment={d.fragment_id[:8]}"
        elif kind == "script_finished":
            line += f" {msg.script_finished}"
        return line

    def finished(self, name: str, request: object, failure: str) -> None:
        _, url, start = self.pending.pop(id(request), (name, "", time.monotonic()))
        took = time.monotonic() - start
        if failure or took > 10:
            self.note(name, f"request {failure or 'slow'} after {took:.1f}s: {url or request.url}")  # type: ignore[attr-defined]

    def console(self, name: str, msg: object) -> None:
        if msg.type == "error":  # type: ignore[attr-defined]
            self.note(name, f"console {msg.type}: {msg.text}")  # type: ignore[attr-defined]

    def note(self, name: str, what: str) -> None:
        self.events.append(f"{time.monotonic() - self.t0:7.1f}s {name}: {what}")

    def page_errors(self) -> list[str]:
        """Uncaught errors in the pages (e.g. a blanked app) and renderer crashes."""
        return [e for e in self.events if ": page error: " in e or e.endswith(": renderer crashed")]

    def step(self, what: str) -> None:
        """Log a step of the test (printed with -s; kept for the failure report)."""
        self.note("test", what)
        print(self.events[-1], flush=True)

    def dump(self, out: Path) -> str:
        """Screenshot every page and record its script state into `out`; returns a readable report."""
        out.mkdir(parents=True, exist_ok=True)
        lines = list(self.events)
        now = time.monotonic()
        lines += [f"{name}: still pending after {now - t:.1f}s: {url}" for name, url, t in self.pending.values()]
        for pg, name in zip(self.pages, self.names, strict=True):
            try:
                state = pg.locator("[data-testid='stApp']").get_attribute("data-test-script-state", timeout=5_000)  # type: ignore[attr-defined]
                pg.screenshot(path=str(out / f"{name}.png"), full_page=True, timeout=15_000)  # type: ignore[attr-defined]
                lines.append(f"{name}: url={pg.url} script-state={state} screenshot={out / f'{name}.png'}")  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - a report of a failure must not fail itself
                lines.append(f"{name}: no screenshot ({exc.__class__.__name__}: {str(exc)[:200]})")
        for name, msgs in self.messages.items():
            if msgs:
                (out / f"{name}-messages.txt").write_text("\n".join(msgs))
        report = "\n".join(lines)
        (out / "report.txt").write_text(report)
        return report
