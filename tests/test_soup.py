"""Model soups: networks of one start averaged weight by weight (fer.model.soup, fer.jobs.soup, `fer soup`)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from fer.cli.main import main as cli
from fer.config import TrainConfig
from fer.jobs.soup import export_soup
from fer.model.architectures import build_model
from fer.model.modelio import ModelCard, load_card, load_model, save_model
from fer.model.soup import SoupError, SoupStep, average_corrections, average_weights, greedy_soup
from tests.helpers import write_folder


def test_weights_average_array_by_array_and_other_shapes_are_refused():
    a, b = build_model("tiny-cnn"), build_model("tiny-cnn")
    mean = average_weights([a.get_weights(), b.get_weights()])
    for got, wa, wb in zip(mean, a.get_weights(), b.get_weights(), strict=True):
        assert got.dtype == wa.dtype
        np.testing.assert_allclose(got, (wa.astype(np.float64) + wb) / 2, rtol=1e-6, atol=1e-7)
    assert not np.allclose(mean[0], a.get_weights()[0])  # two random starts: the mean is neither
    with pytest.raises(SoupError, match="one architecture"):
        average_weights([a.get_weights(), build_model("mini-xception").get_weights()])
    with pytest.raises(SoupError):
        average_weights([])


def test_corrections_average_with_a_missing_one_counted_as_zeros():
    assert average_corrections([(), ()]) == ()
    assert average_corrections([(0.2,) * 7, ()]) == (0.1,) * 7
    assert average_corrections([(0.2, 0, 0, 0, 0, 0, -0.4), (0.4, 0, 0, 0, 0, 0, 0)])[::6] == (0.3, -0.2)


def test_the_greedy_soup_starts_from_the_best_and_keeps_only_what_raises_its_score():
    alone = {"a": 0.60, "b": 0.70, "c": 0.65, "d": 0.65}
    together = {("b", "c"): 0.72, ("b", "c", "d"): 0.71}
    asked = []

    def score(members):
        asked.append(members)
        return alone[members[0]] if len(members) == 1 else together.get(members, 0.0)

    choice = greedy_soup(["a", "b", "c", "d"], score)
    assert choice.members == ("b", "c") and choice.score == 0.72
    # each alone once, then the soups in the order of the singles' scores (ties in the order given)
    assert asked == [("a",), ("b",), ("c",), ("d",), ("b", "c"), ("b", "c", "d"), ("b", "c", "a")]
    assert choice.steps[4:] == (SoupStep(("b", "c"), 0.72, True), SoupStep(("b", "c", "d"), 0.71, False),
                                SoupStep(("b", "c", "a"), 0.0, False))
    assert [s.kept for s in choice.steps[:4]] == [False, True, False, False]  # the start
    # an equal score is no gain: the soup stays as small as it can be
    assert greedy_soup(["x", "y"], lambda m: 0.5).members == ("x",)
    with pytest.raises(SoupError):
        greedy_soup([], score)


def _member(tmp_path, name, data, arch="tiny-cnn", seed=0, correction=(), like=None):
    keras.utils.set_random_seed(seed)
    model = build_model(arch)
    if like is not None:  # a "warm restart" of `like`: its weights moved a little
        rng = np.random.default_rng(seed)
        model.set_weights([w + rng.normal(0, 0.02, w.shape).astype(w.dtype) if w.ndim > 1 else w
                           for w in like.get_weights()])
    cfg = TrainConfig(data=str(data), split="official", arch=arch, augment=False)
    path = tmp_path / f"{name}.keras"
    save_model(model, path, ModelCard(arch=arch, params=int(model.count_params()), config=cfg.to_dict(),
                                      split="official", prior_correction=tuple(correction), train_seconds=5.0))
    return str(path), model


@pytest.mark.slow
def test_a_soup_is_one_network_of_averaged_weights_with_batchnorm_measured_again(tmp_path, capsys):
    data = write_folder(tmp_path / "ds", n_per_class=2)
    a_path, a = _member(tmp_path, "a", data, seed=1, correction=(0.2,) * 7)
    b_path, b = _member(tmp_path, "b", data, seed=2, like=a)
    card, choice = export_soup([a_path, b_path], tmp_path / "soup.keras", zoom=1.05)
    assert card.soup == (a_path, b_path) == choice.members and card.members == ()
    assert card.prior_correction == (0.1,) * 7 and card.zoom == 1.05 and not card.tta_flip
    assert card.params == a.count_params() and card.train_seconds == 10.0 and card.metrics["test"]["n"] == 14
    assert load_card(tmp_path / "soup.keras") == card
    assert set(json.loads((tmp_path / "soup.report.json").read_text())["reports"]) == {"validation", "test"}
    soup = load_model(tmp_path / "soup.keras")
    names = [v.path for v in soup.weights]
    mean = average_weights([a.get_weights(), b.get_weights()])
    for name, got, want in zip(names, soup.get_weights(), mean, strict=True):
        if "moving_" in name:  # measured again on the training images, not averaged
            assert not np.allclose(got, want), name
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_the_command_chooses_greedily_and_refuses_what_cannot_average(tmp_path, capsys):
    data = write_folder(tmp_path / "ds", n_per_class=2)
    a_path, a = _member(tmp_path, "a", data, seed=1)
    b_path, _ = _member(tmp_path, "b", data, seed=2, like=a)
    assert cli(["soup", str(tmp_path / "g.keras"), a_path, b_path, "--greedy"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["members"] for s in out["steps"]][:2] == [[a_path], [b_path]]
    assert out["soup"] == next(s["members"] for s in reversed(out["steps"]) if s["kept"])
    assert load_card(tmp_path / "g.keras").soup == tuple(out["soup"])
    other, _ = _member(tmp_path, "x", data, arch="mini-xception")
    assert cli(["soup", str(tmp_path / "bad.keras"), a_path, other]) == 2
    assert "one architecture" in capsys.readouterr().err
    assert cli(["ensemble", str(tmp_path / "ens.keras"), a_path, b_path]) == 0
    capsys.readouterr()
    assert cli(["soup", str(tmp_path / "bad.keras"), str(tmp_path / "ens.keras"), a_path]) == 2
    assert "an ensemble" in capsys.readouterr().err
