"""The prior correction: computed from the training labels and soft targets, stored in the model card,
applied by the classifier, written by training and export, ignored by `evaluate --no-prior-correction`; and the
recall floors export and training add to it (`fer export --recall-floor`, TrainConfig.recall_floors)."""

import json
import math

import numpy as np
import pytest

from fer.cli.main import main
from fer.config import TrainConfig
from fer.jobs.export import export_model
from fer.labels import LABELS
from fer.model.architectures import build_model
from fer.model.inference import Classifier
from fer.model.modelio import ModelCard, load_card, save_model
from fer.model.priors import apply_correction, check_prior_correction, prior_correction, recall_offsets
from fer.train.pipeline import FERPLUS_COLUMNS
from tests.helpers import write_folder

SHIFT = (0.5, 0.0, 1.0, -0.5, 0.25, 0.0, -1.0)


def test_one_hot_targets_need_no_correction():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 6])
    assert prior_correction(labels, np.eye(7)[labels]) == ()


def test_the_correction_is_the_log_ratio_of_label_shares_to_target_shares():
    labels = np.array([0, 0, 2, 6])  # shares: angry 1/2, fear 1/4, neutral 1/4
    targets = np.eye(7)[labels]
    targets[0] = [0.5, 0, 0, 0, 0, 0, 0.5]  # one angry face half neutral by its votes
    # target shares: angry 3/8, fear 1/4, neutral 3/8; classes absent from both sides stay 0
    want = [math.log((1 / 2) / (3 / 8)), 0, 0, 0, 0, 0, math.log((1 / 4) / (3 / 8))]
    assert prior_correction(labels, targets) == pytest.approx(want, abs=1e-4)


def test_a_class_absent_from_the_labels_keeps_zero():
    labels = np.array([0, 0])
    targets = np.array([[0.5, 0, 0, 0, 0, 0, 0.5], [1, 0, 0, 0, 0, 0, 0]])
    got = prior_correction(labels, targets)
    assert got[6] == 0 and got[0] == pytest.approx(math.log(1 / 0.75), abs=1e-4)


@pytest.mark.parametrize("bad", [(0.1, 0.2), (0.0,) * 6 + (float("nan"),), (0.0,) * 8, (1e300,) * 7,
                                 (0.0,) * 6 + (51.0,), (0.0,) * 6 + ("1",), (0.0,) * 6 + (True,)])
def test_a_correction_must_be_seven_finite_numbers(bad):
    with pytest.raises(ValueError, match="7 finite numbers"):
        check_prior_correction(bad)
    with pytest.raises(ValueError, match="7 finite numbers"):
        Classifier(build_model("tiny-cnn"), prior_correction=bad)


def test_the_classifier_adds_the_correction_to_the_log_probabilities():
    model = build_model("tiny-cnn")
    faces = np.random.default_rng(0).integers(0, 255, (5, 48, 48)).astype(np.uint8)
    plain = Classifier(model).scores(faces)
    fixed = Classifier(model, prior_correction=SHIFT).scores(faces)
    want = np.exp(np.log(plain) + SHIFT)
    np.testing.assert_allclose(fixed, want / want.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fixed.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(apply_correction(plain, SHIFT), fixed, rtol=1e-4, atol=1e-6)  # the same in numpy
    assert apply_correction(plain, ()).tolist() == plain.tolist()
    everything_fear = Classifier(model, prior_correction=(0, 0, 30, 0, 0, 0, 0)).scores(faces)
    assert (everything_fear.argmax(axis=1) == LABELS.index("fear")).all()


def test_the_card_carries_the_correction_and_the_classifier_follows_it(tmp_path):
    model = build_model("tiny-cnn")
    path = tmp_path / "m.keras"
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), prior_correction=SHIFT))
    assert json.loads(path.with_suffix(".json").read_text())["prior_correction"] == list(SHIFT)
    assert load_card(path).prior_correction == SHIFT
    assert Classifier.from_file(path).prior_correction == SHIFT
    assert Classifier.from_file(path, prior_correction=()).prior_correction == ()  # the caller overrides


def test_a_card_with_a_malformed_correction_is_unreadable_and_nothing_is_corrected(tmp_path):
    model = build_model("tiny-cnn")
    path = tmp_path / "m.keras"
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), prior_correction=SHIFT))
    card = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**card, "prior_correction": [1, 2]}))
    assert load_card(path) is None
    assert Classifier.from_file(path).prior_correction == ()


