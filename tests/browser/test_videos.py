"""The Videos page in a real browser: a tiny synthetic clip uploaded, its progress, then people, timelines and the
annotated video, which Chromium plays; once in Portuguese (?lang=pt)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fer.i18n import t
from fer.labels import LABELS, display_name
from tests.browser.browserkit import wait_for_app
from tests.videoclips import make_clip


def make(folder: Path, seconds: float) -> Path:
    """About six seconds with two faces (320x240, 15 fps): long enough for the progress bar to be seen."""
    return make_clip(folder / "dois-rostos.mp4", seconds=seconds, fps=15, size=(320, 240), faces=2)


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "pt"])
def test_an_uploaded_clip_shows_progress_then_people_timelines_and_the_video(app_url: str, page: object,
                                                                             tmp_path: Path, lang: str) -> None:
    from playwright.sync_api import expect

    clip = make(tmp_path, 6.0 if lang == "en" else 6.2)  # another clip: not the other language's analysis, joined

    page.goto(f"{app_url}/videos?lang={lang}")
    wait_for_app(page)
    expect(page.get_by_role("heading", name=t("videos.title", lang), level=1)).to_be_visible()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(clip))
    frames = t("videos.progress", lang, done="X", total="Y").replace("X", r"\d+").replace("Y", r"\d+")
    opening = re.escape(t("videos.starting", lang))
    expect(page.get_by_test_id("stProgress").filter(has_text=re.compile(f"{frames}|{opening}"))).to_be_visible(
        timeout=120_000)
    expect(page.get_by_role("button", name=t("videos.stop", lang))).to_be_visible()
    expect(page.get_by_role("heading", name=t("videos.people", lang))).to_be_visible(timeout=180_000)
    expect(page.get_by_test_id("stProgress")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=60_000)  # loaded on first use: may take a while
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(3, timeout=60_000)  # time per emotion, then one timeline per person
    emotions = "|".join(display_name(k, lang) for k in LABELS)
    person = t("videos.timeline_title", lang, n=1, label="L", share="S").split(":")[0]
    titles = page.get_by_test_id("stMarkdown").filter(has_text=re.compile(rf"^{person}: .*({emotions})"))
    expect(titles).to_have_count(1)  # above the first person's timeline (a plotly title was cut on a phone)
    video = page.get_by_test_id("stVideo")
    expect(video).to_be_visible(timeout=60_000)
    # the annotated mp4 (H.264) is served and Chromium decodes it: a duration and a picture
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.readyState >= 2 && v.duration > 5 && v.videoWidth === 320",
                           arg=video.element_handle(), timeout=30_000)
    for key in ("videos.download_video", "videos.download_csv", "videos.download_json"):
        expect(page.get_by_role("button", name=t(key, lang))).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    wait_for_app(page)
