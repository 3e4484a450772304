"""Training jobs as real background processes: finish, stop, die, and one at a time."""

import errno
import json
import os
import signal
import time
from pathlib import Path

import pytest

from fer.config import TrainConfig
from fer.jobs import launcher as jobs
from fer.model.modelio import load_model
from fer.train.presets import PRESETS, preset, resolve_data
from tests.helpers import run_fer, wait_for, write_folder

pytestmark = pytest.mark.slow


def tiny(data: Path, epochs: int, **kw) -> TrainConfig:
    return TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=epochs, batch_size=8,
                       learning_rate=0.01, early_stopping_patience=1000, **kw)




@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "runs"
    monkeypatch.setenv("FER_RUNS_DIR", str(d))
    return d


def test_presets_are_valid_and_course_is_the_course_recipe():
    for name, cfg in PRESETS.items():
        assert cfg.validate() == [], name
    course = preset("course")
    assert course.replace(data="data/sample", extra={}) == TrainConfig()
    assert (course.arch, course.optimizer, course.learning_rate, course.beta_1, course.beta_2, course.epsilon) == (
        "course-cnn", "adam", 1e-3, 0.9, 0.999, 1e-7)
    assert (course.batch_size, course.epochs, course.lr_monitor, course.lr_factor, course.lr_patience) == (
        64, 100, "val_loss", 0.9, 3)
    assert (course.early_stopping_patience, course.split, course.test_seed, course.val_seed) == (
        8, "stratified", 42, 41)
    assert Path(resolve_data(course).data).name == "fer2013.zip" and Path(resolve_data(course).data).is_absolute()
    default = preset("default")
    assert (default.arch, default.split, default.soft_labels, default.mixed_precision, default.lr_schedule) == (
        "fer-net", "official", 0.5, False, "cosine")
    assert default.init_model == "runs/default-stage1/model.keras" and preset("default-stage1").init_model == ""
    models = Path(__file__).parent.parent / "models"
    ensemble = json.loads((models / "default.json").read_text())  # the default averages trained members
    assert ensemble["arch"] == "ensemble" and all((models.parent / m).exists() for m in ensemble["members"])
    card = json.loads((models / "webcam.json").read_text())  # the shipped single network: one-stage's recipe,
    shipped = TrainConfig.from_dict(card["config"])  # warm-restarted from a committed network (run 23: run 21)
    assert Path(shipped.data).name == "fer2013.zip" and shipped.extra == {"preset": "one-stage"}
    one_stage = preset("one-stage")
    changed = {f for f, v in shipped.to_dict().items() if f != "data" and v != one_stage.to_dict()[f]}
    assert changed <= {"epochs", "time_budget_minutes", "learning_rate", "soft_labels", "init_model", "seed",
                       "teacher", "teacher_weight"}
    assert not shipped.init_model or (models.parent / shipped.init_model).exists()
    assert not shipped.teacher or (models.parent / shipped.teacher).exists()  # its teacher is committed too
    with pytest.raises(ValueError, match="demo"):
        preset("nope")


def test_a_job_trains_in_the_background_and_writes_its_run_folder(tmp_path, runs):
    data = write_folder(tmp_path / "ds", n_per_class=8)
    info = jobs.start_job(tiny(data, 2))
    assert info.state == "running" and info.pid and info.path.parent == runs.resolve()
    assert jobs.active_job().name == info.name
    assert info.pid != os.getpid()
    done = jobs.wait_job(info.path, 180)
    assert done.state == "finished", done.log_tail()
    for name in ("config.json", "history.csv", "model.keras", "model.json", "metrics.json", "last.keras",
                 "state.json", "train.log", "progress.json", "job.json"):
        assert (info.path / name).exists(), name
    assert [int(r["epoch"]) for r in done.history()] == [1, 2]
    assert all("learning_rate" in r and "val_loss" in r for r in done.history())
    metrics = json.loads((info.path / "metrics.json").read_text())
    assert metrics["test"]["n"] == 56 and len(metrics["test"]["confusion"]) == 7
    card = json.loads((info.path / "model.json").read_text())
    assert card["arch"] == "tiny-cnn" and card["epochs_trained"] == 2 and "test" in card["metrics"]
    assert " onednn=on" in card["machine"]  # the job process asks for oneDNN kernels (fer.tfenv)
    prog = done.progress
    assert prog.phase == "done" and prog.epoch == 2 and prog.batches == 7 and prog.elapsed > 0
    assert load_model(done.model_path).output_shape == (None, 7)
    assert jobs.active_job() is None and not (runs / jobs.LOCK_NAME).exists()
    assert "epoch 2/2" in done.log_tail()
    assert [r.name for r in jobs.list_runs()] == [info.name]


