"""Webcam: live emotions from the camera, a readout and timeline beside the video, per-frame CSV."""

from __future__ import annotations

import os
from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer.i18n import fmt_count, fmt_number, fmt_percent
from fer.labels import LABELS, display_name
from fer.media.live import (
    CSV_KEYS,
    LIVE_MAX_SIDE,
    FrameRecord,
    LiveProcessor,
    LiveSnapshot,
    parse_ice_servers,
    records_csv,
    records_rows,
    timeline,
)
from fer.media.session import SessionSummary, summarise
from ui.bars import emotion_bars
from ui.charts import probability_timeline, seconds_per_emotion, show_chart, show_table
from ui.common import detector, get_classifier, lang, t
from ui.controls import model_note, sidebar_controls
from ui.text import plain

TIMELINE_S = 60.0
REFRESH_S = 1.0
CHART_REFRESH_S = 3.0


def rtc_configuration() -> dict:
    """No ICE servers (localhost/LAN) unless FER_ICE_SERVERS (JSON) or secrets [webrtc] ice_servers say so."""
    try:
        env = os.environ.get("FER_ICE_SERVERS")
        if env:
            return {"iceServers": parse_ice_servers(env)}
        if st.secrets.load_if_toml_exists() and "webrtc" in st.secrets:
            return {"iceServers": parse_ice_servers(list(st.secrets["webrtc"].get("ice_servers", [])))}
    except ValueError as exc:
        st.error(t("webcam.bad_ice", reason=plain(exc)))
    return {"iceServers": []}


def csv_headers() -> dict[str, str]:
    return {k: t(f"webcam.col_{k}") for k in CSV_KEYS if k not in LABELS} | {k: display_name(k, lang()) for k in LABELS}


def timeline_chart(records: list[FrameRecord], title: str, window_s: float | None = None) -> go.Figure:
    """The main face's scores over time: the last `window_s` seconds (0 = now), or the whole session."""
    cols = timeline(records)
    if window_s is None:
        x, xaxis = cols["t"], {"title": t("webcam.seconds_since_start")}
    else:
        end = cols["t"][-1] if cols["t"] else 0.0
        x, xaxis = [v - end for v in cols["t"]], {"title": t("webcam.seconds_ago"), "range": [-window_s, 0]}
    return probability_timeline(x, cols, title, xaxis, t("webcam.probability"))


def emotion_time_chart(summary: SessionSummary) -> go.Figure:
    """Seconds the main face showed each emotion, one bar per emotion in its colour."""
    return seconds_per_emotion(summary.seconds_per_label, t("webcam.time_per_emotion"), t("webcam.seconds"))


def fps_text(fps: float | None) -> str:
    return "–" if fps is None else fmt_number(fps, lang(), 1)


def analysis_text(snap: LiveSnapshot) -> str:
    """How long one analysis takes and how many frames get one: the share is the one the two rates above it
    come from (LiveSnapshot.analysed_share), so the words and the numbers agree."""
    lg = lang()
    ms = fmt_number(snap.process_ms, lg, 0)
    share = snap.analysed_share
    if share is None:
        return t("webcam.analysis_time", ms=ms)
    if fmt_percent(share, lg, 0) == fmt_percent(1.0, lg, 0):
        return t("webcam.analysis_every", ms=ms)
    return t("webcam.analysis", ms=ms, share=fmt_percent(share, lg, 0))


def summary_of(records: list[FrameRecord], version: tuple[int, ...]) -> SessionSummary:
    """`summarise(records)`, computed once per recording state (`LiveProcessor.version`) and kept in the
    session: reruns after Stop reuse it (47 faces a frame over 20,000 frames took 34 s of CPU each rerun)."""
    kept = st.session_state.get("webcam_summary")
    if kept is not None and kept[0] == version:
        return kept[1]
    summary = summarise(records)
    st.session_state["webcam_summary"] = (version, summary)
    return summary


def session_summary(records: list[FrameRecord], version: tuple[int, ...]) -> None:
    """What the session showed once the camera stops: time per emotion, each face's dominant emotion, a timeline."""
    summary = summary_of(records, version)
    st.subheader(t("webcam.summary"))
    c1, c2, c3 = st.columns(3)
    c1.metric(t("webcam.duration"), t("webcam.seconds_value", s=fmt_number(summary.duration_s, lang(), 1)))
    c2.metric(t("webcam.analysed_frames"), fmt_count(summary.analysed, lang()))
    c3.metric(t("webcam.dominant"), display_name(summary.dominant, lang()) if summary.dominant else "–")
    left, right = st.columns(2)
    show_chart(emotion_time_chart(summary), where=left)
    if summary.faces:
        table = pd.DataFrame([{t("webcam.col_face"): f.number,
                               t("webcam.col_seen"): t("webcam.seconds_value", s=fmt_number(f.seconds, lang(), 1)),
                               t("webcam.col_dominant"): display_name(f.dominant, lang()),
                               t("webcam.col_share"): f.dominant_share} for f in summary.faces])
        share = st.column_config.ProgressColumn(t("webcam.col_share"), min_value=0.0, max_value=1.0, format="percent")
        show_table(table, where=right, hide_index=True, column_config={t("webcam.col_share"): share})
    else:
        right.info(t("webcam.no_face_seen"))
    show_chart(timeline_chart(records, t("webcam.session_timeline")))


