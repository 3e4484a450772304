"""App cold start, as a visitor meets it, in Chromium:

1. `streamlit run app.py` -> the server answers -> the home page drawn (requested at once);
2. a fresh server, the webcam page requested at once: when its Start button is there;
3. a fresh server left alone `--idle` seconds (20), then the Images page: from the page drawn to the
   first photo's result (obama.jpg uploaded at once: its faces boxed and named, then its probability
   charts, for which the browser first loads its chart library), the server warmed up meanwhile;
4. in a fresh Python process, from nothing to the first prediction (no server).

    python -m bench.cold_start [--idle 20] [--json]

"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import PHOTOS, emit, machine
from fer.paths import ROOT
from tests.browser.browserkit import CHROMIUM, CHROMIUM_ARGS, running_app

FIRST_PREDICTION = """
import time
t0 = time.perf_counter()
import aiortc  # as the app does, before tensorflow
from pathlib import Path
from fer.vision.detection import Detector
from fer.model.inference import Classifier, predict_faces
from fer.vision.preprocessing import decode_image
from fer.tfenv import import_tensorflow
import_tensorflow()
t_tf = time.perf_counter()
clf = Classifier.from_file("models/default.keras")
t_model = time.perf_counter()
faces = predict_faces(decode_image(Path("{photo}").read_bytes()), Detector(), clf)
t_pred = time.perf_counter()
print({{"import_s": round(t_tf - t0, 2), "load_model_s": round(t_model - t_tf, 2),
       "first_prediction_s": round(t_pred - t_model, 2), "total_s": round(t_pred - t0, 2), "faces": len(faces)}})
"""


@contextmanager
def server(log_dir: Path) -> Iterator[tuple[str, float]]:
    """A fresh `streamlit run app.py`: (its URL, seconds from the start until it answered)."""
    t0 = time.perf_counter()
    with running_app(log_dir) as url:
        yield url, time.perf_counter() - t0


def home_drawn(pw: Any, log_dir: Path) -> dict[str, float]:
    with server(log_dir) as (url, answered):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        t1 = time.perf_counter()
        page.goto(url)
        page.locator("h1").first.wait_for(timeout=60_000)
        drawn = time.perf_counter() - t1
        browser.close()
    return {"server_answers_s": round(answered, 2), "home_page_drawn_s_after_request": round(drawn, 2),
            "run_to_home_page_s": round(answered + drawn, 2)}


def webcam_ready(pw: Any, log_dir: Path) -> dict[str, Any]:
    """The webcam page requested as soon as the server answers: title, then the Start button; whether
    words were shown while it waited."""
    with server(log_dir) as (url, _):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        t1 = time.perf_counter()
        page.goto(f"{url}/webcam")
        page.get_by_role("heading", name="Webcam").wait_for(timeout=60_000)
        title = time.perf_counter() - t1
        waiting = page.get_by_test_id("stProgress").count() > 0
        page.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="Start").wait_for(
            timeout=120_000)
        ready = time.perf_counter() - t1
        browser.close()
    return {"webcam_title_s_after_request": round(title, 2), "webcam_start_button_s_after_request": round(ready, 2),
            "progress_shown_while_waiting": waiting}


def first_photo(pw: Any, log_dir: Path, idle_s: float) -> dict[str, float]:
    """A server left alone `idle_s` seconds, then the Images page and a photo uploaded at once."""
    with server(log_dir) as (url, answered):
        time.sleep(max(0.0, idle_s - answered))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        t1 = time.perf_counter()
        page.goto(f"{url}/images")
        page.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached", timeout=60_000)
        drawn = time.perf_counter() - t1
        t2 = time.perf_counter()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(PHOTOS / "obama.jpg"))
        # the result: the photo's line "910×1137 pixels · 1 face(s) · N ms" above the boxed photo
        page.get_by_text(re.compile(r"pixels · 1 face")).first.wait_for(timeout=120_000)
        result = time.perf_counter() - t2
        page.locator(".gtitle").filter(has_text=re.compile(r"^Face 1: ")).first.wait_for(timeout=120_000)
        charts = time.perf_counter() - t2  # the browser loads its chart library for the first chart
        browser.close()
    return {"idle_s": idle_s, "images_page_drawn_s_after_request": round(drawn, 2),
            "first_photo_result_s_after_drawn": round(result, 2),
            "first_photo_charts_s_after_drawn": round(charts, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--idle", type=float, default=20.0, help="seconds the server runs before the photo visit")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        home = home_drawn(pw, Path(tmp))
        webcam = webcam_ready(pw, Path(tmp))
        photo = first_photo(pw, Path(tmp), args.idle)
        logs = "\n".join(f.read_text(errors="replace") for f in Path(tmp).glob("streamlit-*.log"))
    r = subprocess.run([sys.executable, "-c", FIRST_PREDICTION.format(photo=PHOTOS / "obama.jpg")], cwd=ROOT,
                       capture_output=True, text=True, env=os.environ.copy(), check=True)
    first = eval(r.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    out = {"machine": machine(), **home, **webcam, **photo, "first_prediction_fresh_process": first,
           "server_log_errors": [line for line in logs.splitlines() if "Error" in line or "Traceback" in line]}
    rows = [["streamlit run -> server answers", out["server_answers_s"]],
            ["request -> home page drawn", out["home_page_drawn_s_after_request"]],
            ["streamlit run -> home page drawn", out["run_to_home_page_s"]],
            ["fresh server: request -> webcam title", out["webcam_title_s_after_request"]],
            ["fresh server: request -> webcam Start button", out["webcam_start_button_s_after_request"]],
            [f"server up {args.idle:.0f} s: Images page drawn -> first photo's faces shown",
             out["first_photo_result_s_after_drawn"]],
            ["... -> its probability charts drawn", out["first_photo_charts_s_after_drawn"]],
            ["fresh process -> first prediction", first["total_s"]]]
    emit(out, args.json, rows, ["what", "seconds"])
    if not args.json:
        print(json.dumps({"progress_shown_while_waiting": webcam["progress_shown_while_waiting"],
                          "first_prediction_fresh_process": first}))


if __name__ == "__main__":
    main()
