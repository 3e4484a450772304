"""Test-time flip averaging follows the model card unless the caller says otherwise."""

import numpy as np

from fer.inference import Classifier
from fer.modelio import ModelCard, load_card, save_model
from fer.models import build_model


def _save(tmp_path, tta: bool):
    model = build_model("tiny-cnn")
    path = tmp_path / f"m-{tta}.keras"
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), tta_flip=tta))
    return model, path


def test_card_with_tta_flip_makes_the_classifier_average_the_mirror_image(tmp_path):
    model, path = _save(tmp_path, True)
    assert load_card(path).tta_flip is True
    clf = Classifier.from_file(path)
    assert clf.tta_flip
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (3, 48, 48)).astype(np.float32)
    faces[:, :, :24] = 0  # strongly asymmetric, so the mirror image scores differently
    x = faces[..., None]
    plain = np.asarray(model(x, training=False))
    mirrored = np.asarray(model(x[:, :, ::-1], training=False))
    assert not np.allclose(plain, mirrored, atol=1e-5)
    np.testing.assert_allclose(clf.scores(faces), (plain + mirrored) / 2, atol=1e-5)
    assert not Classifier.from_file(path, tta_flip=False).tta_flip  # the caller overrides the card


def test_card_without_tta_flip_keeps_single_predictions(tmp_path):
    _, path = _save(tmp_path, False)
    assert not Classifier.from_file(path).tta_flip
    assert Classifier.from_file(path, tta_flip=True).tta_flip
