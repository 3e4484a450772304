"""Server hardening: the upload limit and XSRF protection set on purpose, no raw HTML built from user text,
uploaded file names never used as paths (nor rendered as Markdown: one escaping helper, ui.text.plain)."""

import ast
import io
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer.i18n import t
from tests.helpers import ROOT
from ui.text import plain

UI_FILES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])


def config() -> dict:
    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_the_server_config_is_deliberate():
    server = config()["server"]
    assert server["maxUploadSize"] == 200  # MB per file: a video of the Videos page's 200 MB fits
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True  # Streamlit needs CORS protection on for XSRF protection to apply
    assert server.get("enableStaticServing", False) is False
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r"#.*\n\s*maxUploadSize", text), "the upload limit needs its reason beside it"


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_raw_html_is_only_ever_a_constant(path: Path):
    """unsafe_allow_html=True and st.html may only take a literal string: never text built from input."""
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        raw = any(k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                  for k in node.keywords)
        raw |= isinstance(node.func, ast.Attribute) and node.func.attr == "html"
        if raw and not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
            offenders.append(f"line {node.lineno}: {ast.unparse(node)[:120]}")
    assert not offenders, "raw HTML from a non-constant:\n" + "\n".join(offenders)


def upload_bytes(name: str, i: int, size: int = 10) -> bytes:
    """A small valid dataset upload for `name`'s suffix (a zip of one entry, or a CSV), distinct per `i`."""
    import zipfile

    if name.lower().endswith(".csv"):
        return f"emotion,pixels\n{i % 7},{' '.join(['7'] * 2304)}\n".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"train/happy/{i}.png", bytes([i % 256]) * size)
    return buf.getvalue()


def test_uploaded_dataset_names_never_become_paths(tmp_path):
    from ui.data_source import save_upload

    folder = tmp_path / "uploads"
    names = ["../../escape.zip", "/etc/cron.d/x.zip", "a/b/../../../c.ZIP", "..\\..\\win.zip", "evil\x00.csv",
             "  .csv", "con.csv"]
    for i, name in enumerate(names):
        saved = save_upload(io.BytesIO(upload_bytes(name, i)), name, folder)
        assert saved.parent == folder and re.fullmatch(r"[0-9a-f]{32}\.(zip|csv)", saved.name), (name, saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]
    assert len(list(folder.iterdir())) == len(names)
    with pytest.raises(ValueError, match="expected a .zip or .csv"):
        save_upload(io.BytesIO(b"x"), "photo.zip.exe", folder)


def upload_named(photo_name: str, broken_name: str) -> list[str]:
    """Upload a plain PNG and an empty (unreadable) file with these names to the Images page; the texts
    that name them (the photo's heading and the broken file's error)."""
    buf = io.BytesIO()
    Image.fromarray(np.full((60, 80, 3), 200, np.uint8)).save(buf, format="PNG")
    at = AppTest.from_file(str(ROOT / "pages" / "images.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    at.file_uploader[0].set_value([(photo_name, buf.getvalue(), "image/png"), (broken_name, b"", "image/jpeg")])
    at.run()
    assert not at.exception
    return [e.value for e in at.subheader if e.value != "All faces"] + [e.value for e in at.error]


def test_an_uploaded_photo_name_is_shown_as_text_not_markdown():
    name = "![x](http://example.invalid/t.png) **b** :red[c].png"
    shown = upload_named(name, name[:-4] + ".jpg")
    assert len(shown) == 2
    for text in shown:
        assert "![x](" not in text and "**b**" not in text and ":red[" not in text, text  # all escaped
        assert re.sub(r"\\(.)", r"\1", text).replace("\u2060", "").count(name[:-4]) == 1, text  # and still all there


ATTACK = "![pic](http:attacker.invalid) [click me](https://attacker.invalid/x) www.attacker.invalid.jpg"
NAMES = [ATTACK, "# Heading\n- list www.example.invalid", "a@b.invalid :red[c] $x^2$ <b>b</b> *e* `c` ~~s~~.png",
         "1. one\r\n> quote\u202e\u2028|t|", "&lt;tag&gt; &#60; :material/home: :smile:"]


@pytest.mark.parametrize("name", NAMES)
def test_plain_renders_a_user_string_as_itself_on_one_line(name):
    """Issue 30 (9): every ASCII punctuation mark escaped (no link, image, heading, list, entity, colour,
    LaTeX), a word joiner inside `www.` and after `:` and `@` (no autolink: escapes do not stop those in
    Streamlit, bench/hostile_uploads.py checks it in chromium), control and bidi characters made spaces."""

    from markdown_it import MarkdownIt

    text = plain(name)
    assert not re.search(r"[!-/:-@\[-`{-~]", re.sub(r"\\.", "", text)), text  # no punctuation unescaped
    assert "\n" not in text and "\r" not in text and "\u202e" not in text and "\u2028" not in text
    assert not re.search(r"(?i)www\\\.|:[^\u2060]|@[^\u2060]", text), text  # autolink starts broken
    html = MarkdownIt("commonmark").render(text)
    assert html.startswith("<p>") and html.count("<") == 2, html  # one paragraph of text, nothing else
    shown = re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")  # escapes and word joiners removed
    assert shown == re.sub(r"[\r\n\u202e\u2028]", " ", name)  # all of it
    assert plain("x" * 5000).endswith("…") and len(plain("x" * 5000)) == 1001


UI_SOURCES = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])
USER_TEXT = re.compile(r"\bexc\b|\.error\b|^name$")  # an exception, a job's error, an uploaded file's name
ESCAPING = {"plain", "data_error_text", "worded_values"}  # worded_values: plain() on each text value
"""plain, and ui.common.data_error_text, which puts a DataError's strings through plain (tested below)."""
PLAIN_TEXT_KEYS = {"common.run_name"}
"""Translations used only as plain text (ui.common.model_label: widget options, plotly through plot_text); a caller
that puts one into Markdown escapes the whole (pages/results.py label(markdown=True))."""


