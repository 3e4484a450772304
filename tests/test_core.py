"""Models, detection, preprocessing and batched inference on real photos."""

import cv2
import numpy as np
import pytest

from fer.config import ARCHS, TrainConfig
from fer.i18n import fmt_percent, languages, pick_language, t
from fer.labels import LABELS, display_name
from fer.model.architectures import ARCHITECTURES, build_model
from fer.model.inference import Classifier, predict_faces
from fer.model.modelio import ModelError, load_card, load_model
from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector, DetectorConfig
from fer.vision.preprocessing import ImageError, crop_face, decode_image, expand_box
from tests.helpers import PHOTOS


def test_labels_in_fer2013_order():
    assert LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert display_name("disgust", "pt") == "Nojo" and display_name("happy", "en") == "Happy"


def test_course_cnn_has_exactly_the_course_parameter_count():
    m = build_model("course-cnn")
    assert m.count_params() == 5_905_863
    assert m.input_shape == (None, 48, 48, 1) and m.output_shape == (None, 7)
    conv = [layer for layer in m.layers if type(layer).__name__ == "Conv2D"]
    assert len(conv) == 8 and conv[0].padding == "valid" and conv[0].kernel_regularizer is not None


def test_res_net_adds_each_block_input_back():
    """Six basic blocks (two per stage), each ending in an Add of its two convolutions and its shortcut; the
    first block of a stage widens its input through a 1x1 convolution, the second adds it unchanged."""
    import keras

    m = build_model("res-net")
    assert m.count_params() == 2_763_687
    adds = [layer for layer in m.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 6
    projections = [layer for layer in m.layers if isinstance(layer, keras.layers.Conv2D)
                   and layer.kernel_size == (1, 1)]
    assert [p.filters for p in projections] == [64, 128, 256]
    # the second block's shortcut is the first block's output itself: its sum after ReLU, unchanged
    x = np.random.default_rng(1).integers(0, 255, (1, 48, 48, 1)).astype("float32")
    shortcut = keras.Model(m.inputs, adds[1].input[1])(x)
    first_sum = keras.Model(m.inputs, adds[0].output)(x)
    assert shortcut.shape == (1, 24, 24, 64)
    np.testing.assert_array_equal(np.asarray(shortcut), np.maximum(np.asarray(first_sum), 0))


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_maps_faces_to_probabilities(name):
    m = build_model(name)
    out = m(np.random.default_rng(0).integers(0, 255, (2, 48, 48, 1)).astype("float32"), training=False)
    out = np.asarray(out)
    assert out.shape == (2, 7)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-4)


def test_a_config_names_exactly_the_architectures_that_can_be_built():
    assert set(ARCHS) == set(ARCHITECTURES)


def test_train_config_validation_gives_reasons():
    assert TrainConfig().validate() == []
    errs = TrainConfig(epochs=0, learning_rate=5.0, arch="nope").validate()
    assert [e.field for e in errs] == ["arch", "epochs", "learning_rate"]  # (field, message), not English to match
    assert "epochs" in str(errs[1]) and "learning rate" in errs[2].message and "architecture" in str(errs[0])
    cfg = TrainConfig(arch="tiny-cnn", l2=0.001)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_detector_finds_the_face_in_a_real_photo(face_photo):
    rgb = decode_image(face_photo.read_bytes())
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    boxes = Detector().detect(gray)
    assert len(boxes) == 1
    b = boxes[0]
    h, w = gray.shape
    assert 0 <= b.x < b.x + b.w <= w and 0 <= b.y < b.y + b.h <= h and b.w > 150


def test_detector_finds_two_faces_and_none_in_noise():
    rgb = decode_image((PHOTOS / "obama_and_biden.jpg").read_bytes())
    assert len(Detector().detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))) == 2
    noise = np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8)
    assert Detector(DetectorConfig(min_neighbors=8)).detect(noise) == []


