"""The app as two replicas: two real Streamlit servers on one shared runs folder. A job started from one is
seen, followed and stopped from the other, and two Start presses, one on each, still give one job."""

import re
import time
from pathlib import Path

import pytest

from fer.i18n import t
from fer.jobs import launcher as jobs
from tests.browser.browserkit import running_app, wait_for_app

pytestmark = pytest.mark.browser

BUSY = "Another training job is running"


def job_folders(runs: Path) -> set[str]:
    return {d.name for d in runs.iterdir() if (d / "job.json").exists()} if runs.exists() else set()


def open_train(browser: object, url: str) -> object:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{url}/train")
    wait_for_app(page)
    page.get_by_text(t("presets.demo_help")).wait_for()  # the demo preset
    return page


def test_two_replicas_on_one_runs_folder_share_one_job(browser, tmp_path):
    runs = tmp_path / "runs"
    env = {"FER_RUNS_DIR": str(runs)}
    with running_app(tmp_path, env) as url_a, running_app(tmp_path, env) as url_b:
        assert url_a != url_b  # two processes, two ports
        a, b = open_train(browser, url_a), open_train(browser, url_b)
        try:
            # 1. started on replica A ...
            a.get_by_role("button", name="Start training").click()
            heading = a.get_by_text(re.compile(r"^Training \d{8}-\d{6}-tiny-cnn"))
            heading.wait_for(timeout=90_000)
            [name] = job_folders(runs)
            assert heading.inner_text() == f"Training {name}"
            # ... seen and followed on replica B (a fresh session that started nothing) ...
            b.reload()
            wait_for_app(b)
            b.get_by_text(f"Training {name}").wait_for()
            b.get_by_text(re.compile(r"^Epoch \d+/30, batch [1-9]")).wait_for(timeout=90_000)
            # ... and stopped from B: both replicas show the outcome
            # the live fragment redraws every second: the button may never hold still for the stability check
            b.get_by_role("button", name="Stop training").click(force=True)
            b.get_by_text(f"Run {name} was stopped").wait_for(timeout=120_000)
            a.get_by_text(f"Run {name} was stopped").wait_for(timeout=60_000)
            assert jobs.run_info(runs / name).state == "stopped" and jobs.active_job(runs) is None

            # 2. Start pressed on both replicas at once: one job, the other replica refuses and follows it
            a.get_by_role("button", name="Start training").click(no_wait_after=True)
            b.get_by_role("button", name="Start training").click(no_wait_after=True)
            deadline = time.monotonic() + 90
            while len(job_folders(runs)) < 2 and time.monotonic() < deadline:
                time.sleep(0.3)
            time.sleep(5)  # time for a second job to appear, were the lock not shared
            new = job_folders(runs) - {name}
            assert len(new) == 1, new
            [second] = new
            for page in (a, b):  # each page either follows the job or says another one runs
                page.get_by_text(re.compile(rf"^Training {second}$|^{BUSY}")).first.wait_for(timeout=60_000)
            busy = [p for p in (a, b) if p.get_by_text(BUSY).count()]
            assert len(busy) <= 1
            assert jobs.active_job(runs).name == second
        finally:
            active = jobs.active_job(runs)
            if active is not None:
                jobs.stop_job(active.path, wait_s=120)
            for page in (a, b):
                page.context.close()
