"""Real browser: start the demo preset from the train form, wait for it, read its confusion matrix."""

import json
import re
import shutil
from pathlib import Path

import pytest
from browserkit import wait_for_app

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
        page.get_by_text("A tiny CNN for a few epochs on the bundled").wait_for()  # the demo preset is picked
        page.get_by_role("button", name="Start training").click()
        page.get_by_text(re.compile(r"^Training \d{8}-\d{6}-tiny-cnn")).wait_for(timeout=60_000)
        page.get_by_role("button", name="Stop training").wait_for()
        finished = page.get_by_text(re.compile(r"Run \S+-tiny-cnn finished: test accuracy"))
        finished.wait_for(timeout=240_000)
        page.get_by_role("link", name="See the results").click()
        page.wait_for_url(re.compile(r"/results"))
        wait_for_app(page)
        page.get_by_role("heading", name="Evaluation on the test split").wait_for()
        matrix = page.locator(".js-plotly-plot").filter(has_text="Confusion matrix (rows: true class")
        matrix.wait_for(timeout=60_000)
        assert matrix.locator(".heatmaplayer").count() == 1
        assert matrix.get_by_text("Disgust").count() >= 1
    finally:
        for run in _demo_runs(runs) - before:
            shutil.rmtree(run, ignore_errors=True)
