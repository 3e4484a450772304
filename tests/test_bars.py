"""The readout bars drawn in each emotion's colour (ui.bars)."""

import json

from streamlit.testing.v1 import AppTest

from fer.labels import hex_color
from ui.bars import bars_frame


def test_each_bar_has_its_emotions_colour_its_share_and_a_localised_label() -> None:
    frame = bars_frame(["happy", "sad"], [0.979, 0.0123], "pt")
    assert list(frame["emotion"]) == ["Feliz 97,9%", "Triste 1,2%"]
    assert list(frame["colour"]) == [hex_color("happy"), hex_color("sad")] and hex_color("happy") != hex_color("sad")
    assert list(bars_frame(["angry"], [1.5], "en")["share"]) == [1.0]  # clamped


def test_the_chart_colours_each_bar_from_the_colour_column() -> None:
    at = AppTest.from_string(
        "import streamlit as st\nfrom ui.bars import emotion_bars\n"
        "emotion_bars(st, ['happy', 'neutral', 'fear'], [0.9, 0.08, 0.02], 'en')")
    at.run()
    assert not at.exception
    [chart] = [e for e in at.main if hasattr(e.proto, "spec")]
    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["color"] == {"field": "colour", "scale": None, "type": "nominal"}  # hex used as given
    assert spec["encoding"]["y"]["sort"] is None  # most likely first, as given
    assert spec["encoding"]["y"]["axis"]["labelOverlap"] is False  # no name hidden between two others
