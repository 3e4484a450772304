"""The upload limit in a real browser: a file over `server.maxUploadSize` is refused with a clear message
beside its name, and the other files of the same upload are still analysed."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.labels import LABELS, display_name
from tests.browser.browserkit import PHOTOS, running_app, wait_for_app

EMOTION = "|".join(display_name(k, "en") for k in LABELS)


@pytest.mark.browser
def test_a_file_over_the_limit_is_refused_and_the_others_are_analysed(browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    big = tmp_path / "big.png"  # a real image of about 1.9 MB, over a 1 MB limit
    cv2.imwrite(str(big), np.random.default_rng(0).integers(0, 256, (800, 800, 3), np.uint8))
    assert big.stat().st_size > 1024 * 1024
    with running_app(tmp_path, env={"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"}) as url:
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        context.set_default_timeout(60_000)
        try:
            page = context.new_page()
            page.goto(f"{url}/images")
            wait_for_app(page)
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(big), str(PHOTOS / "obama.jpg")])
            expect(page.get_by_text(re.compile(r"File must be 1(\.0)? ?MB or smaller"))).to_be_visible()
            expect(page.get_by_role("heading", name="obama.jpg")).to_be_visible(timeout=90_000)
            chart = page.get_by_test_id("stPlotlyChart")
            expect(chart).to_have_count(1, timeout=30_000)
            expect(chart.locator(".gtitle")).to_have_text(re.compile(rf"^Face 1: ({EMOTION}) \(\d+\.\d%\)$"))
            expect(page.get_by_role("heading", name="big.png")).to_have_count(0)
            wait_for_app(page)
            assert not page.get_by_test_id("stException").count()
        finally:
            context.close()
    [log] = list(tmp_path.glob("streamlit-*.log"))
    assert "Traceback" not in log.read_text()
