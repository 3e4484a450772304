"""CSV cells that a spreadsheet shows as the text they are.

A cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets skip before
reading a formula) is a formula to Excel, LibreOffice and Google Sheets: an upload named
`=HYPERLINK("http://attacker.invalid", "Click")` would become a live link in the Images CSV (issue 42). As OWASP
advises (CSV Injection), such a cell is prefixed with a single quote, which the spreadsheet shows as text and
does not display. Every CSV the app writes passes its text cells through `cell`; numbers are left as they are
(-0.5 is a number, not a formula).
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value` as a CSV cell: text that a spreadsheet would read as a formula gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
