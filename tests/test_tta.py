"""Test-time flip averaging and zoom follow the model card unless the caller says otherwise."""

import json

import cv2
import numpy as np
import pytest

from fer.inference import Classifier
from fer.modelio import ModelCard, load_card, save_model
from fer.models import build_model


def _save(tmp_path, tta: bool, zoom: float = 1.0):
    model = build_model("tiny-cnn")
    path = tmp_path / f"m-{tta}-{zoom}.keras"
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), tta_flip=tta, zoom=zoom))
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


def test_single_view_drops_only_the_mirror_image(tmp_path):
    model = build_model("tiny-cnn")
    path = tmp_path / "m.keras"
    shift = (0.5, 0.0, 1.0, -0.5, 0.25, 0.0, -1.0)
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), tta_flip=True, zoom=1.1,
                                      prior_correction=shift))
    clf = Classifier.from_file(path)
    one = clf.single_view()
    assert (one.tta_flip, one.zoom, one.prior_correction) == (False, 1.1, shift) and one.model is clf.model
    faces = np.random.default_rng(1).integers(0, 255, (3, 48, 48)).astype(np.uint8)
    faces[:, :, :24] = 0
    want = Classifier(model, zoom=1.1, prior_correction=shift).scores(faces)
    np.testing.assert_allclose(one.scores(faces), want, atol=1e-6)
    assert not np.allclose(clf.scores(faces), want, atol=1e-5)  # the card's classifier still averages
    assert one.single_view() is one


def test_card_without_tta_flip_keeps_single_predictions(tmp_path):
    _, path = _save(tmp_path, False)
    assert not Classifier.from_file(path).tta_flip
    assert Classifier.from_file(path, tta_flip=True).tta_flip


def test_card_with_zoom_makes_the_classifier_score_the_enlarged_centre_of_each_face(tmp_path):
    model, path = _save(tmp_path, False, zoom=1.1)
    assert load_card(path).zoom == 1.1
    clf = Classifier.from_file(path)
    assert clf.zoom == 1.1
    faces = np.random.default_rng(1).integers(0, 255, (3, 48, 48)).astype(np.float32)
    enlarged = np.stack([cv2.resize(f, (53, 53), interpolation=cv2.INTER_LINEAR)[2:50, 2:50] for f in faces])
    want = np.asarray(model(enlarged[..., None], training=False))
    assert not np.allclose(want, np.asarray(model(faces[..., None], training=False)), atol=1e-4)
    np.testing.assert_allclose(clf.scores(faces), want, atol=1e-4)
    np.testing.assert_allclose(clf.network_input(faces), enlarged, atol=1e-2)  # what the page explains
    assert Classifier.from_file(path, zoom=1.0).zoom == 1.0  # the caller overrides the card
    plain = Classifier.from_file(_save(tmp_path, False)[1])
    assert plain.zoom == 1.0  # cards without zoom: as cropped
    np.testing.assert_array_equal(plain.network_input(faces), faces)


@pytest.mark.parametrize("zoom", [0.9, 1.6])
def test_a_zoom_out_of_range_is_refused(tmp_path, zoom):
    with pytest.raises(ValueError, match="zoom must be between 1.0 and 1.5"):
        Classifier(build_model("tiny-cnn"), zoom=zoom)


def test_a_card_asking_for_an_impossible_zoom_is_unreadable_and_the_face_is_used_as_cropped(tmp_path):
    _, path = _save(tmp_path, False, zoom=1.05)
    card = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**card, "zoom": 3}))
    assert load_card(path) is None  # logged as an unreadable card, not a crash of the page
    assert Classifier.from_file(path).zoom == 1.0