def test_stop_ends_the_job_keeps_the_checkpoint_and_refuses_a_second_job(tmp_path, runs):
    data = write_folder(tmp_path / "ds", n_per_class=20)
    info = jobs.start_job(tiny(data, 500))
    with pytest.raises(jobs.BusyError, match=info.name):
        jobs.start_job(tiny(data, 1))
    wait_for(lambda: len(jobs.run_info(info.path).history()) >= 1, what="a first epoch")
    running = jobs.run_info(info.path)
    assert running.state == "running"
    p = running.progress
    # 140 training images in batches of 8: the last partial batch is dropped
    assert p.phase == "training" and p.epochs == 500 and p.batches == 140 // 8 and p.eta is not None and p.eta > 0
    assert 0 < p.fraction < 1 and p.learning_rate == pytest.approx(0.01)
    stopped = jobs.stop_job(info.path, wait_s=120)
    assert stopped.state == "stopped", stopped.log_tail()
    assert not jobs.is_job_process(info.pid)
    epochs = len(stopped.history())
    assert 1 <= epochs < 500
    card = json.loads((info.path / "model.json").read_text())
    assert card["epochs_trained"] == epochs and "test" in card["metrics"]
    assert load_model(stopped.model_path).output_shape == (None, 7)
    assert jobs.active_job() is None


def test_a_killed_job_shows_as_failed_with_its_log_and_a_usable_checkpoint(tmp_path, runs):
    data = write_folder(tmp_path / "ds", n_per_class=20)
    info = jobs.start_job(tiny(data, 500))
    # state.json is the last file written at the end of an epoch: its checkpoints are complete by then
    wait_for(lambda: (info.path / "state.json").exists(), what="a first checkpointed epoch")
    os.kill(info.pid, signal.SIGKILL)
    wait_for(lambda: jobs.run_info(info.path).state != "running", timeout=20, what="the death to be noticed")
    dead = jobs.run_info(info.path)
    assert dead.state == "failed" and "killed" in dead.error
    assert "epoch 1/500" in dead.log_tail()
    assert load_model(dead.model_path).output_shape == (None, 7)
    assert (runs / jobs.LOCK_NAME).exists() and jobs.active_job() is None  # a stale lock ...
    again = jobs.start_job(tiny(data, 1))  # ... is reclaimed
    assert jobs.wait_job(again.path, 180).state == "finished"


def test_an_invalid_config_or_a_broken_dataset_fails_clearly(tmp_path, runs):
    with pytest.raises(jobs.JobError, match="epochs"):
        jobs.start_job(tiny(tmp_path, 0))
    with pytest.raises(jobs.JobError, match="none.keras: there is no such file"):
        jobs.start_job(tiny(tmp_path, 1, init_model=str(tmp_path / "none.keras")))
    assert not runs.exists() or not any(runs.iterdir())
    info = jobs.start_job(tiny(tmp_path / "missing", 1))
    failed = jobs.wait_job(info.path, 120)
    assert failed.state == "failed" and "dataset not found" in failed.error
    assert "dataset not found" in failed.log_tail()
    assert jobs.active_job() is None


