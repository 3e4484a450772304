"""Issue 39 in a real browser: the language lives in the URL (reload, new tab, page changes), the photos and
their results survive other pages, a wrong file type is named in the page's language, and the sidebar's
settings stay what they were when the user goes from Images to Webcam."""

import re
import time

import pytest

from tests.browser.browserkit import PHOTOS, wait_for_app


def _go(page: object, link: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()  # type: ignore[attr-defined]
    time.sleep(1.0)
    wait_for_app(page)


def _settings(page: object) -> list[str]:
    """The detection sliders' values, the expander opened first."""
    bar = page.get_by_test_id("stSidebar")  # type: ignore[attr-defined]
    details = bar.get_by_test_id("stExpander").first.locator("details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    bar.get_by_test_id("stSliderThumbValue").first.wait_for()
    return bar.get_by_test_id("stSliderThumbValue").all_inner_texts()


@pytest.mark.browser
def test_language_in_the_url_and_photos_across_pages(app_url: str, browser: object, tmp_path) -> None:
    from playwright.sync_api import expect

    notes = tmp_path / "notes.txt"
    notes.write_text("shopping: milk, eggs\n")
    ctx = browser.new_context(locale="pt-BR", viewport={"width": 1366, "height": 800})  # type: ignore[attr-defined]
    ctx.set_default_timeout(60_000)
    try:
        page = ctx.new_page()
        page.goto(f"{app_url}/images")
        wait_for_app(page)
        assert page.url.endswith("/images?lang=pt")  # the browser's language, now in the URL
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
            [str(PHOTOS / "obama_and_biden.jpg"), str(notes)])
        photo = page.get_by_role("heading", name="obama_and_biden.jpg", exact=True)
        expect(photo).to_be_visible(timeout=300_000)  # a fresh server loads TensorFlow first
        expect(page.get_by_text("notes.txt não é um arquivo de imagem")).to_be_visible()
        wait_for_app(page)
        before = _settings(page)
        assert before == ["1,10", "5", "30", "0%"]

        _go(page, "Webcam")
        assert page.url.endswith("/webcam?lang=pt")
        assert _settings(page) == before
        _go(page, "Imagens")
        assert page.url.endswith("/images?lang=pt")
        expect(page.get_by_role("heading", name="obama_and_biden.jpg", exact=True)).to_be_visible()
        expect(page.get_by_text("notes.txt não é um arquivo de imagem")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_be_visible()

        page.reload()  # a new session: the URL keeps the language
        wait_for_app(page)
        expect(page.get_by_role("heading", name="Imagens", level=1)).to_be_visible()
        other = browser.new_context(locale="en-US")  # type: ignore[attr-defined]
        try:
            tab = other.new_page()
            tab.goto(page.url)  # a link sent to someone whose browser is in English
            wait_for_app(tab)
            expect(tab.get_by_role("heading", name="Imagens", level=1)).to_be_visible()
        finally:
            other.close()

        bar = page.get_by_test_id("stSidebar")
        bar.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="English").click()
        expect(page).to_have_url(re.compile(r"/images\?lang=en$"))
        wait_for_app(page)
        _go(page, "Home")
        assert page.url.endswith("/?lang=en")
        page.get_by_test_id("stPageLink").first.click()  # Home's own links keep it too
        expect(page).to_have_url(re.compile(r"/images\?lang=en$"))
        expect(page.get_by_role("heading", name="Images", level=1)).to_be_visible()
    finally:
        ctx.close()
