"""One look for every chart and table of the app: the language's numbers, no plotly toolbar, the legend under
the plot; tables whose toolbar has room of its own (issue 39, item 16).

Plotly's toolbar (zoom, pan, download as PNG) appeared on hover over the top right corner, where the
curves' "training / validation" legend was; Streamlit's own fullscreen button stays. A legend above the plot
also wrapped over the title on a phone: under the plot it wraps downwards. Pages show figures only through
`show_chart`, and tables only through `show_table`: `tests/test_charts.py` checks that every page does.

A table's toolbar (columns, download, search, fullscreen) is drawn above the table's top right corner, over
the end of whatever came before it (a heading, a metric: always visible on a phone, which has no hover); a
small space above every table is where it goes instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from fer.i18n import fmt_number
from fer.labels import LABELS, display_name, hex_color
from ui.common import lang, localise

CONFIG: dict[str, Any] = {"displayModeBar": False, "displaylogo": False}
"""Plotly's configuration for every chart: its toolbar hidden."""
LEGEND: dict[str, Any] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "bottom",
                          "yref": "container", "title": {"text": ""}}
"""A horizontal legend under the plot, its own title left out (the colours' meaning is in the chart's title)."""
LEGEND_ROOM = 56
"""Pixels kept under the plot for the axis title and a legend of one or two lines."""


def styled(fig: Any) -> Any:
    """`fig` in the app's style (changed in place and returned): the session's number separators, a
    legend (when the figure shows one) under the plot, room for it in the bottom margin."""
    localise(fig)
    if has_legend(fig):
        bottom = fig.layout.margin.b if fig.layout.margin.b is not None else 10
        fig.update_layout(legend=LEGEND, margin={"b": max(bottom, LEGEND_ROOM)})
    return fig


def has_legend(fig: Any) -> bool:
    """True when plotly draws a legend: two or more named traces, or showlegend asked for."""
    if fig.layout.showlegend is not None:
        return bool(fig.layout.showlegend)
    return sum(1 for trace in fig.data if trace.showlegend is not False) > 1


def show_chart(fig: Any, key: str | None = None, where: Any = None) -> None:
    """Draw a plotly figure in the app's style in `where` (a column, a container; the page by default)."""
    (where if where is not None else st).plotly_chart(styled(fig), key=key, config=CONFIG)


def show_table(data: Any, where: Any = None, **kwargs: Any) -> Any:
    """`st.dataframe(data, **kwargs)` in `where` (the page by default), with room above it for its toolbar."""
    target = where if where is not None else st
    target.space("small")
    return target.dataframe(data, **kwargs)


def probability_timeline(x: Sequence[float], cols: Mapping[str, Sequence[float]], title: str | None,
                         xaxis: dict[str, Any], y_title: str, height: int = 380) -> Any:
    """The seven probabilities of one face over time, a line per emotion in its colour (NaN: no face then):
    the Webcam page's live and session timelines and the Videos page's one per person."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Scatter(x=list(x), y=list(cols[k]), name=display_name(k, lang()), mode="lines",
                                line={"color": hex_color(k)}) for k in LABELS])
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, xaxis=xaxis,
                      yaxis={"title": y_title, "range": [0, 1], "tickformat": ".0%"})
    return fig


def seconds_per_emotion(seconds: Mapping[str, float], title: str, y_title: str, height: int = 300) -> Any:
    """Seconds a face showed each emotion, one bar per emotion in its colour (Webcam's session summary)."""
    import plotly.graph_objects as go

    names = [display_name(k, lang()) for k in LABELS]
    secs = [seconds[k] for k in LABELS]
    fig = go.Figure(go.Bar(x=names, y=secs, marker_color=[hex_color(k) for k in LABELS],
                           text=[fmt_number(v, lang(), 1) for v in secs], textposition="outside", cliponaxis=False))
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis={"title": y_title})
    return fig