def _shy_scores(rng, n=700):
    """Labels and probabilities of a model that knows every class but calls Disgust (1) and Fear (2) too rarely:
    their true class gets a smaller score than on the others."""
    labels = rng.integers(0, 7, n)
    logits = rng.normal(0.0, 1.0, (n, 7))
    logits[np.arange(n), labels] += np.where(np.isin(labels, (1, 2)), 0.6, 2.0)
    p = np.exp(logits)
    return labels, p / p.sum(axis=1, keepdims=True)


def _recall(p, labels, offsets, c):
    pred = (np.log(p) + offsets).argmax(axis=1)
    return float(np.mean(pred[labels == c] == c)), float(np.mean(pred == labels))


def test_recall_offsets_lift_the_shy_classes_to_their_floors_and_leave_the_others():
    labels, p = _shy_scores(np.random.default_rng(1))
    before = [_recall(p, labels, np.zeros(7), c)[0] for c in (1, 2)]
    assert max(before) < 0.45
    offsets = recall_offsets(p, labels, {1: 0.45, 2: 0.45})
    assert len(offsets) == 7 and offsets[1] > 0 and offsets[2] > 0
    assert [offsets[c] for c in (0, 3, 4, 5, 6)] == [0.0] * 5
    for c in (1, 2):
        assert _recall(p, labels, offsets, c)[0] >= 0.45
    # the most accurate of the offsets that reach both floors: every other step of the grid that reaches them
    # is no more accurate
    acc = _recall(p, labels, offsets, 1)[1]
    for a in np.arange(0, 3.01, 0.1):
        for b in np.arange(0, 3.01, 0.1):
            other = np.zeros(7)
            other[1], other[2] = a, b
            if all(_recall(p, labels, other, c)[0] >= 0.45 for c in (1, 2)):
                assert _recall(p, labels, other, 1)[1] <= acc + 1e-12


def test_a_floor_already_reached_needs_no_offset():
    labels, p = _shy_scores(np.random.default_rng(2))
    assert recall_offsets(p, labels, {LABELS.index("happy"): 0.5}) == ()  # met already: nothing to add


@pytest.mark.parametrize("floors, why", [({1: 1.0, 2: 1.0}, "no offsets up to 3"), ({}, "one to three classes"),
                                         ({0: 0.5, 1: 0.5, 2: 0.5, 3: 0.5}, "one to three classes"),
                                         ({7: 0.5}, "one of 7 classes"), ({1: 0.0}, "a share in (0, 1]"),
                                         ({5: 0.5}, "no image of that class")])
def test_recall_floors_that_cannot_be_met_or_make_no_sense_are_refused(floors, why):
    labels = np.array([1, 2, 0, 0])  # the first two look the same: both cannot be recalled
    p = np.array([[0.2, 0.4, 0.4, 0, 0, 0, 0], [0.2, 0.4, 0.4, 0, 0, 0, 0],
                  [0.8, 0.1, 0.1, 0, 0, 0, 0], [0.8, 0.1, 0.1, 0, 0, 0, 0]]) + 1e-3
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        recall_offsets(p, labels, floors)


def test_the_card_keeps_its_class_offsets(tmp_path):
    model = build_model("tiny-cnn")
    path = tmp_path / "m.keras"
    offsets = (0.0, 1.0, 0.4, 0.0, 0.0, 0.0, 0.0)
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), prior_correction=offsets,
                                      class_offsets=offsets))
    assert load_card(path).class_offsets == offsets
    card = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**card, "class_offsets": [1e300] * 7}))
    assert load_card(path) is None
    with pytest.raises(ValueError, match="class_offsets is 7 finite numbers"):
        ModelCard(arch="tiny-cnn", params=1, class_offsets=(1.0, 2.0))


def _with_votes(root):
    """A synthetic dataset folder whose FER+ votes (beside it, as for the zip) call every training face half neutral."""
    data = write_folder(root / "data", n_per_class=6)
    rows = []
    for p in sorted((data / "train").rglob("*.png")):
        votes = dict.fromkeys(FERPLUS_COLUMNS, 0)
        votes[FERPLUS_COLUMNS[LABELS.index(p.parent.name)]] += 5
        votes["neutral"] += 5
        rows.append({"file": p.relative_to(data).as_posix(), **votes})
    cols = ["file", *FERPLUS_COLUMNS]
    lines = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]
    (root / "ferplus_votes.csv").write_text("\n".join(lines) + "\n")
    return data


