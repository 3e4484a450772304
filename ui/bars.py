"""Probability bars in each emotion's colour (st.progress is always the theme's red), for readouts.

An Altair (Vega-Lite) bar chart whose colour column holds the emotions' hex colours
(fer.labels.COLORS), used as they are: no raw HTML (tests/test_hardening.py allows it only as a constant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from fer.i18n import fmt_percent
from fer.labels import display_name, hex_color


def bars_frame(labels: Sequence[str], shares: Sequence[float], lang: str) -> pd.DataFrame:
    """One row per emotion, in the given order: its name with the share written out, the share
    (0..1) and its colour."""
    return pd.DataFrame({
        "emotion": [f"{display_name(k, lang)} {fmt_percent(float(s), lang)}" for k, s in zip(labels, shares,
                                                                                        strict=True)],
        "share": [min(max(float(s), 0.0), 1.0) for s in shares],
        "colour": [hex_color(k) for k in labels],
    })


def emotion_bars(where: Any, labels: Sequence[str], shares: Sequence[float], lang: str) -> None:
    """Horizontal bars in the given order, each in its emotion's colour, in a Streamlit container."""
    import altair as alt

    frame = bars_frame(labels, shares, lang)
    chart = alt.Chart(frame).mark_bar(cornerRadiusEnd=3).encode(
        x=alt.X("share:Q", scale=alt.Scale(domain=[0, 1]), axis=None),
        y=alt.Y("emotion:N", sort=None, title=None,
                axis=alt.Axis(labelLimit=200, labelFontSize=13, labelOverlap=False)),  # every name shown
        color=alt.Color("colour:N", scale=None),  # the hex colours as they are
        tooltip=[alt.Tooltip("emotion:N", title=None)],
    ).properties(height=34 * len(frame))
    where.altair_chart(chart, width="stretch")
