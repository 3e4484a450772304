"""AppTest of the Images page (English and Portuguese), and the photo path under it (fer.photo, fer.annotate)."""

import streamlit_webrtc  # noqa: F401, I001  (must precede tensorflow)

import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from helpers import PHOTOS, ROOT, shown
from fer.annotate import annotate, fit, label_text
from fer.detection import Detector, DetectorConfig, FaceBox
from fer.inference import Classifier, FacePrediction, predict_faces
from fer.labels import COLORS, LABELS, display_name
from fer.photo import ROW_KEYS, analyse_photo, result_rows, results_json
from fer.preprocessing import ImageError, decode_image, decode_reduced

PAGE = str(ROOT / "pages" / "images.py")


def run_page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["lang"] = lang
    return at.run()


def texts(at: AppTest, kind: str) -> list[str]:
    return [shown(e.value) for e in getattr(at, kind)]  # file names are escaped (ui.text.plain)


def test_page_without_images_invites_upload() -> None:
    at = run_page()
    assert not at.exception
    assert at.title[0].value == "Images"
    assert "Upload a photo or pick an example to start." in texts(at, "info")
    assert at.file_uploader[0].accept_multiple_files
    assert {"jpg", "png", "webp", "bmp", "tiff"} <= {t.lstrip(".") for t in at.file_uploader[0].allowed_type}
    assert len(at.pills[0].options) >= 2


def test_upload_shows_labelled_face_chart_table_and_downloads() -> None:
    at = run_page()
    at.file_uploader[0].upload("obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), "image/jpeg")
    at.run()
    assert not at.exception
    assert not at.error
    assert "obama.jpg" in texts(at, "subheader")
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    fig = json.loads(charts[0].proto.spec)
    assert fig["layout"]["title"]["text"].startswith("Face 1: ")
    assert [b for b in fig["data"][0]["x"]] == [display_name(k, "en") for k in LABELS]
    assert abs(sum(fig["data"][0]["y"]) - 1.0) < 1e-3
    table = at.dataframe[0].value
    assert len(table) == 1
    assert {"File", "Face", "Emotion", "Confidence", "Happy"} <= set(table.columns)
    assert table["Emotion"][0] in {display_name(k, "en") for k in LABELS}
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download JSON"]


def test_portuguese_example_two_faces() -> None:
    at = run_page("pt")
    assert at.title[0].value == "Imagens"
    at.pills[0].set_value(["obama_and_biden.jpg"])
    at.run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in charts]
    assert titles[0].startswith("Rosto 1: ") and titles[1].startswith("Rosto 2: ")
    assert "," in titles[0]  # Portuguese decimal comma in the confidence
    table = at.dataframe[0].value
    assert list(table["Rosto"]) == [1, 2]
    assert set(table["Emoção"]) <= {display_name(k, "pt") for k in LABELS}


def test_broken_file_is_reported_and_the_others_still_processed() -> None:
    at = run_page()
    at.file_uploader[0].set_value([("broken.jpg", b"this is not a jpeg", "image/jpeg"),
                                   ("obama-240p.jpg", (PHOTOS / "obama-240p.jpg").read_bytes(), "image/jpeg")])
    at.run()
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    assert "obama-240p.jpg" in texts(at, "subheader")


def test_no_face_gives_a_message_and_a_hint() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(buf, format="PNG")
    at = run_page("pt")
    at.file_uploader[0].upload("parede.png", buf.getvalue(), "image/png")
    at.run()
    assert not at.exception
    assert "Nenhum rosto encontrado nesta imagem." in texts(at, "warning")
    assert any("minNeighbors" in s for s in texts(at, "info"))
    assert len(at.image) == 1  # the photo is still shown


# -- the library under the page ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.from_file(ROOT / "models" / "default.keras")


def test_analyse_photo_rows_and_json(classifier: Classifier) -> None:
    data = (PHOTOS / "obama_and_biden.jpg").read_bytes()
    res = analyse_photo(data, "ob.jpg", Detector(), classifier, margin=0.1, display_max=640)
    assert (res.width, res.height) == (2000, 1428)
    assert len(res.faces) == 2
    assert max(res.display.shape[:2]) == 640 and res.display_scale == pytest.approx(0.32)
    rows = result_rows([res])
    assert [r["face"] for r in rows] == [1, 2] and list(rows[0]) == list(ROW_KEYS)
    assert all(r["label"] in LABELS and sum(r[k] for k in LABELS) == pytest.approx(1, abs=1e-4) for r in rows)
    parsed = json.loads(results_json([res]))
    assert parsed[0]["file"] == "ob.jpg" and len(parsed[0]["faces"]) == 2
    assert parsed[0]["faces"][1]["box"] == list(res.faces[1].box.xywh)
    with pytest.raises(ImageError, match="bad.png"):
        analyse_photo(b"\x89PNG broken", "bad.png", Detector(), classifier)


