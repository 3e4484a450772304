"""A deep link opened first in a fresh server and browser session shows the app's own navigation."""

import pytest

from tests.browser.browserkit import wait_for_app

NAV = ["Home", "Images", "Webcam", "Videos", "Teach", "Dataset", "Train", "Results", "How it works"]


@pytest.mark.browser
def test_deep_link_first_shows_app_navigation(fresh_app_url: str, page: object) -> None:
    from playwright.sync_api import expect

    page.goto(f"{fresh_app_url}/webcam")  # the very first request this server gets
    wait_for_app(page)
    nav = page.get_by_test_id("stSidebarNav")
    # Streamlit 1.67 listed the pages/ files (lower-case names and "app") here and ran the page alone.
    expect(nav).to_contain_text("How it works")
    links = [a.strip().split("\n")[-1] for a in nav.get_by_role("link").all_inner_texts()]  # after the icon name
    assert links == NAV, links
    assert page.url.endswith("/webcam?lang=en")  # the page keeps its path; the language is written into the URL
    expect(page.get_by_role("heading", name="Webcam", level=1)).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text("Language")).to_be_visible()  # app.py ran

    # another fresh session on the same server, in Portuguese: translated titles, same page
    ctx = page.context.browser.new_context(locale="pt-BR")
    try:
        pt = ctx.new_page()
        pt.goto(f"{fresh_app_url}/images")
        wait_for_app(pt)
        nav_pt = pt.get_by_test_id("stSidebarNav")
        expect(nav_pt).to_contain_text("Imagens")
        expect(nav_pt).not_to_contain_text("how it works")
        expect(pt.get_by_role("heading", name="Imagens", level=1)).to_be_visible()
    finally:
        ctx.close()
