"""AppTest of the Images page (English and Portuguese), and the photo path under it (fer.media.photo,
fer.media.annotate)."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer.i18n import t
from fer.labels import COLORS, LABELS, display_name
from fer.media.annotate import DISPLAY_BOX, EDGE, LABEL_PX, annotate, display_width, fit, label_size, label_text
from fer.media.photo import NO_FACE, ROW_KEYS, analyse_photo, result_rows, results_json
from fer.model.inference import Classifier, FacePrediction, predict_faces
from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector, DetectorConfig
from fer.vision.preprocessing import ImageError, decode_image, decode_reduced
from tests.helpers import PHOTOS, ROOT, shown
from ui.text import plain

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
    assert not at.file_uploader[0].allowed_type  # any file: the page names one it cannot read (test_page_state)
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
    assert labels == ["Download CSV", "Download JSON", t("images.download_annotated", "en")]  # the photo's PNG last
    assert re.fullmatch(r"\d{1,3}\.\d%", table["Confidence"][0])  # a percent, as on the chart
    assert texts(at, "subheader") == ["All faces", "obama.jpg"]  # the summary and downloads first
    for k in LABELS:  # the seven scores as the confidence: one decimal, '<0.1%' for a tiny one (issue 39, 13)
        cell = table[display_name(k, "en")][0]
        assert re.fullmatch(r"<0\.1%|\d{1,3}\.\d%|>99\.9%", cell), cell


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
    assert list(table["Rosto"]) == ["1", "2"]
    assert all(re.fullmatch(r"<0,1%|\d{1,3},\d%|>99,9%", v) for k in LABELS for v in table[display_name(k, "pt")])
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


class CapturedFiles:
    """The bytes of every download the page offers (AppTest keeps them in its mock media store)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from streamlit.runtime.media_file_manager import MediaFileManager

        self.files: dict[str, bytes] = {}
        add = MediaFileManager.add

        def record(mgr, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
            if file_name:
                self.files[file_name] = data if isinstance(data, bytes) else str(data).encode()
            return add(mgr, data, mimetype, coordinates, file_name, is_for_static_download)

        monkeypatch.setattr(MediaFileManager, "add", record)

    def csv(self, lang: str = "en") -> pd.DataFrame:
        """The CSV as a spreadsheet in that language reads it: Portuguese uses ';' between fields and ','."""
        if lang == "pt":
            return pd.read_csv(io.BytesIO(self.files["faces.csv"]), sep=";", decimal=",")
        return pd.read_csv(io.BytesIO(self.files["faces.csv"]))


def blank_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_photo_without_a_face_gets_a_csv_row_saying_so(monkeypatch) -> None:
    files = CapturedFiles(monkeypatch)
    at = run_page()
    at.file_uploader[0].set_value([("wall.png", blank_png(), "image/png"),
                                   ("obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), "image/jpeg")])
    at.run()
    assert not at.exception
    csv = files.csv()
    assert list(csv["File"]) == ["wall.png", "obama.jpg"] and pd.isna(csv["Face"][0]) and csv["Face"][1] == 1
    assert csv["Label (key)"][0] == NO_FACE and csv["Emotion"][0] == "No face found"
    assert list(at.dataframe[0].value["Face"]) == ["", "1"]  # "No face found", not face 0 (issue 39, 13)
    assert csv["Label (key)"][1] in LABELS
    assert list(at.dataframe[0].value["Emotion"])[0] == "No face found"


def test_portuguese_csv_keeps_english_keys_beside_the_translated_label(monkeypatch) -> None:
    files = CapturedFiles(monkeypatch)
    at = run_page("pt")
    at.pills[0].set_value(["obama_and_biden.jpg"]).run()
    assert not at.exception
    text = files.files["faces.csv"].decode()
    assert "e-0" not in text and "." not in text.replace("obama_and_biden.jpg", "")  # issue 39 (13): 3.6e-05
    csv = files.csv("pt")
    assert all(0 <= v <= 1 for k in LABELS for v in csv[display_name(k, "pt")])
    assert set(csv["Rótulo (en)"]) <= set(LABELS)
    assert list(csv["Emoção"]) == [display_name(k, "pt") for k in csv["Rótulo (en)"]]
    assert "Feliz" in csv.columns and "Confiança" in csv.columns


def test_a_false_face_can_be_left_out_and_keeps_the_numbers_of_the_others(monkeypatch) -> None:
    files = CapturedFiles(monkeypatch)
    at = run_page()
    at.pills[0].set_value(["obama_and_biden.jpg"]).run()
    assert list(at.dataframe[0].value["Face"]) == ["1", "2"]
    [drop] = [p for p in at.pills if p.label == "Not a face? Leave it out"]
    assert drop.options == ["Face 1", "Face 2"]
    drop.set_value([1]).run()
    assert not at.exception
    assert list(at.dataframe[0].value["Face"]) == ["2"]  # face 2 keeps its number
    assert list(files.csv()["Face"]) == [2]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert len(titles) == 1 and titles[0].startswith("Face 2: ")
    assert "1 photo · 1 face in the table · 1 face left out" in [c.value for c in at.caption]  # plural forms


def test_the_background_box_of_obama_1080p_is_dropped_by_the_second_check() -> None:
    at = run_page()
    at.file_uploader[0].upload("obama-1080p.jpg", (PHOTOS / "obama-1080p.jpg").read_bytes(), "image/jpeg").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1  # the face, not the collar
    at.toggle(key="ctl_verify").set_value(False).run()  # without the check: the false box is back
    assert len(at.dataframe[0].value) == 2


def test_switching_the_language_keeps_the_uploaded_photos() -> None:
    at = run_page()
    at.file_uploader[0].upload("obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), "image/jpeg").run()
    assert "obama.jpg" in texts(at, "subheader")
    at.session_state["lang"] = "pt"  # what the sidebar's language switch does, then it reruns
    at.run()
    assert not at.exception
    assert at.title[0].value == "Imagens"
    assert "obama.jpg" in texts(at, "subheader") and len(at.dataframe[0].value) == 1


def test_explain_opens_how_it_works_on_that_face() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.switch_page("pages/images.py")
    at.run()
    at.pills(key="img_examples").set_value(["obama_and_biden.jpg"]).run()
    [explain] = [b for b in at.button if b.label == "How face 2 was read"]
    explain.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "How it works"
    handoff = at.session_state["how_handoff"]
    assert handoff["name"] == "obama_and_biden.jpg" and handoff["face"] == 1
    assert at.radio(key="how_source").value == "images"
    assert f"{plain('obama_and_biden.jpg')}, face 2 as the Images page found it." in [c.value for c in at.caption]
    [face] = [s for s in at.selectbox if s.label == "Face"]
    assert face.value == 1 and len(at.header) == 8  # the clicked face, every step explained


def test_no_face_gives_a_message_and_a_hint() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(buf, format="PNG")
    at = run_page("pt")
    at.file_uploader[0].upload("parede.png", buf.getvalue(), "image/png")
    at.run()
    assert not at.exception
    assert "Nenhum rosto encontrado nesta imagem." in texts(at, "warning")
    assert any("Rigor" in s and "Todos" in s for s in texts(at, "info"))  # plain words, no OpenCV names
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


def test_labels_are_numbered_and_sized_for_the_shown_photo_not_the_face() -> None:
    face = _face("happy", FaceBox(0, 0, 9, 9))
    assert label_text(face, "en", number=2) == "2 · Happy 88.0%"
    img = np.zeros((1428, 2000, 3), np.uint8)  # a group photo shown 560 px wide: labels 18 screen px
    assert DISPLAY_BOX == (560, 480) and LABEL_PX == 18
    assert label_size(2000, 1428) == round(18 * 2000 / 560) and label_size(640, 480) == round(18 * 640 / 560)
    out = annotate(img, [_face("happy", FaceBox(100, 400, 60, 60)), _face("happy", FaceBox(900, 400, 600, 600))],
                   numbers=[1, 2])

    def label_height(x0: int, x1: int) -> int:
        rows = np.flatnonzero((out[:400, x0:x1] == COLORS["happy"]).all(axis=2).any(axis=1))
        return int(rows.max() - rows.min() + 1)

    assert label_height(100, 160) == label_height(900, 1500) >= label_size(2000, 1428)  # small face, big face
    assert display_width(910, 1137) == 384 and display_width(2000, 1428) == 560  # a portrait stays 480 high
    assert display_width(3000, 1) == 3000 and display_width(1, 3000) == 1  # never 0 pixels high or wide


def test_labels_of_faces_side_by_side_do_not_cover_each_other() -> None:
    img = np.zeros((600, 800, 3), np.uint8)
    out = annotate(img, [_face("happy", FaceBox(300, 300, 100, 100)), _face("sad", FaceBox(420, 300, 100, 100))],
                   numbers=[1, 2])

    def label_rows(label: str) -> set[int]:
        mask = (out == COLORS[label]).all(axis=2)
        return {int(y) for y in np.flatnonzero(mask.sum(axis=1) > 120)}  # a label is wider than its 100 px box

    happy, sad = label_rows("happy"), label_rows("sad")
    assert happy and sad and not happy & sad  # the second label moved off the first one


def test_boxes_have_a_dark_edge_and_neutral_is_visible_on_white() -> None:
    def luminance(rgb):
        c = np.array(rgb) / 255
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    assert 1.05 / (luminance(COLORS["neutral"]) + 0.05) >= 4.5  # contrast with white (WCAG AA)
    out = annotate(np.full((400, 400, 3), 255, np.uint8), [_face("happy", FaceBox(100, 150, 160, 160))])
    assert tuple(out[230, 99]) == EDGE and tuple(out[230, 101]) == COLORS["happy"]  # a light colour, outlined


def test_rows_leave_out_dropped_faces_and_say_when_a_photo_has_none(classifier: Classifier) -> None:
    data = (PHOTOS / "obama_and_biden.jpg").read_bytes()
    res = analyse_photo(data, "ob.jpg", Detector(), classifier, display_max=640)
    empty = analyse_photo(blank_png(), "wall.png", Detector(), classifier)
    rows = result_rows([empty, res], dropped={1: [1]})
    assert [(r["file"], r["face"], r["label"]) for r in rows] == [("wall.png", 0, NO_FACE),
                                                                  ("ob.jpg", 2, res.faces[1].label)]
    parsed = json.loads(results_json([empty, res], dropped={1: [1]}))
    assert parsed[0]["faces"] == [] and [f["face"] for f in parsed[1]["faces"]] == [2]


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


@pytest.mark.parametrize(("lang", "date"), [("en", "5 Dec 2026, 18:19"), ("pt", "5 dez 2026, 18:19")])
def test_trained_models_are_named_by_their_run_and_date_not_a_path(tmp_path, monkeypatch, lang, date) -> None:
    """Issue 39 (14): the model box listed 'runs/20261205-181925-tiny-cnn'."""
    import shutil


    run = tmp_path / "runs" / "20261205-181925-tiny-cnn"
    run.mkdir(parents=True)
    shutil.copy(ROOT / "models" / "default.keras", run / "model.keras")
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    at = run_page(lang)
    assert not at.exception
    box = at.sidebar.selectbox(key="ctl_model")
    assert box.options[0] == t("common.shipped", lang)
    assert f"tiny-cnn · {date}" in box.options and not any("runs/" in o for o in box.options)
    assert t("common.course_model", lang) in box.options and "course-cnn" not in box.options  # issue 38: shipped
