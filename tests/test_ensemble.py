"""Ensembles (fer.model.ensemble, fer.jobs.export.export_ensemble, `fer ensemble`): members' prior corrections
folded into their weights, probabilities averaged, one model file with a card naming its members."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fer.cli.main import main as cli
from fer.config import TrainConfig
from fer.jobs.export import export_ensemble
from fer.model.architectures import build_model
from fer.model.ensemble import ENSEMBLE_ARCH, FoldError, build_ensemble, fold_prior_correction
from fer.model.inference import Classifier
from fer.model.modelio import ModelCard, load_card, load_model, save_model
from fer.paths import ROOT
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
    # recall floors on the ensemble, as the plan gives them to a shipped one: `fer export` keeps it an ensemble
    assert cli(["export", str(tmp_path / "ens.keras"), str(tmp_path / "floored.keras"),
                "--recall-floor", "disgust=1"]) == 0
    assert json.loads(capsys.readouterr().out)["class_offsets"][1] > 0
    floored = load_card(tmp_path / "floored.keras")
    assert floored.arch == ENSEMBLE_ARCH and floored.members == (a, b)
    assert floored.class_offsets[1] > 0 and floored.prior_correction == floored.class_offsets
    assert floored.metrics["validation"]["recall"]["disgust"] == 1.0
    assert cli(["ensemble", str(tmp_path / "cli.keras"), a, b, "--no-tta"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == [a, b]
    # the same dataset named relative to the repository root (a card written by a run started there) is no other split
    same = _member(tmp_path, "d", os.path.relpath(data, ROOT))
    assert cli(["ensemble", str(tmp_path / "same.keras"), a, same, "--no-tta"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == [a, same]
    other = _member(tmp_path, "c", data, split="stratified")
    assert cli(["ensemble", str(tmp_path / "bad.keras"), a, other]) == 2
    assert "another split" in capsys.readouterr().err


def test_an_ensemble_is_explained_through_any_of_its_members():
    from fer.model.explain import Explainer

    a, b = build_model("tiny-cnn"), build_model("tiny-cnn")
    ensemble = build_ensemble([a, b])
    ex = Explainer(ensemble)
    assert ex.members == 2 and ex.model is a
    face = faces(1)[0]
    walk = ex.walk(face)
    np.testing.assert_allclose(walk.scores, a.predict(face[None], verbose=0)[0], atol=1e-5)
    assert Explainer(b).members == 0
    second = Explainer(ensemble, member=1)  # any member can be the one explained
    assert second.members == 2 and second.model is b
    np.testing.assert_allclose(second.walk(face).scores, b.predict(face[None], verbose=0)[0], atol=1e-5)
    with pytest.raises(ValueError, match="2 members"):
        Explainer(ensemble, member=2)


def test_member_scores_are_each_networks_answer_and_average_to_the_ensembles():
    from fer.model.ensemble import member_models, member_scores

    a, b = build_model("tiny-cnn"), build_model("tiny-cnn")
    ensemble = build_ensemble([a, b])
    assert member_models(ensemble) == [a, b] and member_models(a) == []
    x = faces(3)
    each = member_scores(ensemble, x)
    assert each.shape == (2, 3, 7)
    np.testing.assert_allclose(each[1], b.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(each.mean(axis=0), ensemble.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ValueError, match="not an ensemble"):
        member_scores(a, x)


def onehot(classes: list[int]) -> np.ndarray:
    return np.eye(7)[classes]


def soft(label: int, p: float, wrong: int | None = None, q: float = 0.0) -> np.ndarray:
    """Probabilities: `p` on `label`, `q` on the class `wrong`, the rest spread over the other classes."""
    out = np.zeros(7)
    out[label] = p
    if wrong is not None:
        out[wrong] = q
    rest = [k for k in range(7) if out[k] == 0]
    out[rest] = (1 - p - q) / len(rest)
    return out


def test_every_subset_is_scored_and_the_best_comes_first():
    from fer.model.ensemble import Choice, subset_accuracies

    y = np.array([0, 1, 2, 3])
    # on each of the first three faces one model is confidently wrong and the other two only lean to the truth:
    # each alone 3 of 4, each pair 2 of 4 (the confident mistake outweighs one leaning answer), all three 4 of 4.
    # A greedy choice would stop at the first member; the subsets find the three.
    scores = {"a": np.stack([soft(0, 0.35), soft(1, 0.35), soft(2, 0.2, 4, 0.7), soft(3, 0.9)]),
              "b": np.stack([soft(0, 0.2, 6, 0.7), soft(1, 0.4), soft(2, 0.35), soft(3, 0.9)]),
              "c": np.stack([soft(0, 0.4), soft(1, 0.2, 5, 0.7), soft(2, 0.4), soft(3, 0.9)])}
    ranked = subset_accuracies(scores, y)
    assert len(ranked) == 7  # 2^3 - 1 subsets
    assert ranked[0] == Choice(("a", "b", "c"), 1.0)
    assert [c.accuracy for c in ranked] == sorted((c.accuracy for c in ranked), reverse=True)
    assert ranked[1:4] == [Choice(("a",), 0.75), Choice(("b",), 0.75), Choice(("c",), 0.75)]  # fewer first
    assert {c.accuracy for c in ranked if len(c.members) == 2} == {0.5}
    # at most two members: the best is then one alone, the first given
    assert subset_accuracies(scores, y, max_members=2)[0] == Choice(("a",), 0.75)
    # a copy of "a" adds nothing: the tie goes to the single member
    assert subset_accuracies({"a": scores["a"], "a2": scores["a"].copy()}, y)[0] == Choice(("a",), 0.75)
    assert subset_accuracies({}, y) == []


def test_a_disagreement_counts_who_is_right_where_two_differ_and_how_sure_each_was():
    from fer.model.ensemble import Disagreement, disagreement

    y = np.array([0, 1, 2, 3])
    # they agree on the last face; on the first the surer one (a) is right, on the second the surer one (b) is
    # wrong, on the third both are wrong
    a = np.stack([soft(0, 0.9), soft(4, 0.5), soft(5, 0.5), soft(3, 0.9)])
    b = np.stack([soft(6, 0.4), soft(5, 0.8), soft(4, 0.5), soft(3, 0.9)])
    d = disagreement(a, b, y)
    assert (d.faces, d.first_right, d.second_right, d.average_right) == (3, 1, 0, 1)
    assert d.first_confidence == pytest.approx((0.9, 0.5)) and np.isnan(d.second_confidence[0])
    assert d.second_confidence[1] == pytest.approx((0.4 + 0.8 + 0.5) / 3)
    same = disagreement(a, a.copy(), y)
    assert same == Disagreement(0, 0, 0, 0, same.first_confidence, same.second_confidence) and same.faces == 0


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
    assert out["chosen"]["accuracy"] >= max(out["alone"].values())  # one member alone is a subset too
    assert {k: out["chosen"][k] for k in ("members", "accuracy")} == out["subsets"][0] and len(out["subsets"]) == 3
    # the other goal (Fear and Disgust recall), per class, of the chosen average on the same images
    from fer.labels import LABELS

    recall = out["chosen"]["recall"]
    assert list(recall) == list(LABELS) and all(0.0 <= r <= 1.0 for r in recall.values())
    right = sum(recall[k] * 2 for k in LABELS)  # write_folder: two PublicTest images per class
    assert right == pytest.approx(out["chosen"]["accuracy"] * out["n"])
    assert out["views"] == {"tta_flip": True, "zoom": 1.05, "shift": 4}  # the shipped card's views


def test_the_choice_script_keeps_each_candidates_scores_in_its_cache(tmp_path, capsys, monkeypatch):
    from scripts.choose_ensemble import main as choose

    data = write_folder(tmp_path / "data", n_per_class=2)
    model = build_model("tiny-cnn")
    save_model(model, tmp_path / "one.keras", ModelCard(arch="tiny-cnn", params=int(model.count_params())))
    argv = [str(tmp_path / "one.keras"), "--data", str(data), "--cache", str(tmp_path / "cache"), "--json"]
    assert choose(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    import fer.model.evaluation

    def refuse(*args, **kwargs):
        raise AssertionError("scored again although its scores were kept")

    monkeypatch.setattr(fer.model.evaluation, "predict_scores", refuse)
    assert choose(argv) == 0
    assert json.loads(capsys.readouterr().out)["alone"] == first["alone"]
    # other views are other scores: not taken from the cache
    with pytest.raises(AssertionError, match="scored again"):
        choose(argv + ["--views", str(tmp_path / "one.keras")])


def test_an_ensembles_curves_are_its_members_histories(tmp_path):
    from fer.jobs.export import write_report
    from fer.jobs.results import member_histories

    rows = ({"epoch": 1.0, "loss": 1.5, "val_loss": 1.4, "accuracy": 0.4, "val_accuracy": 0.45},
            {"epoch": 2.0, "loss": 1.2, "val_loss": 1.3, "accuracy": 0.5, "val_accuracy": 0.5})
    run = tmp_path / "runs" / "first"
    run.mkdir(parents=True)
    (run / "history.csv").write_text("epoch,loss,val_loss\n1,1.5,1.4\n2,1.2,1.3\n3,1.1,1.25\n")
    model = build_model("tiny-cnn")
    card = ModelCard(arch="tiny-cnn", params=int(model.count_params()))
    save_model(model, tmp_path / "models" / "second.keras", card)
    write_report(model, card, tmp_path / "models" / "second.keras", rows, reports={})
    save_model(model, tmp_path / "models" / "bare.keras", card)  # no report: no curves to show
    members = ("runs/first", "models/second.keras", "models/bare.keras", "models/gone.keras")
    found = member_histories(members, tmp_path)
    assert [name for name, _ in found] == ["first", "second"]
    assert [r["val_loss"] for r in found[0][1]] == [1.4, 1.3, 1.25]
    assert found[1][1] == rows
    assert member_histories((str(run),), tmp_path / "elsewhere")[0][0] == "first"  # an absolute path as written


def test_an_ensembles_epochs_are_its_members_epochs_from_their_cards(tmp_path):
    from fer.jobs.results import member_epochs

    model = build_model("tiny-cnn")
    for name, epochs in (("a", 30), ("b", 34)):
        card = ModelCard(arch="tiny-cnn", params=1, epochs_trained=epochs)
        save_model(model, tmp_path / "models" / f"{name}.keras", card)
    run = tmp_path / "runs" / "c"
    save_model(model, run / "model.keras", ModelCard(arch="tiny-cnn", params=1, epochs_trained=12))  # a run's card
    assert member_epochs(("models/a.keras", "models/b.keras"), tmp_path) == (30, 34)
    assert member_epochs(("models/b.keras", "runs/c", str(tmp_path / "models/a.keras")), tmp_path) == (34, 12, 30)
    assert member_epochs(("models/a.keras", "models/gone.keras"), tmp_path) is None
    (tmp_path / "models" / "b.json").unlink()  # the model is there, its card is not
    assert member_epochs(("models/b.keras",), tmp_path) is None


def test_the_choice_script_scores_averages_as_they_would_ship_with_recall_floors(tmp_path, capsys):
    from scripts.choose_ensemble import floored
    from scripts.choose_ensemble import main as choose

    # Fear (class 2) is never the top answer: the floor needs an offset, which costs another class its faces
    labels = np.array([2, 2, 4, 4])
    average = np.full((4, 7), 0.05)
    average[:, 4] = 0.5
    average[:, 2] = [0.3, 0.2, 0.1, 0.35]
    average /= average.sum(axis=1, keepdims=True)
    probs, offsets = floored(average, labels, {"fear": 0.5})
    assert offsets[2] > 0 and all(o == 0 for i, o in enumerate(offsets) if i != 2)
    assert probs.sum(axis=1) == pytest.approx(1.0) and (probs.argmax(axis=1) == 2).sum() >= 1
    assert floored(average, labels, {"sad": 0.5}) == (average, ())  # met already: nothing added
    data = write_folder(tmp_path / "data", n_per_class=2)
    for name in ("one", "two"):
        model = build_model("tiny-cnn")
        save_model(model, tmp_path / f"{name}.keras", ModelCard(arch="tiny-cnn", params=int(model.count_params())))
    argv = [str(tmp_path / "one.keras"), str(tmp_path / "two.keras"), "--data", str(data), "--json",
            "--recall-floor", "fear=0.5"]  # untrained networks: one floor, which an offset on Fear always reaches
    assert choose(argv) == 0
    out = json.loads(capsys.readouterr().out)
    shipped = out["with_floors"]["subsets"]
    assert out["with_floors"] == {"floors": {"fear": 0.5}, "subsets": shipped, "unreachable": []}
    assert len(shipped) == 3 and all(s["recall"]["fear"] >= 0.5 for s in shipped)
    assert [s["accuracy"] for s in shipped] == sorted((s["accuracy"] for s in shipped), reverse=True)
    assert out["chosen"]["members"] == shipped[0]["members"]  # chosen as it would ship