@pytest.mark.slow
def test_training_with_soft_labels_writes_the_correction_and_scores_with_it(tmp_path, capsys):
    from fer.train.trainer import train

    data = _with_votes(tmp_path)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=1, batch_size=8,
                      augment=False, soft_labels=1.0)
    card = train(cfg, tmp_path / "run").card
    # 6 faces per class; their targets are half their class, half neutral
    shares = np.full(7, 1 / 14)
    shares[LABELS.index("neutral")] = 1 / 14 + 1 / 2
    want = np.log(1 / 7) - np.log(shares)
    assert card.prior_correction == pytest.approx(tuple(want), abs=1e-4)

    model = tmp_path / "run" / "model.keras"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--split", "PrivateTest", "--json"]) == 0
    corrected = json.loads(capsys.readouterr().out)
    assert corrected["accuracy"] == pytest.approx(card.metrics["test"]["accuracy"], abs=1e-4)
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--split", "PrivateTest", "--json",
                 "--no-prior-correction"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["loss"] != pytest.approx(corrected["loss"], abs=1e-6)

    dropped = export_model(tmp_path / "run", tmp_path / "plain.keras", prior_correction=False)
    assert dropped.prior_correction == ()
    assert dropped.metrics["test"]["accuracy"] == pytest.approx(plain["accuracy"], abs=1e-4)
    assert main(["export", str(tmp_path / "plain.keras"), str(tmp_path / "again.keras"), "--prior-correction"]) == 0
    assert json.loads(capsys.readouterr().out)["prior_correction"] == pytest.approx(list(want), abs=1e-4)

    # Recall floors: offsets chosen on the validation split (PublicTest), added into the correction, stored in the
    # card, and the card's validation recall reaches the floor; a recomputed correction drops them again.
    floored = tmp_path / "floored.keras"
    assert main(["export", str(tmp_path / "run"), str(floored), "--recall-floor", "disgust=1"]) == 0
    out = json.loads(capsys.readouterr().out)
    offsets = out["class_offsets"]
    assert len(offsets) == 7 and offsets[LABELS.index("disgust")] > 0
    assert [v for i, v in enumerate(offsets) if i != LABELS.index("disgust")] == [0.0] * 6
    assert out["prior_correction"] == pytest.approx(list(np.add(card.prior_correction, offsets)), abs=1e-3)
    assert out["metrics"]["validation"]["recall"]["disgust"] == 1.0
    assert load_card(floored).class_offsets == tuple(offsets)
    assert main(["export", str(floored), str(tmp_path / "unfloored.keras"), "--prior-correction"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["class_offsets"] == [] and out["prior_correction"] == pytest.approx(list(want), abs=1e-4)
    with pytest.raises(SystemExit) as exc:
        main(["export", str(floored), str(tmp_path / "bad.keras"), "--recall-floor", "joy=0.5"])
    assert exc.value.code == 2
    assert "EMOTION one of angry" in capsys.readouterr().err


@pytest.mark.slow
def test_training_without_soft_labels_writes_no_correction(tmp_path):
    from fer.train.trainer import train

    data = _with_votes(tmp_path)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=1, batch_size=8, augment=False)
    assert train(cfg, tmp_path / "run").card.prior_correction == ()


@pytest.mark.slow
def test_a_run_with_recall_floors_stores_its_offsets_and_is_scored_with_them(tmp_path, capsys):
    """TrainConfig.recall_floors: the offsets chosen on the validation split once trained are the run's whole
    correction (plain labels have none), its card says so and scores with them, and `fer evaluate` agrees."""
    from fer.train.trainer import train

    data = write_folder(tmp_path / "data", n_per_class=6)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=1, batch_size=8, augment=False,
                      recall_floors={"disgust": 1.0})
    card = train(cfg, tmp_path / "run").card
    disgust = LABELS.index("disgust")
    assert card.class_offsets[disgust] > 0 and card.lifted == ("disgust",)
    assert card.prior_correction == card.class_offsets
    assert card.metrics["validation"]["recall"]["disgust"] == 1.0
    assert load_card(tmp_path / "run" / "model.keras").config["recall_floors"] == {"disgust": 1.0}
    model = tmp_path / "run" / "model.keras"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--split", "PrivateTest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(card.metrics["test"]["accuracy"],
                                                                           abs=1e-4)


def test_floors_a_run_cannot_meet_leave_it_as_trained_and_say_why():
    """A run is never failed at its end for its floors: no validation images, or no offsets that reach them."""
    from fer.train.trainer import floored_offsets

    assert floored_offsets(None, np.array([], int), {"fear": 0.5}) == (
        (), "recall floors not applied: no validation images to choose the offsets on")
    same = np.full((2, 7), 1 / 7)  # two faces the model cannot tell apart, of two different emotions
    offsets, why = floored_offsets(same, np.array([LABELS.index("fear"), LABELS.index("sad")]),
                                   {"fear": 1.0, "sad": 1.0})
    assert offsets == () and why.startswith("recall floors not applied: no offsets up to 3")
    met = np.eye(7)[[2, 4]]
    assert floored_offsets(met, np.array([2, 4]), {"fear": 1.0}) == ((), "")  # already met: nothing to add
    offsets, why = floored_offsets(np.array([[0.1, 0, 0.5, 0, 0.4, 0, 0]]), np.array([4]), {"sad": 1.0})
    assert why == "" and offsets[LABELS.index("sad")] > 0


