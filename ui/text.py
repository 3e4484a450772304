"""User-supplied text (file names, archive entries, error messages that quote them) shown as itself.

Streamlit renders most strings as Markdown (GitHub flavour, with its own colour, icon and LaTeX syntax):
a file named `![x](http://...)` would become an image, `www.site` a link, a leading `#` a heading. Every
string a user chose goes through `plain` before it reaches st.error, st.subheader, st.caption and the like.
Tables (st.dataframe) and plain-text widgets (st.code, st.text) show text as it is and need no escaping.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_CHARS = 1000
"""Longer text is cut (with an ellipsis) before escaping: a name is shown, not a megabyte of it."""

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark: CommonMark escapes them all
_BREAKS = {"Cc", "Cf", "Zl", "Zp"}  # control characters (newlines, tabs), bidi overrides, line separators
_AUTOLINK = re.compile(r"(?i)(www)(?=\.)|([:@])")
JOINER = "\u2060"
"""WORD JOINER, invisible: put inside `www.`, after `:` and `@`, it stops GitHub's autolinks (`www.site`,
`https://site`, `a@b.site`), which a backslash escape does not stop (seen in chromium, bench/hostile_uploads.py)."""


def plain(text: object, limit: int = MAX_CHARS) -> str:
    """`text` as Markdown that renders as exactly this text on one line (plus invisible word joiners): no
    links (`[a](b)`, `www.`, `http:`, e-mail), images, emphasis, headings, lists, HTML, colour directives
    (`:red[..]`) or LaTeX."""
    s = "".join(" " if unicodedata.category(c) in _BREAKS else c for c in str(text))
    if len(s) > limit:
        s = s[:limit] + "…"
    s = _AUTOLINK.sub(lambda m: (m[1] or "") + JOINER if m[1] else m[2] + JOINER, s)
    return _PUNCTUATION.sub(r"\\\1", s)


def plot_text(text: object, limit: int = MAX_CHARS) -> str:
    """`text` for a plotly figure (a trace or legend name, a title, a label) that shows as exactly this text:
    plotly draws its own subset of HTML there (`<a href>` becomes a link, `<b>` bold), and shows `&lt;` as `<`."""
    s = "".join(" " if unicodedata.category(c) in _BREAKS else c for c in str(text))
    if len(s) > limit:
        s = s[:limit] + "…"
    return html.escape(s, quote=False)
