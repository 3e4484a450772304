"""Every page in both languages (AppTest through app.py): no string of the other language leaks onto a page.

Each page is run in English and in Portuguese, in its plain state and in a state that shows more
(a photo analysed, a webcam frame recorded, a refused training form, a finished run with its test
report and mistakes). Every visible string is collected from the element protos: titles, markdown,
captions, alerts, widget labels, help texts, options, placeholders, metric labels, image captions,
dataframe headers and text cells, plotly titles, axes, legends, ticks, hover templates and text.
A page fails when it shows a catalog string of the other language (one that differs from its
translation), whole or as a template with its placeholders filled in.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pandas as pd
import pytest
import streamlit_webrtc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from fer.config import TrainConfig
from fer.i18n import catalog, languages, plotly_separators, t
from tests.helpers import PHOTOS, ROOT, StreamerStub, write_folder

PAGES = ("home", "images", "webcam", "videos", "teach", "dataset", "train", "results", "how_it_works")
PLACEHOLDER = re.compile(r"{(\w+)[^}]*}")
WORD = re.compile(r"[A-Za-zÀ-ÿ]{2,}")
SEGMENT_SPLIT = re.compile(r"\*\*|<br>|\n| · |: |=|%\{[^}]*\}|\(|\)")
PLOTLY_SKIP = {"template", "type", "mode", "textposition", "xanchor", "yanchor", "orientation", "barmode",
               "colorscale", "autorange", "line_dash", "dash", "hoverinfo", "anchor", "scaleanchor", "bdata",
               "dtype", "shape", "xref", "yref", "color", "marker_color", "fill", "layer"}


# ----------------------------------------------------------------------------- collecting the text
def _repeated(field: FieldDescriptor) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf >= 5.28 (label is gone in newer upb builds)
        return bool(field.is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _proto_strings(msg: Message) -> Iterator[str]:
    """Every string field of a proto, recursively; plotly specs are parsed and walked as JSON."""
    for field, value in msg.ListFields():
        values = value if _repeated(field) else [value]
        if field.type == FieldDescriptor.TYPE_STRING:
            for v in values:
                if field.name == "spec" and msg.DESCRIPTOR.name == "PlotlyChart":
                    yield from _json_strings(json.loads(v))
                elif field.name == "columns" and v.startswith("{"):  # dataframe column_config (JSON)
                    yield from _json_strings(json.loads(v))
                else:
                    yield v
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for v in values:
                if isinstance(v, Message):
                    yield from _proto_strings(v)


def _json_strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, list):
        for v in obj:
            yield from _json_strings(v)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k not in PLOTLY_SKIP:
                yield from _json_strings(v)


def _frame_strings(df: pd.DataFrame) -> Iterator[str]:
    yield from (str(c) for c in df.columns)
    for col in df.columns:
        yield from (v for v in df[col].tolist() if isinstance(v, str))


def visible_text(at: AppTest) -> list[tuple[str, str]]:
    """(element type, text) of everything the page shows, main area and sidebar."""
    out: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        children = getattr(node, "children", None)
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", type(node).__name__)
        if isinstance(proto, Message):
            out.extend((kind, s) for s in _proto_strings(proto) if WORD.search(s))
        if kind in ("arrow_data_frame", "dataframe") and isinstance(getattr(node, "value", None), pd.DataFrame):
            out.extend((kind, s) for s in _frame_strings(node.value) if WORD.search(s))
        if isinstance(children, dict):
            for child in children.values():
                walk(child)

    walk(at._tree)
    return out


# ----------------------------------------------------------------------------- matching the other language
def _template_regex(text: str) -> tuple[re.Pattern[str], bool] | None:
    """A regex for a catalog string with placeholders, and whether it may match inside a longer text
    (two fixed words or more) or only a whole text; None without a fixed word."""
    fixed = PLACEHOLDER.sub(" ", text)
    if not re.search(r"[A-Za-zÀ-ÿ]{3,}", fixed):
        return None
    parts = PLACEHOLDER.split(text)  # literal, name, literal, name, ...
    rx = re.compile("".join(re.escape(p) if i % 2 == 0 else ".+?" for i, p in enumerate(parts)), re.S)
    return rx, len(WORD.findall(fixed)) >= 2


def leak_finder(shown: str, other: str):
    """A function text -> [catalog keys of `other` found in it]: strings of `other` that differ from
    their translation in `shown` and are not also a string of `shown` somewhere else."""
    mine, theirs = catalog(shown), catalog(other)
    own_values = set(mine.values())
    whole: dict[str, str] = {}  # several words: found anywhere in a text
    single: dict[str, str] = {}  # one word: only a whole segment of a text counts
    templates: dict[str, tuple[re.Pattern[str], bool]] = {}
    for key, text in theirs.items():
        if key.startswith("meta.") or text == mine.get(key) or text in own_values:
            continue
        if PLACEHOLDER.search(text):
            found = _template_regex(text)
            if found is not None:
                templates[key] = found
        elif len(WORD.findall(text)) >= 2:
            whole[key] = text
        elif WORD.search(text):
            single[key] = text

    def find(text: str) -> list[str]:
        entire = {text.strip(), text.strip(" *")}
        segments = {s.strip(" *:()-–—.,") for s in SEGMENT_SPLIT.split(text)} | entire
        found = [k for k, v in whole.items() if v in text]
        found += [k for k, (rx, inside) in templates.items()
                  if rx.search(text) if inside or any(rx.fullmatch(s) for s in entire)]
        found += [k for k, v in single.items() if v in segments]
        return found

    return find


# ----------------------------------------------------------------------------- running the pages
class NavigationPagesManager(PagesManager):
    """AppTest resets PagesManager.uses_pages_directory before every run, so with a pages/ folder beside
    app.py its reruns would execute the page alone (Streamlit's old pages-folder mode), without app.py
    and its language switch. A server turns the mode off once for the process (ui/__init__.py, and
    st.navigation in app.py) and keeps it off; so does this."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


def rerun_app_py(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(app_test_module, "PagesManager", NavigationPagesManager)


def open_app(lang: str, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    run(at)  # home: registers the pages, so switch_page finds pages whose url differs from their file name
    if page != "home":
        at.switch_page(f"pages/{page}.py")
        run(at)
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A runs folder with one finished tiny run and a data folder with a tiny dataset."""
    from fer.train.trainer import train

    root = tmp_path_factory.mktemp("i18n")
    data = write_folder(root / "data" / "tiny", n_per_class=4)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=2, batch_size=8)
    train(cfg, root / "runs" / "tiny-run")
    mp = pytest.MonkeyPatch()
    mp.setenv("FER_RUNS_DIR", str(root / "runs"))
    mp.setenv("FER_DATA_DIRS", str(root / "data"))
    mp.delenv("FER_ICE_SERVERS", raising=False)
    rerun_app_py(mp)
    stub = StreamerStub()
    mp.setattr(streamlit_webrtc, "webrtc_streamer", stub)
    global STREAMER
    STREAMER = stub
    yield root
    mp.undo()


STREAMER: StreamerStub | None = None


def states(lang: str, page: str) -> Iterator[AppTest]:
    """The page as opened, then in the states that show more text."""
    at = open_app(lang, page)
    yield at
    if page == "images":
        at.file_uploader[0].upload("obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), "image/jpeg")
        yield run(at)
    elif page == "webcam":
        assert STREAMER is not None
        bgr = cv2.resize(cv2.imread(str(PHOTOS / "obama.jpg")), (384, 480), interpolation=cv2.INTER_AREA)
        frame = np.full((480, 640, 3), 90, np.uint8)
        frame[:, 128:512] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        STREAMER.calls[-1]["video_frame_callback"](av.VideoFrame.from_ndarray(frame, format="rgb24"))
        STREAMER.playing = True
        try:
            yield run(at)
        finally:
            STREAMER.playing = False
    elif page == "teach":  # a face and a photo without one, their counts and files; Delete asking first
        at.button_group(key="teach_source").set_value("upload")
        run(at)
        blank = cv2.imencode(".png", np.full((120, 160, 3), 128, np.uint8))[1].tobytes()
        at.file_uploader(key="teach_upload_0_happy").set_value(
            [("obama.jpg", (PHOTOS / "obama.jpg").read_bytes(), "image/jpeg"), ("wall.png", blank, "image/png")])
        run(at)
        at.button(key="teach_delete").click()
        yield run(at)
    elif page == "train":
        at.number_input(key="tf_epochs").set_value(0)
        [start] = [b for b in at.button if b.label == t("train.start", lang)]
        start.click()
        yield run(at)
    elif page == "results":
        # the shipped model's mistakes come from its shipped predictions at once; a run's need the button
        for find in [b for b in at.button if b.label == t("results.find_mistakes", lang)][:1]:
            find.click()
            yield run(at)
        at.multiselect(key="res_pick").set_value(["tiny-run", "default"])
        yield run(at)


Seen = dict[str, list[tuple[str, str, str]]]


@pytest.fixture(scope="module")
def seen(env: Path) -> tuple[Seen, Seen]:
    """({language: [(page, element type, text)]}, {language: [(page, chart title, layout.separators)]})
    over every page and state."""
    texts: Seen = {}
    charts: Seen = {}
    for lang in languages():
        for page in PAGES:
            for at in states(lang, page):
                switch = [s for s in at.sidebar.selectbox if s.key == "lang_select"]
                assert switch and switch[0].value == lang, f"{page}: no language switch in the sidebar"
                texts.setdefault(lang, []).extend((page, kind, text) for kind, text in visible_text(at))
                for c in at.get("plotly_chart"):
                    layout = json.loads(c.proto.spec)["layout"]
                    title = layout.get("title", {}).get("text", "")
                    charts.setdefault(lang, []).append((page, title, layout.get("separators", "")))
    return texts, charts


@pytest.fixture(scope="module")
def shown(seen: tuple[Seen, Seen]) -> Seen:
    return seen[0]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_every_page_shows_only_its_own_language(shown, lang):
    other = "pt" if lang == "en" else "en"
    find = leak_finder(lang, other)
    leaks = sorted({f"{page} [{kind}] {text[:120]!r} <- {other}:{', '.join(keys)}"
                    for page, kind, text in shown[lang] for keys in [find(text)] if keys})
    assert not leaks, f"{len(leaks)} strings of '{other}' on '{lang}' pages:\n" + "\n".join(leaks)


def test_every_page_was_seen_with_its_text(shown):
    for lang, rows in shown.items():
        pages = {page for page, _, _ in rows}
        assert pages == set(PAGES), lang
        texts = "\n".join(text for _, _, text in rows)
        for key in ("home.title", "images.title", "webcam.title", "dataset.title", "train.title", "results.title",
                    "how.title", "teach.title", "teach.privacy",
                    "images.download_csv", "results.confusion", "train.invalid", "webcam.readout",
                    "dataset.chart_counts", "how.step_cam", "results.compare"):
            assert t(key, lang) in texts, f"{lang}: {key} not seen"


def test_every_chart_formats_numbers_for_the_language(seen):
    for lang, charts in seen[1].items():
        assert {page for page, _, _ in charts} >= {"images", "webcam", "dataset", "results", "how_it_works"}
        wrong = [(page, title) for page, title, sep in charts if sep != plotly_separators(lang)]
        assert not wrong, f"{lang}: charts without layout.separators={plotly_separators(lang)!r}: {wrong}"


def test_portuguese_pages_write_percents_and_numbers_with_a_decimal_comma(shown):
    """Issue 39 (13): "Confiança 99,8%" stood beside "Feliz 99.79%"; a learning rate read "3.00e-03"."""
    english = re.compile(r"\d\.\d+\s?%|\d(\.\d+)?e[-+]\d")
    assert english.search("Feliz 99.79%") and english.search("3.00e-03") and not english.search("99,8%")
    bad = sorted({f"{page} [{kind}] {text[:120]!r}" for page, kind, text in shown["pt"] if english.search(text)})
    assert not bad, "English numbers on Portuguese pages:\n" + "\n".join(bad)
    percents = [m for _, _, text in shown["pt"] for m in re.findall(r"\d+(?:,\d+)?%", text)]
    assert len(percents) > 10 and all(re.fullmatch(r"\d+(,\d)?%", p) for p in percents), percents[:20]


def test_the_leak_finder_finds_whole_strings_templates_and_single_words():
    find = leak_finder("pt", "en")
    assert find("Reading the faces in 3 images…") == ["images.working"]
    assert "images.face_title" in find("Face 1: Happy (72.5%)")
    assert "emotions.happy" in find("Face 1: Happy (72.5%)")
    assert find("**Rosto 1: Feliz** (72,5%)") == []
    assert find("Oficial (Training / PublicTest / PrivateTest)") == []  # dataset names stay English
    assert find("Training run-7") == ["train.running"]  # "Training {run}": one fixed word, so only a whole text
    assert find("Treino (Training run-7)") == []
    assert find("Emotion") and find("Emoção") == []
    assert leak_finder("en", "pt")("Rosto 2: Raiva (10,0%)")



# ----------------------------------------------------------------------------- the language switch
@pytest.mark.parametrize(("locale", "lang"), [("pt-BR", "pt"), ("pt", "pt"), ("en-GB", "en"), ("de-DE", "en"),
                                              (None, "en")])
def test_the_first_language_is_the_browsers(locale, lang, monkeypatch):
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.context = {"locale": locale}
    run(at)
    assert at.session_state["lang"] == lang
    assert at.title[0].value == t("home.title", lang)
    assert at.sidebar.selectbox(key="lang_select").value == lang


def test_the_chosen_language_stays_for_the_session_on_every_page(monkeypatch):
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.context = {"locale": "en-US"}
    run(at)
    switch = at.sidebar.selectbox(key="lang_select")
    assert switch.label == "Language" and switch.options == ["English", "Português"]
    switch.set_value("pt")
    run(at)
    assert at.title[0].value == t("home.title", "pt")
    assert at.sidebar.selectbox(key="lang_select").label == "Idioma"
    for page, key in (("dataset", "dataset.title"), ("train", "train.title"), ("home", "home.title")):
        at.switch_page(f"pages/{page}.py")
        run(at)
        assert at.title[0].value == t(key, "pt"), page
        assert at.sidebar.selectbox(key="lang_select").value == "pt", page
    at.sidebar.selectbox(key="lang_select").set_value("en")
    run(at)
    assert at.title[0].value == t("home.title", "en") and at.session_state["lang"] == "en"