@pytest.mark.parametrize("path", UI_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_strings_reach_translated_text_only_through_plain(path: Path):
    """A t(...) argument that carries a user's string (an exception's message, a file name, a job's error, a
    path) is wrapped in plain(...): the translations are Markdown."""
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t"):
            continue
        if node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in PLAIN_TEXT_KEYS:
            continue
        for kw in node.keywords:
            value = kw.value
            if isinstance(value, ast.IfExp) and ast.unparse(value.test) == "markdown":
                value = value.body  # plain(name) if markdown else name: plain text (options) unless for Markdown
            elif isinstance(value, ast.IfExp):  # e.g. t("train.died") if ... else plain(info.error)
                value = value.orelse
            is_plain = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ESCAPING
            if not is_plain and not isinstance(value, ast.Constant) and USER_TEXT.search(ast.unparse(value)):
                offenders.append(f"line {node.lineno}: {kw.arg}={ast.unparse(value)}")
    assert not offenders, "user text into Markdown without plain():\n" + "\n".join(offenders)


def test_how_it_works_names_an_unreadable_file_without_rendering_it():
    """Issue 30 (9): this name put an image and two links into the error box."""
    at = AppTest.from_file(str(ROOT / "pages" / "how_it_works.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    at.radio(key="how_source").set_value("upload").run()
    at.file_uploader(key="how_upload").upload(ATTACK, b"not an image", "image/jpeg").run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "](" not in error and "www." not in error and "![" not in error, error
    assert re.sub(r"\\(.)", r"\1", error).replace("\u2060", "") == t("how.bad_file", "en", name=ATTACK)


def test_images_page_escapes_autolinks_newlines_and_headings():
    """Issue 30 (9): on the Images page `www.` names still became links; newlines and `#` were not escaped."""
    shown = upload_named("# big\nwww.attacker.invalid.png", "x\n# y www.a.invalid.jpg")
    assert len(shown) == 2
    for text in shown:
        assert "\n" not in text and "www." not in text and not text.startswith("#"), text


def test_the_dataset_page_escapes_names_from_inside_an_archive(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.setenv("FER_UPLOAD_DIR", str(tmp_path / "uploads"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("train/[x](http:attacker.invalid)/www.a.invalid.png", b"\x89PNG")
    at = AppTest.from_file(str(ROOT / "pages" / "dataset.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    at.selectbox(key="dataset_source").select("upload").run()
    at.file_uploader(key="dataset_upload").upload("d.zip", buf.getvalue(), "application/zip").run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "unknown class folder" in error and "](" not in error and "www." not in error, error


@pytest.mark.parametrize(("page", "key", "sent"), [("dataset.py", "dataset_source", "/etc"),
                                                   ("how_it_works.py", "how_example", "../../../../etc/passwd"),
                                                   ("dataset.py", "dataset_class", "../x")])
def test_a_selectbox_value_the_server_did_not_offer_is_never_used(page, key, sent, caplog):
    """Issue 30 (2): every value a widget sends is checked against what the server offered."""
    from tests.helpers import craft

    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    before = at.selectbox(key=key).value
    craft(at.selectbox(key=key), sent)
    at.run()
    assert not at.exception, at.exception
    box = at.selectbox(key=key)
    # refused: the widget keeps its last value, or (the dataset chooser, whose options are codes and whose kept
    # choice decides) falls back to its first option, the sample; never the value sent
    first = "sample" if key == "dataset_source" else box.options[0]  # the chooser's options are codes
    assert box.value in (before, first) and box.value != sent and sent not in box.options
    assert "passwd" not in caplog.text


def beyond_the_upload_limit(mb: float) -> str:
    """A $FER_UPLOAD_MAX_MB of the server's upload limit (.streamlit/config.toml) plus `mb`."""
    import streamlit as st

    return str(int(st.get_option("server.maxUploadSize")) + mb)


def test_the_uploads_folder_stays_under_its_cap_oldest_first(tmp_path, monkeypatch):
    """Issue 30: disk bounded. Each saved upload leaves room for one more at the server's upload limit."""
    import os
    import time

    from ui.data_source import save_upload

    monkeypatch.setenv("FER_UPLOAD_MAX_MB", beyond_the_upload_limit(0.5))  # room for one 300 kB upload
    folder = tmp_path / "uploads"
    saved = []
    for i in range(4):
        saved.append(save_upload(io.BytesIO(upload_bytes("d.zip", i, 300_000)), f"d{i}.zip", folder))
        os.utime(saved[-1], (time.time() - 100 + i, time.time() - 100 + i))
    # before each save the folder is cut to 0.5 MB (the cap less one upload at the limit): one 300 kB file
    assert sorted(folder.iterdir()) == sorted(saved[-2:])
