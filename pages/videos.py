"""Videos: upload a clip (or take the example), every person followed through it, an annotated video back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.uploaded_file_manager import UploadedFile

from fer import i18n
from fer.csvcells import cell
from fer.i18n import fmt_count, fmt_duration, fmt_number, fmt_percent
from fer.labels import LABELS, display_name, hex_color
from fer.media.video import (
    CSV_KEYS,
    MAX_VIDEO_BYTES,
    MAX_VIDEO_S,
    VIDEO_MAX_SIDE,
    VIDEO_TYPES,
    PersonSummary,
    VideoError,
    VideoProgress,
    VideoResult,
    analyse_video,
    video_json,
    video_rows,
)
from fer.paths import ROOT
from ui.charts import probability_timeline, show_chart, show_table
from ui.common import detector, get_classifier, lang, t
from ui.controls import Controls, model_note, sidebar_controls
from ui.downloads import csv_text
from ui.server import SESSION_UPLOAD_MAX_MB
from ui.text import plain
from ui.video_jobs import JOBS, JobHandle, Work

EXAMPLE = ROOT / "data" / "examples" / "clip.mp4"
MAX_MB = MAX_VIDEO_BYTES // 1024**2
HANDLE = "vid_job"  # the session's hold on the analysis it shows (ui.video_jobs.JobHandle)
SEEN = "vid_seen"  # the uploader's file that was last started (its file_id): a rerun does not start it again
WANT_EXAMPLE = "vid_want_example"  # the example's button was pressed
BUSY = "vid_busy"  # what could not start because the server was busy: "upload" or "example"
GEN = "vid_gen"  # the uploader's generation: Clear draws a new, empty one
REFRESH_S = 1.0
MAX_PEOPLE_CHARTED = 8  # timelines drawn, one per person (the table and downloads list everyone)
CSV_INTS = ("frame", "person", "x", "y", "w", "h")


def uploader_key() -> str:
    return f"vid_upload_{st.session_state.get(GEN, 0)}"


def job_key(digest: str, ctl: Controls, model: Path) -> str:
    """The analysis' key on the server: the clip's content and every setting that changes its result (not the
    language: a switch keeps the analysis running; the video's labels stay in the language it started in)."""
    settings = repr((ctl.detector, ctl.margin, str(model.resolve()), model.stat().st_mtime))
    return hashlib.sha1(f"{digest}|{settings}".encode()).hexdigest()


def pick_example() -> None:
    st.session_state[WANT_EXAMPLE] = True


def clear() -> None:
    """The Clear button: the session lets go of its analysis (stopped and removed when nobody else holds it)."""
    handle: JobHandle | None = st.session_state.pop(HANDLE, None)
    if handle is not None:
        handle.release()
    st.session_state.pop(BUSY, None)
    st.session_state[GEN] = st.session_state.get(GEN, 0) + 1


def try_again() -> None:
    """The busy message's button: the clip that could not start is asked for again."""
    if st.session_state.pop(BUSY, None) == "example":
        st.session_state[WANT_EXAMPLE] = True
    else:
        st.session_state.pop(SEEN, None)


def start(kind: str, name: str, source: bytes | Path, ctl: Controls) -> None:
    """Start (or join, when the server already has it) the analysis of a clip with the sidebar's settings."""
    model = ctl.model_path
    assert model is not None
    data = source if isinstance(source, bytes) else source.read_bytes()
    key = job_key(hashlib.sha1(data).hexdigest(), ctl, model)
    clf = get_classifier(model, live=True)  # the app's cached classifier: one view per face, as the webcam
    det = detector(replace(ctl.detector, max_side=VIDEO_MAX_SIDE))  # the app's cached one, shrunk as video needs
    lg = lang()

    def work(w: Work) -> VideoResult:
        return analyse_video(w.source, det, clf, out=w.out, lang=lg, progress=w.progress, stop=w.stop)

    handle = JOBS.start(key, name, source, work, expected=(VideoError,))
    if handle is None:
        st.session_state[BUSY] = kind
        return
    old: JobHandle | None = st.session_state.get(HANDLE)
    st.session_state[HANDLE] = handle
    st.session_state.pop(BUSY, None)
    if old is not None and old.job is not handle.job:
        old.release()


def worded_values(values: dict[str, Any]) -> dict[str, str]:
    """Values for a catalog sentence: numbers as the session's language writes them, text made plain."""
    lg = lang()
    return {k: fmt_count(v, lg) if isinstance(v, int) else fmt_number(v, lg, 1)
            if isinstance(v, float) else plain(v) for k, v in values.items() if not isinstance(v, bool)}


def error_text(exc: VideoError) -> str:
    """Why a clip cannot be analysed, in the session's language (video.error.<kind>)."""
    if exc.key not in i18n.catalog(lang()):
        return t("videos.bad_file", reason=plain(exc))
    return t(exc.key, **worded_values(exc.details))


def progress_text(p: VideoProgress) -> str:
    lg = lang()
    total = max(p.frames_total, p.frames_done)  # the container's count can be an estimate
    done = t("videos.progress", done=fmt_count(p.frames_done, lg), total=fmt_count(total, lg))
    left = t("videos.eta", eta=fmt_duration(p.eta_s, lg)) if p.eta_s is not None else t("videos.measuring")
    return f"{done} · {left}"


# how each of VideoResult.notes() is shown (the others as captions)
NOTE_BOX = {"video.note.stopped": "info", "video.note.truncated": "warning", "video.note.no_faces": "warning"}


def show_notes(res: VideoResult) -> None:
    """What to know about the result (fer.media.video.VideoResult.notes): the frames analysed (one in N, faces
    followed in between), Stop, a truncated file, no face, a smaller annotated video."""
    notes = res.notes()
    if not any(key == "video.note.every" for key, _ in notes):
        st.caption(t("videos.every_frame", n=fmt_count(res.analysed, lang())))
    for key, values in notes:
        getattr(st, NOTE_BOX.get(key, "caption"))(t(key, **worded_values(values)))


def csv_headers() -> dict[str, str]:
    """The CSV's translated headers (read in the page's run: the download itself runs outside it)."""
    keys = ("time_s", "frame", "person", "x", "y", "w", "h", "label", "emotion")
    return {k: t(f"videos.col_{k}") for k in keys} | {k: display_name(k, lang()) for k in LABELS}


def csv_download(res: VideoResult, headers: dict[str, str], lg: str) -> str:
    """The per-frame CSV in language `lg`: translated headers, the English key beside the emotion's name, the
    language's decimal separator (ui.downloads). Called when the button is pressed, outside the page's run."""
    frame = pd.DataFrame(video_rows(res, blank=None), columns=list(CSV_KEYS))
    for k in CSV_INTS:
        frame[k] = frame[k].astype("Int64")
    frame.insert(frame.columns.get_loc("label") + 1, "emotion",
                 [display_name(v, lg) if v in LABELS else "" for v in frame["label"]])
    return csv_text(frame.map(cell).rename(columns=headers), lg)


def people_chart(people: tuple[PersonSummary, ...]) -> go.Figure:
    """Seconds per emotion of every person: one bar per person, stacked in the emotions' colours."""
    lg = lang()
    names = [t("videos.person_n", n=p.person) for p in people]
    fig = go.Figure([go.Bar(y=names, x=[p.seconds[k] for p in people], name=display_name(k, lg), orientation="h",
                            marker_color=hex_color(k), hovertemplate="%{x:.1f} s<extra>%{fullData.name}</extra>")
                     for k in LABELS])
    fig.update_layout(barmode="stack", title=t("videos.time_per_emotion"), height=130 + 40 * len(people),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, showlegend=True, legend={"traceorder": "normal"},
                      xaxis={"title": t("videos.seconds")}, yaxis={"autorange": "reversed"})
    return fig


def people_table(people: tuple[PersonSummary, ...]) -> None:
    """One row per person: the dominant emotion, its share of the person's time (a percent as fer.i18n writes
    it), how long and when they were in view."""
    lg = lang()
    rows = [{t("videos.col_person"): t("videos.person_n", n=p.person),
             t("videos.col_dominant"): display_name(p.dominant, lg),
             t("videos.col_share"): fmt_percent(p.seconds[p.dominant] / p.total_s if p.total_s else 0.0, lg),
             t("videos.col_seen"): fmt_duration(p.total_s, lg),
             t("videos.col_when"): t("videos.from_to", start=fmt_duration(p.first_s, lg),
                                     end=fmt_duration(p.last_s, lg))} for p in people]
    show_table(pd.DataFrame(rows), hide_index=True)


def timeline_title(person: PersonSummary) -> str:
    """'Person 1: mostly Happy (80% of the time)': above the chart, where it wraps on a phone (a plotly title is
    cut at the chart's width)."""
    share = person.seconds[person.dominant] / person.total_s if person.total_s else 0.0
    return t("videos.timeline_title", n=person.person, label=display_name(person.dominant, lang()),
             share=fmt_percent(share, lang(), 0))


def person_timeline(res: VideoResult, person: PersonSummary) -> go.Figure:
    cols = res.timeline(person.person)
    xaxis = {"title": t("videos.seconds_into"), "range": [0, max(res.info.duration_s, 0.1)]}
    fig = probability_timeline(cols["t"], cols, None, xaxis, t("videos.probability"), height=300)
    fig.update_layout(margin={"t": 10})
    return fig


def downloads(res: VideoResult, name: str, where: DeltaGenerator) -> None:
    stem = Path(name).stem or "video"
    annotated = res.annotated if res.annotated is not None and res.annotated.is_file() else None
    if annotated is not None:
        where.download_button(t("videos.download_video"), data=annotated.read_bytes, file_name=f"{stem}-emotions.mp4",
                              mime="video/mp4", icon=":material/download:", key="vid_dl_mp4", on_click="ignore")
    headers, lg = csv_headers(), lang()
    where.download_button(t("videos.download_csv"), data=lambda: csv_download(res, headers, lg),
                          file_name=f"{stem}-frames.csv",
                          mime="text/csv", icon=":material/download:", key="vid_dl_csv", on_click="ignore")
    where.download_button(t("videos.download_json"), data=lambda: video_json(res), file_name=f"{stem}-frames.json",
                          mime="application/json", icon=":material/download:", key="vid_dl_json", on_click="ignore")


def show_result(res: VideoResult, name: str) -> None:
    """The annotated video, the downloads, each person's emotions and timeline."""
    lg = lang()
    info = res.info
    st.caption(t("videos.info", w=info.width, h=info.height, fps=fmt_number(info.fps, lg, 1),
                 duration=fmt_duration(info.duration_s, lg), frames=fmt_count(res.frames_done, lg),
                 seconds=fmt_duration(res.elapsed_s, lg)))
    show_notes(res)
    video, side = st.columns([3, 2])
    if res.annotated is not None and res.annotated.is_file():
        video.video(str(res.annotated))
    downloads(res, name, side)
    if not res.people:  # the notes said so
        return
    st.subheader(t("videos.people", n=len(res.people)))
    people_table(res.people)
    show_chart(people_chart(res.people), key="vid_people")
    st.subheader(t("videos.timelines"))
    if len(res.people) > MAX_PEOPLE_CHARTED:
        st.caption(t("videos.people_capped", shown=MAX_PEOPLE_CHARTED, n=len(res.people)))
    for person in res.people[:MAX_PEOPLE_CHARTED]:
        st.markdown(f"**{timeline_title(person)}**")
        show_chart(person_timeline(res, person), key=f"vid_timeline_{person.person}")


def incoming(uploaded: UploadedFile | None) -> tuple[str, str, Callable[[], bytes | Path]] | None:
    """The clip to start this run, if any: the example (its button), a new upload, or one again after busy."""
    if st.session_state.pop(WANT_EXAMPLE, False):
        return "example", EXAMPLE.name, lambda: EXAMPLE
    if uploaded is not None and uploaded.file_id != st.session_state.get(SEEN):
        st.session_state[SEEN] = uploaded.file_id
        return "upload", uploaded.name, uploaded.getvalue
    return None


st.title(t("videos.title"))
st.caption(t("videos.intro"))
ctl = sidebar_controls()
if ctl.model_path is None:
    st.stop()
model_note(ctl.model_path, live=True)

types = ", ".join(VIDEO_TYPES)
limits = t("videos.limits", mb=MAX_MB, minutes=fmt_number(MAX_VIDEO_S / 60, lang(), 0), types=types,
           session=SESSION_UPLOAD_MAX_MB)
# Every file type is accepted: the page reads the file and says what is wrong with it, in the page's language.
uploaded = st.file_uploader(t("videos.upload"), key=uploader_key(), max_upload_size=MAX_MB, help=limits)
st.caption(limits)
st.button(t("videos.example"), icon=":material/movie:", on_click=pick_example, help=t("videos.example_help"),
          key="vid_example")

if (clip := incoming(uploaded)) is not None:
    kind, name, source = clip
    start(kind, name, source(), ctl)

if (busy := st.session_state.get(BUSY)) is not None:
    st.warning(t("videos.busy", n=JOBS.running()))
    st.button(t("videos.try_again"), icon=":material/refresh:", on_click=try_again, key="vid_retry")

handle: JobHandle | None = st.session_state.get(HANDLE)
if handle is None:
    if busy is None:
        st.info(t("videos.empty"))
    st.stop()
job = handle.job
head, right = st.columns([5, 1], vertical_alignment="bottom")
head.subheader(plain(job.name))
right.button(t("videos.clear"), icon=":material/delete:", on_click=clear, key="vid_clear", type="tertiary",
             help=t("videos.clear_help"))


@st.fragment(run_every=REFRESH_S)
def running() -> None:
    """The progress of the analysis, redrawn every second; the whole page reruns once it has ended."""
    current: JobHandle | None = st.session_state.get(HANDLE)
    if current is None or not current.job.running:
        st.rerun()
    now = current.job
    p = now.progress
    if p is None:
        st.progress(0.0, text=t("videos.starting"))
    else:
        st.progress(min(1.0, p.frames_done / max(1, p.frames_total, p.frames_done)), text=progress_text(p))
        st.caption(t("videos.analysed_so_far", n=fmt_count(p.analysed, lang()),
                     elapsed=fmt_duration(p.elapsed_s, lang())))
    st.button(t("videos.stop"), icon=":material/stop_circle:", on_click=now.stop, disabled=now.stopping,
              key="vid_stop", help=t("videos.stop_help"))
    if now.stopping:
        st.caption(t("videos.stopping"))


if job.running:
    with st.container():
        running()
elif job.crash is not None:
    st.error(t("videos.failed", ref=job.crash), icon=":material/error:")
elif isinstance(job.error, VideoError):
    st.error(error_text(job.error), icon=":material/error:")
elif job.result is not None:
    show_result(job.result, job.name)
