"""Plain test helpers (paths, synthetic FER2013-like datasets); fixtures live in conftest.py."""

import contextlib
import io
import logging
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import cv2
import numpy as np
import pytest

from fer.labels import LABELS
from fer.paths import ROOT
from fer.train.presets import from_root, full_data

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
"""Public-domain photos of real faces, committed with the tests (their README says where they come from)."""
FER_ZIP = from_root(full_data())
"""The full FER2013, where FER_DATA says (CI sets it); tests that need it are marked `needs_full_data`."""
needs_full_data = pytest.mark.skipif(
    not FER_ZIP.exists(), reason=f"the full FER2013 is not configured: set FER_DATA (docs/data.md); "
                                 f"looked for {FER_ZIP}{'' if os.environ.get('FER_DATA') else ' (the default)'}")


def synthetic_faces(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is visible (a bright bar at a class-specific row) so nets can learn it."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(len(LABELS)):
        for _ in range(n_per_class):
            img = rng.integers(0, 80, (48, 48), dtype=np.uint8)
            img[4 + 6 * c: 8 + 6 * c, :] = 230
            images.append(img)
            labels.append(c)
    return np.stack(images), np.array(labels)


def _jpg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)  # lossless, so loaded pixels equal the written ones
    assert ok
    return buf.tobytes()


def write_folder(root: Path, n_per_class: int = 6, with_test: bool = True) -> Path:
    """train/<class>/Training_i.png (+ test/<class>/PublicTest_/PrivateTest_) with synthetic faces."""
    images, labels = synthetic_faces(n_per_class)
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        d = root / "train" / LABELS[y]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"Training_{i}.png").write_bytes(_jpg(img))
        if with_test:
            for usage in ("PublicTest", "PrivateTest"):
                t = root / "test" / LABELS[y]
                t.mkdir(parents=True, exist_ok=True)
                (t / f"{usage}_{i}.png").write_bytes(_jpg(img))
    return root


def write_zip(path: Path, n_per_class: int = 6) -> Path:
    images, labels = synthetic_faces(n_per_class)
    with zipfile.ZipFile(path, "w") as zf:
        for i, (img, y) in enumerate(zip(images, labels, strict=True)):
            zf.writestr(f"train/{LABELS[y]}/Training_{i}.png", _jpg(img))
            zf.writestr(f"test/{LABELS[y]}/PrivateTest_{i}.png", _jpg(img))
    return path


def write_csv(path: Path, n_per_class: int = 6, usage: bool = True) -> Path:
    images, labels = synthetic_faces(n_per_class)
    buf = io.StringIO()
    buf.write("emotion,pixels" + (",Usage" if usage else "") + "\n")
    usages = ["Training", "PublicTest", "PrivateTest"]
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):
        row = f"{y},{' '.join(map(str, img.ravel()))}"
        buf.write(row + (f",{usages[i % 3]}" if usage else "") + "\n")
    path.write_text(buf.getvalue())
    return path


class StreamerStub:
    """Stands in for webrtc_streamer (AppTest cannot render it) and keeps what the page passed."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.playing = False

    def __call__(self, key: str, **kwargs: Any) -> Any:
        self.calls.append({"key": key, **kwargs})
        return SimpleNamespace(state=SimpleNamespace(playing=self.playing, signalling=self.playing))


def craft(widget: Any, value: str) -> Any:
    """Make an AppTest selectbox send `value` on the next run whatever its options, as a rewritten websocket
    message would (AppTest's own set_value refuses a value that is not an option)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    class Crafted(type(widget)):
        @property
        def _widget_state(self) -> WidgetState:
            ws = WidgetState()
            ws.id = self.id
            ws.string_value = value
            return ws

    widget.__class__ = Crafted
    return widget


def shown(text: str) -> str:
    """What a Markdown string built with ui.text.plain reads as: backslash escapes and word joiners removed."""
    import re

    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")


def wait_for(cond: Any, timeout: float = 120.0, what: str = "condition", poll_s: float = 0.2) -> None:
    """Poll `cond()` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll_s)


@dataclass(frozen=True)
class CliRun:
    """What a `fer` command gave: its exit code and what it printed (as subprocess.CompletedProcess names them)."""

    returncode: int
    stdout: str
    stderr: str


def run_fer(*args: str | Path, env: dict[str, str] | None = None) -> CliRun:
    """`python -m fer ARGS` run in this process, from the repository's root, with `env` added to the environment.

    The same `fer.cli.main.main` as the console script, its exit code, stdout and stderr (its log lines included);
    TensorFlow is imported once for the whole suite instead of once a command (8-10 s of CPU each: the suite's
    cost, docs/benchmarks.md). The console script itself, the refusal before TensorFlow's import, distributed
    training and killed processes keep a real process in their own tests."""
    from fer.cli.main import LOG_FORMAT, main

    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO if "--verbose" in args or "-v" in args else logging.WARNING)
    root_logger, saved_level = logging.getLogger(), logging.getLogger().level
    root_logger.addHandler(handler)
    root_logger.setLevel(min(saved_level or logging.WARNING, handler.level))
    try:
        with (contextlib.chdir(ROOT), mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(out),
              contextlib.redirect_stderr(err)):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(saved_level)
    return CliRun(int(code or 0), out.getvalue(), err.getvalue())
