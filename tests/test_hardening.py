"""Server hardening: the upload limit and XSRF protection set on purpose, no raw HTML built from user text,
uploaded file names never used as paths (nor rendered as Markdown)."""

import streamlit_webrtc  # noqa: F401, I001  (must precede tensorflow)

import ast
import io
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from helpers import ROOT

UI_FILES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])


def config() -> dict:
    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_the_server_config_is_deliberate():
    server = config()["server"]
    assert server["maxUploadSize"] == 100  # MB per file: the full FER2013 zip (62 MB) fits
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


def test_uploaded_dataset_names_never_become_paths(tmp_path):
    from ui.data_source import save_upload

    folder = tmp_path / "uploads"
    names = ["../../escape.zip", "/etc/cron.d/x.zip", "a/b/../../../c.ZIP", "..\\..\\win.zip", "evil\x00.csv",
             "  .csv", "con.csv"]
    for i, name in enumerate(names):
        saved = save_upload(io.BytesIO(f"data {i}".encode()), name, folder)
        assert saved.parent == folder and re.fullmatch(r"[0-9a-f]{32}\.(zip|csv)", saved.name), (name, saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]
    assert len(list(folder.iterdir())) == len(names)
    with pytest.raises(ValueError, match="expected a .zip or .csv"):
        save_upload(io.BytesIO(b"x"), "photo.zip.exe", folder)


def test_an_uploaded_photo_name_is_shown_as_text_not_markdown():
    buf = io.BytesIO()
    Image.fromarray(np.full((60, 80, 3), 200, np.uint8)).save(buf, format="PNG")
    name = "![x](http://example.invalid/t.png) **b** :red[c].png"
    at = AppTest.from_file(str(ROOT / "pages" / "images.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    at.file_uploader[0].set_value([(name, buf.getvalue(), "image/png"), (name[:-4] + ".jpg", b"", "image/jpeg")])
    at.run()
    assert not at.exception
    shown = [e.value for e in at.subheader if e.value != "All faces"] + [e.value for e in at.error]
    assert len(shown) == 2
    for text in shown:
        assert "![x](" not in text and "**b**" not in text and ":red[" not in text, text  # all escaped
        assert re.sub(r"\\(.)", r"\1", text).count(name[:-4]) == 1, text  # and still all there
