"""AppTest of the How-it-works page: the bundled example in English and Portuguese, uploads, other models."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.i18n import fmt_list, fmt_number, fmt_percent, t
from fer.labels import LABELS, display_name
from tests.helpers import PHOTOS, ROOT, shown

PAGE = str(ROOT / "pages" / "how_it_works.py")
SECTIONS = ("step_input", "step_filters", "step_blocks", "step_pool", "step_vector", "step_dense", "step_softmax",
            "step_cam")


def run_page(lang: str = "en", active: Path | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["lang"] = lang
    if active is not None:
        at.session_state["active_model"] = str(active)
    return at.run()


def block_shapes(at: AppTest, lang: str) -> list[tuple[int, int, int]]:
    """(h, w, c) of every block title on the page, parsed with the language's own template."""
    pattern = re.escape("**" + t("how.block_title", lang) + "**")
    for name in ("i", "h", "w", "c"):
        pattern = pattern.replace(re.escape("{" + name + "}"), r"(\d+)")
    found = [re.fullmatch(pattern, m.value) for m in at.markdown]
    return [(int(f[2]), int(f[3]), int(f[4])) for f in found if f]


def labelled(at: AppTest, key: str, lang: str = "en"):
    """The selectbox labelled t(key): its widget key follows the photo, face and prediction."""
    [box] = [s for s in at.selectbox if s.label == t(key, lang)]
    return box


def image_urls(at: AppTest) -> list[str]:
    """The media address of every picture on the page, in order (it follows the picture's bytes)."""
    return [el.value for el in at.get("image")]


