"""What the user made survives (AppTest through app.py, both languages): photos and their results across pages
(issue 39, 1), the language in the URL (3), one active model on every page (4), no traceback on any page (5), a
file of the wrong type named in the page's language (6)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.common
from fer.i18n import fmt_percent, t
from fer.model.modelio import load_card
from tests.helpers import PHOTOS, ROOT, StreamerStub, shown, write_folder
from tests.test_i18n_pages import rerun_app_py

PHOTO = (PHOTOS / "obama.jpg").read_bytes()
GROUP = (PHOTOS / "obama_and_biden.jpg").read_bytes()


def open_app(lang: str, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    run(at)  # home: registers the pages, so switch_page finds those whose url is not their file's name
    return go(at, page) if page else at


@pytest.fixture(autouse=True)
def _no_webrtc(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Webcam page's component cannot run under AppTest."""
    import streamlit_webrtc

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", StreamerStub())


GUARDED = tuple(t("app.error", lang, ref="").split("(")[0] for lang in ("en", "pt"))


def run(at: AppTest) -> AppTest:
    """One run that neither raised nor was caught by the page guard."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if e.value.startswith(GUARDED)]
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py")
    return run(at)


def texts(at: AppTest, kind: str) -> list[str]:
    return [shown(e.value) for e in getattr(at, kind)]


def everything(at: AppTest) -> str:
    kinds = ("title", "header", "subheader", "markdown", "caption", "text", "code", "error", "warning", "info",
             "success", "exception")
    return " ".join(str(e.value) for kind in kinds for e in at.get(kind))


def active_caption(at: AppTest, lang: str) -> str:
    """Home's line naming the active model."""
    [caption] = [c for c in texts(at, "caption") if c.startswith(t("home.model_unknown", lang, name="")[:-1])]
    return caption


def click(at: AppTest, label: str, n: int = 0) -> AppTest:
    [b for b in at.button if b.label == label][n].click()
    return run(at)


# ----------------------------------------------------------------------------- 1, 6: Images
@pytest.mark.parametrize("lang", ["en", "pt"])
def test_photos_and_results_survive_other_pages_until_cleared(lang, monkeypatch):
    at = open_app(lang, monkeypatch, "images")
    at.file_uploader(key="img_upload").upload("obama_and_biden.jpg", GROUP, "image/jpeg")
    at.file_uploader(key="img_upload").upload("notes.txt", b"shopping: milk, eggs", "text/plain")
    run(at)
    at.pills(key="img_examples").set_value(["biden.jpg"])
    run(at)
    before = texts(at, "subheader")
    assert before == [t("images.table", lang), "obama_and_biden.jpg", "biden.jpg"]
    rows = len(at.dataframe[0].value)
    assert rows == 3  # two faces in the group photo, one in the example
    [drop] = [p for p in at.pills if p.label == t("images.drop", lang)][:1]
    drop.set_value([2])
    run(at)
    assert len(at.dataframe[0].value) == 2
    wrong = [e for e in texts(at, "error") if e.startswith("notes.txt ")]
    assert wrong == [t("images.error_not_image", lang, name="notes.txt")]  # named, in the page's language
    results = dict(at.session_state["img_results"])

    for page in ("dataset", "how_it_works", "webcam", "home"):
        go(at, page)
        assert t("images.title", lang) != at.title[0].value
        go(at, "images")
        assert texts(at, "subheader") == before, page
        assert len(at.dataframe[0].value) == 2, page  # the face left out stays out
        assert [e for e in texts(at, "error") if e.startswith("notes.txt ")] == wrong, page
        assert t("images.empty", lang) not in texts(at, "info")
        assert at.file_uploader(key="img_upload").value == []  # Streamlit's uploader forgot them; the page did not
        kept = at.session_state["img_results"]
        assert all(kept[k][1] is results[k][1] for k in results), page  # shown again, not analysed again

    click(at, t("images.clear_all", lang))
    assert texts(at, "subheader") == [] and t("images.empty", lang) in texts(at, "info")
    assert at.pills(key="img_examples").value == []
    assert at.file_uploader(key="img_upload_1").value == []  # a fresh, empty uploader
    go(at, "home")
    go(at, "images")
    assert t("images.empty", lang) in texts(at, "info")


