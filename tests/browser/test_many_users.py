"""Many users at once on one server: 5 browser sessions upload different photos to /images and 2 stream the
webcam, all started before any result is awaited. Each session sees its own, correct result; the server log
holds no error."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from fer.labels import LABELS, display_name
from tests.browser.browserkit import PHOTOS, ROOT, PageWatch, ensure_streaming, running_app, wait_for_app

EMOTION = "|".join(display_name(k, "en") for k in LABELS)
UPLOADS = ["obama.jpg", "biden.jpg", "obama2.jpg", "obama-240p.jpg", "obama_and_biden.jpg"]
WEBCAMS = 2
TITLE = re.compile(rf"^Face (\d+): ({EMOTION}) \((\d+\.\d)%\)$")


def expected_faces() -> dict[str, list[tuple[str, float]]]:
    """(emotion, confidence %) of every face of each photo, as the page computes it with its defaults."""
    from fer.media.photo import analyse_photo
    from fer.model.inference import Classifier
    from fer.vision.detection import Detector, DetectorConfig

    clf = Classifier.from_file(ROOT / "models" / "default.keras")
    det = Detector(DetectorConfig())
    out = {}
    for name in UPLOADS:
        res = analyse_photo((PHOTOS / name).read_bytes(), name, det, clf, 0.0)
        out[name] = [(display_name(f.label, "en"), 100 * f.confidence) for f in res.faces]
    return out


@pytest.mark.browser
def test_five_image_users_and_two_webcam_users_at_once(browser: object, tmp_path: Path) -> None:
    want = expected_faces()
    assert [len(want[n]) for n in UPLOADS] == [1, 1, 1, 1, 2]
    start = time.monotonic()
    with running_app(tmp_path) as url:
        contexts = [browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
                    for _ in range(len(UPLOADS) + WEBCAMS)]
        try:
            for c in contexts:
                c.set_default_timeout(120_000)
            pages = [c.new_page() for c in contexts]
            watch = PageWatch(pages, [f"images-{i}" for i in range(len(UPLOADS))]
                              + [f"webcam-{i}" for i in range(WEBCAMS)])
            try:
                drive(pages, watch, want, url)
                assert not watch.page_errors(), watch.page_errors()
            except BaseException:
                print(watch.dump(tmp_path / "evidence"), flush=True)
                print(next(tmp_path.glob("streamlit-*.log")).read_text()[-4000:], flush=True)
                raise
            print(f"7 sessions served in {time.monotonic() - start:.0f} s")
            [log] = list(tmp_path.glob("streamlit-*.log"))
            serving = log.read_text()
        finally:
            for c in contexts:
                c.close()
        time.sleep(3)  # the server notices the closed sessions
        closed = log.read_text()[len(serving):]  # read while the server runs: its own shutdown is not under test
    assert "Traceback" not in serving and "Error" not in serving, serving[-4000:]
    assert not app_errors(closed), closed[-4000:]


def drive(pages: list, watch: PageWatch, want: dict[str, list[tuple[str, float]]], url: str) -> None:
    """Start every action on every page before awaiting any result, then check each page's own result."""
    from playwright.sync_api import expect

    image_pages, cam_pages = pages[:len(UPLOADS)], pages[len(UPLOADS):]
    for pg in image_pages:
        pg.goto(f"{url}/images", wait_until="commit")
    for pg in cam_pages:
        pg.goto(f"{url}/webcam", wait_until="commit")
    for i, (pg, name) in enumerate(zip(image_pages, UPLOADS, strict=True)):
        pg.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(PHOTOS / name))
        watch.step(f"images-{i} uploaded {name}")
    for i, pg in enumerate(cam_pages):  # the webcam component must have rendered before Start is pressed
        wait_for_app(pg, 240_000)
        pg.frame_locator("iframe[title*='streamlit_webrtc']").get_by_role("button", name="Start").click()
        watch.step(f"webcam-{i} pressed Start")

    for i, (pg, name) in enumerate(zip(image_pages, UPLOADS, strict=True)):
        expect(pg.get_by_role("heading", name=name)).to_be_visible(timeout=180_000)
        charts = pg.get_by_test_id("stPlotlyChart")
        expect(charts).to_have_count(len(want[name]), timeout=180_000)  # plotly's script loads slowly under load
        wait_for_app(pg, 240_000)
        titles = [t.strip() for t in charts.locator(".gtitle").all_text_contents()]
        got = [TITLE.match(t) for t in titles]
        assert all(got), (name, titles)
        for (label, conf), m in zip(want[name], got, strict=True):
            assert m[2] == label and abs(float(m[3]) - conf) < 0.2, (name, titles, want[name])
        others = [n for n in UPLOADS if n != name]
        headings = pg.get_by_role("heading", level=3).all_inner_texts()
        assert name in headings and not set(others) & set(headings), (name, headings)
        watch.step(f"images-{i} showed {titles}")
    for i, pg in enumerate(cam_pages):
        ensure_streaming(pg)
        watch.step(f"webcam-{i} streaming")
        expect(pg.get_by_text(re.compile(rf"^Face 1: ({EMOTION})$")).first).to_be_visible(timeout=180_000)
        watch.step(f"webcam-{i} named a face")
    for pg in pages:
        wait_for_app(pg, 240_000)


def app_errors(log: str) -> list[str]:
    """The tracebacks and error lines of a server log, less Streamlit's own websocket-disconnect race
    (streamlit 1.67's Starlette server sometimes logs 'Exception in ASGI application' ... WebSocketDisconnected
    when a browser tab closes mid-handshake; no app code is involved)."""
    blocks = re.split(r"(?m)^(?=Exception in ASGI application$|\S.*Traceback)", log)
    bad = []
    for block in blocks:
        if "Traceback" not in block and "Error" not in block:
            continue
        framework_race = (block.startswith("Exception in ASGI application")
                          and block.rstrip().splitlines()[-1].startswith("starlette.websockets.WebSocketDisconnected")
                          and str(ROOT) not in block)
        if not framework_race:
            bad.append(block)
    return bad
