"""How it works with the shipped ensemble, in Chromium: the network followed is chosen in words, survives a
language switch, and the chart of what each network said names them all."""

import json

import pytest

from fer.i18n import t
from tests.browser.browserkit import pick_option, wait_for_app
from tests.helpers import ROOT


def member_label(i: int, kind: str, lang: str) -> str:
    return t("how.member_label", lang, i=i, arch="fer-net", labels=t(f"how.labels_{kind}", lang))


@pytest.mark.browser
def test_the_network_followed_is_chosen_in_words_and_kept_across_languages(app_url: str, page: object) -> None:
    from playwright.sync_api import expect

    card = json.loads((ROOT / "models" / "default.json").read_text())
    assert card["arch"] == "ensemble" and len(card["members"]) == 2  # runs 20 and 23 (labels, teacher)
    page.goto(f"{app_url}/how-it-works?lang=en")
    wait_for_app(page)
    box = page.get_by_test_id("stSelectbox").filter(has_text=t("how.member_pick", "en"))
    expect(box.get_by_role("combobox")).to_have_value(member_label(1, "plain", "en"))
    # the chart of each network's answer: its legend names the networks and their average
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text=t("how.members_average", "en"))
    expect(chart).to_contain_text(member_label(2, "teacher", "en"), timeout=60_000)
    pick_option(page, box, member_label(2, "teacher", "en"))
    expect(box.get_by_role("combobox")).to_have_value(member_label(2, "teacher", "en"))
    expect(page.get_by_role("heading", name=t("how.step_cam", "en"))).to_be_visible()
    # switched to Portuguese: the same network is still the one followed, named in Portuguese
    pick_option(page, page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first, "Português")
    box = page.get_by_test_id("stSelectbox").filter(has_text=t("how.member_pick", "pt"))
    expect(box.get_by_role("combobox")).to_have_value(member_label(2, "teacher", "pt"), timeout=60_000)
    assert page.get_by_test_id("stException").count() == 0
