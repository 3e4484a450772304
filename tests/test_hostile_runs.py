"""Issue 42 (10-15): run files and folders that cannot hang, crash or lie.

Well-typed but invalid values (NaN epochs, a 1x1 confusion matrix, a count of 10**400) mark the file unusable
with its reason instead of crashing the Results page for every visitor; FIFOs, devices, links and sparse giants
in a run folder are never waited on, followed or read whole (fer.files); the locks are atomic (fcntl.flock)."""

import json
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.common
from fer.config import TrainConfig
from fer.files import FileRefused, read_bytes, tail
from fer.jobs import launcher as jobs
from fer.jobs.results import read_model_report
from fer.jobs.runs import list_runs, log_tail, run_info
from fer.labels import LABELS
from fer.model.modelio import ModelCard, read_card
from fer.train import runlock
from tests.helpers import ROOT, shown

CONFIG = TrainConfig(data="data/sample", epochs=3).to_dict()
HISTORY = "epoch,loss,accuracy,val_loss,val_accuracy\n1,1.9,0.2,1.8,0.25\n2,1.7,0.3,1.6,0.3\n"


def report(**changes: object) -> dict:
    per_class = {c: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2} for c in LABELS}
    confusion = [[1 if i == j else 0 for j in range(7)] for i in range(7)]
    base = {"split": "test", "n": 14, "accuracy": 0.5, "loss": 1.2, "macro_f1": 0.5, "per_class": per_class,
            "confusion": confusion}
    return base | changes


def card(**changes: object) -> dict:
    base = ModelCard(arch="tiny-cnn", params=1000, config=CONFIG, epochs_trained=2, best_epoch=2,
                     metrics={"test": {"n": 14, "accuracy": 0.5, "loss": 1.2, "macro_f1": 0.5}}).to_dict()
    return base | changes


