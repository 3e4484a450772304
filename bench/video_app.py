"""Videos in the real app, as a visitor meets it, in Chromium: a clip uploaded on the Videos page, the seconds
until its people, their timelines and the annotated video are on the page, and the page's own readout.

    python -m bench.video_app [--seconds 10] [--size 640x480] [--faces 3] [--repeat 2] [--json]

The clips are made as bench.video_file makes them (tests/videoclips.make_clip: 30 fps, moving faces, H.264), so
the two sit side by side: the analysis alone there, the same work through the server, the page and the browser
here. Each repeat uploads a new clip (faces moved differently: a clip already analysed would be found, not
analysed again). The first upload of a fresh server also waits for its warm-up (TensorFlow, the model).
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, machine
from fer.i18n import t
from tests.browser.browserkit import CHROMIUM, CHROMIUM_ARGS, running_app, wait_for_app

READOUT = re.compile(r"(\d[\d,]*) frames read in ([\d.]+) s")
EVERY = re.compile(r"One frame in (\d+) was analysed")


def upload_and_wait(page: Any, clip: Path, timeout_ms: int = 600_000) -> dict[str, Any]:
    """Upload `clip` on the Videos page; seconds until the timelines and the video are shown, and the readout."""
    from playwright.sync_api import expect

    t0 = time.perf_counter()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(clip))
    expect(page.get_by_role("heading", name=t("videos.timelines", "en"))).to_be_visible(timeout=timeout_ms)
    expect(page.get_by_test_id("stVideo")).to_be_visible(timeout=timeout_ms)
    shown_s = time.perf_counter() - t0
    text = page.get_by_test_id("stMain").inner_text()
    read, every = READOUT.search(text), EVERY.search(text)
    return {"shown_s": round(shown_s, 2), "frames": int(read[1].replace(",", "")) if read else None,
            "page_analysis_s": float(read[2]) if read else None, "every": int(every[1]) if every else 1}


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.videoclips import make_clip

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--size", default="640x480", help="WxH")
    p.add_argument("--faces", type=int, default=3, choices=(1, 2, 3))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    runs = []
    with tempfile.TemporaryDirectory(prefix="video-app-") as tmp, running_app(Path(tmp)) as url:
        clips = [make_clip(Path(tmp) / f"clip-{i}.mp4", seconds=args.seconds, size=(w, h), faces=args.faces,
                           move=6 + i) for i in range(args.repeat)]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{url}/videos?lang=en")
            wait_for_app(page)
            for i, clip in enumerate(clips):
                if i:
                    page.get_by_role("button", name=t("videos.clear", "en")).click()
                    wait_for_app(page)
                run = upload_and_wait(page, clip)
                took = run["page_analysis_s"]
                run["realtime_page"] = round(args.seconds / took, 2) if took else None
                run["realtime_shown"] = round(args.seconds / run["shown_s"], 2)
                runs.append(run)
                if not args.json:
                    print(f"clip {i + 1}: {run}", flush=True)
            browser.close()
    result = {"clip": {"seconds": args.seconds, "size": args.size, "faces": args.faces, "fps": 30}, "runs": runs,
              "machine": machine()}
    emit(result, args.json, [[i + 1, r["shown_s"], r["page_analysis_s"], r["every"], r["realtime_page"],
                              r["realtime_shown"]] for i, r in enumerate(runs)],
         ["upload", "shown s", "analysis s (page)", "one in", "realtime (analysis)", "realtime (until shown)"])


if __name__ == "__main__":
    main()
