"""scripts.course_on_device: pack a dataset, train the course CNN from the pack alone, import the result (the
GPU machine's path of issue #33, here on the default TensorFlow backend with a tiny synthetic dataset)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer.paths import ROOT
from fer.train.presets import from_root
from scripts import course_on_device as cod
from tests.helpers import write_zip

COURSE_PARAMS = 5_905_863


def run(*args: str) -> str:
    """`python -m scripts.course_on_device ARGS` in a subprocess; its output (it must succeed)."""
    proc = subprocess.run([sys.executable, "-m", "scripts.course_on_device", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the synthetic zip, the folder of its pack): 20 faces per class, each in train/ and test/, so the
    course split holds 280 images."""
    root = tmp_path_factory.mktemp("course")
    data = write_zip(root / "faces.zip", n_per_class=20)
    assert cod.main(["pack", "--data", str(data), "--out", str(root / "pack")]) == 0
    return data, root / "pack"


def test_pack_holds_the_course_split(packed: tuple[Path, Path]) -> None:
    from fer.data.dataset import load_dataset
    from fer.data.splits import stratified_split

    data, pack = packed
    arrays, desc = cod.load_pack(pack)
    ds = load_dataset(data)
    split = stratified_split(ds)
    assert desc["codec"] == "raw" and desc["split"] == split.description
    assert desc["counts"] == split.sizes() == {"train": 226, "val": 26, "test": 28}
    for part in cod.PARTS:
        idx = getattr(split, part)
        assert arrays[f"x_{part}"].dtype == np.uint8 and arrays[f"x_{part}"].shape == (len(idx), 48, 48)
        np.testing.assert_array_equal(arrays[f"x_{part}"], ds.images[idx])
        np.testing.assert_array_equal(arrays[f"y_{part}"], ds.labels[idx])
    assert desc["sha256"] == cod.sha256_bytes((pack / cod.PACK_FILE).read_bytes())


def test_images_kept_as_their_files_decode_to_the_same_pixels(packed: tuple[Path, Path], tmp_path: Path) -> None:
    data, pack = packed
    assert cod.main(["pack", "--data", str(data), "--out", str(tmp_path), "--codec", "encoded"]) == 0
    enc, desc = cod.load_pack(tmp_path)
    raw, _ = cod.load_pack(pack)
    assert desc["codec"] == "encoded"
    for key, value in raw.items():
        np.testing.assert_array_equal(enc[key], value)
    blob = bytearray((tmp_path / cod.PACK_FILE).read_bytes())  # a damaged pack is refused
    blob[len(blob) // 2] ^= 1
    (tmp_path / cod.PACK_FILE).write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="sha256"):
        cod.load_pack(tmp_path)


def test_train_then_import_gives_the_course_model_with_its_card_and_report(
        packed: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fer.cli.main import main as fer_main
    from fer.jobs.results import load_model_report
    from fer.model.modelio import load_card, load_model

    data, pack = packed
    out = tmp_path / "out"
    log = run("train", "--pack", str(pack), "--out", str(out), "--epochs", "2", "--limit", "256")
    assert "epoch 1/2" in log and "epoch 2/2" in log and "test accuracy" in log
    report = json.loads((out / "report.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2] and set(cod.HISTORY_FIELDS) <= set(history[0])
    assert report["epochs_run"] == 2 and report["params"] == COURSE_PARAMS and report["stopped_by"] == "epochs"
    assert report["counts"] == {"train": 226, "val": 26, "test": 28}
    assert report["best_epoch"] == min(history, key=lambda r: r["val_loss"])["epoch"]
    assert all((out / name).stat().st_size < cod.CHUNK_BYTES for name in report["weights"])
    assert len(report["weights"]) == 2  # 23.6 MB of float32 in two chunks

    dest = tmp_path / "models" / "course-cnn.keras"
    assert cod.main(["import", "--from", str(out), "--out", str(dest), "--data", str(data)]) == 0
    model = load_model(dest)
    assert model.output_shape == (None, 7)
    card = load_card(dest)
    assert card is not None and card.arch == "course-cnn" and card.params == COURSE_PARAMS
    assert card.metrics["test"]["accuracy"] == round(report["reports"]["test"]["accuracy"], 4)
    assert card.epochs_trained == 2 and card.best_epoch == report["best_epoch"]
    assert card.split == report["split"] and from_root(card.config["data"]) == data.resolve()
    saved = load_model_report(dest)
    assert saved is not None and len(saved.history) == 2
    assert saved.reports["test"].to_dict() == report["reports"]["test"]
    # the imported model holds the best epoch's weights: the CLI scores the card's own test split the same
    capsys.readouterr()
    assert fer_main(["evaluate", "--model", str(dest), "--data", str(data), "--split", "card", "--json"]) == 0
    cli, test = json.loads(capsys.readouterr().out), report["reports"]["test"]
    assert cli["n"] == test["n"] == 28
    assert cli["accuracy"] == test["accuracy"] and cli["confusion"] == test["confusion"]
    assert "warning" not in capsys.readouterr().err
    # scored on an official part or on all images, a model of a split of its own is said to be flattered
    assert fer_main(["evaluate", "--model", str(dest), "--data", str(data), "--split", "all", "--json"]) == 0
    assert "were among its training images" in capsys.readouterr().err


def test_an_interrupted_run_resumes_where_it_stopped(packed: tuple[Path, Path], tmp_path: Path) -> None:
    """Even into an empty output folder, as a second device call finds $OUT: the state has what it needs."""
    _, pack = packed
    first_out, out, state = tmp_path / "first", tmp_path / "out", tmp_path / "state"
    run("train", "--pack", str(pack), "--out", str(first_out), "--state", str(state), "--epochs", "1",
        "--limit", "64")
    first = json.loads((first_out / "history.json").read_text())
    assert len(first) == 1 and (state / "last.npz").is_file()
    log = run("train", "--pack", str(pack), "--out", str(out), "--state", str(state), "--epochs", "2",
              "--limit", "64", "--resume")
    assert "resuming after epoch 1" in log and "epoch 2/2" in log and "epoch 1/2" not in log
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2] and history[0] == first[0]
    report = json.loads((out / "report.json").read_text())
    assert report["epochs_run"] == 2 and report["best_epoch"] == min(history, key=lambda r: r["val_loss"])["epoch"]
    assert len(cod.read_chunks(out)) == len(cod.read_chunks(first_out))


def test_evaluate_on_the_cards_split_needs_a_card(packed: tuple[Path, Path], tiny_model_path: Path,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from fer.cli.main import main as fer_main

    data, _ = packed
    bare = tmp_path / "bare.keras"
    shutil.copy(tiny_model_path, bare)
    assert fer_main(["evaluate", "--model", str(bare), "--data", str(data), "--split", "card"]) == 2
    assert "no model card" in capsys.readouterr().err
