"""Downloads in the session's language: CSV files as its spreadsheets open them (Images and Videos pages)."""

from __future__ import annotations

from typing import Any

from fer.i18n import decimal_sep
from ui.common import lang


def csv_text(frame: Any, language: str | None = None) -> str:
    """A table (pandas DataFrame) as the CSV download in the language's numbers (the session's unless given: a
    deferred download runs outside the page's run): probabilities as plain decimals with six digits (never
    '3.6e-05'); with a decimal comma (Portuguese), fields are separated by ';' as its spreadsheets expect."""
    sep = decimal_sep(language or lang())
    return frame.to_csv(index=False, float_format="%.6f", sep=";" if sep == "," else ",", decimal=sep)
