"""ui.charts: every plotly chart of the app in one style, no plotly toolbar over legends (issue 39, item 16)."""

import ast
import json

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT


def test_no_page_draws_a_plotly_chart_or_a_table_but_through_ui_charts() -> None:
    """`st.plotly_chart` and `st.dataframe` (or `col.…`) appear nowhere but in ui/charts.py: one style for all."""
    offenders = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py"), ROOT / "app.py"]:
        if path.name == "charts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("plotly_chart", "dataframe"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_legends_go_under_the_plot_and_single_series_keep_none() -> None:
    from ui.charts import LEGEND_ROOM, has_legend, styled

    two = go.Figure([go.Scatter(y=[1, 2], name="training"), go.Scatter(y=[2, 1], name="validation")])
    two.update_layout(margin={"b": 10})
    styled(two)
    legend = two.layout.legend
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor, legend.x) == ("h", "container", 0, "bottom", 0)
    assert two.layout.margin.b == LEGEND_ROOM
    one = go.Figure(go.Bar(y=[1, 2]))
    assert not has_legend(one) and styled(one).layout.legend.yref is None
    hidden = go.Figure([go.Bar(y=[1]), go.Bar(y=[2])]).update_layout(showlegend=False)
    assert not has_legend(hidden)


def chart_specs(at: AppTest) -> list[tuple[dict, dict]]:
    """(spec, config) of every plotly chart on the page."""
    return [(json.loads(c.proto.spec), json.loads(c.proto.config)) for c in at.get("plotly_chart")]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_dataset_charts_have_no_plotly_toolbar_and_their_legends_under_the_plot(lang: str, monkeypatch) -> None:
    monkeypatch.delenv("FER_DATA", raising=False)  # the page opens on the full FER2013 where there is one
    at = AppTest.from_file(str(ROOT / "pages" / "dataset.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    specs = chart_specs(at)
    assert len(specs) == 5
    assert all(config.get("displayModeBar") is False for _, config in specs)
    several = [s for s, _ in specs if len(s["data"]) > 1 and s["layout"].get("showlegend") is not False]
    assert len(several) == 1  # pixel intensity per class (the sample has one split: one series of counts)
    assert all(s["layout"]["legend"]["yref"] == "container" for s in several)
    separators = ",." if lang == "pt" else ".,"
    assert all(s["layout"]["separators"] == separators for s, _ in specs)