@pytest.mark.parametrize(("floors", "split", "kind"), [
    ({"joy": 0.5}, "stratified", "unknown"),
    ({"fear": 0.0}, "stratified", "share"),
    ({"fear": 1.5}, "stratified", "share"),
    ({"fear": True}, "stratified", "share"),
    ({k: 0.3 for k in LABELS[:4]}, "stratified", "many"),
    ({"fear": 0.45}, "per-class", "no_validation"),
])
def test_recall_floors_a_config_cannot_use_are_refused_with_their_reason(floors, split, kind):
    [problem] = TrainConfig(recall_floors=floors, split=split).validate()
    assert (problem.field, problem.kind) == ("recall_floors", kind)
    assert TrainConfig(recall_floors={"fear": 0.45, "disgust": 1.0}).validate() == []
    assert TrainConfig(split="per-class").validate() == []


def test_fer_train_takes_recall_floors_as_fer_export_does(capsys):
    from fer.cli.flags import config_from_args, given_fields
    from fer.cli.main import build_parser

    def config(*argv):
        argv = ["train", "--out", "x", *argv]
        args = build_parser().parse_args(argv)
        args.given = given_fields(argv)
        return config_from_args(args)

    assert config().recall_floors == {}
    assert config("--recall-floor", "fear=0.45", "--recall-floor", "Disgust=0.5").recall_floors == {
        "fear": 0.45, "disgust": 0.5}
    assert config("--preset", "one-stage").recall_floors == {}
    assert config("--preset", "one-stage", "--recall-floor", "fear=0.45").recall_floors == {"fear": 0.45}
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--out", "x", "--recall-floor", "fear=2"])
    assert exc.value.code == 2 and "--recall-floor" in capsys.readouterr().err


@pytest.mark.parametrize("card", [{"arch": "tiny-cnn", "params": 1, "prior_correction": [1e300] * 7},
                                  [1, 2], {"arch": "tiny-cnn", "params": 1, "zoom": "big"},
                                  {"arch": "tiny-cnn", "params": 1, "metrics": {"test": "nope"}},
                                  {"arch": "tiny-cnn", "params": 1, "config": {"epochs": "ten"}}, "null"])
def test_a_hostile_model_card_is_ignored_with_a_reason(tmp_path, tiny_model_path, card, caplog):
    """Issue 30 (10): 1e300 x 7 passed the finiteness check in float64 and was inf in float32 (scores NaN,
    "Angry (nan%)"); a card that is a JSON list crashed predict. Such a card is unreadable, as a malformed
    correction is (above): the model predicts without it, finite scores."""
    import json
    import shutil

    from fer.model.modelio import load_card

    model = tmp_path / "m.keras"
    shutil.copyfile(tiny_model_path, model)
    (tmp_path / "m.json").write_text(card if isinstance(card, str) else json.dumps(card))
    assert load_card(model) is None
    assert "unreadable model card" in caplog.text
    clf = Classifier.from_file(model)
    scores = clf.scores(np.zeros((1, 48, 48), np.uint8))
    assert clf.prior_correction == () and np.isfinite(scores).all()


def test_predict_runs_a_model_whose_card_is_a_list(tmp_path, tiny_model_path):
    import shutil

    from tests.helpers import PHOTOS, run_fer

    model = tmp_path / "m.keras"
    shutil.copyfile(tiny_model_path, model)
    (tmp_path / "m.json").write_text("[1, 2]")
    r = run_fer("predict", str(PHOTOS / "obama.jpg"), "--model", str(model))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "expected a JSON object, found list [1, 2]" in r.stderr and "face 1" in r.stdout


def test_a_cards_learned_correction_is_its_prior_correction_without_the_floors_offsets():
    from fer.model.modelio import ModelCard

    votes = (0.21, -0.07, 0.47, -0.02, 0.06, -0.05, -0.37)
    offsets = (0.0, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0)
    both = tuple(round(v + o, 4) for v, o in zip(votes, offsets, strict=True))
    assert ModelCard(arch="fer-net", params=1, prior_correction=both, class_offsets=offsets).learned_correction == votes
    assert ModelCard(arch="fer-net", params=1, prior_correction=votes).learned_correction == votes
    plain = ModelCard(arch="fer-net", params=1, prior_correction=offsets, class_offsets=offsets)  # labels + floors
    assert not any(plain.learned_correction)
    assert ModelCard(arch="fer-net", params=1).learned_correction == ()
