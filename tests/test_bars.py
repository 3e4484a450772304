"""The readout bars drawn in each emotion's colour (ui.bars)."""

from fer.labels import hex_color
from ui.bars import bar_html


def test_each_bar_has_its_emotions_colour_its_share_and_a_localised_label() -> None:
    happy = bar_html("happy", 0.979, "en")
    assert f"background:{hex_color('happy')}" in happy and "width:97.9%" in happy and "Happy: 97.9%" in happy
    sad = bar_html("sad", 0.0123, "pt")
    assert f"background:{hex_color('sad')}" in sad and "width:1.2%" in sad and "Triste: 1,2%" in sad
    assert hex_color("happy") != hex_color("sad")
    assert "width:100.0%" in bar_html("angry", 1.5, "en")  # clamped