def test_the_cli_trains_a_preset_with_explicit_flags_overriding_it(tmp_path):
    out = tmp_path / "run"
    r = run_fer("train", "--preset", "demo", "--epochs", "1", "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((out / "model.json").read_text())["config"]
    assert cfg["epochs"] == 1 and cfg["arch"] == "tiny-cnn" and cfg["augment"] is True and cfg["batch_size"] == 32
    assert cfg["extra"] == {"preset": "demo"} and cfg["data"] == "data/sample"


def test_a_stopped_job_resumes_in_its_own_folder_and_finishes(tmp_path, runs):
    data = write_folder(tmp_path / "ds", n_per_class=20)
    info = jobs.start_job(tiny(data, 6))
    with pytest.raises(jobs.JobError, match=rf"cannot be resumed: another process \(pid {info.pid}\) is training it"):
        jobs.resume_job(info.path)
    wait_for(lambda: len(jobs.run_info(info.path).history()) >= 1, what="a first epoch")
    stopped = jobs.stop_job(info.path, wait_s=120)
    assert stopped.state == "stopped" and stopped.resumable, stopped.log_tail()
    epochs, batches = stopped.done
    assert epochs == len(stopped.history()) and 0 <= batches < 140 // 8
    other = jobs.start_job(tiny(data, 500))
    with pytest.raises(jobs.BusyError, match=other.name):
        jobs.resume_job(info.path)
    assert jobs.stop_job(other.path, wait_s=120).state == "stopped"

    resumed = jobs.resume_job(info.path)
    assert resumed.state == "running" and resumed.path == info.path and jobs.active_job().name == info.name
    assert not (info.path / "stop").exists()
    done = jobs.wait_job(info.path, 180)
    assert done.state == "finished" and not done.resumable, done.log_tail()
    assert [int(r["epoch"]) for r in done.history()] == [1, 2, 3, 4, 5, 6]
    assert json.loads((info.path / "model.json").read_text())["epochs_trained"] == 6
    at = f"training from epoch {epochs + 1}" + (f" batch {batches + 1}" if batches else "")
    assert at in done.log_tail(60)
    with pytest.raises(jobs.JobError, match="cannot be resumed: it is finished"):
        jobs.resume_job(info.path)
    assert jobs.main(["resume", str(info.path)]) == 2


def test_a_cli_run_stopped_with_ctrl_c_keeps_its_epoch_and_resumes(tmp_path):
    import subprocess
    import sys

    from tests.helpers import ROOT

    data = write_folder(tmp_path / "ds", n_per_class=20)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fer", "train", "--data", str(data), "--arch", "tiny-cnn", "--epochs", "300",
           "--batch-size", "4", "--split", "official", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: (out / "history.csv").exists(), what="a first epoch")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert "stopping after the current batch" in stderr
    info = jobs.run_info(out)
    assert info.state == "stopped" and info.resumable and info.done[0] == len(info.history())
    if info.done[1]:
        assert f"stopped after batch {info.done[1]} of {140 // 4}" in stdout
    assert "test" in json.loads((out / "model.json").read_text())["metrics"]


def test_deleting_a_run_folder_while_it_trains_ends_the_job_without_recreating_it(tmp_path, runs):
    """Issue 30 (8): the job recreated the deleted folder, became invisible (no Stop button) and ended
    "finished" without config.json or train.log."""
    import shutil

    data = write_folder(tmp_path / "ds", n_per_class=20)
    info = jobs.start_job(tiny(data, 500))
    wait_for(lambda: len(jobs.run_info(info.path).history()) >= 1, what="a first epoch")

    def vanished_meanwhile(func: object, path: str, exc_info: tuple) -> None:
        """As `rm -rf`: a file the job renamed between listing and unlinking is already gone."""
        if not issubclass(exc_info[0], FileNotFoundError):
            raise exc_info[1]

    for _ in range(5):  # a file the job wrote between listing and removing the folder: once more
        try:
            shutil.rmtree(info.path, onerror=vanished_meanwhile)
            break
        except OSError as exc:
            if exc.errno != errno.ENOTEMPTY:
                raise
    gone = jobs.run_info(info.path)
    assert gone.state == "broken" and "no longer exists" in gone.error  # shown as such meanwhile
    wait_for(lambda: not jobs.pid_alive(info.pid) or not jobs.is_job_process(info.pid), timeout=60,
             what="the job to end")
    time.sleep(1.0)
    assert not info.path.exists(), sorted(p.name for p in info.path.iterdir())
    assert not (runs / jobs.LOCK_NAME).exists() and jobs.active_job() is None
    assert jobs.list_runs() == []
    again = jobs.start_job(tiny(data, 1))  # the runs folder is free for the next job
    assert jobs.wait_job(again.path, 180).state == "finished"


