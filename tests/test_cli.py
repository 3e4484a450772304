"""`python -m fer` as users and other tools call it: `fer.cli.main.main` run in this process (tests.helpers.run_fer),
the console script and the refusal before TensorFlow's import in real processes."""

import csv
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fer.labels import LABELS
from fer.model.modelio import load_model
from fer.tfenv import onednn_state
from tests.helpers import FER_ZIP, ROOT, needs_full_data, run_fer, write_folder


def test_the_installed_fer_command_runs_from_any_folder(tmp_path):
    """`pip install -e .` (scripts/test.sh) gives the `fer` console script of pyproject.toml."""
    fer = shutil.which("fer")
    assert fer, "no `fer` command: run `pip install -e .` (scripts/test.sh does)"
    r = subprocess.run([fer, "models", "--json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert {m["name"] for m in json.loads(r.stdout)} >= {"course-cnn", "fer-net"}


def test_models_lists_course_cnn_with_its_parameter_count():
    r = run_fer("models", "--json")
    assert r.returncode == 0, r.stderr
    rows = {m["name"]: m["params"] for m in json.loads(r.stdout)}
    assert rows["course-cnn"] == 5905863
    assert len(rows) >= 2


@needs_full_data
def test_stats_on_the_real_zip():
    r = run_fer("stats", "--data", str(FER_ZIP), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    totals = {k: v["total"] for k, v in out["splits"].items()}
    assert totals == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    assert out["splits"]["Training"]["classes"] == {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215,
                                                    "sad": 4830, "surprise": 3171, "neutral": 4965}


def test_predict_finds_the_face_and_reports_an_unreadable_file(face_photo, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    r = run_fer("predict", str(face_photo), str(text), "--json")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    err_lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 1 and "notes.txt" in err_lines[0]
    results = json.loads(r.stdout)
    photo = results[0]
    assert len(photo["faces"]) == 1
    face = photo["faces"][0]
    assert face["label"] in LABELS and set(face["scores"]) == set(LABELS)
    assert abs(sum(face["scores"].values()) - 1) < 1e-3
    assert len(face["box"]) == 4
    assert results[1]["faces"] == [] and "error" in results[1]


def test_predict_on_a_text_file_alone_exits_2_with_one_line(tmp_path):
    text = tmp_path / "x.jpg"
    text.write_text("hello")
    r = run_fer("predict", str(text))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "x.jpg" in r.stderr


def test_bad_dataset_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,Usage\n1,Training\n")
    r = run_fer("stats", "--data", str(bad))
    assert r.returncode == 2 and "missing column" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_train_then_evaluate_a_tiny_model(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=12)
    out = tmp_path / "run"
    r = run_fer("train", "--data", str(data), "--arch", "tiny-cnn", "--epochs", "2", "--batch-size", "16",
                "--split", "official", "--learning-rate", "0.01", "--mixed-precision", "--report-every", "0.001",
                "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"^epoch 1/2 batch \d+/5 loss=\d\.\d{4} accuracy=\d\.\d{4}$", r.stdout, re.M), r.stdout
    for name in ("config.json", "history.csv", "model.keras", "model.json", "metrics.json", "last.keras"):
        assert (out / name).exists(), name
    card = json.loads((out / "model.json").read_text())
    assert card["arch"] == "tiny-cnn" and card["epochs_trained"] == 2 and card["config"]["epochs"] == 2
    assert "official" in card["split"] and "test" in card["metrics"]
    # The card says what this process runs: run_fer shares the suite's one TensorFlow, whose oneDNN state was set
    # by whichever test imported it first; that `train` asks for oneDNN is tests/test_tfenv.py's, in real processes.
    assert f" onednn={onednn_state()}" in card["machine"]
    r = run_fer("evaluate", "--model", str(out / "model.keras"), "--data", str(data),
                "--split", "PrivateTest", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(r.stdout)
    assert rep["n"] == 84 and 0 <= rep["accuracy"] <= 1 and len(rep["confusion"]) == 7
    assert sum(map(sum, rep["confusion"])) == 84 and set(rep["per_class"]) == set(LABELS)

    # Export with flip averaging and shifted views: weights only, computing in float32, the card
    # re-scored, and evaluate follows the card.
    dest = tmp_path / "exported.keras"
    r = run_fer("export", str(out), str(dest), "--tta", "--zoom", "1.05", "--shift", "2", "--notes", "test export")
    assert r.returncode == 0, r.stderr[-2000:]
    exported = json.loads(dest.with_suffix(".json").read_text())
    assert exported["tta_flip"] is True and exported["zoom"] == 1.05 and exported["notes"] == "test export"
    assert exported["shift"] == 2 and json.loads(r.stdout)["shift"] == 2
    assert exported["config"] == card["config"] and exported["metrics"]["test"]["n"] == 84
    assert dest.stat().st_size < (out / "model.keras").stat().st_size  # no optimizer state
    assert {layer.dtype_policy.name for layer in load_model(out / "model.keras").layers} >= {"mixed_bfloat16"}
    assert {layer.dtype_policy.name for layer in load_model(dest).layers} == {"float32"}
    # ... and its report beside it: the run's history and the full test report, as the card scores it
    report = json.loads(dest.with_suffix(".report.json").read_text())
    assert [r["epoch"] for r in report["history"]] == [1, 2] and "official" in report["split"]
    test = report["reports"]["test"]
    assert test["n"] == 84 and sum(map(sum, test["confusion"])) == 84
    assert round(test["accuracy"], 4) == exported["metrics"]["test"]["accuracy"]
    # ... and its test predictions (the Results page's most confident mistakes without scoring): the test images'
    # keys in the dataset, whose confusion matrix is the report's
    from fer.jobs.results import load_predictions

    preds = load_predictions(dest)
    assert len(preds.keys) == 84 and all(k.startswith("test/") for k in preds.keys)
    assert preds.scores.shape == (84, 7) and str(preds.scores.dtype) == "float16"
    cm = [[int(((preds.labels == i) & (preds.predicted == j)).sum()) for j in range(7)] for i in range(7)]
    assert cm == test["confusion"]
    again = tmp_path / "again.keras"  # exporting an exported model keeps the history
    assert run_fer("export", str(dest), str(again)).returncode == 0
    assert json.loads(again.with_suffix(".report.json").read_text())["history"] == report["history"]
    again.with_suffix(".predictions.npz").unlink()  # `fer predictions` writes them for a model shipped without
    r = run_fer("predictions", str(again))
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["n"] == 84
    remade = load_predictions(again)
    assert remade.keys == preds.keys and (remade.predicted == preds.predicted).all()
    assert np.allclose(remade.scores.astype(float), preds.scores.astype(float), atol=2e-3)
    r = run_fer("predictions", str(tmp_path / "nowhere.keras"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run_fer("evaluate", "--model", str(dest), "--data", str(data), "--split", "PrivateTest", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert round(json.loads(r.stdout)["accuracy"], 4) == exported["metrics"]["test"]["accuracy"]
    r = run_fer("evaluate", "--model", str(dest), "--data", str(data), "--zoom", "2", "--json")
    assert r.returncode == 2 and "--zoom: 2.0 is not between 1.0 and 1.5" in r.stderr and "Traceback" not in r.stderr
    r = run_fer("evaluate", "--model", str(dest), "--data", str(data), "--shift", "9", "--json")
    assert r.returncode == 2 and "--shift: 9 is not between 0 and 8" in r.stderr and "Traceback" not in r.stderr
    r = run_fer("export", str(tmp_path / "nowhere"), str(dest))
    assert r.returncode == 2 and "no model file" in r.stderr


def test_stats_counts_writes_the_counts_the_dataset_page_ships(tmp_path):
    """`fer stats --counts` (data/fer2013_counts.json, docs/data.md): images per split and class, read back by
    fer.data.stats.load_counts with the imbalance `describe` measures."""
    from fer.data.dataset import load_dataset
    from fer.data.stats import describe, load_counts

    data = write_folder(tmp_path / "ds", n_per_class=3)
    r = run_fer("stats", "--data", str(data), "--counts")
    assert r.returncode == 0, r.stderr[-2000:]
    (tmp_path / "counts.json").write_text(r.stdout)
    counts = load_counts(tmp_path / "counts.json")
    ds = load_dataset(data)
    assert counts.name == "FER2013" and counts.total == len(ds) and counts.splits == ds.counts()
    assert counts.imbalance == describe(ds, with_images=False).imbalance


def test_cosine_schedule_decays_the_rate_each_epoch_and_is_recorded(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=6)
    out = tmp_path / "run"
    r = run_fer("train", "--data", str(data), "--arch", "tiny-cnn", "--epochs", "3", "--batch-size", "16",
                "--learning-rate", "0.004", "--lr-schedule", "cosine", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    with (out / "history.csv").open() as fh:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(fh)]
    assert rates == pytest.approx([0.004, 0.003, 0.001], rel=1e-4)
    assert json.loads((out / "model.json").read_text())["config"]["lr_schedule"] == "cosine"
    r = run_fer("train", "--data", str(data), "--lr-schedule", "step", "--out", str(tmp_path / "r2"))
    assert r.returncode == 2 and "schedule" in r.stderr


def test_a_run_can_start_from_a_trained_model_of_the_same_architecture(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=6)
    first, second = tmp_path / "first", tmp_path / "second"
    common = ("--data", str(data), "--arch", "tiny-cnn", "--batch-size", "16", "--epochs", "1")
    assert run_fer("train", *common, "--learning-rate", "0.01", "--out", str(first)).returncode == 0
    # learning rate ~0: the second run keeps the first run's trained kernels
    r = run_fer("train", *common, "--learning-rate", "1e-12", "--init-model", str(first / "model.keras"),
                "--out", str(second))
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = (json.loads((d / "model.json").read_text()) for d in (first, second))
    assert b["config"]["init_model"] == str(first / "model.keras")
    kernels = [[w for w in load_model(d / "model.keras").get_weights() if w.ndim == 4] for d in (first, second)]
    assert kernels[0] and all(np.allclose(x, y, atol=1e-6) for x, y in zip(*kernels, strict=True))
    assert a["config"]["init_model"] == ""
    r = run_fer("train", *common[:2], "--arch", "fer-net", "--epochs", "1", "--init-model",
                str(first / "model.keras"), "--out", str(tmp_path / "third"))
    assert r.returncode == 2 and "it is a tiny-cnn model; its layers do not match the fer-net architecture" in r.stderr
    r = run_fer("train", *common, "--init-model", str(tmp_path / "nothing.keras"), "--out", str(tmp_path / "4"))
    assert r.returncode == 2 and "nothing.keras: there is no such file" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "third").exists() and not (tmp_path / "4").exists()  # refused before the run began


def test_train_refuses_bad_settings(tmp_path):
    r = run_fer("train", "--data", "data/sample", "--epochs", "0", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "epochs" in r.stderr


def test_a_refused_training_is_said_before_tensorflow_is_imported(tmp_path) -> None:
    """Settings and the start model are checked first: the refusal comes in a fraction of a second, not after
    TensorFlow's import (seconds of CPU)."""
    code = ("import sys; from fer.cli.main import main; "
            f"rc = main(['train', '--data', 'data/sample', '--batch-size', '0', '--out', {str(tmp_path / 'run')!r}]); "
            "print(rc, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert "batch size must be between 1 and 4096" in out.stderr
    assert not (tmp_path / "run").exists()
