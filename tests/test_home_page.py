"""Home (AppTest through app.py): the "Try it" button, and the note on what emotion recognition can and cannot tell
on Home and the Images page."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer.i18n import fmt_number, fmt_percent, t
from fer.labels import display_name
from tests.helpers import ROOT, shown


def open_app(lang: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def limits_text(at: AppTest, lang: str) -> str:
    [note] = [e for e in at.expander if e.label == t("limits.title", lang)]
    return "\n".join(m.value for m in note.markdown)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_try_it_opens_the_images_page_with_an_example_analysed(lang):
    at = open_app(lang)
    assert at.title[0].value == t("home.title", lang)
    at.button(key="home_try").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == t("images.title", lang)
    assert at.session_state["img_examples"] == ["obama_and_biden.jpg"]
    assert "obama_and_biden.jpg" in [shown(s.value) for s in at.subheader]
    table = at.dataframe[0].value
    assert len(table) == 2  # both faces found and named
    at.run()  # the example stays picked on the next run; "Try it" is not asked again
    assert at.session_state["img_examples"] == ["obama_and_biden.jpg"] and "img_try" not in at.session_state


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_limits_note_is_on_home_and_the_images_page_with_real_figures(lang):
    at = open_app(lang)
    text = limits_text(at, lang)
    counts = json.loads((ROOT / "data" / "fer2013_counts.json").read_text())["splits"]["Training"]
    card = json.loads((ROOT / "models" / "default.json").read_text())
    for key in ("can", "posed", "culture", "use"):
        assert t(f"limits.{key}", lang) in text
    assert t("limits.dataset", lang, disgust=display_name("disgust", lang), n=fmt_number(counts["disgust"], lang, 0),
             total=fmt_number(sum(counts.values()), lang, 0)) in text
    assert t("limits.accuracy", lang, acc=fmt_percent(card["metrics"]["test"]["accuracy"], lang, 0)) in text
    at.switch_page("pages/images.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert limits_text(at, lang) == text


def test_each_photo_offers_its_annotated_image_as_a_png(monkeypatch):
    from streamlit.runtime.media_file_manager import MediaFileManager

    deferred = {}
    add = MediaFileManager.add_deferred

    def record(mgr, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        deferred[file_name] = (data_callable, mimetype)
        return add(mgr, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    at = open_app("pt")
    at.button(key="home_try").click().run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.label for b in at.get("download_button")]
    assert t("images.download_annotated", "pt") in labels
    make, mime = deferred["obama_and_biden-emotions.png"]
    png = Image.open(io.BytesIO(make()))
    assert mime == "image/png" and png.format == "PNG"
    drawn = np.asarray(png.convert("RGB")).astype(int)
    photo = Image.open(ROOT / "data" / "examples" / "obama_and_biden.jpg").convert("RGB")
    plain = np.asarray(photo.resize((drawn.shape[1], drawn.shape[0]))).astype(int)
    changed = (np.abs(drawn - plain).max(axis=2) > 80).mean()
    assert 0.005 < changed < 0.3  # the photo itself, with boxes and names drawn on it
