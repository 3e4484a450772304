"""Both languages everywhere: complete catalogs, no literal UI text in code, no English on Portuguese pages."""

import ast
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fer.i18n import (
    catalog,
    fmt_count,
    fmt_date,
    fmt_duration,
    fmt_list,
    fmt_number,
    fmt_percent,
    fmt_rate,
    fmt_size,
    languages,
    plotly_separators,
    plural,
)
from fer.labels import COLORS, LABELS, display_name
from fer.media.annotate import annotate, font, label_text
from fer.model.inference import FacePrediction
from fer.vision.boxes import FaceBox
from tests.helpers import ROOT

UI_FILES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])
# Streamlit calls whose first argument is a path, key or code, not text shown to people.
NOT_TEXT_FIRST_ARG = {"page_link", "Page", "switch_page", "navigation", "cache_resource", "cache_data",
                      "set_page_config", "fragment", "form", "container", "columns", "empty", "secrets", "get",
                      "pop", "setdefault", "image", "plotly_chart", "dataframe", "code", "json", "audio",
                      "video", "html", "query_params", "get_option", "set_option"}
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


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_no_bare_string_on_a_page_but_its_docstring(path: Path):
    """Streamlit's magic writes a page's bare top-level strings on the page (a constant's docstring once
    showed up above the Images page's title): only the module docstring may be one."""
    body = ast.parse(path.read_text()).body
    bare = [n.lineno for n in body[1:] if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
    assert not bare, f"bare strings at lines {bare}: make them comments"


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


# ----------------------------------------------------------------------------- every key is used
CODE_FILES = sorted([*UI_FILES, *(ROOT / "fer").rglob("*.py")])


def _key_patterns(node: ast.AST) -> list[str]:
    """Regexes for the strings a node can build: literals, f-strings ({x} -> .+) and 'a.' + name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [re.escape(node.value)]
    if isinstance(node, ast.JoinedStr):
        return ["".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _key_patterns(node.left) or [".+"] for b in _key_patterns(node.right) or [".+"]]
    return []


def used_key_patterns() -> list[re.Pattern[str]]:
    """Every string in app.py, pages/, ui/ and fer/ that starts with a catalog section ('images.', f'how.role_{x}')."""
    sections = {k.split(".")[0] for k in catalog("en")}
    found = set()
    for path in CODE_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            for p in _key_patterns(node):
                m = re.match(r"(\w+)\\\.", p)
                if m and m.group(1) in sections:
                    found.add(p)
    return [re.compile(p) for p in found]


def test_every_catalog_key_is_used_by_the_code():
    patterns = used_key_patterns()
    stem = lambda k: k.rsplit(".", 1)[0] if k.endswith((".zero", ".one", ".other")) else k  # noqa: E731 - plural()
    unused = [k for k in catalog("en") if not any(p.fullmatch(k) or p.fullmatch(stem(k)) for p in patterns)]
    assert not unused, f"keys no code uses (remove them from every language file): {unused}"


def test_the_used_key_scan_sees_literal_dynamic_and_concatenated_keys():
    patterns = used_key_patterns()
    for key in ("images.title", "how.role_conv", "emotions.angry", "controls.mode_rotated", "nav.webcam",
                "presets.demo_help", "train.arch_fer-net"):
        assert any(p.fullmatch(key) for p in patterns), key
    assert not any(p.fullmatch("images.no_such_key") for p in patterns)


# ----------------------------------------------------------------------------- numbers per language
def test_numbers_percentages_and_chart_separators_follow_the_language():
    assert fmt_percent(0.725, "en") == "72.5%" and fmt_percent(0.725, "pt") == "72,5%"
    assert fmt_number(1234567.891, "en", 2) == "1,234,567.89" and fmt_number(1234567.891, "pt", 2) == "1.234.567,89"
    assert fmt_number(41, "pt", 0) == "41" and fmt_percent(1.0, "pt", 0) == "100%"
    assert plotly_separators("en") == ".," and plotly_separators("pt") == ",."
    for lang in languages():  # a third language must name both separators, and they must differ
        assert len(plotly_separators(lang)) == 2 and plotly_separators(lang)[0] != plotly_separators(lang)[1]


@pytest.mark.parametrize(("lang", "sep"), [("en", "."), ("pt", ",")])
def test_one_formatter_per_kind_of_number(lang, sep):
    """Issue 39 (13): one rule per kind, in each language's separators."""
    d = lambda text: text.replace(".", sep) if sep == "," else text  # noqa: E731 - the English text, pt's comma
    # percents (accuracies, shares, probabilities): one decimal, never a false 0% or 100%
    assert [fmt_percent(x, lang) for x in (0.9979, 0.1752, 0.0001, 0.0, 0.99996, 1.0)] == [
        d("99.8%"), d("17.5%"), d("<0.1%"), d("0.0%"), d(">99.9%"), d("100.0%")]
    assert fmt_percent(0.004, lang, 0) == "<1%" and fmt_percent(0.1, lang, 0) == "10%"  # settings, progress
    # counts: thousands grouped the language's way
    assert fmt_count(28709, lang) == ("28,709" if lang == "en" else "28.709") and fmt_count(3.0, lang) == "3"
    # plain decimals (loss, F1)
    assert fmt_number(0.6364, lang, 3) == d("0.636")
    # learning rates: two significant digits, a power of ten only when tiny, never '3.00e-03'
    assert [fmt_rate(x, lang) for x in (3e-3, 1e-3, 0.00125, 3.6e-5, 5e-5, 0.1)] == [
        d("0.003"), d("0.001"), d("0.0013"), d("3.6 × 10⁻⁵"), "5 × 10⁻⁵", d("0.1")]
    # durations: never '0.1 min'
    assert [fmt_duration(s, lang) for s in (6, 0.4, 42.4, 125, 3600, 8640)] == [
        "6 s", d("0.4 s"), "42 s", "2 min 5 s", "1 h", "2 h 24 min"]
    # file sizes (the Teach page's list): bytes as a count, then one decimal of KB, MB, GB
    assert [fmt_size(n, lang) for n in (900, 12_345, 3_400_000, 5 * 1024**3)] == [
        "900 B", d("12.1 KB"), d("3.2 MB"), d("5.0 GB")]
    assert fmt_date(datetime(2026, 12, 5, 18, 19, 25), lang) == ("5 Dec 2026, 18:19" if lang == "en"
                                                                  else "5 dez 2026, 18:19")


def test_plural_forms_per_language():
    assert [plural("images.n_photos", n, "en") for n in (1, 2)] == ["1 photo", "2 photos"]
    assert [plural("images.n_faces", n, "pt") for n in (0, 1, 3)] == ["nenhum rosto", "1 rosto", "3 rostos"]
    assert plural("images.n_faces", 0, "en") == "no face" and plural("images.n_photos", 0, "en") == "0 photos"
    assert plural("images.n_faces", 1200, "pt") == "1.200 rostos"
    for lang in languages():  # every plural key has both forms in every language
        keys = {k.rsplit(".", 1)[0] for k in catalog(lang) if k.endswith((".one", ".other"))}
        assert keys and all(f"{k}.one" in catalog(lang) and f"{k}.other" in catalog(lang) for k in keys)


# ----------------------------------------------------------------------------- Portuguese names, drawn with accents
def test_emotion_names_in_portuguese_are_the_courses():
    assert [display_name(k, "pt") for k in LABELS] == ["Raiva", "Nojo", "Medo", "Feliz", "Triste", "Surpresa",
                                                       "Neutro"]


def _glyph(text: str, size: int = 48) -> np.ndarray:
    img = Image.new("L", (4 * size, 2 * size), 0)
    ImageDraw.Draw(img).text((4, 4), text, font=font(size), fill=255)
    return np.asarray(img)


def test_the_label_font_draws_accented_letters():
    for plain, accented in (("a", "ã"), ("c", "ç"), ("e", "é"), ("o", "ô")):
        a, b = _glyph(plain), _glyph(accented)
        assert b.any(), accented
        assert (a != b).any(), f"{accented!r} is drawn like {plain!r}"
        assert (b != _glyph("\ue000")).any(), f"{accented!r} is drawn as the missing-glyph box"
    rows = np.flatnonzero(_glyph("ç").any(axis=1))
    assert rows.max() > np.flatnonzero(_glyph("c").any(axis=1)).max()  # the cedilla hangs below the c


def test_annotate_writes_a_portuguese_label_with_accents_on_the_image():
    face = FacePrediction(FaceBox(60, 120, 160, 160), (0.02, 0.02, 0.02, 0.02, 0.02, 0.88, 0.02))
    assert label_text(face, "pt") == "Surpresa 88,0%"
    out = annotate(np.zeros((320, 320, 3), np.uint8), [face], "pt")
    assert (out[60:120, 60:230] == COLORS["surprise"]).all(axis=2).sum() > 200  # the label's background
    assert (out[60:120, 60:230].sum(axis=2) > 600).any()  # and light text on it


# ----------------------------------------------------------------------------- what stays English
MACHINE_FACING = ("cli/main.py", "model/modelio.py", "media/photo.py", "jobs/launcher.py", "jobs/runs.py",
                  "jobs/runfiles.py", "jobs/runner.py", "jobs/results.py", "train/runlock.py", "train/trainer.py",
                  "train/pipeline.py", "train/presets.py", "model/evaluation.py", "data/stats.py", "config.py",
                  "data/splits.py", "data/dataset.py")


@pytest.mark.parametrize("name", MACHINE_FACING)
def test_cli_and_file_formats_do_not_translate(name):
    """The CLI, JSON/CSV keys, model cards and job files stay English whatever the app's language."""
    tree = ast.parse((ROOT / "fer" / name).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    offenders = sorted(i for i in imported if "i18n" in i or i.endswith(".display_name"))
    assert not offenders, f"fer/{name} imports {offenders}"


CHOICE_WIDGETS = {"selectbox", "radio", "multiselect", "select_slider", "pills", "segmented_control"}


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_keyed_choices_shown_in_words_keep_their_value_across_a_language_switch(path: Path):
    """Issue 39 (2): the browser sends back a choice's words, not its code; after a language switch a keyed
    choice with format_func went back to its first option unless its key goes through ui.common.worded (the
    Train form's fields get theirs from its field())."""
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in CHOICE_WIDGETS):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        if "format_func" not in kw or "key" not in kw:
            continue
        key = kw["key"]
        through = isinstance(key, ast.Call) and isinstance(key.func, ast.Name) and key.func.id == "worded"
        if not (through or "lang_select" in ast.unparse(key)):  # the switch: names the same in all
            offenders.append(f"line {node.lineno}: {node.func.attr}(key={ast.unparse(key)})")
    assert not offenders, offenders


@pytest.mark.parametrize("lang, items, want", [("en", [], ""), ("en", ["Fear"], "Fear"),
                                               ("en", ["Disgust", "Fear"], "Disgust and Fear"),
                                               ("pt", ["Raiva", "Nojo", "Medo"], "Raiva, Nojo e Medo")])
def test_lists_join_with_the_language_s_and(lang, items, want):
    assert fmt_list(items, lang) == want