def make_run(root: Path, name: str, files: dict[str, str | bytes] | None = None) -> Path:
    """A finished run folder with a (fake) model, its card and test report, then `files` written over it."""
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(CONFIG))
    (d / "history.csv").write_text(HISTORY)
    (d / "metrics.json").write_text(json.dumps({"test": report()}))
    (d / "model.json").write_text(json.dumps(card()))
    (d / "model.keras").write_bytes(b"a model")
    (d / "job.json").write_text('{"state": "finished", "pid": 1}')
    for file, content in (files or {}).items():
        (d / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    return d


def finishes(fn, timeout: float = 30.0):  # noqa: ANN001, ANN201 - a test helper
    """fn()'s result, or a test failure when it is still running (waiting on a FIFO) after `timeout` seconds."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"{fn} still running after {timeout} s (waiting on a FIFO?)"
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]


# ----------------------------------------------------------------------------------- 10: values and shapes
BAD_RUN_FILES = {  # name: (file, content, words of the problem)
    "epoch-nan": ("history.csv", HISTORY + "nan,1.5,0.3,1.5,0.3\n", "row 4: epoch: NaN is not a finite number"),
    "epoch-inf": ("history.csv", HISTORY + "inf,1.5,0.3,1.5,0.3\n", "row 4: epoch: inf is not a finite number"),
    "epoch-1e400": ("history.csv", HISTORY + "1e400,1.5,0.3,1.5,0.3\n", "row 4: epoch: inf is not a finite"),
    "epoch-half": ("history.csv", HISTORY + "2.5,1.5,0.3,1.5,0.3\n", "row 4: epoch: 2.5 is not a whole number"),
    "loss-inf": ("history.csv", HISTORY + "3,inf,0.3,1.5,0.3\n", "row 4: loss: inf is not a finite number"),
    "per-class-empty": ("metrics.json", json.dumps({"test": report(per_class={})}), "per_class: names []"),
    "confusion-1x1": ("metrics.json", json.dumps({"test": report(confusion=[[1]])}), "confusion: is not 7x7"),
    "confusion-ragged": ("metrics.json", json.dumps({"test": report(confusion=[[1] * 7] * 6 + [[1, 2]])}),
                         "confusion: is not 7x7"),
    "confusion-empty": ("metrics.json", json.dumps({"test": report(confusion=[])}), "confusion: is not 7x7"),
    "confusion-negative": ("metrics.json", json.dumps({"test": report(confusion=[[-1] * 7] * 7)}),
                           "confusion: has -1 is not between 0"),
    "accuracy-2": ("metrics.json", json.dumps({"test": report(accuracy=2)}), "accuracy: 2 is not between 0 and 1"),
    "n-huge": ("metrics.json", json.dumps({"test": report(n=10**400)}), "n: 1000000"),
    "config-nan": ("config.json", json.dumps(CONFIG | {"test_fraction": float("nan")}),
                   "config.json: test fraction must be between 0 and 0.5"),
    "config-epochs-huge": ("config.json", json.dumps(CONFIG | {"epochs": 10**400}), "config.json: epochs must be"),
    "pid-huge": ("job.json", json.dumps({"state": "stopped", "pid": 10**400}), "job.json: pid: 1000000"),
    "state-inf": ("state.json", '{"epoch": 1, "train_seconds": 1e400}', "state.json: train_seconds: inf is not"),
    "progress-eta-inf": ("progress.json", '{"phase": "done", "elapsed": 1e400}', "progress.json: elapsed: inf"),
}
BAD_CARDS = {  # name: (card changes, words of the problem)
    "n-text": ({"metrics": {"test": {"n": "abc", "accuracy": 0.5}}}, "test n: 'abc' is not a number"),
    "n-inf": ({"metrics": {"test": {"n": float("inf"), "accuracy": 0.5}}}, "test n: inf is not a finite number"),
    "accuracy-text": ({"metrics": {"test": {"n": 14, "accuracy": "x"}}}, "test accuracy: 'x' is not a number"),
    "params-huge": ({"params": 10**400}, "params: 1000000"),
    "epochs-nan": ({"train_seconds": float("nan")}, "train_seconds: NaN is not a finite number"),
    "config-out-of-range": ({"config": CONFIG | {"batch_size": 0}}, "config: batch size must be between"),
}


@pytest.mark.parametrize("name", sorted(BAD_RUN_FILES))
def test_a_well_typed_but_invalid_run_file_marks_the_run_broken_with_its_reason(tmp_path, name):
    file, content, words = BAD_RUN_FILES[name]
    info = run_info(make_run(tmp_path, name, {file: content}))
    assert info.state == "broken" and words in info.error, info.error
    assert info.history() is not None  # the rows before a bad one, or none: never a crash


@pytest.mark.parametrize("name", sorted(BAD_CARDS))
def test_a_well_typed_but_invalid_model_card_is_left_out_with_its_reason(tmp_path, name):
    changes, words = BAD_CARDS[name]
    run = make_run(tmp_path, name, {"model.json": json.dumps(card(**changes))})
    found, problem = read_card(run / "model.keras")
    assert found is None and words in problem, problem


def test_a_model_report_with_invalid_values_is_left_out_with_its_reason(tmp_path):
    model = tmp_path / "m.keras"
    good = {"model": "m.keras", "split": "x", "reports": {"test": report()}, "history": [{"epoch": 1, "loss": 1.0}]}
    (tmp_path / "m.report.json").write_text(json.dumps(good))
    assert read_model_report(model) == (read_model_report(model)[0], "") and read_model_report(model)[0] is not None
    for changes, words in (({"reports": {"test": report(confusion=[[1]])}}, "confusion: is not 7x7"),
                           ({"reports": {"test": report(per_class={})}}, "per_class: names []"),
                           ({"history": [{"epoch": float("nan")}]}, "history row 1: epoch: NaN"),
                           ({"history": [{"loss": 1}]}, "history row 1: no epoch"),
                           ({"reports": []}, "not a model report")):
        (tmp_path / "m.report.json").write_text(json.dumps(good | changes))
        found, problem = read_model_report(model)
        assert found is None and words in problem, (changes, problem)


def results_page(root: Path, monkeypatch: pytest.MonkeyPatch, pick: list[str] | None = None) -> AppTest:
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "pages" / "results.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    if pick is not None:
        at.session_state["res_pick"] = pick
    at.run()
    return at


def test_the_results_page_shows_every_invalid_run_and_card_without_failing(tmp_path, monkeypatch):
    """The page opens on the newest run: each bad run and card in turn, and all of them at once."""
    root = tmp_path / "runs"
    for name, (file, content, _) in BAD_RUN_FILES.items():
        make_run(root, name, {file: content})
    for name, (changes, _) in BAD_CARDS.items():
        make_run(root, f"card-{name}", {"model.json": json.dumps(card(**changes))})
    names = sorted(r.name for r in list_runs(root) if r.has_model)
    assert len(names) == len(BAD_RUN_FILES) + len(BAD_CARDS)
    at = results_page(root, monkeypatch, pick=names)
    assert not at.exception, at.exception
    errors = " ".join(shown(e.value) for e in at.error)
    warnings = " ".join(shown(w.value) for w in at.warning)
    for name, (_, _, words) in BAD_RUN_FILES.items():
        if (root / name / "model.keras").exists() and run_info(root / name).state == "broken":
            assert words in errors, name
    for _, (_, words) in BAD_CARDS.items():
        assert words in warnings, words


# ----------------------------------------------------------------------------------- 11: special files
def test_the_bounded_reader_reads_regular_files_only_and_never_waits(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "passwd").symlink_to("/etc/passwd")
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as fh:
        fh.truncate(1024**3)  # 1 GiB of nothing: no disk, no memory unless read
    for path, why in ((fifo, "special"), (tmp_path / "zero", "link"), (tmp_path / "passwd", "link"),
                      (Path("/dev/zero"), "special"), (tmp_path, "special"), (sparse, "too_big")):
        with pytest.raises(FileRefused) as caught:
            finishes(lambda path=path: read_bytes(path))
        assert caught.value.why == why, path
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "missing")
    assert len(finishes(lambda: tail(sparse, 1000))) == 1000  # a log's end, whatever its size


@pytest.mark.parametrize("file", ["job.json", "config.json", "progress.json", "state.json", "metrics.json",
                                  "history.csv", "train.log", ".trainer.pid"])
def test_a_fifo_or_a_device_link_in_a_run_folder_is_refused_at_once(tmp_path, file):
    for kind in ("fifo", "zero"):
        run = make_run(tmp_path, f"{kind}-{file}")
        (run / file).unlink(missing_ok=True)
        if kind == "fifo":
            os.mkfifo(run / file)
        else:
            (run / file).symlink_to("/dev/zero")
        info = finishes(lambda run=run: run_info(run))
        assert finishes(lambda run=run: log_tail(run)) == ""
        assert finishes(lambda run=run: runlock.holder(run)) is None
        if file not in ("train.log", ".trainer.pid"):
            assert info.state == "broken" and f"{file}: unreadable" in info.error, info.error
        else:
            assert info.state == "finished"
    assert finishes(lambda: list_runs(tmp_path)) is not None


def test_a_fifo_sparse_giant_or_link_as_model_card_or_report_is_refused(tmp_path):
    run = make_run(tmp_path, "r")
    (run / "model.json").unlink()
    os.mkfifo(run / "model.json")
    assert finishes(lambda: read_card(run / "model.keras"))[1] == "model.json: a FIFO, not a regular file: not read"
    (run / "model.json").unlink()
    with (run / "model.json").open("wb") as fh:
        fh.truncate(1024**3)
    found, problem = finishes(lambda: read_card(run / "model.keras"))
    assert found is None and "1,073,741,824 bytes" in problem
    (run / "model.report.json").symlink_to("/dev/zero")
    assert finishes(lambda: read_model_report(run / "model.keras"))[1].endswith("a symbolic link, not followed")


def test_a_fifo_as_the_runs_lock_neither_hangs_the_train_page_nor_starts_a_job(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    os.mkfifo(root / jobs.LOCK_NAME)
    assert finishes(lambda: jobs.active_job(root)) is None
    cfg = TrainConfig(data=str(ROOT / "data" / "sample"), arch="tiny-cnn", epochs=1)
    with pytest.raises(jobs.JobError, match="lock .* is not a regular file"):
        finishes(lambda: jobs.start_job(cfg, root=root))


def test_the_train_page_with_a_fifo_as_job_json_and_lock(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run = make_run(root, "fifo-job")
    (run / "job.json").unlink()
    os.mkfifo(run / "job.json")
    os.mkfifo(root / jobs.LOCK_NAME)
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["train_run"] = str(run)
    finishes(at.run, timeout=120)
    assert not at.exception, at.exception
    assert any("job.json: unreadable" in shown(e.value) for e in at.error)
    at = results_page(root, monkeypatch, pick=[run.name])  # the page opens on the shipped models: the run picked
    assert not at.exception and any("job.json: unreadable" in shown(e.value) for e in at.error)


# ----------------------------------------------------------------------------------- 12: links out of the runs folder
def test_a_linked_model_or_run_folder_is_never_offered(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    linked = make_run(root, "linked-model")
    (linked / "model.keras").unlink()
    (linked / "model.keras").symlink_to("/etc/passwd")
    outside = make_run(tmp_path / "elsewhere", "outside")
    (root / "linked-folder").symlink_to(outside)
    make_run(root, "good")
    runs = {r.name: r for r in list_runs(root)}
    assert set(runs) == {"linked-model", "good"}  # a linked folder is not a run
    assert not runs["linked-model"].has_model and runs["good"].has_model
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    assert set(ui.common.available_models()) >= {"runs/good"}
    assert not {"runs/linked-model", "runs/linked-folder"} & set(ui.common.available_models())
    at = results_page(root, monkeypatch)
    assert not at.exception
    assert [o for o in at.multiselect(key="res_pick").options if "linked" in o] == []
    with pytest.raises(FileRefused, match="symbolic link"):
        read_bytes(linked / "model.keras")  # what the download button reads


# ----------------------------------------------------------------------------------- 14: one holder, atomically
def _contend(which: str, path: str, me: int, trials: int, start: object, done: object, held: object) -> None:
    """One of several processes: in each trial, take the lock at the same moment as the others, hold it until
    all have tried, let go."""
    for trial in range(trials):
        start.wait()  # type: ignore[attr-defined]
        if which == "job":
            try:
                lock = jobs._acquire_lock(Path(path), Path(path) / f"run-{me}")
            except jobs.BusyError:
                lock = None
        else:
            lock = runlock.try_lock(Path(path) / runlock.NAME, str(os.getpid()))
        held[trial * 16 + me] = lock is not None  # type: ignore[index]
        done.wait()  # type: ignore[attr-defined]
        if lock is not None:
            lock.release()
        done.wait()  # type: ignore[attr-defined]


@pytest.mark.parametrize("which", ["job", "run"])
def test_a_stale_lock_is_taken_by_exactly_one_of_many_processes_starting_at_once(tmp_path, which):
    """Issue 42 (14): 2-3 holders in 14 of 40 trials with the read-stale-then-unlink scheme."""
    processes, trials = 6, 40
    # The test process may hold TensorFlow's threads: no fork. A fork server is a fresh process of its own that
    # imports this module once and forks each contender from itself (spawn made each of the 7 processes import
    # the test package again: ~15 s of CPU per case); each contender is still a separate process with its pid.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    lock_file = tmp_path / (jobs.LOCK_NAME if which == "job" else runlock.NAME)
    dead = ctx.Process(target=os.getpid)
    dead.start()
    dead.join()
    stale = json.dumps({"pid": dead.pid, "run": str(tmp_path / "old")}) if which == "job" else str(dead.pid)

    start, done = ctx.Barrier(processes + 1), ctx.Barrier(processes + 1)
    held = ctx.Array("b", trials * 16)
    workers = [ctx.Process(target=_contend, args=(which, str(tmp_path), i, trials, start, done, held))
               for i in range(processes)]
    for w in workers:
        w.start()
    try:
        for trial in range(trials):
            lock_file.write_text(stale)  # left by a process that died: no one holds it
            start.wait(timeout=120)
            done.wait(timeout=120)
            holders = sum(held[trial * 16 + i] for i in range(processes))
            assert holders == 1, f"trial {trial}: {holders} holders"
            done.wait(timeout=120)
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()


def test_a_lock_is_free_once_its_holder_ends_even_when_its_file_cannot_be_removed(tmp_path, monkeypatch):
    """A read-only runs folder at a job's end: the file stays, the lock does not."""
    path = tmp_path / jobs.LOCK_NAME
    lock = runlock.try_lock(path, '{"pid": 1, "run": "x"}')
    assert lock is not None and runlock.held_by(path) == '{"pid": 1, "run": "x"}'
    assert runlock.try_lock(path, "other") is None
    real = Path.unlink

    def read_only(self: Path, missing_ok: bool = False) -> None:
        if self == path:
            raise OSError(30, "Read-only file system", str(self))
        real(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    lock.release()
    assert path.exists() and runlock.held_by(path) is None and jobs.active_job(tmp_path) is None
    again = runlock.try_lock(path, "next")
    assert again is not None
    again.close()


# ----------------------------------------------------------------------------------- 13: a job's end, a deleted folder
def test_a_job_records_its_outcome_when_its_folder_no_longer_takes_new_files(tmp_path, monkeypatch):
    from fer.jobs import runner

    job = tmp_path / "job.json"
    job.write_text('{"state": "running", "pid": 1}')

    def read_only(path: Path, obj: object, parents: bool = True) -> None:
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(runner, "write_json", read_only)
    runner._record_outcome(job, {"state": "finished", "pid": 1, "error": ""})
    assert json.loads(job.read_text())["state"] == "finished"


def test_a_job_whose_folder_was_deleted_is_reaped_not_left_a_zombie(tmp_path, monkeypatch):
    import shutil
    import time

    from fer.train.runlock import process

    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    cfg = TrainConfig(data=str(ROOT / "data" / "sample"), arch="tiny-cnn", epochs=1, split="stratified")
    info = jobs.start_job(cfg)
    shutil.rmtree(info.path, ignore_errors=True)
    deadline = time.monotonic() + 180
    while Path(f"/proc/{info.pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{info.pid}").exists(), f"pid {info.pid} left behind ({process(info.pid)})"
    assert jobs.active_job(tmp_path / "runs") is None
