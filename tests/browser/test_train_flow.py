"""Real browser: start the demo preset from the train form, wait for it, read its confusion matrix."""

import json
import re
import shutil
from pathlib import Path

import pytest

from fer.i18n import t
from tests.browser.browserkit import wait_for_app

pytestmark = pytest.mark.browser


def _demo_runs(root: Path) -> set[Path]:
    """Run folders of the demo preset under `root`."""
    found = set()
    for cfg in root.glob("*/config.json"):
        try:
            if json.loads(cfg.read_text()).get("extra", {}).get("preset") == "demo":
                found.add(cfg.parent)
        except ValueError:
            continue
    return found


def test_demo_preset_trains_in_the_background_and_its_confusion_matrix_shows(app_url, app_dir, page):
    runs = app_dir / "runs"  # the server's runs folder, outside the repository
    before = _demo_runs(runs)
    try:
        page.goto(f"{app_url}/train")
        wait_for_app(page)
        page.get_by_text(t("presets.demo_help")).wait_for()  # the demo preset is picked
        page.get_by_role("button", name="Start training").click()
        page.get_by_text(re.compile(r"^Training \d{8}-\d{6}-tiny-cnn")).wait_for(timeout=60_000)
        page.get_by_role("button", name="Stop training").wait_for()
        finished = page.get_by_text(re.compile(r"Run \S+-tiny-cnn finished: test accuracy"))
        finished.wait_for(timeout=240_000)
        run = re.search(r"Run (\S+-tiny-cnn) finished", finished.inner_text()).group(1)
        page.get_by_role("link", name="See the results").click()
        page.wait_for_url(re.compile(r"/results"))
        wait_for_app(page)
        # Results opens on the shipped model and, in a tab beside it, the run this session trained
        page.get_by_role("tab").last.click()  # the runs come after the shipped models
        page.get_by_role("heading", name="Evaluation on the test split").wait_for()
        matrix = page.locator(f".st-key-res_cmfig_{run} .js-plotly-plot").filter(has_text="Confusion matrix")
        matrix.wait_for(timeout=60_000)
        assert matrix.locator(".heatmaplayer").count() == 1
        assert matrix.get_by_text("Disgust").count() >= 1
    finally:
        for run in _demo_runs(runs) - before:
            shutil.rmtree(run, ignore_errors=True)


def test_a_stopped_run_resumes_from_the_page_in_its_own_folder_and_finishes(app_url, app_dir, page):
    runs = app_dir / "runs"
    before = _demo_runs(runs)
    try:
        page.goto(f"{app_url}/train")
        wait_for_app(page)
        page.get_by_text(t("presets.demo_help")).wait_for()
        page.get_by_role("button", name="Start training").click()
        # Stop once batches are being trained (stopped while loading, a run has nothing to resume)
        page.get_by_text(re.compile(r"^Epoch \d+/30, batch [1-9]")).wait_for(timeout=60_000)
        page.get_by_role("button", name="Stop training").click()
        stopped = page.get_by_text(re.compile(r"Run (\S+-tiny-cnn) was stopped"))
        stopped.wait_for(timeout=120_000)
        [run] = _demo_runs(runs) - before
        assert run.name in stopped.inner_text()
        page.get_by_text(re.compile(rf"^{run.name}: continues (inside epoch|at epoch) \d+ of 30")).wait_for()
        page.get_by_role("button", name="Resume training").click()
        page.get_by_text(f"Training {run.name}").wait_for(timeout=60_000)
        page.get_by_text(re.compile(rf"Run {run.name} finished: test accuracy")).wait_for(timeout=240_000)
        assert _demo_runs(runs) - before == {run}  # the same folder, no new run
        history = (run / "history.csv").read_text().splitlines()[1:]
        epochs = [int(row.split(",")[0]) for row in history]
        assert epochs == list(range(1, len(epochs) + 1))
        assert "training from epoch" in (run / "train.log").read_text()
    finally:
        for run in _demo_runs(runs) - before:
            shutil.rmtree(run, ignore_errors=True)


def test_emotions_to_name_more_often_keep_their_words_across_a_language_switch_and_reach_the_run(app_url, app_dir,
                                                                                                page):
    """The recall floors' multiselect as a person uses it in Chromium: the emotions picked in English read in
    Portuguese after the switch, one more is added there, and the run started then carries all three with the
    form's share (a multiselect keeps an option's words, not its code, where the words changed: under AppTest
    it read back English words after the switch; the page turns words of any language into emotions)."""
    from playwright.sync_api import expect

    from fer.jobs import launcher as jobs
    from fer.labels import display_name
    from tests.browser.browserkit import pick_option

    runs = app_dir / "runs"
    before = _demo_runs(runs)

    def shows(box, *words: str) -> None:
        """The multiselect shows these chips: waited for, since a pick is drawn again by the rerun it starts
        (the page turns the words sent into emotions), which on a busy server can come after the click."""
        for word in words:
            expect(box.get_by_text(word, exact=True)).to_be_visible(timeout=15_000)

    def floors(lang: str):
        box = page.get_by_test_id("stMultiSelect").filter(has_text=t("train.floors", lang))
        if not box.is_visible():  # the expander's title is another after a switch: it opens closed
            page.get_by_text(t("train.advanced", lang), exact=True).click()
            wait_for_app(page)
        return box

    try:
        page.goto(f"{app_url}/train")
        wait_for_app(page)
        box = floors("en")
        for emotion in ("fear", "disgust"):
            pick_option(page, box, display_name(emotion, "en"))
        page.keyboard.press("Escape")
        shows(box, "Fear", "Disgust")
        pick_option(page, page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox"), "Português")
        box = floors("pt")
        shows(box, "Medo", "Nojo")
        pick_option(page, box, display_name("sad", "pt"))  # it waits for the chip: a lost click is tried again
        page.keyboard.press("Escape")
        shows(box, "Medo", "Nojo", "Triste")
        page.get_by_role("button", name=t("train.start", "pt")).click()
        page.get_by_role("button", name=t("train.stop", "pt")).wait_for(timeout=60_000)
        [run] = _demo_runs(runs) - before
        config = json.loads((run / "config.json").read_text())
        assert config["recall_floors"] == {"fear": 0.45, "disgust": 0.45, "sad": 0.45}
        jobs.stop_job(run, wait_s=120)
    finally:
        for run in _demo_runs(runs) - before:
            shutil.rmtree(run, ignore_errors=True)