def test_one_photo_goes_with_its_remove_button_or_the_uploaders_cross(monkeypatch):
    at = open_app("en", monkeypatch, "images")
    uploader = at.file_uploader(key="img_upload")
    uploader.upload("obama.jpg", PHOTO, "image/jpeg").upload("obama_and_biden.jpg", GROUP, "image/jpeg")
    run(at)
    assert texts(at, "subheader") == ["All faces", "obama.jpg", "obama_and_biden.jpg"]
    click(at, "Remove", 0)
    assert texts(at, "subheader") == ["All faces", "obama_and_biden.jpg"]
    run(at)  # the removed photo does not come back from the uploader that still lists it
    assert texts(at, "subheader") == ["All faces", "obama_and_biden.jpg"]
    uploader = at.file_uploader(key="img_upload")  # the cross on the other: the same files, one fewer
    uploader._files = [f for f in uploader._get_files_to_register() if f[1] != "obama_and_biden.jpg"]
    run(at)
    assert texts(at, "subheader") == [] and "Upload a photo or pick an example to start." in texts(at, "info")


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_file_of_any_type_reaches_the_page_and_a_wrong_one_is_named(lang, monkeypatch):
    at = open_app(lang, monkeypatch, "images")
    assert not at.file_uploader(key="img_upload").allowed_type  # the browser refuses nothing silently
    at.file_uploader(key="img_upload").upload("notes.txt", b"not a photo", "text/plain")
    run(at)
    assert texts(at, "error") == [t("images.error_not_image", lang, name="notes.txt")]
    assert t("images.empty", lang) not in texts(at, "info")

    go(at, "how_it_works")
    at.radio(key="how_source").set_value("upload")
    run(at)
    at.file_uploader(key="how_upload").upload("notes.txt", b"not a photo", "text/plain")
    run(at)
    assert texts(at, "error") == [t("how.bad_file", lang, name="notes.txt")]

    go(at, "dataset")
    at.selectbox(key="dataset_source").select(t("data.upload", lang))
    run(at)
    at.file_uploader(key="dataset_upload").upload("notes.txt", b"not a dataset", "text/plain")
    run(at)
    assert texts(at, "error") == [t("data.upload_wrong_type", lang, name="notes.txt")]


# ----------------------------------------------------------------------------- 1: the same class elsewhere
def test_the_how_pages_upload_and_the_dataset_pages_upload_survive_other_pages(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_UPLOAD_DIR", str(tmp_path / "uploads"))
    at = open_app("pt", monkeypatch, "how_it_works")
    at.radio(key="how_source").set_value("upload")
    run(at)
    at.file_uploader(key="how_upload").upload("rosto.jpg", PHOTO, "image/jpeg")
    run(at)
    explained = [h.value for h in at.header]
    assert len(explained) == 8
    go(at, "images")
    go(at, "how_it_works")
    assert at.radio(key="how_source").value == "upload"
    assert [h.value for h in at.header] == explained and not at.error

    import zipfile
    data = write_folder(tmp_path / "ds", n_per_class=3)
    z = tmp_path / "meu.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in data.rglob("*.png"):
            zf.write(f, f.relative_to(data))
    go(at, "dataset")
    at.selectbox(key="dataset_source").set_value("upload")  # a code, shown in words
    run(at)
    at.file_uploader(key="dataset_upload").upload("meu.zip", z.read_bytes(), "application/zip")
    run(at)
    counts = [m.value for m in at.metric]
    assert counts and t("data.upload_wait", "pt") not in texts(at, "info")
    go(at, "home")
    go(at, "dataset")
    assert at.selectbox(key="dataset_source").value == "upload"
    assert [m.value for m in at.metric] == counts and t("data.upload_wait", "pt") not in texts(at, "info")


# ----------------------------------------------------------------------------- 3: the language in the URL
@pytest.mark.parametrize(("url", "locale", "lang"), [("pt", "en-US", "pt"), ("en", "pt-BR", "en"),
                                                     (None, "pt-BR", "pt"), ("xx", "pt-BR", "pt"), (None, None, "en")])
def test_the_url_names_the_language_first_then_the_browser(url, locale, lang, monkeypatch):
    """A reload or a new tab is a new session: only the URL and the browser's language are left."""
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.context = {"locale": locale}
    if url:
        at.query_params["lang"] = url
    run(at)
    assert at.session_state["lang"] == lang
    assert at.title[0].value == t("home.title", lang)
    assert at.query_params["lang"] == lang  # the URL now says it: the next reload keeps it


def test_the_switch_writes_the_url_and_every_page_keeps_it(monkeypatch):
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.context = {"locale": "en-US"}
    run(at)
    at.sidebar.selectbox(key="lang_select").set_value("pt")
    run(at)
    assert at.query_params["lang"] == "pt" and at.title[0].value == t("home.title", "pt")
    for page in ("images", "dataset", "home"):
        at.query_params.clear()  # a page change in the browser drops the query string
        go(at, page)
        assert at.query_params["lang"] == "pt", page
        assert at.sidebar.selectbox(key="lang_select").value == "pt"
    links = [link.proto.query_string for link in at.get("page_link")]
    assert links and all(q == "lang=pt" for q in links)  # Home's links carry it too


# ----------------------------------------------------------------------------- 4: one active model
@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fer.config import TrainConfig
    from fer.train.trainer import train

    root = tmp_path_factory.mktemp("active")
    data = write_folder(root / "ds", n_per_class=4)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=1, batch_size=8)
    train(cfg, root / "runs" / "mine")
    return root / "runs"


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_use_this_model_on_results_is_the_model_of_every_page(lang, one_run, monkeypatch):
    monkeypatch.setenv("FER_RUNS_DIR", str(one_run))
    at = open_app(lang, monkeypatch)
    card = load_card(ROOT / "models" / "default.keras")
    assert active_caption(at, lang) == t("home.model", lang, name="default", arch=card.arch,
                                         acc=fmt_percent(card.metrics["test"]["accuracy"], lang))
    go(at, "results")
    at.multiselect(key="res_pick").set_value(["mine"])
    run(at)
    click(at, t("results.make_active", lang))
    assert t("results.is_active", lang) in texts(at, "success")
    go(at, "home")
    caption = active_caption(at, lang)
    assert " mine " in caption and "default" not in caption
    for page in ("images", "webcam", "how_it_works"):
        go(at, page)
        assert at.sidebar.selectbox(key="ctl_model").value == "runs/mine", page
    at.sidebar.selectbox(key="ctl_model").set_value("default")  # and back, from the sidebar
    run(at)
    go(at, "home")
    assert " default " in active_caption(at, lang)
    go(at, "results")
    at.multiselect(key="res_pick").set_value(["mine"])
    run(at)
    assert any(b.label == t("results.make_active", lang) for b in at.button)


