"""Translations: one TOML file per language in fer/locales/, keys as 'section.name'.

A third language is one new file (e.g. es.toml) with the same keys; nothing else changes.
"""

from __future__ import annotations

import logging
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANG = "en"


@cache
def languages() -> dict[str, str]:
    """{code: native name} of every language file, English first."""
    out = {}
    for p in sorted(LOCALES_DIR.glob("*.toml"), key=lambda p: (p.stem != DEFAULT_LANG, p.stem)):
        out[p.stem] = catalog(p.stem).get("meta.name", p.stem)
    return out


@cache
def catalog(lang: str) -> dict[str, str]:
    """All strings of a language, flattened to 'section.key' -> text."""
    path = LOCALES_DIR / f"{lang}.toml"
    with path.open("rb") as fh:
        return _flatten(tomllib.load(fh))


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


def t(key: str, lang: str = DEFAULT_LANG, **kwargs: Any) -> str:
    """The text for `key` in `lang`, formatted with kwargs; English, then the key, as fallbacks."""
    text = catalog(lang).get(key) if lang in languages() else None
    if text is None:
        text = catalog(DEFAULT_LANG).get(key)
        if text is None:
            log.warning("missing translation key %r", key)
            return key
    return text.format(**kwargs) if kwargs else text


def pick_language(browser_locale: str | None) -> str:
    """The language to start with for a browser locale like 'pt-BR'; English otherwise."""
    if browser_locale:
        code = browser_locale.split("-")[0].split("_")[0].lower()
        if code in languages():
            return code
    return DEFAULT_LANG


def decimal_sep(lang: str) -> str:
    return t("meta.decimal_separator", lang)


def thousands_sep(lang: str) -> str:
    return t("meta.thousands_separator", lang)


def plotly_separators(lang: str = DEFAULT_LANG) -> str:
    """Plotly's layout.separators for a language: decimal then thousands ('.,' en, ',.' pt)."""
    return decimal_sep(lang) + thousands_sep(lang)


def fmt_number(x: float, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """1234.5 -> '1,234.5' (en) or '1.234,5' (pt)."""
    s = f"{x:,.{digits}f}"
    return s.replace(",", "\0").replace(".", decimal_sep(lang)).replace("\0", thousands_sep(lang))


def fmt_sci(x: float, lang: str = DEFAULT_LANG, digits: int = 2) -> str:
    """0.00123 -> '1.23e-03' (en) or '1,23e-03' (pt)."""
    return f"{x:.{digits}e}".replace(".", decimal_sep(lang))


def fmt_percent(x: float, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """0.725 -> '72.5%' (en) or '72,5%' (pt)."""
    return fmt_number(100 * x, lang, digits) + "%"
