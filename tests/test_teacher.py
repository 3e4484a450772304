"""Distillation targets (fer.train.teacher, `fer teacher`, TrainConfig.teacher): computed once from models' cards,
stored with the images' keys, checked on reading, and mixed into the targets of the images trained on only."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer.config import TrainConfig
from fer.data.dataset import load_dataset
from fer.data.splits import make_split
from fer.labels import NUM_CLASSES
from fer.train.teacher import TeacherError, TeacherTargets, compute_targets, load_targets, mix_teacher
from fer.train.trainer import training_targets
from tests.helpers import run_fer, write_folder


def _targets(keys: list[str], probs: np.ndarray) -> TeacherTargets:
    return TeacherTargets(np.array(keys), probs.astype(np.float32), ("a.keras",), "Training")


def test_saved_targets_read_back_as_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(NUM_CLASSES), size=50)
    keys = [f"train/happy/Training_{i}.png" for i in range(50)]
    path = tmp_path / "teacher"  # no .npz suffix: written under the name given
    _targets(keys, probs).save(path)
    back = load_targets(path)
    assert back.keys.tolist() == keys and back.members == ("a.keras",) and back.part == "Training"
    np.testing.assert_allclose(back.probs, probs, atol=2e-3)  # stored in float16, rows renormalised
    np.testing.assert_allclose(back.probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("case", ["missing", "garbage", "shape", "nan", "negative", "sum", "twice", "large"])
def test_bad_teacher_files_are_refused_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       case: str) -> None:
    path = tmp_path / "t.npz"
    probs = np.full((3, NUM_CLASSES), 1 / NUM_CLASSES)
    keys = ["a", "b", "c"]
    if case == "garbage":
        path.write_bytes(b"not a numpy file")
    elif case == "shape":
        with path.open("wb") as fh:
            np.savez(fh, keys=np.array(keys), probs=np.ones((3, 5)) / 5, about=np.array("{}"))
    elif case != "missing":
        if case == "nan":
            probs[0, 0] = np.nan
        elif case == "negative":
            probs[0, :2] = (-0.5, 0.5 + 2 / NUM_CLASSES)
        elif case == "sum":
            probs[1] = 0.5
        elif case == "twice":
            keys = ["a", "a", "c"]
        _targets(keys, probs).save(path)
        if case == "large":
            monkeypatch.setattr("fer.train.teacher.MAX_TEACHER_BYTES", 100)
    with pytest.raises(TeacherError, match="teacher file"):
        load_targets(path)


def test_only_the_rows_trained_on_move_toward_the_teacher() -> None:
    targets = np.eye(NUM_CLASSES, dtype=np.float32)[[0, 1, 2, 3]]
    keys = np.array(["k0", "k1", "k2", "k3"])
    teacher = _targets(["k1", "k2", "k3", "other"], np.full((4, NUM_CLASSES), 1 / NUM_CLASSES))
    out = mix_teacher(targets, keys, np.array([0, 1, 2]), teacher, weight=0.5)
    np.testing.assert_array_equal(out[0], targets[0])  # trained on, but the teacher has no probabilities for it
    np.testing.assert_allclose(out[1], 0.5 * targets[1] + 0.5 / NUM_CLASSES)
    np.testing.assert_allclose(out[2], 0.5 * targets[2] + 0.5 / NUM_CLASSES)
    np.testing.assert_array_equal(out[3], targets[3])  # not trained on (validation, test): its label stays
    np.testing.assert_array_equal(targets[1], np.eye(NUM_CLASSES)[1])  # the input is not changed
    with pytest.raises(TeacherError, match="none of the training images"):
        mix_teacher(targets, np.array(["x0", "x1", "x2", "x3"]), np.array([0, 1]), teacher, weight=1.0)


def test_the_teacher_is_the_average_of_its_models_as_their_cards_predict(tmp_path: Path,
                                                                         tiny_model_path: Path) -> None:
    from fer.model.evaluation import predict_scores
    from fer.model.modelio import load_model

    ds = load_dataset(write_folder(tmp_path / "ds", n_per_class=3))
    got = compute_targets([tiny_model_path, tiny_model_path], ds, part="Training")
    train = np.flatnonzero(ds.usage == "Training")
    assert got.keys.tolist() == ds.paths[train].tolist() and got.part == "Training"
    np.testing.assert_allclose(got.probs, predict_scores(load_model(tiny_model_path), ds.images[train]), atol=1e-5)
    with pytest.raises(TeacherError, match="no Nope images"):
        compute_targets([tiny_model_path], ds, part="Nope")


def test_fer_teacher_then_a_student_trains_on_its_targets(tmp_path: Path, tiny_model_path: Path) -> None:
    data = write_folder(tmp_path / "ds", n_per_class=8)
    dest = tmp_path / "teacher.npz"
    r = run_fer("teacher", str(dest), str(tiny_model_path), "--data", str(data))
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["images"] == 56 and out["part"] == "Training" and out["bytes"] == dest.stat().st_size
    assert 0.0 <= out["agrees_with_labels"] <= 1.0

    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=1, batch_size=16,
                      teacher=str(dest), teacher_weight=0.75)
    ds = load_dataset(data)
    split = make_split(ds, cfg)
    idx, targets = training_targets(ds, split, cfg)
    teacher = load_targets(dest)
    np.testing.assert_allclose(targets[idx], 0.25 * np.eye(NUM_CLASSES)[ds.labels[idx]] + 0.75 * teacher.probs,
                               atol=1e-6)
    np.testing.assert_array_equal(targets[split.test], np.eye(NUM_CLASSES)[ds.labels[split.test]])

    run = tmp_path / "student"
    r = run_fer("train", "--data", str(data), "--arch", "tiny-cnn", "--epochs", "1", "--batch-size", "16",
                "--split", "official", "--teacher", str(dest), "--teacher-weight", "0.75", "--out", str(run))
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((run / "model.json").read_text())
    assert card["config"]["teacher"] == str(dest) and card["config"]["teacher_weight"] == 0.75  # says how it was made


def test_a_student_refuses_a_missing_teacher_and_a_bad_weight(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "ds", n_per_class=4)
    r = run_fer("train", "--data", str(data), "--arch", "tiny-cnn", "--epochs", "1", "--split", "official",
                "--teacher", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "teacher file" in r.stderr and "not found" in r.stderr
    assert TrainConfig(teacher_weight=1.5).validate()[0].field == "teacher_weight"
