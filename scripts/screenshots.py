"""A screenshot of every page of the real app, in English and Portuguese, on a desktop and a phone.

    python -m scripts.screenshots [--out screenshots] [--langs en pt] [--sizes desktop phone]
                                  [--pages home images webcam videos teach dataset train results how-it-works]

Starts `streamlit run app.py` on a free port (runs and uploads in a temporary folder, so Results
shows what a first visitor sees: the shipped model), opens each page in Debian's Chromium through
Playwright with the browser's language set (the app starts in it), does what a visitor would (uploads
three photos on Images and on Teach; presses Start on Webcam, with Chromium's fake camera playing a real
face; opens Train's expert settings and picks two emotions to name more often), waits until the script
and the charts have finished, and writes `<out>/<page>-<lang>-<size>.png`
(the whole page, scrolled content included). Desktop is 1366x800, phone 390x844.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from fer.paths import ROOT
from tests.browser.browserkit import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHOTOS,
    pick_option,
    running_app,
    wait_for_app,
    write_y4m,
)

PAGES = ("home", "images", "webcam", "videos", "teach", "dataset", "train", "results", "how-it-works")
SIZES = {"desktop": {"width": 1366, "height": 800}, "phone": {"width": 390, "height": 844}}
LOCALES = {"en": "en-US", "pt": "pt-BR"}
IMAGES = ("obama_and_biden.jpg", "obama-1080p.jpg", "obama_partial_face.jpg")
"""Two faces, one face in a wide frame (where a background box used to appear), a face cut by the border."""


def settle(page: object, extra_s: float = 1.5) -> None:
    """Wait for the script to finish, then for charts and images to draw."""
    wait_for_app(page)
    page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
    time.sleep(extra_s)
    wait_for_app(page)


def visit(page: object, url: str, name: str, lang: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/{'' if name == 'home' else name}")  # type: ignore[attr-defined]
    settle(page, 0.5)
    if name == "images":
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(  # type: ignore[attr-defined]
            [str(PHOTOS / p) for p in IMAGES])
        expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=120_000)  # type: ignore[attr-defined]
        expect(page.get_by_role("heading", name=IMAGES[-1])).to_be_visible(timeout=120_000)  # type: ignore[attr-defined]
    elif name == "webcam":
        stream(page)
        face = page.get_by_text(re.compile(r"^(Face|Rosto) 1: "))  # type: ignore[attr-defined]
        expect(face.first).to_be_visible(timeout=90_000)
        time.sleep(6)  # a few seconds of the timeline
    elif name == "videos":  # the bundled example clip analysed: its people, their timelines, the annotated video
        from fer.i18n import t

        page.get_by_role("button", name=t("videos.example", lang)).click()  # type: ignore[attr-defined]
        expect(page.get_by_role("heading", name=re.compile(t("videos.timelines", lang)))).to_be_visible(  # type: ignore[attr-defined]
            timeout=300_000)
        expect(page.get_by_test_id("stVideo")).to_be_visible(timeout=60_000)  # type: ignore[attr-defined]
    elif name == "teach":  # three photos for the emotion chosen first (Happy): their faces, the counts, the files
        page.get_by_role("radio", name="Fotos" if lang == "pt" else "Photos", exact=True).click()  # type: ignore[attr-defined]
        settle(page, 0.5)
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(  # type: ignore[attr-defined]
            [str(PHOTOS / p) for p in IMAGES])
        counted = re.compile(r"^(Happy|Feliz): 3 ")
        expect(page.get_by_text(counted).first).to_be_visible(timeout=120_000)  # type: ignore[attr-defined]
    elif name == "train":  # the expert settings open, Fear and Disgust picked to be named more often
        from fer.i18n import t
        from fer.labels import display_name

        page.get_by_text(t("train.advanced", lang), exact=True).click()  # type: ignore[attr-defined]
        settle(page, 0.5)
        box = page.get_by_test_id("stMultiSelect").filter(has_text=t("train.floors", lang))  # type: ignore[attr-defined]
        for emotion in ("fear", "disgust"):
            pick_option(page, box, display_name(emotion, lang))
        page.keyboard.press("Escape")  # type: ignore[attr-defined]
    elif name == "how-it-works":
        expect(page.get_by_test_id("stHeading").last).to_be_visible(timeout=120_000)  # type: ignore[attr-defined]
    settle(page)


def stream(page: object, attempts: int = 3) -> None:
    """Press the webcam's Start (Iniciar in Portuguese) until the video plays."""
    from playwright.sync_api import expect

    frame = page.frame_locator("iframe[title*='streamlit_webrtc']")  # type: ignore[attr-defined]
    start = frame.get_by_role("button", name=re.compile("^(Start|Iniciar)$", re.I))
    start.or_(frame.locator("video")).first.wait_for(timeout=60_000)  # the component has loaded
    for attempt in range(attempts):
        try:
            if start.is_visible():
                start.click()
            expect(frame.locator("video")).to_be_visible(timeout=60_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def shoot(page: object, path: Path, webcam: bool = False) -> None:
    """The whole page: Streamlit scrolls inside its main section, so that section is stretched first
    (on a busy machine the webcam's stream can end when the window grows: it is started again)."""
    height = page.evaluate(  # type: ignore[attr-defined]
        "() => Math.max(document.body.scrollHeight,"
        " ...[...document.querySelectorAll('[data-testid=stMain], section.main, [data-testid=stAppViewContainer]')]"
        ".map(e => e.scrollHeight))")
    size = page.viewport_size  # type: ignore[attr-defined]
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 16000))})  # type: ignore[attr-defined]
    time.sleep(0.8)
    if webcam:
        stream(page)
        time.sleep(4)
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size(size)  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "screenshots")
    ap.add_argument("--langs", nargs="+", choices=list(LOCALES), default=list(LOCALES))
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    with tempfile.TemporaryDirectory(prefix="fer-shots-") as tmp, running_app(Path(tmp)) as url:
        camera = write_y4m(PHOTOS / "obama.jpg", Path(tmp) / "face.y4m")
        flags = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
            for lang in args.langs:
                for size in args.sizes:
                    phone = size == "phone"
                    context = browser.new_context(locale=LOCALES[lang], viewport=SIZES[size], is_mobile=phone,
                                                  has_touch=phone)
                    context.set_default_timeout(60_000)
                    page = context.new_page()
                    for name in args.pages:
                        path = args.out / f"{name}-{lang}-{size}.png"
                        start = time.monotonic()
                        try:
                            visit(page, url, name, lang)
                            shoot(page, path, webcam=name == "webcam")
                            print(f"{path} ({time.monotonic() - start:.0f} s)", flush=True)
                        except Exception as exc:  # noqa: BLE001 - one page failing must not lose the others
                            failed.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:300]}")
                            print(f"FAILED {failed[-1]}", flush=True)
                            page.screenshot(path=str(path), full_page=True)
                    context.close()
            browser.close()
    print(f"{len(args.langs) * len(args.sizes) * len(args.pages) - len(failed)} screenshots in {args.out}")
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
