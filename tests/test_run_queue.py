"""The queue of long runs (scripts/run_queue.py): resumes the first unfinished run, starts the next when it
ends, never trains a finished run again, one queue per runs folder."""

from __future__ import annotations

import fcntl
import json

import pytest

from scripts import run_queue
from scripts.run_queue import PlannedRun, run_state
from tests.helpers import write_folder

pytestmark = pytest.mark.slow

TINY = ("--arch", "tiny-cnn", "--split", "official", "--epochs", "1", "--batch-size", "8")


def rows(folder):
    return (folder / "history.csv").read_text().splitlines()[1:]


def test_the_queue_trains_each_unfinished_run_once_in_order(tmp_path, monkeypatch):
    data = write_folder(tmp_path / "ds", n_per_class=3)
    monkeypatch.setenv("FER_DATA", str(data))
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(run_queue, "QUEUE", (PlannedRun("a", TINY, "first"), PlannedRun("b", TINY, "second")))
    assert run_state(tmp_path / "runs" / "a") == "not started"
    assert run_queue.main(["start", "--one"]) == 0
    assert run_state(tmp_path / "runs" / "a") == "done" and run_state(tmp_path / "runs" / "b") == "not started"
    assert run_queue.main(["start"]) == 0  # a is done: only b trains
    assert run_state(tmp_path / "runs" / "b") == "done"
    assert len(rows(tmp_path / "runs" / "a")) == 1 and len(rows(tmp_path / "runs" / "b")) == 1
    assert json.loads((tmp_path / "runs" / "a" / "model.json").read_text())["arch"] == "tiny-cnn"


def test_a_second_queue_on_the_same_folder_does_not_start(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FER_DATA", str(tmp_path))
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    with (tmp_path / "runs" / ".queue.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run_queue.main(["start"]) == 1
    assert "already running" in capsys.readouterr().out


def test_the_queue_needs_its_folder_outside_the_work_tree_said(monkeypatch):
    monkeypatch.delenv("FER_RUNS_DIR", raising=False)
    with pytest.raises(SystemExit, match="FER_RUNS_DIR"):
        run_queue.main(["status"])


def test_a_new_machine_does_not_train_a_recorded_run_again(tmp_path, monkeypatch, capsys):
    data = write_folder(tmp_path / "ds", n_per_class=3)
    monkeypatch.setenv("FER_DATA", str(data))
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    recorded = PlannedRun("a", TINY, "first", finished="2026-12-06")
    monkeypatch.setattr(run_queue, "QUEUE", (recorded, PlannedRun("b", TINY, "second")))
    assert run_queue.main(["start"]) == 0  # the runs folder is empty, as on a new machine: only b trains
    assert not (tmp_path / "runs" / "a").exists() and run_state(tmp_path / "runs" / "b") == "done"
    capsys.readouterr()
    assert run_queue.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "a: done (recorded 2026-12-06" in out and "b: done" in out
