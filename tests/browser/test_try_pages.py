"""Images and Webcam in a real browser: upload a photo, and stream Chromium's fake camera (a real face)."""

import re
import time

import pytest

from fer.labels import LABELS, display_name
from tests.browser.browserkit import PHOTOS, wait_for_app

EMOTION = "|".join(display_name(k, "en") for k in LABELS)


@pytest.mark.browser
def test_upload_photo_shows_label_and_chart(app_url: str, page: object) -> None:
    from playwright.sync_api import expect

    page.goto(f"{app_url}/images")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Images", level=1)).to_be_visible()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(PHOTOS / "obama.jpg"))
    expect(page.get_by_role("heading", name="obama.jpg")).to_be_visible(timeout=90_000)
    chart = page.get_by_test_id("stPlotlyChart")
    expect(chart).to_have_count(1, timeout=30_000)
    expect(chart.locator(".gtitle")).to_have_text(re.compile(rf"^Face 1: ({EMOTION}) \(\d+\.\d%\)$"))
    expect(chart.locator(".xtick")).to_have_count(7)
    img = page.get_by_test_id("stImage").locator("img").first
    expect(img).to_be_visible()
    assert img.evaluate("i => i.naturalWidth") > 0
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()


def _metric(page: object, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return metric.get_by_test_id("stMetricValue").inner_text()


def _frames(page: object) -> int:
    return int(_metric(page, "Frames").replace(",", ""))


def _fps(page: object) -> float:
    return float(_metric(page, "Frames per second").replace(",", ""))


@pytest.mark.browser
def test_webcam_streams_and_names_an_emotion(app_url: str, page: object) -> None:
    from playwright.sync_api import expect

    page.goto(f"{app_url}/webcam")
    wait_for_app(page)
    frame = page.frame_locator("iframe[title*='streamlit_webrtc']")
    frame.get_by_role("button", name="Start").click()
    expect(frame.locator("video")).to_be_visible(timeout=60_000)
    face = page.get_by_text(re.compile(rf"^Face 1: ({EMOTION})$"))
    expect(face.first).to_be_visible(timeout=90_000)
    first = _frames(page)
    start = time.monotonic()
    second = first
    while second < first + 10 and time.monotonic() - start < 60:  # the counter keeps growing
        time.sleep(1)
        second = _frames(page)
    assert second >= first + 10 > 10, (first, second)
    expect(page.get_by_text(re.compile(rf"^Face 1: ({EMOTION})$")).first).to_be_visible()
    fps = _fps(page)
    print(f"webcam: {fps} fps in the readout; frames {first} -> {second} in {time.monotonic() - start:.1f} s")
    assert fps > 0
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1, timeout=90_000)  # the timeline
    expect(page.get_by_test_id("stPlotlyChart").locator(".scatterlayer .trace")).to_have_count(7)
    frame.get_by_role("button", name="Stop").click()
