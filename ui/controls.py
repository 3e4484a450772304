"""Sidebar controls shared by the image and webcam pages: detector, face margin, model, confidence display.

Values persist across pages and reruns: each widget is initialised from a plain session_state key
that survives Streamlit's clean-up of widgets not shown on the current page.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from fer.i18n import fmt_number, fmt_percent
from fer.vision.detection import DETECT_MODES, FRONTAL_CASCADES, DetectorConfig
from ui.common import active_model_path, available_models, lang, model_label, t, worded

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {"cascade": "default", "mode": "upright", "scale_factor": 1.1, "min_neighbors": 5,
                            "min_size": 30, "margin": 0.0, "show_confidence": True, "verify": True}
SCALE_STEPS = tuple(round(1.05 + 0.05 * i, 2) for i in range(10))
"""The search steps offered (OpenCV scaleFactor), 1.05 to 1.5."""
MARGINS = tuple(round(0.05 * i, 2) for i in range(9))
"""The face margins offered, 0 to 40 % of the face's size."""
VERIFY_NEIGHBORS = DetectorConfig().verify_neighbors
NEIGHBORS = (1, 15)
"""The detector's min_neighbors offered."""
SIZES = (10, 200, 5)
"""The smallest face sizes offered: from, to, step (pixels)."""


@dataclass(frozen=True)
class Controls:
    """What the sidebar asks for. `detector` is hashable: the cache key of ui.common.detector."""

    detector: DetectorConfig
    margin: float
    model_path: Path | None
    """None when no model file exists."""
    show_confidence: bool


VALID: dict[str, Callable[[Any], bool]] = {
    "cascade": lambda v: v in FRONTAL_CASCADES,
    "mode": lambda v: v in DETECT_MODES,
    "scale_factor": lambda v: v in SCALE_STEPS,
    "margin": lambda v: v in MARGINS,
    "min_neighbors": lambda v: _whole(v) and NEIGHBORS[0] <= v <= NEIGHBORS[1],
    "min_size": lambda v: _whole(v) and SIZES[0] <= v <= SIZES[1] and v % SIZES[2] == 0,
    "show_confidence": lambda v: isinstance(v, bool),
    "verify": lambda v: isinstance(v, bool),
}
"""What each control may hold: anything else (a crafted widget message: NaN, 99, an unknown mode) is refused."""


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _key(name: str) -> str:
    """The widget key of control `name`, its value checked first: a kept value, or one a crafted message put in
    the session (NaN, out of range, not an option), that the control does not offer goes back to its default,
    so it never reaches the widget or the detector and the sender's page keeps working (issue 42)."""
    widget, kept = f"ctl_{name}", f"_ctl_{name}"
    if widget not in st.session_state:
        st.session_state[widget] = st.session_state.get(kept, DEFAULTS.get(name))
    try:
        value = st.session_state[widget]
        valid = VALID[name](value)
    except Exception:  # noqa: BLE001 - a crafted wire value may not even deserialise
        value, valid = None, False
    if not valid:
        log.info("control %s: refused the value %r", name, value)
        del st.session_state[widget]  # the stored wire value too, not only the session's copy
        st.session_state[widget] = DEFAULTS[name]
        st.session_state[kept] = DEFAULTS[name]
    return widget


def _snap(name: str, options: tuple[float, ...]) -> str:
    """`_key` for a select_slider: a kept number not among `options` (an older list) moves to the nearest one;
    anything else (NaN, text) goes back to the default."""
    kept = st.session_state.get(f"_ctl_{name}")
    if isinstance(kept, int | float) and not isinstance(kept, bool) and math.isfinite(kept) and kept not in options:
        st.session_state[f"_ctl_{name}"] = min(options, key=lambda o: abs(o - kept))
        st.session_state.pop(f"ctl_{name}", None)
    return _key(name)


def _keep(name: str, value: Any) -> Any:
    st.session_state[f"_ctl_{name}"] = value
    return value


def _name_or_key(key: str, fallback: str) -> str:
    text = t(key)
    return fallback if text == key else text


def model_choice() -> Path | None:
    """The model selectbox; the chosen file becomes the session's active model (shared with Results)."""
    models = available_models()
    if not models:
        st.sidebar.error(t("common.no_model"))
        return None
    names = list(models)
    active = active_model_path()
    current = next((n for n, p in models.items() if p.resolve() == active.resolve()), names[0])
    changed_elsewhere = st.session_state.get("_ctl_model_set") != str(active)  # e.g. on the Results page
    if st.session_state.get("ctl_model") not in models or changed_elsewhere:
        st.session_state["ctl_model"] = current
    labels = {n: model_label(p) for n, p in models.items()}  # a run's name and date, not runs/<folder>
    name = st.sidebar.selectbox(t("controls.model"), names, key=worded("ctl_model"), help=t("controls.model_help"),
                                format_func=labels.get)
    st.session_state["active_model"] = st.session_state["_ctl_model_set"] = str(models[name])
    return models[name]


def sidebar_controls() -> Controls:
    """Draw the shared controls in the sidebar and return their values."""
    sb = st.sidebar
    sb.header(t("controls.header"))
    model_path = model_choice()
    with sb.expander(t("controls.detection"), expanded=False):
        # format_func: a dict's bound get, so the names stay those of this run's language
        modes = {m: _name_or_key(f"controls.mode_{m}", m) for m in DETECT_MODES}
        mode = st.selectbox(t("controls.mode"), DETECT_MODES, key=worded(_key("mode")), format_func=modes.get,
                            help=t("controls.mode_help"))
        cascades = {c: _name_or_key(f"controls.cascade_{c}", c) for c in FRONTAL_CASCADES}
        cascade = st.selectbox(t("controls.cascade"), FRONTAL_CASCADES, key=worded(_key("cascade")),
                               format_func=cascades.get, help=t("controls.cascade_help"))
        # select_sliders with format_func: numbers written as the page writes them (0,10 in Portuguese)
        lg = lang()
        scale = st.select_slider(t("controls.scale_factor"), SCALE_STEPS,
                                 key=worded(_snap("scale_factor", SCALE_STEPS)),
                                 format_func=lambda v: fmt_number(v, lg, 2), help=t("controls.scale_factor_help"))
        neighbors = st.slider(t("controls.min_neighbors"), *NEIGHBORS, key=_key("min_neighbors"),
                              help=t("controls.min_neighbors_help"))
        min_size = st.slider(t("controls.min_size"), *SIZES[:2], step=SIZES[2], key=_key("min_size"),
                             help=t("controls.min_size_help"))
        verify = st.toggle(t("controls.verify"), key=_key("verify"), help=t("controls.verify_help"))
    margin = sb.select_slider(t("controls.margin"), MARGINS, key=worded(_snap("margin", MARGINS)),
                              format_func=lambda v: fmt_percent(v, lg, 0), help=t("controls.margin_help"))
    show_conf = sb.toggle(t("controls.show_confidence"), key=_key("show_confidence"))
    config = DetectorConfig(cascade=_keep("cascade", cascade),
                            scale_factor=round(float(_keep("scale_factor", scale)), 2),
                            min_neighbors=int(_keep("min_neighbors", neighbors)),
                            min_size=int(_keep("min_size", min_size)), mode=_keep("mode", mode),
                            verify_neighbors=VERIFY_NEIGHBORS if _keep("verify", verify) else 0)
    return Controls(config, float(_keep("margin", margin)), model_path, bool(_keep("show_confidence", show_conf)))
