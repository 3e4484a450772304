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

from typing import Any

import streamlit as st

from ui.common import localise

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
