"""A probability bar in its emotion's colour (st.progress is always the theme's red), for readouts."""

from __future__ import annotations

from typing import Any

from fer.i18n import fmt_percent
from fer.labels import display_name, hex_color


def bar_html(label: str, share: float, lang: str) -> str:
    """'Happy: 97.9%' over a bar filled to `share` in the emotion's colour (fer.labels.COLORS)."""
    width = round(100 * min(max(float(share), 0.0), 1.0), 1)
    return (f'<div style="font-size:0.875rem;margin:0.1rem 0">{display_name(label, lang)}: '
            f'{fmt_percent(share, lang)}</div>'
            f'<div style="background:rgba(128,128,128,0.2);border-radius:4px;height:8px;margin-bottom:0.5rem">'
            f'<div style="width:{width}%;background:{hex_color(label)};height:8px;border-radius:4px"></div></div>')


def emotion_bar(where: Any, label: str, share: float, lang: str) -> None:
    """Draw `bar_html` in a Streamlit container (`st`, a column, ...); the text is ours, not the user's."""
    where.markdown(bar_html(label, share, lang), unsafe_allow_html=True)
