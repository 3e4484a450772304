"""Teach in a real browser: Chromium's fake camera (a video made from a real face photo, see conftest) gives one
snapshot, which is saved under the chosen emotion and listed with the face found in it."""

import re
from pathlib import Path

import pytest

from tests.browser.browserkit import wait_for_app


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_camera_snapshot_is_saved_and_listed_with_its_face(app_url: str, app_dir: Path, page: object,
                                                             lang: str) -> None:
    from playwright.sync_api import expect

    sad, photo = ("Triste", "foto") if lang == "pt" else ("Sad", "photo")
    page.goto(f"{app_url}/teach?lang={lang}")
    wait_for_app(page)
    page.get_by_role("radio", name=sad, exact=True).click()  # the emotion the snapshot is saved under
    wait_for_app(page)
    take = page.get_by_test_id("stCameraInputButton")
    expect(take).to_be_enabled(timeout=60_000)  # the fake camera streams
    take.click()
    # saved, its face found, and counted: "Sad: 1 photo, 1 face found. ..."
    expect(page.get_by_text(re.compile(rf"^{sad}: 1 {photo}, 1 ")).first).to_be_visible(timeout=120_000)
    face = page.get_by_test_id("stMain").locator("img").first
    expect(face).to_be_visible()
    assert face.evaluate("i => i.naturalWidth") == 96  # the 48x48 face, twice its size
    saved = list((app_dir / "runs" / "teach").glob("*/sad/*"))
    assert saved and all(p.stat().st_size > 1000 for p in saved)
    expect(page.get_by_text(re.compile(r"^1 (file|arquivo), \d")).first).to_be_visible()  # listed, with its size
    # a fresh camera, ready for the next snapshot
    expect(take).to_be_enabled(timeout=60_000)
    take.click()
    expect(page.get_by_text(re.compile(rf"^{sad}: 2 {photo}s, 2 ")).first).to_be_visible(timeout=120_000)