def big_jpeg(turn: bool = False) -> bytes:
    """obama_and_biden.jpg upscaled to 4000x2856 (11 MP, over twice the detection size: the fast decode
    path), as a JPEG; with `turn`, stored sideways with EXIF orientation 6 (turn it back to show it)."""
    img = Image.open(PHOTOS / "obama_and_biden.jpg").convert("RGB").resize((4000, 2856), Image.LANCZOS)
    exif = Image.Exif()
    if turn:
        img = img.transpose(Image.Transpose.ROTATE_90)
        exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


@pytest.mark.parametrize("turn", [False, True])
def test_large_jpeg_fast_decode_gives_full_size_boxes(classifier: Classifier, turn: bool) -> None:
    data = big_jpeg(turn)
    full = decode_image(data)  # the slow path: every pixel decoded
    assert full.shape[:2] == (2856, 4000)
    slow = predict_faces(full, Detector(), classifier)
    fast_img = decode_reduced(data, min_side=1280)
    assert fast_img.rgb.shape[:2] == (1428, 2000) and fast_img.scale == 2.0  # decoded at half size
    res = analyse_photo(data, "big.jpg", Detector(), classifier)
    assert (res.width, res.height) == (4000, 2856)
    assert res.display.shape[:2] == (914, 1280) and res.display_scale == pytest.approx(0.32, rel=1e-3)
    assert len(res.faces) == len(slow) == 2
    for a, b in zip(res.faces, slow, strict=True):  # the same faces in full-size pixels, within a few pixels
        assert np.abs(np.subtract(a.box.xywh, b.box.xywh)).max() <= max(8, 0.03 * b.box.w)
    assert set(res.stages_ms) == {"decode", "detect", "classify", "display"}


def _face(label: str, box: FaceBox) -> FacePrediction:
    scores = [0.02] * 7
    scores[LABELS.index(label)] = 0.88
    return FacePrediction(box, tuple(scores))


def test_annotate_draws_box_in_emotion_colour_and_label() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    out = annotate(img, [_face("happy", FaceBox(100, 150, 160, 160))], "pt")
    assert out.shape == img.shape and not np.shares_memory(out, img)
    assert tuple(out[230, 101]) == COLORS["happy"]  # left edge of the box
    assert tuple(out[230, 180]) == (0, 0, 0)  # inside the box untouched
    assert (out[100:150, 100:260] != 0).any()  # the label above the box
    assert label_text(_face("surprise", FaceBox(0, 0, 9, 9)), "pt") == "Surpresa 88,0%"
    assert label_text(_face("surprise", FaceBox(0, 0, 9, 9)), "en", show_confidence=False) == "Surprise"


def test_annotate_rotated_box_and_scale() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    face = _face("angry", FaceBox(200, 200, 200, 200, angle=30.0))
    out = annotate(img, [face], scale=0.5)  # boxes of a 800 px original on a 400 px copy
    corners = FaceBox(100, 100, 100, 100, 30.0).corners()
    x, y = np.round(corners[0]).astype(int)
    near = out[y - 3:y + 4, x - 3:x + 4].reshape(-1, 3)
    assert any(tuple(p) == COLORS["angry"] for p in near)
    assert tuple(out[101, 101]) == (0, 0, 0)  # an upright box would have coloured this corner


def test_fit_downscales_long_side() -> None:
    img = np.zeros((3000, 4000, 3), np.uint8)
    small, factor = fit(img, 1280)
    assert small.shape == (960, 1280, 3) and factor == pytest.approx(0.32)
    same, f1 = fit(img[:100, :100], 1280)
    assert f1 == 1.0 and same.shape == (100, 100, 3)


def test_detector_config_is_a_cache_key() -> None:
    assert hash(DetectorConfig(min_neighbors=3)) == hash(DetectorConfig(min_neighbors=3))
