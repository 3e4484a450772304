"""App cold start: from `streamlit run app.py` to the server answering, to the home page drawn
in a real browser, and (in a fresh process) from nothing to the first prediction.

    python bench/cold_start.py [--json]

"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import PHOTOS, emit, machine  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

FIRST_PREDICTION = """
import time
t0 = time.perf_counter()
import streamlit_webrtc  # as the app does, before tensorflow
from pathlib import Path
from fer.detection import Detector
from fer.inference import Classifier, predict_faces
from fer.preprocessing import decode_image
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                if time.perf_counter() - t0 > 60:
                    raise SystemExit("server did not start in 60 s") from None
                time.sleep(0.05)
        t_health = time.perf_counter() - t0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            t1 = time.perf_counter()
            page.goto(url)
            page.locator("h1").first.wait_for(timeout=60_000)
            t_page = time.perf_counter() - t1
            browser.close()
    finally:
        server.terminate()
        log = server.communicate(timeout=20)[0].decode(errors="replace")
    photo = PHOTOS / "obama.jpg"
    r = subprocess.run([sys.executable, "-c", FIRST_PREDICTION.format(photo=photo)], cwd=ROOT, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    first = eval(r.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    out = {"machine": machine(), "server_answers_s": round(t_health, 2),
           "home_page_drawn_s_after_request": round(t_page, 2),
           "run_to_home_page_s": round(t_health + t_page, 2), "first_prediction_fresh_process": first,
           "server_log_errors": [line for line in log.splitlines() if "Error" in line or "Traceback" in line]}
    rows = [["streamlit run -> server answers", out["server_answers_s"]],
            ["request -> home page drawn", out["home_page_drawn_s_after_request"]],
            ["streamlit run -> home page drawn", out["run_to_home_page_s"]],
            ["fresh process -> first prediction", first["total_s"]]]
    emit(out, args.json, rows, ["what", "seconds"])
    if not args.json:
        print(json.dumps(first))


if __name__ == "__main__":
    main()