def test_the_time_left_is_measured_after_the_first_batch(tmp_path, monkeypatch):
    """A first batch that builds the graph for 10 s, then 1 s a batch: 20 batches in all. The time left
    follows the batches after the first (the old estimate said 42 s, not 15 s, after batch 5)."""
    import fer.jobs.runner as jr
    from fer.train.events import TrainEvent

    clock = [100.0]
    monkeypatch.setattr(jr.time, "monotonic", lambda: clock[0])
    writer = jr.ProgressWriter(tmp_path, epochs=2, control=jr.StopControl(tmp_path))
    writer(TrainEvent("start", epoch=0, epochs=2, message="x"))

    def batch(n: int) -> float | None:
        writer(TrainEvent("batch", epoch=1, epochs=2, batch=n, batches=10))
        return json.loads((tmp_path / "progress.json").read_text())["eta"]

    clock[0] += 10
    assert batch(1) is None  # one batch says nothing about the speed yet
    for n in range(2, 6):
        clock[0] += 1
        eta = batch(n)
    assert eta == pytest.approx(15.0)  # 15 batches left at 1 s each
    writer(TrainEvent("epoch", epoch=2, epochs=2, logs={"loss": 1.0}))
    assert json.loads((tmp_path / "progress.json").read_text())["eta"] is None  # scoring: no batches left


def test_a_loading_job_reports_the_share_of_its_dataset_read(tmp_path, monkeypatch):
    """A photos dataset's faces are found one photo at a time: the Train and Teach pages show how far the job
    has read (fer.data.dataset's progress callback), written at most twice a second."""
    import fer.jobs.runner as jr
    from fer.jobs.runfiles import read_object
    from fer.jobs.runs import JobProgress

    def read_progress(run: Path) -> JobProgress:
        found, problem = read_object(run / "progress.json", JobProgress)
        assert not problem, problem
        return JobProgress.from_dict(found)

    clock = [100.0]
    monkeypatch.setattr(jr.time, "monotonic", lambda: clock[0])
    writer = jr.ProgressWriter(tmp_path, epochs=2, control=jr.StopControl(tmp_path))
    writer.starting()
    assert read_progress(tmp_path).loaded == 0.0 and read_progress(tmp_path).phase == "loading"
    writer.loading(0.25, "finding the face in photo 5 of 20")
    assert read_progress(tmp_path).loaded == 0.25
    writer.loading(0.3, "6 of 20")  # the same moment: not written again
    assert read_progress(tmp_path).loaded == 0.25
    clock[0] += 0.6
    writer.loading(0.5, "10 of 20")
    writer.loading(1.0, "done")  # the end is always written
    assert read_progress(tmp_path).loaded == 1.0