# ----------------------------------------------------------------------------- 5: the page-level guard
@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_page_that_raises_shows_a_plain_message_and_logs_the_traceback(lang, monkeypatch, caplog):
    def broken(_path):
        raise ValueError("Found empty input array secret-detail")

    monkeypatch.setattr(ui.common, "model_card", broken)  # Home reads the active model's card
    rerun_app_py(monkeypatch)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    with caplog.at_level(logging.ERROR, logger="ui.guard"):
        at.run()
    assert not at.exception  # no traceback element
    [error] = texts(at, "error")
    ref = [r for r in caplog.records if r.name == "ui.guard"][0]
    assert ref.exc_info and "secret-detail" in str(ref.exc_info[1])  # the details went to the log
    code = ref.args[-1]
    assert error == t("app.error", lang, ref=code)
    page = everything(at)
    assert "secret-detail" not in page and "Traceback" not in page and "ValueError" not in page
    assert at.title[0].value == t("home.title", lang)  # what the page drew before the fault stays
    assert at.sidebar.selectbox(key="lang_select").value == lang  # and so does the app around it


def test_streamlits_own_stop_rerun_and_page_switch_pass_through_the_guard(monkeypatch):
    at = open_app("en", monkeypatch, "images")  # st.stop() with nothing uploaded
    assert not at.error and "Upload a photo or pick an example to start." in texts(at, "info")
    at.pills(key="img_examples").set_value(["obama_and_biden.jpg"])
    run(at)
    click(at, "How face 2 was read")  # st.switch_page
    assert at.title[0].value == "How it works" and not at.error
    go(at, "images")
    click(at, "Clear all")
    assert not at.error


def test_tracebacks_are_off_in_the_servers_config():
    import tomllib

    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        assert tomllib.load(fh)["client"]["showErrorDetails"] == "none"


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_no_page_draws_a_bare_string_by_magic(path):
    """Streamlit's magic draws a page's bare string statements: a docstring under a constant showed on Images."""
    import ast

    body = ast.parse(path.read_text()).body[1:]  # the module docstring is not drawn
    bare = [n.lineno for n in body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
    assert not bare, f"{path.name}: bare strings at lines {bare}"