st.title(t("webcam.title"))
st.caption(t("webcam.intro"))
ctl = sidebar_controls()
if ctl.model_path is None:
    st.stop()
model_note(ctl.model_path, live=True)

# webcam faces are large: detecting on a frame shrunk to LIVE_MAX_SIDE is several times faster
det = detector(replace(ctl.detector, max_side=LIVE_MAX_SIDE))
proc: LiveProcessor | None = st.session_state.get("live_processor")
if proc is None:  # no classifier yet: the camera can start while the model loads
    proc = st.session_state["live_processor"] = LiveProcessor(det, None, ctl.margin, lang(), ctl.show_confidence)

video, side = st.columns([3, 2])
with video:
    ctx = webrtc_streamer(
        key="fer-webcam", mode=WebRtcMode.SENDRECV, video_frame_callback=proc.callback,
        rtc_configuration=rtc_configuration(), media_stream_constraints={"video": True, "audio": False},
        async_processing=True,
        translations={"start": t("webcam.start"), "stop": t("webcam.stop"), "select_device": t("webcam.select_device"),
                      "device_ask_permission": t("webcam.ask_permission"),
                      "device_not_available": t("webcam.no_camera"), "device_access_denied": t("webcam.denied"),
                      "media_api_not_available": t("webcam.no_media_api")},
    )
    st.caption(t("webcam.https_note"))
    # after the streamer, so its Start button is there while a fresh server still loads TensorFlow
    proc.configure(det, get_classifier(ctl.model_path, live=True), ctl.margin, lang(), ctl.show_confidence)
playing = bool(ctx.state.playing)


@st.fragment(run_every=REFRESH_S if playing else None)
def readout() -> None:
    snap = proc.snapshot()
    c1, c2 = st.columns(2)
    c1.metric(t("webcam.fps"), fps_text(snap.fps), help=t("webcam.fps_help"))
    c2.metric(t("webcam.analysed_fps"), fps_text(snap.analysed_fps), help=t("webcam.analysed_fps_help"))
    c3, c4 = st.columns(2)
    c3.metric(t("webcam.frames"), fmt_count(snap.frames, lang()), help=t("webcam.frames_help"))
    c4.metric(t("webcam.every"), fmt_count(snap.analysed, lang()), help=t("webcam.every_help"))
    if snap.analysed:
        st.caption(analysis_text(snap))
    if snap.frames and not (playing and snap.streaming):
        st.caption(t("webcam.stopped_averages"))
    if not snap.frames:
        st.info(t("webcam.press_start"))
    elif not snap.faces:
        st.warning(t("webcam.no_face"))
    for i, face in enumerate(snap.faces, start=1):
        st.markdown(t("webcam.face_line", i=i, label=display_name(face.label, lang()),
                      conf=fmt_percent(face.confidence, lang())))
        top = sorted(zip(LABELS, face.scores, strict=True), key=lambda kv: -kv[1])[:3]
        emotion_bars(st, [k for k, _ in top], [s for _, s in top], lang())  # in each emotion's colour (issue 31)


@st.fragment(run_every=CHART_REFRESH_S if playing else None)
def live_timeline() -> None:
    records = proc.records(TIMELINE_S)
    if playing and records:  # once the camera stops, the session summary below shows the whole session
        show_chart(timeline_chart(records, t("webcam.timeline"), TIMELINE_S))


# Every timed fragment is the only child of a container of its own. Streamlit 1.67 drops a full
# run's not-yet-sent fragment deltas when a timed fragment run starts right after it (a loaded
# server); the browser then removes that fragment's element as stale and the elements after it
# move up one place, so the next fragment update lands on an index the page no longer has
# ("Bad delta path index", a blank page). Alone in its container, a fragment has no elements after it.
with side:
    st.subheader(t("webcam.readout"))
    with st.container():
        readout()
with st.container():
    live_timeline()
if not playing and proc.records():  # the camera stopped: what the whole session showed
    session_summary(proc.records(), (id(proc), *proc.version))


@st.fragment(run_every=CHART_REFRESH_S if playing else None)
def recording() -> None:
    records = proc.records()
    headers = csv_headers()
    st.caption(t("webcam.recorded", n=len(records)))
    c1, c2 = st.columns(2)
    c1.download_button(t("webcam.download_csv"), data=lambda: records_csv(proc.records(), headers),
                       file_name="webcam-frames.csv", mime="text/csv", icon=":material/download:",
                       disabled=not records)
    c2.button(t("webcam.clear"), icon=":material/delete:", disabled=not records, on_click=proc.reset)
    if records:
        table = pd.DataFrame(records_rows(records[-10:], blank=None))
        table["label"] = [display_name(v, lang()) if v else "" for v in table["label"]]
        show_table(table.rename(columns=headers), hide_index=True)


st.subheader(t("webcam.recording"))
with st.container():
    recording()
