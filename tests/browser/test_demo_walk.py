"""Real browser, as a first-time visitor at 1366x800: the language switch keeps the uploads, training
progress is in view right after Start (with Start off while it runs), Images puts its summary first."""

import re
import shutil

import pytest

from tests.browser.browserkit import PHOTOS, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture
def desktop(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 800})
    context.set_default_timeout(60_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"]


def test_switching_the_language_keeps_the_uploaded_photos(app_url, desktop):
    from playwright.sync_api import expect

    page = desktop
    page.goto(f"{app_url}/images")
    wait_for_app(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [str(PHOTOS / "obama.jpg"), str(PHOTOS / "biden.jpg")])
    expect(page.get_by_role("heading", name="biden.jpg")).to_be_visible(timeout=120_000)
    # the summary and downloads come first, before the photos
    summary = page.get_by_role("heading", name="All faces")
    assert summary.bounding_box()["y"] < page.get_by_role("heading", name="obama.jpg").bounding_box()["y"]
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="Português").click()
    expect(page.get_by_role("heading", name="Imagens", level=1)).to_be_visible(timeout=60_000)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="obama.jpg")).to_be_visible(timeout=120_000)
    expect(page.get_by_role("heading", name="biden.jpg")).to_be_visible()
    expect(page.get_by_role("heading", name="Todos os rostos")).to_be_visible()


def test_training_progress_is_in_view_after_start_and_start_is_off_while_it_runs(app_url, app_dir, desktop):
    from playwright.sync_api import expect

    page = desktop
    runs = app_dir / "runs"
    before = set(runs.glob("*")) if runs.exists() else set()
    try:
        page.goto(f"{app_url}/train")
        wait_for_app(page)
        page.get_by_label("Run name", exact=True).fill("walk-demo")
        start = page.get_by_role("button", name="Start training")
        start.scroll_into_view_if_needed()
        assert not in_view(page, page.get_by_role("heading", name="Train a model"))  # Start is below the fold
        start.click()
        progress = page.get_by_test_id("stProgress").first
        expect(progress).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Training walk-demo")).to_be_visible()
        wait_for_app(page)
        assert in_view(page, progress), progress.bounding_box()  # where the user is looking
        page.get_by_text("Settings of the next run").click()
        expect(page.get_by_role("button", name="Start training")).to_be_disabled()
        page.get_by_role("button", name="Stop training").click()
        expect(page.get_by_text(re.compile(r"Run walk-demo (was stopped|finished)"))).to_be_visible(timeout=180_000)
    finally:
        for run in (set(runs.glob("*")) if runs.exists() else set()) - before:
            shutil.rmtree(run, ignore_errors=True)
