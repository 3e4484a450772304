"""Issue 30 (5): one malformed file in a run folder took the Train, Results and Images pages down for every
visitor. Every run file is read through fer.jobs.runfiles; a broken run is shown as broken."""

import json
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.config import TrainConfig
from fer.i18n import t
from fer.jobs import launcher as jobs
from fer.jobs.runs import list_runs, run_info
from tests.helpers import ROOT

CONFIG = json.dumps(TrainConfig(data="data/sample", epochs=3).to_dict())
HISTORY = "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n1,1.9,0.2,1.8,0.25,0.001,3.1\n"
DAMAGE = {  # run name: (file, content, words of the problem)
    "config-list": ("config.json", "[1,2]", "config.json: expected a JSON object, found list [1, 2]"),
    "job-list": ("job.json", "[]", "job.json: expected a JSON object, found list []"),
    "progress-list": ("progress.json", "[1]", "progress.json: expected a JSON object, found list [1]"),
    "state-text": ("state.json", '{"epoch":"abc"}', "state.json: epoch is 'abc', not a whole number"),
    "epochs-text": ("config.json", CONFIG.replace('"epochs": 3', '"epochs": "ten"'),
                    "config.json: epochs is 'ten', not a whole number"),
    "history-text": ("history.csv", HISTORY + "2,lots,0.3,1.7,0.3,0.001,3\n", "history.csv: row 3: loss is 'lots'"),
    "metrics-text": ("metrics.json", '{"test":"nope"}', "metrics.json test: expected a JSON object, found str"),
    "not-json": ("job.json", '{"state": "finished"', "job.json: unreadable"),
    "binary": ("config.json", b"\xff\xfe\x00garbage", "config.json: unreadable"),
    "unknown-state": ("job.json", '{"state": "exploded"}', "job.json: state is 'exploded', not one of"),
}


def make_run(root: Path, name: str, file: str, content: str | bytes, model: Path | None = None) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(CONFIG)
    (d / "history.csv").write_text(HISTORY)
    (d / "last.keras").write_bytes(b"checkpoint")
    (d / "state.json").write_text('{"epoch": 1, "complete": false}')
    (d / "job.json").write_text('{"state": "stopped", "pid": 1}')
    if model is not None:
        shutil.copyfile(model, d / "model.keras")
    (d / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    return d


@pytest.fixture
def runs(tmp_path, monkeypatch, tiny_model_path) -> Path:
    root = tmp_path / "runs"
    for name, (file, content, _) in DAMAGE.items():
        make_run(root, name, file, content, tiny_model_path)
    make_run(root, "good", "job.json", '{"state": "stopped", "pid": 1}', tiny_model_path)
    (root / jobs.LOCK_NAME).write_text("[]")
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    return root


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_run_file_shows_the_run_as_broken_and_says_why(runs, name):
    info = run_info(runs / name)
    assert info.state == "broken" and not info.resumable
    assert DAMAGE[name][2] in info.error, info.error
    assert info.history() is not None and info.log_tail() == ""


def test_the_other_runs_and_the_lock_still_read(runs):
    by_name = {r.name: r for r in list_runs(runs)}
    assert set(by_name) == {*DAMAGE, "good"}
    assert by_name["good"].state == "stopped" and by_name["good"].resumable and by_name["good"].problems == ()
    assert jobs.active_job(runs) is None  # .train.lock = [] is a stale lock, not a crash


def test_the_results_page_lists_broken_runs_and_shows_why(runs):
    at = AppTest.from_file(str(ROOT / "pages" / "results.py"), default_timeout=180)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, at.exception
    labels = at.multiselect(key="res_pick").options
    assert sum(t("results.state_broken", "en") in o for o in labels) == len(DAMAGE)
    at.multiselect(key="res_pick").set_value(["config-list", "history-text", "metrics-text"]).run()
    assert not at.exception, at.exception
    errors = re.sub(r"\\(.)", r"\1", " ".join(e.value for e in at.error))  # Markdown escapes removed
    assert "config.json" in errors and "history.csv" in errors and "metrics.json" in errors


def test_the_train_page_survives_every_broken_run(runs, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA_DIRS", str(tmp_path / "nodata"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = "en"
    at.session_state["train_run"] = str(runs / "job-list")  # this session's last job, now damaged
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    (error,) = [e.value for e in at.error]
    assert "job\\.json" in error or "job.json" in error
    picks = at.selectbox(key="train_resume_run").options
    assert len(picks) == 1 and "good" in picks[0]


def test_a_garbage_model_picked_in_the_sidebar_is_named_not_a_crash(runs, monkeypatch):
    (runs / "good" / "model.keras").write_bytes(b"PK\x03\x04 this is not a model")
    at = AppTest.from_file(str(ROOT / "pages" / "images.py"), default_timeout=180)
    at.session_state["lang"] = "en"
    at.session_state["active_model"] = str(runs / "good" / "model.keras")
    at.run()
    at.pills(key="img_examples").set_value(["obama.jpg"]).run()
    assert not at.exception, at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("The model good cannot be used: ") and "not a readable Keras model" in error