def test_large_images_are_downscaled_for_detection_and_boxes_mapped_back():
    rgb = decode_image((PHOTOS / "obama-1080p.jpg").read_bytes())
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    full = Detector(DetectorConfig(max_side=4000)).detect(gray)
    small = Detector(DetectorConfig(max_side=640)).detect(gray)
    assert len(full) == len(small) == 1
    assert abs(full[0].x - small[0].x) < 0.1 * full[0].w and abs(full[0].w - small[0].w) < 0.15 * full[0].w


def test_a_config_says_what_its_run_learned_from():
    assert TrainConfig().labels_kind() == "plain"
    assert TrainConfig(soft_labels=0.5).labels_kind() == "mixed"
    assert TrainConfig(soft_labels=1.0).labels_kind() == "votes"
    assert TrainConfig(soft_labels=0.5, teacher="models/teacher.npz").labels_kind() == "teacher"


def test_detector_config_rejects_bad_values():
    with pytest.raises(ValueError, match="scaleFactor"):
        Detector(DetectorConfig(scale_factor=1.0))
    with pytest.raises(ValueError, match="cascade"):
        Detector(DetectorConfig(cascade="cat"))


def test_crop_with_margin_stays_inside_the_image():
    gray = np.arange(100 * 80, dtype=np.uint32).reshape(100, 80).astype(np.uint8)
    b = expand_box(FaceBox(60, 70, 30, 40), 0.5, 80, 100)
    assert b.x >= 0 and b.y >= 0 and b.x + b.w <= 80 and b.y + b.h <= 100
    assert crop_face(gray, FaceBox(60, 70, 30, 40), 0.5).shape == (48, 48)


def test_decode_respects_exif_orientation():
    from io import BytesIO

    from PIL import Image

    img = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    buf = BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert decode_image(buf.getvalue()).shape == (40, 20, 3)


def test_decode_rejects_non_images_clearly():
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"hello, world", "notes.jpg")
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"", "empty.jpg")
    rgba = decode_image((PHOTOS / "32bit.png").read_bytes())
    assert rgba.shape[2] == 3


def test_batched_inference_returns_typed_predictions(tiny_model_path, face_photo):
    clf = Classifier.from_file(tiny_model_path)
    scores = clf.scores(np.zeros((3, 48, 48), np.uint8))
    assert scores.shape == (3, 7)
    preds = predict_faces(decode_image(face_photo.read_bytes()), Detector(), clf, margin=0.1)
    assert len(preds) == 1
    p = preds[0]
    assert p.label in LABELS and len(p.scores) == 7 and abs(sum(p.scores) - 1) < 1e-4
    assert p.to_dict()["box"] == list(p.box.xywh) and set(p.score_dict()) == set(LABELS)
    assert load_card(tiny_model_path).arch == "tiny-cnn"


def test_model_loader_refuses_wrong_files(tmp_path):
    bad = tmp_path / "x.keras"
    bad.write_text("not a model")
    with pytest.raises(ModelError, match="not a readable Keras model"):
        load_model(bad)
    with pytest.raises(ModelError, match=r"only \.keras"):
        load_model(tmp_path / "x.h5")
    import keras

    wrong = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)])
    wrong.save(tmp_path / "wrong.keras")
    with pytest.raises(ModelError, match="expects input"):
        load_model(tmp_path / "wrong.keras")


def test_translations_complete_and_numbers_localised():
    assert set(languages()) >= {"en", "pt"}
    from fer.i18n import catalog

    for lang in languages():
        assert set(catalog(lang)) == set(catalog("en")), f"{lang} keys differ from en"
    assert fmt_percent(0.725, "en") == "72.5%" and fmt_percent(0.725, "pt") == "72,5%"
    assert pick_language("pt-BR") == "pt" and pick_language("de-DE") == "en" and pick_language(None) == "en"
    assert t("emotions.angry", "pt") == "Raiva"
