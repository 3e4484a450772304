"""Both languages everywhere: complete catalogs, no literal UI text in code, no English on Portuguese pages."""

import ast
import re
from pathlib import Path

import pytest
from helpers import ROOT

from fer.i18n import catalog, languages

UI_FILES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])
# Streamlit calls whose first argument is a path, key or code, not text shown to people.
NOT_TEXT_FIRST_ARG = {"page_link", "Page", "switch_page", "navigation", "cache_resource", "cache_data",
                      "set_page_config", "fragment", "form", "container", "columns", "empty", "secrets", "get",
                      "pop", "setdefault", "image", "plotly_chart", "dataframe", "code", "json", "audio",
                      "video", "html", "query_params"}
TEXT_KEYWORDS = {"label", "help", "placeholder", "caption", "title", "text", "body", "value_label", "file_name_label"}
WORDS = re.compile(r"[A-Za-zÀ-ÿ]{3,}")


def _literal_text(node: ast.AST) -> str | None:
    """The human words in a string literal or f-string, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if WORDS.search(node.value) else None
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return parts if WORDS.search(parts) else None
    return None


def _is_streamlit_call(call: ast.Call) -> str | None:
    """Name of the method when the call is st.X(...), st.sidebar.X(...) or <column>.X(...) of a UI method."""
    f = call.func
    if isinstance(f, ast.Attribute):
        root = f.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id == "st":
            return f.attr
    return None


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_literal_user_text_in_streamlit_calls(path: Path):
    tree = ast.parse(path.read_text())
    offenders = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _is_streamlit_call(node)
        if name is None or name in NOT_TEXT_FIRST_ARG:
            continue
        candidates = node.args[:1] + [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS]
        for arg in candidates:
            text = _literal_text(arg)
            if text:
                offenders.append(f"line {node.lineno}: st.{name}({text!r})")
    assert not offenders, "untranslated text (use t('section.key')):\n" + "\n".join(offenders)


def test_every_language_has_every_key_and_the_same_placeholders():
    en = catalog("en")
    for lang in languages():
        cat = catalog(lang)
        assert set(cat) == set(en), f"{lang}: missing {sorted(set(en) - set(cat))}, extra {sorted(set(cat) - set(en))}"
        for key, text in en.items():
            assert set(re.findall(r"{(\w+)", cat[key])) == set(re.findall(r"{(\w+)", text)), f"{lang}:{key}"


def test_portuguese_is_really_translated():
    en, pt = catalog("en"), catalog("pt")
    same = [k for k, v in en.items() if v == pt[k] and len(WORDS.findall(v)) >= 2 and not k.startswith("meta.")]
    # a few identical strings are fine (names, 'Webcam'), whole untranslated sentences are not
    assert len(same) <= max(3, len(en) // 50), f"identical in en and pt: {same}"
