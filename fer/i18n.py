"""Translations: one TOML file per language in fer/locales/, keys as 'section.name'.

A third language is one new file (e.g. es.toml) with the same keys; nothing else changes.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Sequence
from datetime import datetime
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


# ----------------------------------------------------------------------------- numbers
# One formatter per kind of number, each in the language's separators; pages, charts' texts, tables and
# CSV downloads all use these (tests/test_i18n.py). Percents (accuracies, shares, probabilities) have one
# decimal everywhere, "<0.1%" for a tiny share that is not zero and ">99.9%" for one just short of all;
# settings and progress bars write whole percents (digits=0), with the same rule at their precision.


def fmt_number(x: float, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """A plain decimal: 1234.5 -> '1,234.5' (en) or '1.234,5' (pt). Losses and F1 take 3 digits."""
    s = f"{x:,.{digits}f}"
    return s.replace(",", "\0").replace(".", decimal_sep(lang)).replace("\0", thousands_sep(lang))


def fmt_count(n: float, lang: str = DEFAULT_LANG) -> str:
    """A count: 28709 -> '28,709' (en) or '28.709' (pt)."""
    return fmt_number(round(n), lang, 0)


def fmt_percent(x: float, lang: str = DEFAULT_LANG, digits: int = 1) -> str:
    """A share or probability (0..1) as a percent: 0.725 -> '72.5%' (en) or '72,5%' (pt); 0.00004 -> '<0.1%'
    and 0.99996 -> '>99.9%', so a face is never 0% or 100% of anything it is only nearly."""
    step = 10.0 ** -digits
    pct = 100 * x
    if 0 < pct < step / 2:
        return "<" + fmt_number(step, lang, digits) + "%"
    if 100 - step / 2 <= pct < 100:
        return ">" + fmt_number(100 - step, lang, digits) + "%"
    return fmt_number(pct, lang, digits) + "%"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_rate(x: float, lang: str = DEFAULT_LANG) -> str:
    """A learning rate, to two significant digits: 0.003 -> '0.003', 0.00125 -> '0.0013' (pt '0,0013'); under
    0.0001 as a power of ten, 3.6e-05 -> '3.6 × 10⁻⁵', never '3.60e-05'."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.1e}".split("e")
    exp = int(exponent)
    if exp >= -4:
        digits = max(0, 1 - exp)
        text = f"{float(f'{x:.2g}'):.{digits}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return text.replace(".", decimal_sep(lang))
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa.replace('.', decimal_sep(lang))} × 10" + str(exp).translate(_SUPERSCRIPT)


def fmt_size(n_bytes: int, lang: str = DEFAULT_LANG) -> str:
    """A file's size: 900 -> '900 B', 12_345 -> '12.1 KB' ('12,1 KB'), 3_400_000 -> '3.2 MB' (units of 1024)."""
    if n_bytes < 1000:
        return f"{fmt_count(n_bytes, lang)} B"
    size, unit = n_bytes / 1024, "KB"
    for bigger in ("MB", "GB"):
        if size < 1000:
            break
        size, unit = size / 1024, bigger
    return f"{fmt_number(size, lang, 1)} {unit}"


def fmt_duration(seconds: float, lang: str = DEFAULT_LANG) -> str:
    """A duration in words' units: 6 -> '6 s', 0.4 -> '0.4 s' ('0,4 s'), 125 -> '2 min 5 s', 8640 -> '2 h 24 min'
    (never '0.1 min')."""
    if seconds < 10 and round(seconds, 1) != round(seconds):
        return fmt_number(seconds, lang, 1) + " s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes + (secs >= 30), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def plural(key: str, n: int, lang: str = DEFAULT_LANG, **kwargs: Any) -> str:
    """The text of `key.one` for n == 1, else of `key.other` (each language's catalog has both), with {n} as a
    count: '1 photo', '2 photos'; `key.zero` for 0 where the catalog has one ('no face', not '0 faces')."""
    form = "zero" if n == 0 and f"{key}.zero" in catalog(lang) else "one" if n == 1 else "other"
    return t(f"{key}.{form}", lang, n=fmt_count(n, lang), **kwargs)


def fmt_list(items: Sequence[str], lang: str = DEFAULT_LANG) -> str:
    """'A', 'A and B', 'A, B and C' in the language's words."""
    if len(items) < 2:
        return "".join(items)
    return t("common.list_and", lang, rest=", ".join(items[:-1]), last=items[-1])


def fmt_date(when: datetime, lang: str = DEFAULT_LANG) -> str:
    """A date and time people read: '5 Dec 2026, 18:19' (en), '5 dez 2026, 18:19' (pt)."""
    month = t("meta.months", lang).split()[when.month - 1]
    return t("meta.date", lang, day=when.day, month=month, year=when.year, time=f"{when:%H:%M}")
