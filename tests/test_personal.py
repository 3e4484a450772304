"""The personal preset (issue 41): the shipped model fine-tuned on a folder of ordinary photos through the command
line, its before/after stored in the run and read back, freezing and replay, and a Teach session's files listed and
deleted with the runs made from them."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer.config import TrainConfig
from fer.jobs import teach
from fer.jobs.runfiles import read_before_after
from fer.labels import LABELS
from fer.model.evaluation import BeforeAfter, before_after
from fer.train.presets import preset
from tests.helpers import run_fer
from tests.test_photos_dataset import small, write_photos


def tiny_photos(root: Path) -> Path:
    """3 emotions x 3 small photos (a face each), as a Teach session would leave them."""
    return write_photos(root, {
        "happy/1.jpg": small("obama.jpg", 240), "happy/2.jpg": small("obama2.jpg", 240),
        "happy/3.jpg": small("obama.jpg", 260, mirror=True),
        "sad/1.jpg": small("biden.jpg", 260), "sad/2.jpg": small("biden.jpg", 280, mirror=True),
        "sad/3.jpg": small("obama2.jpg", 260, mirror=True),
        "surprise/1.jpg": small("obama.jpg", 300), "surprise/2.jpg": small("biden.jpg", 300),
        "surprise/3.jpg": small("obama2.jpg", 300),
    })


def test_personal_preset_end_to_end_through_the_command_line(tmp_path):
    data = tiny_photos(tmp_path / "teach" / "s1")
    run = tmp_path / "runs" / "mine"
    r = run_fer("train", "--data", str(data), "--preset", "personal", "--epochs", "1", "--replay-per-class", "2",
                "--out", str(run), "--report-every", "0")
    assert r.returncode == 0, r.stderr[-3000:]
    card = json.loads((run / "model.json").read_text())
    assert card["config"]["init_model"] == "models/webcam.keras" and card["config"]["freeze"] == "early"
    assert card["split"].startswith("per-class") and card["epochs_trained"] == 1
    result, problem = read_before_after(run)
    assert problem == "" and isinstance(result, BeforeAfter)
    assert result.n == (0, 0, 0, 1, 1, 1, 0)  # one held-out photo of each taught emotion
    assert result.taught == ("happy", "sad", "surprise")
    assert result.before_model == "models/webcam.keras"
    assert card["metrics"]["test"]["n"] == 3
    assert round(result.accuracy("after"), 4) == card["metrics"]["test"]["accuracy"]  # the same model, same photos

    r = run_fer("evaluate", "--model", str(run / "model.keras"), "--data", str(data), "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(r.stdout)
    assert rep["split"] == "all" and rep["n"] == 9
    assert {k: v["support"] for k, v in rep["per_class"].items() if v["support"]} == {"happy": 3, "sad": 3,
                                                                                      "surprise": 3}
    r = run_fer("stats", "--data", str(data), "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["splits"]["Training"]["classes"] == dict.fromkeys(LABELS, 0) | {
        "happy": 3, "sad": 3, "surprise": 3}

    files = teach.teach_files(data, tmp_path / "runs")
    assert {f.run for f in files} == {"", "mine"} and sum(f.emotion == "happy" for f in files) == 3
    gone = teach.delete_teach(data, tmp_path / "runs")
    assert gone.files == len(files) and gone.bytes == sum(f.size for f in files) > 0 and gone.busy == ()
    assert not data.exists() and not run.exists()


class Fixed:
    """A classifier that names each face as the table says (by its first pixel)."""

    def __init__(self, answers: dict[int, int]) -> None:
        self.answers = answers

    def scores(self, images: np.ndarray) -> np.ndarray:
        return np.eye(len(LABELS), dtype=np.float32)[[self.answers[int(im[0, 0])] for im in images]]


def test_before_after_counts_each_models_right_answers_per_emotion(tmp_path):
    images = np.zeros((6, 48, 48), np.uint8)
    images[:, 0, 0] = np.arange(6)
    labels = np.array([3, 3, 3, 4, 4, 0])
    shipped = Fixed({0: 3, 1: 6, 2: 6, 3: 4, 4: 3, 5: 0})
    personal = Fixed({0: 3, 1: 3, 2: 6, 3: 4, 4: 4, 5: 2})
    r = before_after(shipped, personal, images, labels, taught=["sad", "happy"], names=("a.keras", "b.keras"))
    assert r.n == (1, 0, 0, 3, 2, 0, 0)
    assert r.before_correct == (1, 0, 0, 1, 1, 0, 0) and r.after_correct == (0, 0, 0, 2, 2, 0, 0)
    assert r.taught == ("happy", "sad")  # in LABELS order
    assert r.recall("after")[3] == pytest.approx(2 / 3) and r.recall("before")[1] is None
    assert r.accuracy("before") == pytest.approx(3 / 6) and r.accuracy("after") == pytest.approx(4 / 6)
    (tmp_path / "before_after.json").write_text(json.dumps(r.to_dict()))
    assert read_before_after(tmp_path) == (r, "")


@pytest.mark.parametrize("bad", [{"n": [1, 2]}, {"after_correct": [9, 0, 0, 0, 0, 0, 0]}, {"n": "seven"},
                                 {"taught": ["smiling"]}, {"before_correct": [-1, 0, 0, 0, 0, 0, 0]}])
def test_a_damaged_before_after_file_reads_as_a_problem(tmp_path, bad):
    good = {"n": [1] * 7, "before_correct": [0] * 7, "after_correct": [1] * 7, "taught": ["happy"]}
    (tmp_path / "before_after.json").write_text(json.dumps(good | bad))
    result, problem = read_before_after(tmp_path)
    assert result is None and "before_after.json" in problem


def test_no_before_after_file_is_no_problem(tmp_path):
    assert read_before_after(tmp_path) == (None, "")


def test_freeze_keeps_the_early_layers_or_all_but_the_classifier():
    from fer.model.architectures import build_model
    from fer.train.trainer import freeze_layers

    for how, frozen in (("none", 0), ("early", 8), ("features", 16)):
        model = build_model("fer-net")
        weighted = [layer for layer in model.layers if layer.weights]
        assert len(weighted) == 17 and freeze_layers(model, how) == frozen  # 8 conv, 8 BN, the classifier
        assert [layer.trainable for layer in weighted] == [False] * frozen + [True] * (17 - frozen)


def test_replay_takes_sample_faces_of_the_untaught_emotions_only():
    from fer.train.trainer import replay_faces

    cfg = preset("personal")
    images, labels = replay_faces(cfg, np.array([3, 4, 5, 3]))
    assert images.shape == (4 * cfg.replay_per_class, 48, 48)
    assert np.bincount(labels, minlength=7).tolist() == [8, 8, 8, 0, 0, 0, 8]
    everything = replay_faces(cfg.replace(replay_classes="all", replay_per_class=0), np.array([3]))[1]
    assert len(everything) == 350  # the whole bundled sample
    assert replay_faces(cfg.replace(seed=1), np.array([3]))[1].tolist() != [] and not np.array_equal(
        replay_faces(cfg.replace(seed=1), np.array([3]))[0], replay_faces(cfg, np.array([3]))[0])


def test_teach_folders_are_plain_names_under_the_runs_folder(tmp_path):
    assert teach.teach_dir(tmp_path, "abc_123-X") == tmp_path / "teach" / "abc_123-X"
    for bad in ("", "../x", "a/b", ".", "x" * 65, "a b"):
        with pytest.raises(ValueError):
            teach.teach_dir(tmp_path, bad)


def test_snapshots_are_numbered_listed_removed_and_deleted_with_their_runs(tmp_path):
    root = tmp_path / "runs"
    folder = teach.teach_dir(root, "s1")
    a = teach.add_snapshot(folder, "happy", b"one")
    b = teach.add_snapshot(folder, "happy", b"two!", ".PNG")
    c = teach.add_snapshot(folder, "sad", b"three")
    assert (a.name, b.name, c.name) == ("0001.jpg", "0002.png", "0001.jpg")
    with pytest.raises(ValueError):
        teach.add_snapshot(folder, "smiling", b"x")
    with pytest.raises(ValueError):
        teach.add_snapshot(folder, "happy", b"x", ".html")
    assert teach.emotions_taught(folder) == {"happy": 2, "sad": 1}
    outside = tmp_path / "precious.jpg"
    outside.write_bytes(b"keep me")
    (folder / "sad" / "link.jpg").symlink_to(outside)
    with pytest.raises(ValueError):
        teach.remove_snapshot(folder, outside)
    assert teach.remove_snapshot(folder, c) and not teach.remove_snapshot(folder, c)

    mine, other = root / "personal-1", root / "other"
    for run, data in ((mine, str(folder)), (other, "data/sample")):
        run.mkdir(parents=True)
        (run / "config.json").write_text(TrainConfig(data=data).to_json())
        (run / "model.keras").write_bytes(b"m" * 100)
    assert teach.personal_runs(folder, root) == [mine]
    files = teach.teach_files(folder, root)
    sizes = {(f.path.name, f.emotion, f.run): f.size for f in files}
    assert sizes == {("0001.jpg", "happy", ""): 3, ("0002.png", "happy", ""): 4, ("link.jpg", "sad", ""): 0,
                     ("config.json", "", "personal-1"): (mine / "config.json").stat().st_size,
                     ("model.keras", "", "personal-1"): 100}
    gone = teach.delete_teach(folder, root)
    assert gone.files == 5 and gone.bytes == sum(sizes.values())
    assert not folder.exists() and not mine.exists() and other.exists()
    assert outside.read_bytes() == b"keep me"  # the link removed, never followed
    assert teach.delete_teach(folder, root) == teach.Deleted(0, 0, ())  # nothing left: nothing to do