def score_spec(at: AppTest) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = [s for s in specs if len(s["data"]) == 1 and s["data"][0]["type"] == "bar"
            and len(s["data"][0].get("x", [])) == len(LABELS)]
    assert len(bars) == 1
    return bars[0]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_example_renders_every_section(lang: str) -> None:
    at = run_page(lang)
    assert not at.exception
    assert not at.error
    assert at.title[0].value == t("how.title", lang)
    headers = [h.value for h in at.header]
    assert headers == [t(f"how.{s}", lang) for s in SECTIONS]
    assert at.selectbox(key="how_example").value == "obama.jpg"
    # the default model (fer-net): conv blocks that shrink, then a global average of the last block's maps
    shapes = block_shapes(at, lang)
    assert len(shapes) >= 3
    assert shapes[0][:2] == (48, 48)
    assert all(a[0] > b[0] for a, b in zip(shapes, shapes[1:], strict=False))
    assert at.metric[0].value == str(shapes[-1][2])
    # the default model's card zooms faces 1.05x: the page shows and explains the zoomed face
    zoom = json.loads((ROOT / "models" / "default.json").read_text())["zoom"]
    assert zoom == 1.05
    assert t("how.crop_zoom_caption", lang, zoom=fmt_number(zoom, lang, 2)) in [c.value for c in at.caption]
    # and corrects its probabilities for the class shares of the FER2013 labels: the page says so
    card = json.loads((ROOT / "models" / "default.json").read_text())  # networks trained last on FER2013's labels:
    assert card["prior_correction"] == card["class_offsets"]  # its correction is only the floors' offsets, so
    assert t("how.prior_caption", lang) not in [c.value for c in at.caption]  # no word of FER+ votes
    assert json.loads((ROOT / "models" / "default.json").read_text())["tta_flip"] is True  # and averages the mirror
    assert t("how.flip_caption", lang) in [c.value for c in at.caption]
    shift = json.loads((ROOT / "models" / "default.json").read_text())["shift"]  # and the moved faces
    assert shift == 4
    assert t("how.shift_caption", lang, px=shift) in [c.value for c in at.caption]
    # and nudges Disgust and Fear up (its recall floors): the page names them, in the page's language
    offsets = json.loads((ROOT / "models" / "default.json").read_text())["class_offsets"]
    assert [LABELS[i] for i, v in enumerate(offsets) if v > 0] == ["disgust", "fear"]
    named = fmt_list([display_name(k, lang) for k in ("disgust", "fear")], lang)
    assert named in ("Disgust and Fear", "Nojo e Medo")
    assert t("how.offsets_caption.other", lang, emotions=named) in [c.value for c in at.caption]
    spec = score_spec(at)
    assert spec["data"][0]["x"] == [display_name(k, lang) for k in LABELS]
    assert abs(sum(spec["data"][0]["y"]) - 1.0) < 1e-3
    assert spec["layout"]["yaxis"]["title"]["text"] == t("how.probability", lang)
    # Grad-CAM for the predicted emotion and, by default, the runner-up
    y = spec["data"][0]["y"]
    ranked = sorted(range(len(LABELS)), key=lambda i: y[i], reverse=True)
    assert labelled(at, "how.cam_other", lang).value == ranked[1]
    assert labelled(at, "how.cam_other", lang).options == [display_name(LABELS[i], lang) for i in ranked[1:]]
    best = t("how.cam_predicted", lang, label=display_name(LABELS[ranked[0]], lang),
             conf=fmt_percent(y[ranked[0]], lang))
    assert f"**{best}**" in [m.value for m in at.markdown]
    # step 6 explains each dense layer's own activation: fer-net's one dense layer is the softmax
    dense = [m.value for m in at.markdown if m.value.startswith("- ")]
    meaning = t("how.act_softmax", lang)
    assert dense == ["- " + t("how.dense_item", lang, i=1, units=7, act="softmax", meaning=meaning)]
    assert t("how.act_relu", lang) not in " ".join(m.value for m in at.markdown)
    # Grad-CAM says on which grid it is measured (fer-net: 12 x 12) and what it can and cannot show
    captions = [c.value for c in at.caption]
    assert t("how.cam_caption", lang, rows=12, cols=12) in captions and t("how.cam_limits", lang) in captions
    assert len(at.expander) == 1 and len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert list(table.columns) == [t("how.col_layer", lang), t("how.col_role", lang), t("how.col_shape", lang)]
    assert t("how.role_conv", lang) in set(table[t("how.col_role", lang)])


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_default_ensemble_shows_each_network_and_what_each_said(lang: str) -> None:
    from fer.model.ensemble import member_scores
    from fer.model.inference import Classifier
    from fer.vision.detection import Detector
    from fer.vision.preprocessing import crop_face, decode_image, to_gray

    card = json.loads((ROOT / "models" / "default.json").read_text())
    n = len(card["members"])
    assert card["arch"] == "ensemble" and n == 2
    # each network named by how it was trained, read from its own card: run 20 learned last from FER2013's labels
    # alone, run 23 from them and a teacher model (runs 16 + 20 + 21's probabilities) half and half
    configs = [json.loads((ROOT / m).with_suffix(".json").read_text())["config"] for m in card["members"]]
    assert [(c["soft_labels"], bool(c["teacher"])) for c in configs] == [(0.0, False), (0.0, True)]
    names = [t("how.member_label", lang, i=i, arch="fer-net", labels=t(f"how.labels_{k}", lang))
             for i, k in ((1, "plain"), (2, "teacher"))]
    at = run_page(lang)
    assert not at.exception
    assert t("how.ensemble_member", lang, n=n) in [c.value for c in at.caption]
    pick = labelled(at, "how.member_pick", lang)
    assert pick.options == names and pick.value == 0
    # the members chart: one bar trace per network and their average, seven emotions each
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    [chart] = [s for s in specs if len(s["data"]) == n + 1]
    assert [d["name"] for d in chart["data"]] == [*names, t("how.members_average", lang)]
    assert all(d["x"] == [display_name(k, lang) for k in LABELS] for d in chart["data"])
    member_y = np.array([d["y"] for d in chart["data"][:n]])
    np.testing.assert_allclose(chart["data"][n]["y"], member_y.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(member_y.sum(axis=1), 1.0, atol=1e-3)
    # they are the networks' own answers for the face the page shows (obama.jpg, the first face found)
    clf = Classifier.from_file(ROOT / "models" / "default.keras")
    gray = to_gray(decode_image((ROOT / "data" / "examples" / "obama.jpg").read_bytes(), "obama.jpg"))
    face = clf.network_input(crop_face(gray, Detector().detect(gray)[0])[None])
    np.testing.assert_allclose(member_scores(clf.model, face[..., None])[:, 0], member_y, atol=1e-3)
    assert t("how.members_title", lang, n=n) in [m.value.strip("*") for m in at.markdown]
    # choosing another network redraws the pictures from its own layers: its filters and maps differ
    before = image_urls(at)
    pick.set_value(1).run()
    assert not at.exception and labelled(at, "how.member_pick", lang).value == 1
    after = image_urls(at)
    assert len(before) == len(after) >= 5
    assert before[0] == after[0] and before[1] == after[1]  # the photo and the face the networks read: the same
    assert before[2] != after[2] and before[3] != after[3]  # the first layer's filters, its feature maps
    # the chart of each network's answers stays the same: it does not depend on the network shown
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    [again] = [s for s in specs if len(s["data"]) == n + 1]
    np.testing.assert_allclose(np.array([d["y"] for d in again["data"][:n]]), member_y, atol=1e-6)


def test_second_emotion_and_map_count_follow_the_widgets() -> None:
    at = run_page()
    labelled(at, "how.cam_other").set_value(LABELS.index("angry"))
    at.slider(key="how_n_maps").set_value(8)
    at.run()
    assert not at.exception
    titles = [m.value for m in at.markdown if m.value.startswith(f"**{display_name('angry', 'en')} (")]
    assert len(titles) == 1
    assert t("how.block_shown", "en", n=8, c=32) in [c.value for c in at.caption]
    at.selectbox(key="how_example").set_value("obama_and_biden.jpg")
    at.run()
    assert not at.exception
    faces = labelled(at, "how.pick_face")
    assert faces.options == [t("how.face_n", "en", i=1), t("how.face_n", "en", i=2)]
    assert faces.value == 0  # face 1, as the Images page numbers them (left to right)
    faces.set_value(1 - faces.value)  # explain the other face
    at.run()
    assert not at.exception and len(at.header) == len(SECTIONS)


def test_the_compared_emotion_follows_the_photo_and_is_never_the_predicted_one() -> None:
    at = run_page()
    labelled(at, "how.cam_other").set_value(LABELS.index("angry"))
    at.run()
    for name in ("biden.jpg", "obama_and_biden.jpg"):
        at.selectbox(key="how_example").set_value(name)
        at.run()
        assert not at.exception
        y = score_spec(at)["data"][0]["y"]
        ranked = sorted(range(len(LABELS)), key=lambda i: y[i], reverse=True)
        other = labelled(at, "how.cam_other")
        assert other.value == ranked[1]  # the new photo's runner-up, not the choice made for obama.jpg
        assert display_name(LABELS[ranked[0]], "en") not in other.options
        titles = [m.value for m in at.markdown if m.value.startswith("**") and "%)" in m.value]
        assert len(set(titles)) == 2  # two different heatmaps


def test_upload_bad_file_shows_error_and_good_file_works() -> None:
    at = run_page()
    at.radio(key="how_source").set_value("upload")
    at.run()
    assert not at.exception
    assert t("how.empty", "en") in [i.value for i in at.info]
    at.file_uploader(key="how_upload").upload("notes.jpg", b"this is not a picture", "image/jpeg")
    at.run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [t("how.bad_file", "en", name="notes.jpg")]
    at.file_uploader(key="how_upload").upload("face.jpg", (PHOTOS / "obama-240p.jpg").read_bytes(), "image/jpeg")
    at.run()
    assert not at.exception and not at.error
    assert len(at.header) == len(SECTIONS)
    at.radio(key="how_source").set_value("camera")
    at.run()
    assert not at.exception
    assert t("how.empty", "en") in [i.value for i in at.info]  # no snapshot taken yet


def test_photo_without_face_warns(tmp_path: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["lang"] = "pt"
    at.session_state["how_source"] = "upload"
    at.run()
    assert t("how.empty", "pt") in [i.value for i in at.info]
    blank = tmp_path / "blank.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(blank), np.full((200, 300, 3), 128, np.uint8))
    at.file_uploader(key="how_upload").upload("blank.png", blank.read_bytes(), "image/png")
    at.run()
    assert not at.exception
    assert [w.value for w in at.warning] == [t("how.no_face", "pt")]
    assert not at.header


def test_mini_xception_without_dense_layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trained run of another architecture (here untrained mini-xception) is explained too."""
    from fer.model.architectures import build_model
    from fer.model.modelio import ModelCard, save_model

    run = tmp_path / "runs" / "mx"
    model = build_model("mini-xception")
    save_model(model, run / "model.keras", ModelCard(arch="mini-xception", params=int(model.count_params())))
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    at = run_page("pt", active=run / "model.keras")
    assert not at.exception
    assert not at.error
    assert t("how.no_dense", "pt") in [i.value for i in at.info]
    assert at.metric[0].value == "7"  # global average of the last conv's 7 maps, one per emotion
    zoomed = t("how.crop_zoom_caption", "pt", zoom="")[:20]
    assert not [c.value for c in at.caption if c.value.startswith(zoomed)]  # its card does not zoom
    assert t("how.prior_caption", "pt") not in [c.value for c in at.caption]  # nor correct the priors
    lean = t("how.offsets_caption.other", "pt", emotions="")[:30]
    assert not [c.value for c in at.caption if c.value.startswith(lean)]  # nor nudge any emotion
    assert t("how.flip_caption", "pt") not in [c.value for c in at.caption]  # nor average the mirror image
    assert len([h for h in at.header]) == len(SECTIONS)


def test_a_model_with_shifted_views_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A card asking for shifted views: the page explains that the bars average the moved faces."""
    from fer.model.architectures import build_model
    from fer.model.modelio import ModelCard, save_model

    run = tmp_path / "runs" / "shifted"
    model = build_model("tiny-cnn")
    save_model(model, run / "model.keras", ModelCard(arch="tiny-cnn", params=int(model.count_params()), shift=2))
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    at = run_page("en", active=run / "model.keras")
    assert not at.exception
    assert not at.error
    captions = [c.value for c in at.caption]
    assert t("how.shift_caption", "en", px=2) in captions
    assert t("how.flip_caption", "en") not in captions  # its card does not average the mirror image
    assert abs(sum(score_spec(at)["data"][0]["y"]) - 1.0) < 1e-3


def test_a_model_trained_with_fer_plus_votes_says_its_prior_correction(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A card whose prior correction is more than recall-floor offsets (run 11, FER+ votes mixed into its labels):
    the page explains the shift back to FER2013's label shares."""
    import shutil

    shipped = ROOT / "models" / "candidates" / "warm-fer-net"
    card = json.loads(shipped.with_suffix(".json").read_text())
    assert card["prior_correction"] and not card["class_offsets"]
    run = tmp_path / "runs" / "votes"
    run.mkdir(parents=True)
    shutil.copy(shipped.with_suffix(".keras"), run / "model.keras")
    shutil.copy(shipped.with_suffix(".json"), run / "model.json")
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    at = run_page("en", active=run / "model.keras")
    assert not at.exception
    assert t("how.prior_caption", "en") in [c.value for c in at.caption]
