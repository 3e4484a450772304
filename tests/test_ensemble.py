"""Ensembles (fer.model.ensemble, fer.jobs.export.export_ensemble, `fer ensemble`): members' prior corrections
folded into their weights, probabilities averaged, one model file with a card naming its members."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer.cli.main import main as cli
from fer.config import TrainConfig
from fer.jobs.export import export_ensemble
from fer.model.architectures import build_model
from fer.model.ensemble import ENSEMBLE_ARCH, FoldError, build_ensemble, fold_prior_correction
from fer.model.inference import Classifier
from fer.model.modelio import ModelCard, load_card, load_model, save_model
from tests.helpers import synthetic_faces, write_folder

CORRECTION = (0.3, -1.2, 0.5, 0.0, -0.4, 0.9, -0.1)


def faces(n: int = 5) -> np.ndarray:
    return synthetic_faces(1)[0][:n].astype("float32").reshape(-1, 48, 48, 1)


@pytest.mark.parametrize("arch", ["tiny-cnn", "mini-xception"])
def test_a_folded_correction_gives_what_the_classifier_computes(arch):
    model = build_model(arch)
    x = faces()
    want = Classifier(model, prior_correction=CORRECTION).scores(x)
    folded = build_model(arch)
    folded.set_weights(model.get_weights())
    fold_prior_correction(folded, CORRECTION)
    got = np.asarray(folded(x, training=False))
    assert np.abs(got - np.asarray(model(x, training=False))).max() > 1e-3  # the correction changed something
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_correction_that_is_not_seven_finite_numbers_is_refused():
    with pytest.raises(FoldError):
        fold_prior_correction(build_model("tiny-cnn"), (1.0, 2.0))
    with pytest.raises(FoldError):
        fold_prior_correction(build_model("tiny-cnn"), (float("nan"),) * 7)


def test_the_ensemble_averages_its_members_and_survives_saving(tmp_path):
    a, b = build_model("tiny-cnn"), build_model("tiny-cnn")
    x = faces()
    want = (np.asarray(a(x, training=False)) + np.asarray(b(x, training=False))) / 2
    ens = build_ensemble([a, b])
    np.testing.assert_allclose(np.asarray(ens(x, training=False)), want, atol=1e-6)
    save_model(ens, tmp_path / "e.keras", ModelCard(arch=ENSEMBLE_ARCH, params=int(ens.count_params())))
    again = load_model(tmp_path / "e.keras")  # Keras safe mode
    np.testing.assert_allclose(np.asarray(again(x, training=False)), want, atol=1e-6)


def _member(tmp_path, name: str, data, split: str = "official", correction=()) -> str:
    model = build_model("tiny-cnn")
    cfg = TrainConfig(data=str(data), split=split, arch="tiny-cnn")
    path = tmp_path / f"{name}.keras"
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), config=cfg.to_dict(),
                                      split=split, prior_correction=tuple(correction), train_seconds=10.0))
    return str(path)


@pytest.mark.slow
def test_export_and_the_command_make_one_scored_file_naming_its_members(tmp_path, capsys):
    data = write_folder(tmp_path / "ds", n_per_class=2)
    a, b = _member(tmp_path, "a", data), _member(tmp_path, "b", data, correction=CORRECTION)
    card = export_ensemble([a, b], tmp_path / "ens.keras", tta_flip=True)
    assert card.arch == ENSEMBLE_ARCH and card.members == (a, b) and card.prior_correction == ()
    assert card.tta_flip and card.metrics["test"]["n"] == 14 and card.train_seconds == 20.0
    assert load_card(tmp_path / "ens.keras") == card
    report = json.loads((tmp_path / "ens.report.json").read_text())
    assert set(report["reports"]) == {"validation", "test"}
    assert cli(["ensemble", str(tmp_path / "cli.keras"), a, b, "--no-tta"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == [a, b]
    other = _member(tmp_path, "c", data, split="stratified")
    assert cli(["ensemble", str(tmp_path / "bad.keras"), a, other]) == 2
    assert "another split" in capsys.readouterr().err


def test_an_ensemble_is_explained_through_its_first_member():
    from fer.model.explain import Explainer

    a, b = build_model("tiny-cnn"), build_model("tiny-cnn")
    ensemble = build_ensemble([a, b])
    ex = Explainer(ensemble)
    assert ex.members == 2 and ex.model is a
    face = faces(1)[0]
    walk = ex.walk(face)
    np.testing.assert_allclose(walk.scores, a.predict(face[None], verbose=0)[0], atol=1e-5)
    assert Explainer(b).members == 0


def onehot(classes: list[int]) -> np.ndarray:
    return np.eye(7)[classes]


def test_members_are_chosen_greedily_while_the_average_gains():
    from fer.model.ensemble import Pick, choose_greedily

    y = np.array([0, 1, 2, 3])
    scores = {"a": onehot([0, 1, 2, 0]) * 0.9,  # 3 of 4 right: the best alone
              "b": onehot([0, 5, 5, 3]) * 0.5 + onehot([0, 1, 2, 3]) * 0.45,  # 2 of 4; its second choices help a
              "c": onehot([6, 6, 6, 6])}  # 0 of 4: adds nothing
    picks = choose_greedily(scores, y)
    assert picks == (Pick("a", 0.75), Pick("b", 1.0))
    assert choose_greedily(scores, y, max_members=1) == (Pick("a", 0.75),)
    assert choose_greedily({}, y) == ()
    # a second equal candidate does not gain: the choice stops at the first
    assert choose_greedily({"a": scores["a"], "a2": scores["a"].copy()}, y) == (Pick("a", 0.75),)


def test_the_choice_script_scores_on_public_test_only(tmp_path, capsys, monkeypatch):
    from scripts.choose_ensemble import main as choose

    data = write_folder(tmp_path / "data", n_per_class=2)
    for name in ("one", "two"):
        model = build_model("tiny-cnn")
        save_model(model, tmp_path / f"{name}.keras", ModelCard(arch="tiny-cnn", params=int(model.count_params())))
    read = []
    import fer.data.dataset

    real = fer.data.dataset.load_dataset
    monkeypatch.setattr(fer.data.dataset, "load_dataset", lambda *a, **k: read.append(a) or real(*a, **k))
    assert choose([str(tmp_path / "one.keras"), str(tmp_path / "two.keras"), "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "PublicTest" and out["n"] == 14  # write_folder: one PublicTest image per face
    assert set(out["alone"]) == {str(tmp_path / "one.keras"), str(tmp_path / "two.keras")}
    assert 1 <= len(out["chosen"]) <= 2 and out["chosen"][0]["accuracy"] == max(out["alone"].values())
    assert out["views"] == {"tta_flip": True, "zoom": 1.05, "shift": 4}  # the shipped card's views
