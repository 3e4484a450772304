"""Test-time flip averaging, zoom and shifted views follow the model card unless the caller says otherwise."""

import json

import cv2
import numpy as np
import pytest

from fer.model.architectures import build_model
from fer.model.inference import Classifier
from fer.model.modelio import ModelCard, load_card, save_model


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


def _moved_views(faces: np.ndarray, shift: int, side: int = 48) -> list[np.ndarray]:
    """The centre view and the four moved ones, built with cv2/numpy: enlarged to `side`, edges mirrored."""
    big = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_LINEAR) for f in faces]) if side != 48 \
        else faces
    padded = np.pad(big, ((0, 0), (shift, shift), (shift, shift)), mode="symmetric")
    o = (side - 48) // 2 + shift
    moves = [(0, 0), (-shift, 0), (shift, 0), (0, -shift), (0, shift)]
    return [padded[:, o + dy:o + dy + 48, o + dx:o + dx + 48] for dy, dx in moves]


@pytest.mark.parametrize(("tta", "zoom"), [(False, 1.0), (True, 1.1)])
def test_card_with_shift_averages_the_face_moved_up_down_left_and_right(tmp_path, tta, zoom):
    model = build_model("tiny-cnn")
    path = tmp_path / "m.keras"
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params()), tta_flip=tta, zoom=zoom,
                                      shift=3))
    assert load_card(path).shift == 3
    clf = Classifier.from_file(path)
    assert (clf.shift, clf.tta_flip, clf.zoom) == (3, tta, zoom)
    faces = np.random.default_rng(2).integers(0, 255, (4, 48, 48)).astype(np.float32)
    faces[:, :, :20] = 0
    views = _moved_views(faces, 3, side=round(48 * zoom))
    assert not np.allclose(views[1], views[2])  # the moves differ
    outs = [np.asarray(model(v[..., None], training=False)) for v in views]
    if tta:
        outs = [(o + np.asarray(model(v[:, :, ::-1, None], training=False))) / 2 for o, v in zip(outs, views,
                                                                                                   strict=True)]
    want = np.mean(outs, axis=0)
    assert not np.allclose(want, outs[0], atol=1e-4)  # the moved views change the answer
    np.testing.assert_allclose(clf.scores(faces), want, atol=1e-4)
    np.testing.assert_allclose(clf.network_input(faces), views[0], atol=1e-2)  # the page shows the centre view
    assert Classifier.from_file(path, shift=0).shift == 0  # the caller overrides the card
    one = clf.single_view()  # the webcam: one view, zoom kept
    assert (one.shift, one.tta_flip, one.zoom) == (0, False, zoom)
    np.testing.assert_allclose(one.scores(faces), np.asarray(model(views[0][..., None], training=False)), atol=1e-4)


def test_shift_zero_is_the_centre_view_alone_and_old_cards_have_it(tmp_path):
    model, path = _save(tmp_path, True, zoom=1.05)
    card = json.loads(path.with_suffix(".json").read_text())
    del card["shift"]  # a card written before shifted views existed
    path.with_suffix(".json").write_text(json.dumps(card))
    assert load_card(path).shift == 0
    faces = np.random.default_rng(3).integers(0, 255, (2, 48, 48)).astype(np.uint8)
    np.testing.assert_array_equal(Classifier.from_file(path).scores(faces),
                                  Classifier(model, tta_flip=True, zoom=1.05).scores(faces))


@pytest.mark.parametrize("shift", [-1, 9, 1.5, True])
def test_an_impossible_shift_is_refused(tmp_path, shift):
    with pytest.raises(ValueError, match="shift must be a whole number of pixels from 0 to 8"):
        Classifier(build_model("tiny-cnn"), shift=shift)
    with pytest.raises(ValueError, match="shift must be"):
        ModelCard(arch="tiny-cnn", params=1, shift=shift)
