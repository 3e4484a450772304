"""The seven FER2013 classes, in the dataset's own order (0 angry .. 6 neutral)."""

from __future__ import annotations

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Class names; the index of a name is its FER2013 emotion index."""

NUM_CLASSES = len(LABELS)

# One colour per emotion (RGB), used for boxes and charts alike.
COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (220, 50, 47),
    "disgust": (133, 153, 0),
    "fear": (108, 113, 196),
    "happy": (255, 193, 7),
    "sad": (38, 139, 210),
    "surprise": (211, 54, 130),
    "neutral": (88, 110, 117),
}
"""Neutral is a dark slate, not light grey: boxes are drawn on photos with light backgrounds too."""


def display_name(label: str, lang: str = "en") -> str:
    """Human name of a class in a language (from fer/locales), e.g. 'Raiva' for angry in pt."""
    from fer.i18n import t

    return t(f"emotions.{label}", lang)


def hex_color(label: str) -> str:
    """The class colour as '#rrggbb' for plotly."""
    r, g, b = COLORS[label]
    return f"#{r:02x}{g:02x}{b:02x}"


def label_index(name: str) -> int:
    """Index of a class name; accepts case and a few common aliases (e.g. 'happiness')."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return LABELS.index(key)
    except ValueError:
        raise ValueError(f"unknown emotion class {name!r}; expected one of {', '.join(LABELS)}") from None


_ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}
