"""Sidebar controls shared by the image and webcam pages: detector, face margin, model, confidence display.

Values persist across pages and reruns: each widget's value is kept in a plain session_state key (by its
on_change callback, before the run) and given back to the widget at every run. Images and Webcam draw the
same widgets, but to Streamlit they are new widgets on each page: without this they started from their own
defaults (the sliders' minimums) when the user went from one page to the other.
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
from ui.common import active_model_path, available_models, lang, model_label, set_active_model, t, worded

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
    """The widget key of control `name`, its value given back from the kept one (the user's last choice on any
    page) and checked: a value that the control does not offer (NaN, out of range, not an option: a crafted
    message can put one in the session) goes back to its default, so it never reaches the widget or the
    detector and the sender's page keeps working (issue 42)."""
    widget, kept = f"ctl_{name}", f"_ctl_{name}"
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


def _changed(name: str) -> None:
    """A control's on_change: keep the value the user just chose."""
    st.session_state[f"_ctl_{name}"] = st.session_state[f"ctl_{name}"]


def _snap(name: str, options: tuple[float, ...]) -> str:
    """`_key` for a select_slider: a kept number not among `options` (an older list) moves to the nearest one;
    anything else (NaN, text) goes back to the default."""
    kept = st.session_state.get(f"_ctl_{name}")
    if isinstance(kept, int | float) and not isinstance(kept, bool) and math.isfinite(kept) and kept not in options:
        st.session_state[f"_ctl_{name}"] = min(options, key=lambda o: abs(o - kept))
        st.session_state.pop(f"ctl_{name}", None)
    return _key(name)


def _kw(name: str, options: tuple[float, ...] | None = None) -> dict[str, Any]:
    """A control's key (its value given back, snapped to `options` for a select_slider) and its callback."""
    key = _snap(name, options) if options else _key(name)
    return {"key": worded(key), "on_change": _changed, "args": (name,)}  # worded: choices keep their words


def _keep(name: str, value: Any) -> Any:
    st.session_state[f"_ctl_{name}"] = value
    return value


def _name_or_key(key: str, fallback: str) -> str:
    text = t(key)
    return fallback if text == key else text


def _pick_model() -> None:
    """The model selectbox's callback: the chosen file becomes the session's active model."""
    models = available_models()
    name = st.session_state.get("ctl_model")
    if name in models:
        set_active_model(models[name])


def model_choice() -> Path | None:
    """The model selectbox, showing the session's one active model (ui.common.active_model_path, also set by
    Results' "Use this model"); a choice here makes the chosen file the active model."""
    models = available_models()
    if not models:
        st.sidebar.error(t("common.no_model"))
        return None
    active = active_model_path()
    current = next((n for n, p in models.items() if p.resolve() == active.resolve()), None)
    if current is None:  # the active model is not offered (the default is missing): the first one offered
        current = next(iter(models))
        set_active_model(models[current])
    st.session_state["ctl_model"] = current  # follows a choice made elsewhere (e.g. on the Results page)
    labels = {n: model_label(p) for n, p in models.items()}  # a run's name and date, not runs/<folder>
    st.sidebar.selectbox(t("controls.model"), list(models), key=worded("ctl_model"), help=t("controls.model_help"),
                         format_func=labels.get, on_change=_pick_model)
    return models[current]


def sidebar_controls() -> Controls:
    """Draw the shared controls in the sidebar and return their values."""
    sb = st.sidebar
    sb.header(t("controls.header"))
    model_path = model_choice()
    with sb.expander(t("controls.detection"), expanded=False):
        # format_func: a dict's bound get, so the names stay those of this run's language
        modes = {m: _name_or_key(f"controls.mode_{m}", m) for m in DETECT_MODES}
        mode = st.selectbox(t("controls.mode"), DETECT_MODES, **_kw("mode"), format_func=modes.get,
                            help=t("controls.mode_help"))
        cascades = {c: _name_or_key(f"controls.cascade_{c}", c) for c in FRONTAL_CASCADES}
        cascade = st.selectbox(t("controls.cascade"), FRONTAL_CASCADES, **_kw("cascade"), format_func=cascades.get,
                               help=t("controls.cascade_help"))
        # select_sliders with format_func: numbers written as the page writes them (0,10 in Portuguese)
        lg = lang()
        scale = st.select_slider(t("controls.scale_factor"), SCALE_STEPS, **_kw("scale_factor", SCALE_STEPS),
                                 format_func=lambda v: fmt_number(v, lg, 2), help=t("controls.scale_factor_help"))
        neighbors = st.slider(t("controls.min_neighbors"), *NEIGHBORS, **_kw("min_neighbors"),
                              help=t("controls.min_neighbors_help"))
        min_size = st.slider(t("controls.min_size"), *SIZES[:2], step=SIZES[2], **_kw("min_size"),
                             help=t("controls.min_size_help"))
        verify = st.toggle(t("controls.verify"), **_kw("verify"), help=t("controls.verify_help"))
    margin = sb.select_slider(t("controls.margin"), MARGINS, **_kw("margin", MARGINS),
                              format_func=lambda v: fmt_percent(v, lg, 0), help=t("controls.margin_help"))
    show_conf = sb.toggle(t("controls.show_confidence"), **_kw("show_confidence"))
    config = DetectorConfig(cascade=_keep("cascade", cascade),
                            scale_factor=round(float(_keep("scale_factor", scale)), 2),
                            min_neighbors=int(_keep("min_neighbors", neighbors)),
                            min_size=int(_keep("min_size", min_size)), mode=_keep("mode", mode),
                            verify_neighbors=VERIFY_NEIGHBORS if _keep("verify", verify) else 0)
    return Controls(config, float(_keep("margin", margin)), model_path, bool(_keep("show_confidence", show_conf)))


def model_note(path: Path | None, live: bool = False) -> None:
    """The active model named on the page itself (a phone hides the sidebar that names it): 'Model: personal ·
    5 Dec 2026, 23:40'. `live`: a page that looks once at each face (Webcam, Videos) also says when the shipped
    model's own single network does that (fer.model.modelio.one_view_model)."""
    if path is not None:
        from fer.model.modelio import one_view_model
        from ui.text import plain

        key = "controls.live_model" if live and one_view_model(path) != Path(path) else "controls.active_model"
        st.caption(t(key, name=plain(model_label(path))))
