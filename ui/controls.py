"""Sidebar controls shared by the image and webcam pages: detector, face margin, model, confidence display.

Values persist across pages and reruns: each widget's value is kept in a plain session_state key (by its
on_change callback, before the run) and given back to the widget at every run. Images and Webcam draw the
same widgets, but to Streamlit they are new widgets on each page: without this they started from their own
defaults (the sliders' minimums) when the user went from one page to the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from fer.i18n import fmt_number, fmt_percent
from fer.vision.detection import DETECT_MODES, FRONTAL_CASCADES, DetectorConfig
from ui.common import active_model_path, available_models, lang, set_active_model, t

DEFAULTS: dict[str, Any] = {"cascade": "default", "mode": "upright", "scale_factor": 1.1, "min_neighbors": 5,
                            "min_size": 30, "margin": 0.0, "show_confidence": True, "verify": True}
SCALE_STEPS = tuple(round(1.05 + 0.05 * i, 2) for i in range(10))
"""The search steps offered (OpenCV scaleFactor), 1.05 to 1.5."""
MARGINS = tuple(round(0.05 * i, 2) for i in range(9))
"""The face margins offered, 0 to 40 % of the face's size."""
VERIFY_NEIGHBORS = DetectorConfig().verify_neighbors


@dataclass(frozen=True)
class Controls:
    """What the sidebar asks for. `detector` is hashable: the cache key of ui.common.detector."""

    detector: DetectorConfig
    margin: float
    model_path: Path | None
    """None when no model file exists."""
    show_confidence: bool


def _key(name: str) -> str:
    """The widget's key, its value set from the kept one (the user's last choice on any page)."""
    widget, kept = f"ctl_{name}", f"_ctl_{name}"
    st.session_state[widget] = st.session_state.get(kept, DEFAULTS.get(name))
    return widget


def _changed(name: str) -> None:
    """A control's on_change: keep the value the user just chose."""
    st.session_state[f"_ctl_{name}"] = st.session_state[f"ctl_{name}"]


def _snap(name: str, options: tuple[float, ...]) -> str:
    """`_key` for a select_slider: a kept value not among `options` moves to the nearest one."""
    key = _key(name)
    value = st.session_state[key]
    if value not in options:
        st.session_state[key] = min(options, key=lambda o: abs(o - float(value or 0)))
    return key


def _kw(name: str, options: tuple[float, ...] | None = None) -> dict[str, Any]:
    """A control's key (its value given back, snapped to `options` for a select_slider) and its callback."""
    return {"key": _snap(name, options) if options else _key(name), "on_change": _changed, "args": (name,)}


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
    st.sidebar.selectbox(t("controls.model"), list(models), key="ctl_model", help=t("controls.model_help"),
                         on_change=_pick_model)
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
        neighbors = st.slider(t("controls.min_neighbors"), 1, 15, **_kw("min_neighbors"),
                              help=t("controls.min_neighbors_help"))
        min_size = st.slider(t("controls.min_size"), 10, 200, step=5, **_kw("min_size"),
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
