"""The webcam as users meet it: the real app in Chromium with a fake camera, frames per second reaching
the browser's video, the page's own readout, and the same analysis timed outside the app.

    python -m bench.webcam_app [--faces 3] [--warmup 20] [--seconds 15] [--client-nice N] [--json]

1. A 640x480 y4m video of `--faces` real faces (cut from tests/fixtures/photos, drifting as a user does,
   the frames of bench/webcam_pipeline.py) feeds Chromium's fake camera.
2. `streamlit run app.py` starts (a fresh server); Chromium opens /webcam and presses Start.
3. After `--warmup` seconds of streaming, for `--seconds` seconds: frames reaching the page's <video>
   (`getVideoPlaybackQuality().totalVideoFrames`, the annotated stream coming back from the server),
   and, once a second, the page's readout (frames and analysed per second, one analysis in ms).
4. The server stops; the same frames go through `LiveProcessor` in this process (every frame
   analysed, TensorFlow set up as the app sets it up): the analysis time outside the app, for the
   ratio inside / outside.
Pause other work first (a training job: `kill -STOP`): every figure is wall-clock time on 2 shared cores.
Here Chromium's own video work (camera capture, VP8 encoding and decoding, drawing) runs on the server's
2 cores, where a user's browser runs on the user's device: `--client-nice 10` starts Chromium at a lower
priority, so the server's figures come nearer to that (both ways are reported in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, machine, summary_ms, webcam_frames
from fer.paths import DEFAULT_MODEL
from tests.browser.browserkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ensure_streaming,
    running_app,
    wait_for_app,
    write_y4m_frames,
)

VIDEO_FRAMES = "v => v.getVideoPlaybackQuality().totalVideoFrames"


def metric(page: Any, label: str) -> str:
    """The value of the readout's metric `label` (English)."""
    box = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return box.get_by_test_id("stMetricValue").first.inner_text(timeout=5_000)


def number(text: str) -> float | None:
    text = text.replace(",", "")
    return float(text) if re.fullmatch(r"[0-9.]+", text) else None


def readout(page: Any) -> dict[str, float | None]:
    """The page's own figures: frames and analysed per second, one analysis (ms), faces named."""
    caption = page.get_by_text(re.compile(r"^One analysis takes [0-9,]+ ms")).first.inner_text(timeout=5_000)
    faces = page.get_by_text(re.compile(r"^Face \d+: ")).count()
    return {"fps": number(metric(page, "Frames per second")),
            "analysed_fps": number(metric(page, "Analysed per second")),
            "analysis_ms": float(re.search(r"takes ([0-9,]+) ms", caption).group(1).replace(",", "")),
            "faces": faces}


def chromium(log_dir: Path, client_nice: int) -> str:
    """Debian's Chromium, or a wrapper that starts it at niceness `client_nice`."""
    if not client_nice:
        return CHROMIUM
    wrapper = log_dir / "chromium-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(client_nice)} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def in_app(video: Path, warmup_s: float, seconds: float, log_dir: Path, client_nice: int = 0) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
    with running_app(log_dir) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(log_dir, client_nice), args=args, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 800}, locale="en-US")
        page.goto(f"{url}/webcam")
        wait_for_app(page)
        frame = page.frame_locator("iframe[title*='streamlit_webrtc']")
        frame.get_by_role("button", name="Start").click()
        ensure_streaming(page)
        expect(page.get_by_text(re.compile(r"^Face 1: ")).first).to_be_visible(timeout=90_000)
        started = time.monotonic()
        while time.monotonic() - started < warmup_s:
            time.sleep(0.5)
        video_el = frame.locator("video")
        v0, t0 = video_el.evaluate(VIDEO_FRAMES), time.monotonic()
        samples = []
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            samples.append(readout(page))
        v1, t1 = video_el.evaluate(VIDEO_FRAMES), time.monotonic()
        frame.get_by_role("button", name="Stop").click()
        summary = page.get_by_text("Session summary", exact=True)
        expect(summary).to_be_visible(timeout=60_000)
        browser.close()
    return {"browser_fps": round((v1 - v0) / (t1 - t0), 1), "browser_frames": v1 - v0,
            "seconds": round(t1 - t0, 1),
            "readout_fps": statistics.median(s["fps"] for s in samples if s["fps"] is not None),
            "readout_analysed_fps": statistics.median(s["analysed_fps"] for s in samples if s["analysed_fps"]),
            "readout_analysis_ms": statistics.median(s["analysis_ms"] for s in samples),
            "faces_named": max(s["faces"] for s in samples), "summary_shown_at_stop": True}


def outside_app(bgr: list[Any], model: Path) -> dict[str, Any]:
    """The page's analysis (detect, crop, classify, draw) on the same frames, in this process, every frame."""
    import av

    from fer.media.live import LIVE_MAX_SIDE, LiveProcessor
    from fer.model.inference import Classifier
    from fer.model.modelio import one_view_model
    from fer.tfenv import import_tensorflow
    from fer.vision.detection import Detector, DetectorConfig
    from ui.common import one_thread_per_op

    import_tensorflow(setup=one_thread_per_op)  # TensorFlow as the app sets it up: the same work
    proc = LiveProcessor(Detector(DetectorConfig(max_side=LIVE_MAX_SIDE)),
                         Classifier.from_file(one_view_model(model)).single_view(), max_every=1)
    frames = [av.VideoFrame.from_ndarray(f, format="bgr24").reformat(format="yuv420p") for f in bgr]
    for f in frames[:5]:
        proc.callback(f)
    ms = []
    for f in frames[5:]:
        proc.callback(f)
        ms.append(sum(v for k, v in proc.last_stages().items() if k != "convert"))
    return {"analysis_ms": summary_ms(ms)["mean_ms"], "faces": len(proc.snapshot().faces)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=int, default=3, choices=[1, 3])
    p.add_argument("--warmup", type=float, default=20.0, help="seconds of streaming before measuring")
    p.add_argument("--seconds", type=float, default=15.0, help="seconds measured")
    p.add_argument("--client-nice", type=int, default=0,
                   help="start Chromium at this niceness (the browser's video work off the server's cores)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    bgr = webcam_frames(args.faces, 90)  # 3 s at 30 fps, looped by Chromium
    with tempfile.TemporaryDirectory() as tmp:
        video = write_y4m_frames(bgr, Path(tmp) / "faces.y4m")
        app = in_app(video, args.warmup, args.seconds, Path(tmp), args.client_nice)
    outside = outside_app(bgr, DEFAULT_MODEL)
    ratio = round(app["readout_analysis_ms"] / outside["analysis_ms"], 2)
    out = {"machine": machine(), "frame": "640x480", "faces": args.faces, "client_nice": args.client_nice,
           "in_app": app, "outside_app": outside,
           "analysis_ratio_in_over_out": ratio}
    rows = [["frames per second reaching the browser's video", app["browser_fps"]],
            ["page readout: frames per second", app["readout_fps"]],
            ["page readout: analysed per second", app["readout_analysed_fps"]],
            ["page readout: one analysis (ms)", app["readout_analysis_ms"]],
            ["same analysis outside the app (ms)", outside["analysis_ms"]],
            ["inside / outside", ratio], ["faces named on the page", app["faces_named"]]]
    emit(out, args.json, rows, ["what", "value"])


if __name__ == "__main__":
    main()