def resumable_folder(path: Path, epochs: int = 33, skip: int = 3, seconds: float = 600.0) -> Path:
    """A run folder as a stop leaves it: `epochs` recorded, `skip` batches of the next one done."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "last.keras").write_bytes(b"")
    (path / "state.json").write_text(json.dumps({"epoch": epochs, "train_seconds": seconds, "complete": False,
                                                 "partial": {"batches": skip, "seconds": 2.0}}))
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds"]
    rows += [f"{e},{1.5 - e / 100},{0.3 + e / 200},{1.6 - e / 100},{0.25 + e / 200},0.001,18" for e in
             range(1, epochs + 1)]
    (path / "history.csv").write_text("\n".join(rows) + "\n")
    return path


def test_a_resumed_job_reports_where_it_continues_its_whole_training_time_and_a_true_time_left(tmp_path,
                                                                                                monkeypatch):
    """Issue 39: after Resume the page showed the last session's final batch, then blank figures; the clock
    restarted from 0; and a resume inside an epoch said 'about 0:07 left' with 62 epochs to go."""
    import fer.jobs.runner as jr
    from fer.train.events import TrainEvent

    run = resumable_folder(tmp_path / "run")
    (run / "progress.json").write_text(json.dumps({"phase": "training", "epoch": 34, "epochs": 100, "batch": 8,
                                                   "batches": 8}))  # the last session's final report
    clock = [100.0]
    monkeypatch.setattr(jr.time, "monotonic", lambda: clock[0])
    writer = jr.ProgressWriter(run, epochs=100, control=jr.StopControl(run))
    writer.starting()  # before anything is loaded

    def progress() -> jobs.JobProgress:
        return jobs.JobProgress.from_dict(json.loads((run / "progress.json").read_text()))

    p = progress()
    assert (p.phase, p.resumed, p.epoch, p.batch, p.elapsed) == ("loading", True, 34, 3, 600.0)
    assert p.last_logs["val_loss"] == pytest.approx(1.6 - 0.33) and p.last_logs["loss"] == pytest.approx(1.5 - 0.33)
    clock[0] += 30  # loading: not training time
    writer(TrainEvent("start", epoch=33, epochs=100, batch=3, batches=8))
    assert progress().elapsed == 600.0 and progress().eta is None
    clock[0] += 10  # the first batch builds the graph
    writer(TrainEvent("batch", epoch=34, epochs=100, batch=4, batches=8))
    for n in range(5, 9):
        clock[0] += 1
        writer(TrainEvent("batch", epoch=34, epochs=100, batch=n, batches=8))
    p = progress()
    assert p.elapsed == pytest.approx(600 + 14)  # earlier sessions' seconds go on, not from 0
    assert p.eta == pytest.approx(66 * 8)  # 66 epochs of 8 batches left at 1 s a batch
    assert p.logs == {} and p.last_logs["val_accuracy"] == pytest.approx(0.25 + 33 / 200)


def test_a_stopped_job_says_it_scores_a_run_cut_short(tmp_path):
    import fer.jobs.runner as jr
    from fer.train.events import TrainEvent

    control = jr.StopControl(tmp_path)
    writer = jr.ProgressWriter(tmp_path, epochs=10, control=control)
    writer.starting()
    writer(TrainEvent("start", epoch=0, epochs=10, batches=8))
    writer(TrainEvent("epoch", epoch=1, epochs=10, logs={"loss": 1.0}))
    assert json.loads((tmp_path / "progress.json").read_text())["stopping"] is False
    control.requested = True  # Stop pressed
    writer(TrainEvent("cut", epoch=2, epochs=10, batch=3, batches=8))
    p = jobs.JobProgress.from_dict(json.loads((tmp_path / "progress.json").read_text()))
    assert p.phase == "evaluating" and p.stopping and not p.resumed


def test_resume_replaces_the_last_sessions_progress_before_the_job_starts(tmp_path, monkeypatch):
    from fer.jobs import launcher

    run = resumable_folder(tmp_path / "runs" / "r", epochs=2, skip=0, seconds=30.0)
    (run / "config.json").write_text(json.dumps(TrainConfig(data="x", epochs=5).to_dict()))
    (run / "job.json").write_text(json.dumps({"state": "stopped"}))
    (run / "progress.json").write_text(json.dumps({"phase": "done", "epoch": 2, "epochs": 5, "batch": 8,
                                                   "batches": 8, "elapsed": 3.0}))
    seen = {}
    monkeypatch.setattr(launcher, "_launch", lambda path, lock: seen.setdefault(
        "progress", json.loads((path / "progress.json").read_text())))
    launcher.resume_job(run)
    p = jobs.JobProgress.from_dict(seen["progress"])
    assert (p.phase, p.epoch, p.batch, p.elapsed, p.resumed) == ("loading", 3, 0, 30.0, True)
    assert p.epoch_logs["val_loss"] == pytest.approx(1.6 - 0.02)
