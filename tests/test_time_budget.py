"""A training-time budget: the cosine schedule decays over it and no epoch starts that would end past it."""

import json
from types import SimpleNamespace

import pytest

from fer.config import TrainConfig
from fer.train.callbacks import TimeBudget
from fer.train.trainer import cosine_lr, train
from tests.helpers import write_folder


def test_cosine_over_epochs_or_over_the_time_budget():
    by_epochs = TrainConfig(learning_rate=1e-3, epochs=10, lr_schedule="cosine")
    assert cosine_lr(by_epochs, 0) == pytest.approx(1e-3)
    assert cosine_lr(by_epochs, 5, elapsed_s=9999.0) == pytest.approx(0.5e-3)  # no budget: time is ignored
    by_time = by_epochs.replace(time_budget_minutes=10.0)
    assert cosine_lr(by_time, 7, elapsed_s=0.0) == pytest.approx(1e-3)  # the epoch number is ignored
    assert cosine_lr(by_time, 0, elapsed_s=300.0) == pytest.approx(0.5e-3)
    assert cosine_lr(by_time, 0, elapsed_s=450.0) == pytest.approx(1e-3 * 0.5 * (1 - 0.5 ** 0.5))
    assert cosine_lr(by_time, 0, elapsed_s=900.0) == pytest.approx(0.0, abs=1e-12)  # past it: stays at 0


def test_the_budget_judges_the_next_epoch_by_the_slower_of_the_last_and_the_mean():
    resume = SimpleNamespace(train_seconds=0.0, epoch=0)
    budget = TimeBudget(resume, budget_s=1000.0)
    assert not budget.spent()  # nothing measured yet: the first epoch always starts
    resume.train_seconds, resume.epoch = 800.0, 4  # mean 200 s
    assert budget.next_epoch_s() == 200.0 and budget.spent() is False  # 800 + 200 = 1000: still fits
    budget.last_epoch_s = 250.0  # the machine slowed down
    assert budget.next_epoch_s() == 250.0 and budget.spent()
    assert not TimeBudget(resume, budget_s=0.0).spent()  # 0: no budget


def test_config_refuses_a_negative_budget():
    assert any("time budget" in str(e) for e in TrainConfig(time_budget_minutes=-1.0).validate())
    assert not TrainConfig(time_budget_minutes=150.0).validate()


@pytest.mark.slow
def test_a_run_stops_at_its_budget_and_a_resumed_one_adds_no_epoch(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=20)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=50, batch_size=8,
                      learning_rate=0.01, early_stopping_patience=1000, augment=False, lr_schedule="cosine",
                      time_budget_minutes=0.001)  # 0.06 s: the first epoch uses it up
    run = tmp_path / "run"
    result = train(cfg, run)
    assert len(result.history) == 1 and not result.stopped_early
    state = json.loads((run / "state.json").read_text())
    assert state["complete"] and state["epoch"] == 1 and state["train_seconds"] > 0.06
    assert result.card.epochs_trained == 1 and result.card.config["time_budget_minutes"] == 0.001
    assert result.history[0]["learning_rate"] == pytest.approx(0.01)  # the first epoch starts at the full rate

    again = train(cfg, run)  # resuming a run whose budget is spent trains nothing more
    assert len(again.history) == 1
    assert json.loads((run / "state.json").read_text())["train_seconds"] == state["train_seconds"]


def test_the_job_eta_and_progress_bar_end_with_the_budget(tmp_path, monkeypatch):
    from fer.jobs import runner as jobrunner
    from fer.jobs.runs import JobProgress
    from fer.train.events import TrainEvent

    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(jobrunner.time, "monotonic", lambda: clock.now)
    writer = jobrunner.ProgressWriter(tmp_path, epochs=100, control=SimpleNamespace(in_fit=False, requested=False))

    def report(batch: int) -> JobProgress:
        writer(TrainEvent("batch", 1, 100, batch, 100, {}))
        return JobProgress.from_dict(json.loads((tmp_path / "progress.json").read_text()))

    writer(TrainEvent("start", 0, 100))
    clock.now = 10.0
    assert report(10).eta is None  # the first batches (graph building) say nothing of the speed yet
    clock.now = 20.0  # 10 more batches in 10 s: the other 9,980 batches of 100 epochs take 9,980 s
    plain = report(20)
    assert plain.eta == pytest.approx(9980.0) and plain.fraction == pytest.approx(0.002)
    writer.budget_s, writer.used_s = 1000.0, 390.0  # a resumed run with 610 s of its budget left at the start
    budgeted = report(20)
    assert budgeted.eta == pytest.approx(590.0) and budgeted.budget_used_s == pytest.approx(410.0)
    assert budgeted.fraction == pytest.approx(0.41)  # the bar follows the budget, which ends the run first
