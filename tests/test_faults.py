"""Faults: a full disk or an unwritable runs folder gives a clear error (library, job, page, CLI); model
files are written atomically (a crash mid-write leaves the previous file); only safe .keras models load."""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fer.config import TrainConfig
from fer.jobs import launcher as jobs
from fer.model.modelio import ModelCard, ModelError, atomic_write_bytes, load_model, os_problem, save_model, write_json
from tests.helpers import ROOT, run_fer, shown, write_folder

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def disk_full(path: object) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def tiny(data: Path, epochs: int = 1) -> TrainConfig:
    return TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=epochs, batch_size=8,
                       learning_rate=0.01, early_stopping_patience=1000)


def job_processes(run_dir: Path) -> list[int]:
    """PIDs of live `fer.jobs.launcher run` processes of `run_dir` (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and jobs.is_job_process(int(proc.name), run_dir):
            found.append(int(proc.name))
    return found


# ----------------------------------------------------------------------------------- plain messages
def test_os_errors_are_said_in_plain_words():
    assert os_problem(disk_full("/r/last.keras")) == "/r/last.keras: the disk is full (no space left to write)"
    assert os_problem(PermissionError(errno.EACCES, "Permission denied", "/r")) == (
        "/r: permission denied (the app may not write there)")
    assert os_problem(OSError(errno.EROFS, "Read-only file system", "/r")) == "/r: the file system is read-only"
    assert os_problem(NotADirectoryError(errno.ENOTDIR, "Not a directory", "/f/runs")) == (
        "/f/runs: a part of this path is a file, not a folder")
    assert os_problem(OSError(errno.EIO, "Input/output error")) == "Input/output error"


# ----------------------------------------------------------------------------------- starting a job
def test_an_unwritable_runs_folder_refuses_to_start_a_job(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runs folder should be")
    with pytest.raises(jobs.JobError, match="cannot write to the runs folder .*a part of this path is a file"):
        jobs.start_job(tiny(tmp_path), root=blocker / "runs")
    assert blocker.read_text().startswith("a file")


@pytest.mark.parametrize("failing", ["config.json", "job.json"])
def test_a_full_disk_while_starting_a_job_leaves_no_lock_and_no_untracked_process(tmp_path, monkeypatch, failing):
    runs = tmp_path / "runs"
    real = jobs.write_json

    def full(path: Path, obj: object, *args: object) -> None:
        if Path(path).name == failing:
            raise disk_full(path)
        real(path, obj, *args)

    monkeypatch.setattr(jobs, "write_json", full)
    with pytest.raises(jobs.JobError, match=f"{failing}: the disk is full"):
        jobs.start_job(tiny(tmp_path), root=runs, name="r1")
    assert not (runs / jobs.LOCK_NAME).exists()
    assert job_processes(runs / "r1") == []  # a process started before job.json failed was killed
    monkeypatch.setattr(jobs, "write_json", real)
    assert jobs.active_job(runs) is None


def test_a_full_disk_during_training_fails_the_job_with_a_clear_error(tmp_path, monkeypatch):
    """The job body, in this process: the first checkpoint save hits a full disk."""
    import fer.train.callbacks
    from fer.jobs.runner import run_job

    data = write_folder(tmp_path / "ds", n_per_class=3)
    runs = tmp_path / "runs"
    run_dir = runs / "r1"
    run_dir.mkdir(parents=True)
    write_json(run_dir / "config.json", tiny(data).to_dict())
    write_json(run_dir / "job.json", {"state": "running", "pid": os.getpid()})
    from fer.train import runlock

    lock = runlock.try_lock(runs / jobs.LOCK_NAME, json.dumps({"pid": os.getpid(), "run": str(run_dir)}))
    monkeypatch.setenv(runlock.LOCK_FD, str(lock.fd))  # handed to the job as the launcher hands it

    def full(model: object, path: Path, card: object = None, parents: bool = True) -> None:
        raise disk_full(path)

    monkeypatch.setattr(fer.train.callbacks, "save_model", full)
    assert run_job(run_dir) == 1
    job = json.loads((run_dir / "job.json").read_text())
    assert job["state"] == "failed"
    assert job["error"].startswith("could not read or write a file: ") and "the disk is full" in job["error"]
    assert job["error"].split(": ")[1].endswith(".keras")  # names the file it could not write
    assert not (runs / jobs.LOCK_NAME).exists()
    info = jobs.run_info(run_dir)
    assert info.state == "failed" and "disk is full" in info.error


# ----------------------------------------------------------------------------------- the train page and the CLI
def test_the_train_page_says_why_a_job_cannot_start(tmp_path, monkeypatch):
    from fer.i18n import t
    from tests.test_train_page import open_page, submit

    blocker = tmp_path / "file"
    blocker.write_text("x")
    data = tmp_path / "data"
    write_folder(data / "tiny", n_per_class=6)
    monkeypatch.setenv("FER_RUNS_DIR", str(blocker / "runs"))
    monkeypatch.setenv("FER_DATA_DIRS", str(data))
    at = open_page("pt")
    at.selectbox(key="train_source").set_value("data/tiny")
    at.selectbox(key="tf_split").set_value("official")
    submit(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(t("train.start_error", "pt", error=""))
    assert "a part of this path is a file" in errors[0]

    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(jobs, "write_json", lambda path, obj: (_ for _ in ()).throw(disk_full(path)))
    submit(at)
    errors = [shown(e.value) for e in at.error]  # escaped (ui.text.plain)
    assert len(errors) == 1 and "config.json: the disk is full" in errors[0]
    assert jobs.active_job(tmp_path / "runs") is None


def test_the_cli_reports_an_unwritable_output_folder_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_fer("train", "--data", ROOT / "data" / "sample", "--arch", "tiny-cnn", "--epochs", "1",
                "--out", blocker / "run")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == f"error: {blocker / 'run'}: a part of this path is a file, not a folder"


# ----------------------------------------------------------------------------------- atomic model files
class _CrashingModel:
    """Writes half a file, then fails like a full disk."""

    def save(self, path: str) -> None:
        Path(path).write_bytes(b"PK\x03\x04 half a model")
        raise disk_full(path)


def test_a_failed_model_save_keeps_the_previous_model_and_leaves_no_temp_file(tmp_path, tiny_model_path):
    target = tmp_path / "model.keras"
    shutil.copy(tiny_model_path, target)
    before = target.read_bytes()
    with pytest.raises(OSError, match="No space left"):
        save_model(_CrashingModel(), target, ModelCard(arch="x", params=1))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert load_model(target).output_shape == (None, 7)


def test_a_process_killed_mid_save_leaves_the_previous_model_intact(tmp_path, tiny_model_path):
    target = tmp_path / "default.keras"
    shutil.copy(tiny_model_path, target)
    before = target.read_bytes()
    child = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from fer.model.modelio import save_model\n"
        "class M:\n"
        "    def save(self, path):\n"
        "        Path(path).write_bytes(b'PK half written')\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "save_model(M(), Path(sys.argv[1]))\n"
    )
    r = subprocess.run([sys.executable, "-c", child, str(target)], cwd=ROOT, timeout=120)
    assert r.returncode == -9  # really killed mid-write
    assert target.read_bytes() == before
    assert load_model(target).output_shape == (None, 7)
    assert [p.name for p in tmp_path.iterdir() if p.name != "default.keras"] != []  # the torn temp file ...
    assert all(p.name.startswith(".") for p in tmp_path.iterdir() if p.name != "default.keras")  # ... is hidden


def test_a_failed_json_write_keeps_the_previous_card(tmp_path, monkeypatch):
    card = tmp_path / "model.json"
    write_json(card, {"arch": "old"})

    def no_space(fd: int) -> None:
        raise ENOSPC

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError):
        atomic_write_bytes(card, b'{"arch": "new, but cut sh')
    assert json.loads(card.read_text()) == {"arch": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


# ----------------------------------------------------------------------------------- which model files load
def test_a_model_with_python_code_is_refused_by_safe_mode(tmp_path):
    import keras

    marker = tmp_path / "code-ran"
    model = keras.Sequential([
        keras.Input((48, 48, 1)),
        keras.layers.Lambda(lambda x, m=str(marker): (__import__("pathlib").Path(m).touch(), x)[1]),
        keras.layers.Flatten(),
        keras.layers.Dense(7, activation="softmax"),
    ])
    path = tmp_path / "evil.keras"
    model.save(path)
    marker.unlink(missing_ok=True)
    with pytest.raises(ModelError, match=r"evil\.keras: not a readable Keras model .*safe_mode"):
        load_model(path)
    assert not marker.exists()  # the embedded code never ran


@pytest.mark.parametrize(("shape_in", "units", "message"), [
    ((48, 48, 1), 3, r"outputs \(3,\)"),
    ((64, 64, 3), 7, r"expects input \(64, 64, 3\)"),
])
def test_a_model_of_the_wrong_shape_is_refused(tmp_path, shape_in, units, message):
    import keras

    path = tmp_path / "other.keras"
    keras.Sequential([keras.Input(shape_in), keras.layers.Flatten(), keras.layers.Dense(units)]).save(path)
    with pytest.raises(ModelError, match=message) as exc:
        load_model(path)
    assert "an emotion model takes (48, 48, 1) and outputs (7,)" in str(exc.value)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("model.h5", b"\x89HDF\r\n\x1a\n", r"only \.keras model files"),
    ("model.pkl", b"\x80\x04N.", r"only \.keras model files"),
    ("photo.keras", b"\xff\xd8\xff\xe0 a jpeg", "not a readable Keras model"),
    ("empty.keras", b"", "not a readable Keras model"),
])
def test_files_that_are_not_models_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model(path)
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "missing.keras")
