"""Training through tf.distribute on these CPUs: mirrored over two logical CPU devices (a background job,
stopped and resumed) and multi-worker with two worker processes on 127.0.0.1 (the CLI, stopped and resumed),
each ending with the same kind of run folder, model and card as a single-device run."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fer.config import TrainConfig
from fer.jobs import launcher as jobs
from fer.model.modelio import load_model
from fer.train.distribute import DistributeError, read_tf_config
from tests.helpers import ROOT, run_fer, wait_for

SAMPLE = ROOT / "data" / "sample"
JOB_FILES = {"job.json", "progress.json", "train.log", "stop"}


def sample(epochs: int, **kw) -> TrainConfig:
    """A tiny run on half of the bundled sample (140 training images: 17 batches of 8)."""
    return TrainConfig(data=str(SAMPLE), arch="tiny-cnn", epochs=epochs, batch_size=8, train_fraction=0.5,
                       learning_rate=0.01, early_stopping_patience=1000, **kw)




def card(run: Path) -> dict:
    return json.loads((run / "model.json").read_text())


def epochs_of(run: Path) -> list[int]:
    return [int(line.split(",")[0]) for line in (run / "history.csv").read_text().splitlines()[1:]]


# --------------------------------------------------------------------------- settings (no training)
def test_the_strategy_is_a_checked_config_field_and_a_cli_flag():
    from fer.cli.flags import config_from_args
    from fer.cli.main import build_parser

    assert TrainConfig().distribute == "none" and TrainConfig().replicas == 0
    assert TrainConfig(distribute="mirrored", replicas=2).validate() == []
    assert any("distribution strategy must be one of none, mirrored, multi-worker" in str(e)
               for e in TrainConfig(distribute="horovod").validate())
    assert [e.field for e in TrainConfig(replicas=-1).validate()] == ["replicas"]
    args = build_parser().parse_args(["train", "--out", "x", "--distribute", "mirrored", "--replicas", "2"])
    cfg = config_from_args(args)
    assert (cfg.distribute, cfg.replicas) == ("mirrored", 2)
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg  # saved with the model, read back


def test_tf_config_names_this_task_and_the_chief():
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    first = read_tf_config({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})})
    second = read_tf_config({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})})
    assert (first.workers, first.chief, second.chief, second.task_id) == (2, True, False, 1)
    with_chief = {"chief": ["127.0.0.1:3"], **cluster}
    w0 = read_tf_config({"TF_CONFIG": json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}})})
    chief = read_tf_config({"TF_CONFIG": json.dumps({"cluster": with_chief, "task": {"type": "chief", "index": 0}})})
    assert (w0.chief, chief.chief, chief.workers) == (False, True, 3)
    with pytest.raises(DistributeError, match="needs TF_CONFIG"):
        read_tf_config({})
    with pytest.raises(DistributeError, match="not valid"):
        read_tf_config({"TF_CONFIG": "{not json"})
    with pytest.raises(DistributeError, match="worker 5, which its cluster does not have"):
        read_tf_config({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 5}})})


def test_a_last_validation_batch_too_small_to_split_joins_the_one_before():
    import numpy as np

    from fer.train.pipeline import eval_batches

    images, targets = np.zeros((33, 48, 48), np.uint8), np.zeros((33, 7), np.float32)
    cfg = TrainConfig(batch_size=8)
    assert [len(x) for x, _ in eval_batches(images, targets, cfg)] == [8, 8, 8, 8, 1]
    assert [len(x) for x, _ in eval_batches(images, targets, cfg, min_last=2)] == [8, 8, 8, 9]
    assert [len(x) for x, _ in eval_batches(images[:32], targets[:32], cfg, min_last=2)] == [8, 8, 8, 8]


def test_a_process_whose_tensorflow_has_started_refuses_cpu_devices_it_cannot_lay_out(tmp_path):
    import tensorflow as tf

    from fer.train.trainer import train

    tf.constant(0.0) + 1.0  # TensorFlow has started: its devices are fixed
    have = len(tf.config.list_logical_devices("CPU"))
    with pytest.raises(DistributeError, match=f"over {have + 1} CPU devices must be set up before TensorFlow starts"):
        train(sample(1, distribute="mirrored", replicas=have + 1), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- real runs
@pytest.fixture(scope="module")
def single_run(tmp_path_factory) -> Path:
    """The same tiny run on one device, in this process: what a distributed run must look like."""
    from fer.train.trainer import train

    run = tmp_path_factory.mktemp("single") / "run"
    train(sample(1), run)
    return run


def assert_like_single(run: Path, single: Path) -> None:
    """The same files, a card with the same fields and a model of the same shape as the single-device run."""
    assert {p.name for p in run.iterdir()} - JOB_FILES == {p.name for p in single.iterdir()}
    assert card(run).keys() == card(single).keys()
    assert {"validation", "test"} <= card(run)["metrics"].keys()
    model, reference = load_model(run / "model.keras"), load_model(single / "model.keras")
    assert model.output_shape == reference.output_shape == (None, 7)
    assert model.count_params() == reference.count_params()


@pytest.mark.slow
def test_a_mirrored_job_over_two_cpu_devices_stops_resumes_and_ends_like_a_single_device_run(
        tmp_path, monkeypatch, single_run):
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    cfg = sample(4, distribute="mirrored", replicas=2, lr_schedule="cosine", time_budget_minutes=30)
    info = jobs.start_job(cfg)

    def training() -> bool:
        p = jobs.run_info(info.path).progress
        return p is not None and p.phase == "training" and p.batch >= 1

    wait_for(training, timeout=180.0, what="the first batches")
    stopped = jobs.stop_job(info.path, wait_s=120)
    assert stopped.state == "stopped" and stopped.resumable, stopped.log_tail()
    done_before = stopped.done
    jobs.resume_job(info.path)
    done = jobs.wait_job(info.path, 300)
    assert done.state == "finished", done.log_tail()
    assert epochs_of(info.path) == [1, 2, 3, 4]
    log = (info.path / "train.log").read_text()
    assert log.count("mirrored over /device:CPU:0, /device:CPU:1") == 2  # both sessions, two replicas
    at = f"training from epoch {done_before[0] + 1}" + (f" batch {done_before[1] + 1}" if done_before[1] else "")
    assert at in log
    c = card(info.path)
    assert c["machine"].endswith(" mirrored x2") and c["config"]["distribute"] == "mirrored"
    assert c["epochs_trained"] == 4
    assert_like_single(info.path, single_run)


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def start_workers(args: list[str], outs: list[Path], scratch: list[Path]) -> list[subprocess.Popen]:
    """One `python -m fer train` per worker, each with its own TF_CONFIG on 127.0.0.1 (worker 0 is the chief)."""
    hosts = [f"127.0.0.1:{p}" for p in free_ports(len(outs))]
    procs = []
    for i, (out, tmp) in enumerate(zip(outs, scratch, strict=True)):
        tmp.mkdir(parents=True, exist_ok=True)
        tf_config = json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}})
        env = {**os.environ, "TF_CONFIG": tf_config, "TMPDIR": str(tmp)}
        procs.append(subprocess.Popen([sys.executable, "-m", "fer", "train", *args, "--out", str(out)], cwd=ROOT,
                                      env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return procs


def finish(procs: list[subprocess.Popen]) -> list[str]:
    """Wait for every worker; their outputs (all of them killed if one does not end)."""
    results = []
    try:
        for p in procs:
            results.append((p,) + p.communicate(timeout=400))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for i, (p, _, stderr) in enumerate(results):
        assert p.returncode == 0, f"worker {i}: " + stderr[-3000:]
    return [stdout for _, stdout, _ in results]


def epoch_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("epoch ") and " batch " not in line]


@pytest.mark.slow
def test_two_workers_on_loopback_train_one_run_that_only_the_chief_writes_and_it_resumes(tmp_path, single_run):
    run, elsewhere = tmp_path / "run", tmp_path / "worker1-run"
    scratch = [tmp_path / "tmp0", tmp_path / "tmp1"]
    args = ["--data", str(SAMPLE), "--arch", "tiny-cnn", "--epochs", "4", "--batch-size", "8", "--train-fraction",
            "0.5", "--learning-rate", "0.01", "--early-stopping-patience", "1000", "--average-from", "0.5",
            "--distribute", "multi-worker", "--report-every", "0"]

    # 1. both start; Ctrl-C to the chief after its first epoch stops both workers at the same batch
    procs = start_workers(args, [run, elsewhere], scratch)
    try:
        wait_for(lambda: (run / "history.csv").exists(), timeout=180.0, what="a first epoch")
        procs[0].send_signal(signal.SIGINT)
    finally:
        first = finish(procs)
    assert epoch_lines(first[0]) == epoch_lines(first[1]) and epoch_lines(first[0])  # the same logs: one run
    info = jobs.run_info(run)
    assert info.state == "stopped" and info.resumable
    assert not elsewhere.exists() and not any(p for s in scratch for p in s.iterdir())  # only the chief wrote

    # 2. again, both given the run folder (as on a shared filesystem): both resume at the chief's point and finish
    second = finish(start_workers(args, [run, run], scratch))
    assert epoch_lines(second[0]) == epoch_lines(second[1])
    assert epochs_of(run) == [1, 2, 3, 4]
    assert len(epoch_lines(first[0])) + len(epoch_lines(second[0])) == 4
    assert not elsewhere.exists() and not any(p for s in scratch for p in s.iterdir())
    c = card(run)
    assert c["machine"].endswith(" multi-worker x2 (2 workers)") and c["config"]["distribute"] == "multi-worker"
    assert c["epochs_trained"] == 4 and "average of the weights of epochs" in c["notes"]  # weight averaging ran
    expected = {p.name for p in single_run.iterdir()} | {"average.npz", "average.keras"}
    assert {p.name for p in run.iterdir()} - {"best-epoch.keras"} == expected
    assert card(run).keys() == card(single_run).keys()
    assert load_model(run / "model.keras").count_params() == load_model(single_run / "model.keras").count_params()


@pytest.mark.slow
def test_multi_worker_without_tf_config_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    r = run_fer("train", "--data", SAMPLE, "--arch", "tiny-cnn", "--epochs", "1", "--distribute", "multi-worker",
                "--out", tmp_path / "run")
    assert r.returncode == 2 and "multi-worker training needs TF_CONFIG" in r.stderr
    assert not (tmp_path / "run").exists()
