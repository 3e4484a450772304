"""Resuming a run: after a stop (even inside an epoch), a kill, or from the job runner and its CLI."""

import csv
import json
from pathlib import Path

import pytest

from fer.config import TrainConfig
from fer.train.events import TrainEvent
from fer.train.trainer import train
from tests.helpers import write_folder

pytestmark = pytest.mark.slow

BATCHES = 140 // 8  # 20 training images per class, batches of 8, the last partial batch dropped


def config(data: Path, epochs: int, **kw) -> TrainConfig:
    return TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=epochs, batch_size=8,
                       learning_rate=0.01, early_stopping_patience=1000, augment=False, **kw)


class Batches:
    """A stop flag that counts the batches trained and asks to stop after `stop_after` of them."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after, self.done = stop_after, 0

    def __call__(self) -> bool:
        self.done += 1
        return self.stop_after is not None and self.done >= self.stop_after


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "history.csv").open() as fh:
        return list(csv.DictReader(fh))


def state(run: Path) -> dict:
    return json.loads((run / "state.json").read_text())


def test_a_stop_inside_an_epoch_keeps_its_batches_and_resuming_trains_only_the_rest(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=20)
    run, cfg = tmp_path / "run", config(data, 3)

    # 1. stopped at batch 3 of epoch 1: nothing recorded as an epoch, the weights kept as the resume point
    first = Batches(stop_after=3)
    events: list[TrainEvent] = []
    result = train(cfg, run, should_stop=first, progress=events.append)
    assert first.done == 3 and result.history == [] and not (run / "history.csv").exists()
    assert state(run)["epoch"] == 0 and state(run)["partial"]["batches"] == 3 and not state(run)["complete"]
    assert (run / "last.keras").exists() and (run / "model.keras").exists()  # best = last, scored for the card
    [cut] = [e for e in events if e.kind == "cut"]
    assert (cut.epoch, cut.batch, cut.batches) == (1, 3, BATCHES)
    assert json.loads((run / "model.json").read_text())["epochs_trained"] == 0

    # 2. resumed: the 14 batches left of epoch 1, then stopped at batch 4 of epoch 2
    second = Batches(stop_after=BATCHES - 3 + 4)
    events = []
    train(cfg, run, should_stop=second, progress=events.append)
    assert second.done == BATCHES - 3 + 4
    assert events[0].kind == "start" and (events[0].epoch, events[0].batch) == (0, 3)
    assert [int(r["epoch"]) for r in rows(run)] == [1]
    assert state(run)["epoch"] == 1 and state(run)["partial"]["batches"] == 4
    assert [(e.epoch, e.batch, e.batches) for e in events if e.kind == "cut"] == [(2, 4, BATCHES)]
    assert [e.epoch for e in events if e.kind == "epoch"] == [1]
    # the partial epoch's validation does not leak into the best score or the early-stopping counters
    best = float(rows(run)[0]["val_loss"])
    assert state(run)["best"] == pytest.approx(best)
    assert state(run)["callbacks"]["EarlyStopping"]["best"] == pytest.approx(best)

    # 3. resumed to the end: the rest of epoch 2, then all of epoch 3
    third = Batches()
    result = train(cfg, run, should_stop=third)
    assert third.done == BATCHES - 4 + BATCHES
    assert [int(r["epoch"]) for r in rows(run)] == [1, 2, 3]
    assert all(float(r["seconds"]) > 0 and r["val_loss"] for r in rows(run))
    assert state(run)["complete"] and "partial" not in state(run)
    card = json.loads((run / "model.json").read_text())
    assert card["epochs_trained"] == 3 and card["train_seconds"] >= sum(float(r["seconds"]) for r in rows(run)) - 0.1
    assert len(result.history) == 3

    # 4. a finished run resumed again trains nothing more
    fourth = Batches()
    train(cfg, run, should_stop=fourth)
    assert fourth.done == 0 and len(rows(run)) == 3


def test_a_stop_between_epochs_resumes_at_the_next_epoch(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=20)
    run, cfg = tmp_path / "run", config(data, 2)
    first = Batches(stop_after=BATCHES)  # on the last batch of epoch 1: the epoch is whole
    train(cfg, run, should_stop=first)
    assert [int(r["epoch"]) for r in rows(run)] == [1]
    assert state(run)["epoch"] == 1 and "partial" not in state(run) and not state(run)["complete"]
    second = Batches()
    train(cfg, run, should_stop=second)
    assert second.done == BATCHES and [int(r["epoch"]) for r in rows(run)] == [1, 2]


def test_one_trainer_per_run_folder_and_no_resume_while_another_process_trains_it(tmp_path):
    import os
    import subprocess
    import sys

    from fer.jobs import launcher as jobs
    from fer.train.runlock import NAME, RunBusyError, claim, holder
    from tests.helpers import ROOT

    data = write_folder(tmp_path / "ds", n_per_class=20)
    run, cfg = tmp_path / "runs" / "run", config(data, 3)
    train(cfg, run, should_stop=Batches(stop_after=3))  # a resumable run (made outside the job runner)
    assert jobs.run_info(run).state == "stopped" and jobs.run_info(run).resumable and holder(run) is None
    before = (run / "config.json").read_text()

    with claim(run):  # this process trains into it
        assert holder(run) == os.getpid()
        now = jobs.run_info(run)
        assert now.state == "running" and now.pid == os.getpid() and not now.resumable
        assert run not in [r.path for r in jobs.list_runs(run.parent) if r.resumable]
        with pytest.raises(jobs.JobError, match=rf"another process \(pid {os.getpid()}\) is training it"):
            jobs.resume_job(run)
        env = os.environ.copy()
        r = subprocess.run([sys.executable, "-m", "fer", "train", "--data", str(data), "--arch", "tiny-cnn",
                            "--epochs", "9", "--out", str(run)], capture_output=True, text=True, cwd=ROOT, env=env,
                           timeout=300)
        assert r.returncode == 2 and f"is being trained by another process (pid {os.getpid()})" in r.stderr
        assert (run / "config.json").read_text() == before  # the refused run wrote nothing
    assert holder(run) is None and not (run / NAME).exists()

    # a lock left by a process that died is reclaimed
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / NAME).write_text(dead.stdout.strip())
    assert holder(run) is None
    with claim(run):
        assert holder(run) == os.getpid()
    # a process holds it while it holds the file's flock (fer.train.runlock), whatever the file says ...
    code = ("import sys, time; from pathlib import Path; from fer.train.runlock import claim\n"
            "with claim(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)")
    other = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert other.stdout.readline().strip() == "held"
        (run / NAME).write_text("12345")
        with pytest.raises(RunBusyError, match="pid 12345"), claim(run):
            pass
    finally:
        other.kill()
        other.wait()
    assert holder(run) is None  # ... and not once it is gone, killed or not
    # a file naming a live process that holds no lock (a recycled PID) is no lock
    shell = subprocess.Popen(["sleep", "60"])
    try:
        (run / NAME).write_text(str(shell.pid))
        with claim(run):
            assert holder(run) == os.getpid()
    finally:
        shell.kill()
        shell.wait()


@pytest.mark.parametrize("crash", ["kill", "disk_full"])
def test_a_crash_between_an_epochs_history_row_and_its_state_does_not_write_the_epoch_twice(tmp_path, monkeypatch,
                                                                                          crash):
    """state.json is the epoch's commit point: a crash after history.csv got epoch 2's row but before
    state.json said so (SIGKILL, or a full disk failing the checkpoint) is resumed without a second row 2."""
    import fer.train.callbacks as callbacks

    data = write_folder(tmp_path / "ds", n_per_class=20)
    run, cfg = tmp_path / "run", config(data, 4)
    real_write_state = callbacks.ResumeCheckpoint._write_state
    real_save = callbacks.save_model

    class Killed(BaseException):  # not an Exception: nothing in the trainer may catch a SIGKILL
        pass

    def write_state(self, epoch, *args, **kw):
        if epoch == 2:
            raise Killed
        return real_write_state(self, epoch, *args, **kw)

    def save_model(model, path, *args, **kw):
        if len(rows(run)) == 2:  # epoch 2's row is in; its checkpoints are not
            raise OSError(28, "No space left on device")
        return real_save(model, path, *args, **kw)

    if crash == "kill":
        monkeypatch.setattr(callbacks.ResumeCheckpoint, "_write_state", write_state)
    else:
        monkeypatch.setattr(callbacks, "save_model", save_model)
    with pytest.raises(Killed if crash == "kill" else OSError):
        train(cfg, run)
    assert [int(r["epoch"]) for r in rows(run)] == [1, 2] and state(run)["epoch"] == 1  # the crash's leftovers
    monkeypatch.undo()

    result = train(cfg, run)
    assert [int(r["epoch"]) for r in rows(run)] == [1, 2, 3, 4]
    assert state(run)["epoch"] == 4 and state(run)["complete"]
    assert json.loads((run / "model.json").read_text())["epochs_trained"] == 4 and len(result.history) == 4


def test_resuming_drops_history_rows_past_the_committed_epoch_and_repeated_rows(tmp_path):
    from fer.train.callbacks import HISTORY_FIELDS, drop_uncommitted_history

    run = tmp_path / "run"
    run.mkdir()
    lines = [",".join(HISTORY_FIELDS)] + [f"{e},{e}.5,0.1,0.2,0.3,0.01,{9 + e}" for e in (1, 2, 2, 3, 4)]
    (run / "history.csv").write_text("\n".join(lines) + "\n4,0.")  # a row cut by a full disk
    drop_uncommitted_history(run, 3)
    assert [(int(r["epoch"]), r["seconds"]) for r in rows(run)] == [(1, "10"), (2, "11"), (3, "12")]
    before = (run / "history.csv").stat().st_mtime_ns
    drop_uncommitted_history(run, 3)  # nothing to drop: the file is not rewritten
    assert (run / "history.csv").stat().st_mtime_ns == before
    drop_uncommitted_history(run, 0)  # no committed epoch (a fresh start): no rows
    assert rows(run) == []
