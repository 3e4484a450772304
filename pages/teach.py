"""Teach: a few snapshots or photos of the user's own faces per emotion, a personal model fine-tuned from the
shipped one in about a minute, its before and after on held-out photos, then made the session's active model.

The snapshots live on disk (fer.jobs.teach: `<runs>/teach/<session id>/<emotion>/`), not in the session: the
folder is what the personal run trains on and what Delete removes. The session keeps its folder's id, the faces
found in each file (so a rerun does not detect them again) and the run it follows.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fer.data.photos import FaceCrop, face_crop
from fer.i18n import fmt_count, fmt_percent, fmt_size, plural
from fer.jobs import launcher as jobs
from fer.jobs.runfiles import read_before_after
from fer.jobs.teach import TeachFile, add_snapshot, delete_teach, personal_runs, remove_snapshot, teach_dir, teach_files
from fer.labels import LABELS, display_name
from fer.train.presets import PRESETS
from fer.vision.preprocessing import ImageError
from ui.charts import show_chart, show_table
from ui.common import (
    ACTIVE_MODEL,
    DEFAULT_MODEL,
    TEACH_ID,
    image_error,
    is_active_model,
    lang,
    model_label,
    set_active_model,
    t,
    worded,
)
from ui.state import keep, kept
from ui.text import plain
from ui.training import curves, progress_view, start_run

# Faces each taught emotion needs: the personal preset holds 20 % of each emotion's photos out for the
# before/after (at least one), so five give one held out and four to learn from. (Comments, not strings:
# Streamlit's magic would write a bare string on the page.)
MIN_FACES = 5
MIN_EMOTIONS = 2  # with one, every face would look like it
MAX_PER_EMOTION = 40  # photos one emotion may hold: the preset's minute is measured on 20 per emotion
FACE_PX = 96  # the 48x48 face shown twice its size, its pixels kept sharp
BEFORE_COLOR, AFTER_COLOR = "#9e9e9e", "#1e88e5"  # the shipped model in grey, the personal one in blue
CAMERA_PX = 480  # wide enough to frame a face, short enough to leave its faces in view
ID = TEACH_ID  # session keys: the folder's id, the faces found per file, the run followed, the last messages
CROPS = "teach_crops"
RUN = "teach_run"
NOTES = "teach_notes"
CONFIRM = "teach_confirm_delete"
SAVED = "teach_saved_uploads"  # the file ids of uploads already saved


def session_id() -> str:
    """This session's teach folder id: made once, kept for the whole session (every page, every language)."""
    return st.session_state.setdefault(ID, uuid.uuid4().hex[:16])


def folder() -> Path:
    return teach_dir(jobs.runs_dir(), session_id())


def generation(key: str) -> str:
    """A widget key that changes after each use (`renew`): a camera or uploader that starts empty again."""
    return f"{key}_{st.session_state.get(key + '_gen', 0)}"


def renew(key: str) -> None:
    st.session_state[key + "_gen"] = st.session_state.get(key + "_gen", 0) + 1




def snapshots(where: Path) -> dict[str, list[TeachFile]]:
    """{emotion: its snapshot files} of the folder, every emotion present (empty lists too), LABELS order."""
    found: dict[str, list[TeachFile]] = {e: [] for e in LABELS}
    for f in teach_files(where):
        if f.emotion in found:
            found[f.emotion].append(f)
    return found


def crop_of(f: TeachFile) -> FaceCrop | None:
    """The face found in a snapshot (detected once per file and kept in the session); None when the file is no
    longer a readable image."""
    done: dict[str, Any] = st.session_state.setdefault(CROPS, {})
    try:
        stamp = (f.size, f.path.stat().st_mtime_ns)
    except OSError:
        return None
    got = done.get(str(f.path))
    if got is None or got[0] != stamp:
        try:
            crop: FaceCrop | None = face_crop(f.path.read_bytes(), f.path.name)
        except (ImageError, OSError):
            crop = None
        got = done[str(f.path)] = (stamp, crop)
    return got[1]


def add_photos(files: list[Any], emotion: str) -> None:
    """Save each new photo under `emotion` (a file that is no photo is named and not saved) and keep its face."""
    where, notes = folder(), []
    room = MAX_PER_EMOTION - len(snapshots(where)[emotion]) if where.is_dir() else MAX_PER_EMOTION
    for f in files:
        data = f.getvalue()
        try:
            crop = face_crop(data, f.name)
        except ImageError as exc:
            notes.append(("error", image_error(f.name, exc)))
            continue
        if room <= 0:
            notes.append(("warning", t("teach.full", emotion=display_name(emotion, lang()), n=MAX_PER_EMOTION)))
            break
        suffix = Path(f.name).suffix.lower()
        suffix = suffix if suffix in (".jpg", ".jpeg", ".png", ".webp") else ".jpg"  # the bytes say what it is
        try:
            path = add_snapshot(where, emotion, data, suffix)
        except OSError as exc:
            notes.append(("error", t("teach.save_error", error=plain(exc))))
            break
        room -= 1
        stat = path.stat()
        st.session_state.setdefault(CROPS, {})[str(path)] = ((stat.st_size, stat.st_mtime_ns), crop)
        if not crop.found:
            notes.append(("warning", t("teach.added_no_face", name=plain(f.name))))
    st.session_state[NOTES] = notes


def took_snapshot(key: str, emotion: str) -> None:
    """The camera's callback: its snapshot joins `emotion`; a fresh camera is drawn for the next one."""
    shot = st.session_state.get(key)
    if shot is not None:
        add_photos([shot], emotion)
        renew("teach_camera")


def uploaded(key: str, emotion: str) -> None:
    """The uploader's callback: its new photos join `emotion`, each once (the uploader keeps showing its files,
    which arrive one by one). A callback runs to its end even when a click elsewhere asks for a new run at once:
    photos dropped just before another emotion is picked are not lost."""
    saved: set[str] = st.session_state.setdefault(SAVED, set())
    new = [f for f in st.session_state.get(key) or [] if f.file_id not in saved]
    if new:
        add_photos(new, emotion)
        saved.update(f.file_id for f in new)


def remove(path: str) -> None:
    """A photo's Remove button."""
    try:
        remove_snapshot(folder(), Path(path))
    except (OSError, ValueError):
        st.session_state[NOTES] = [("error", t("teach.remove_error"))]
    st.session_state.get(CROPS, {}).pop(path, None)


def enlarged(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(crop, (FACE_PX, FACE_PX), interpolation=cv2.INTER_NEAREST)


def thumbnail(path: Path) -> np.ndarray | None:
    """A photo without a face, small, so the user sees which one it is."""
    img = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_4)
    if img is None:
        return None
    h, w = img.shape[:2]
    scale = FACE_PX / max(h, w)
    small = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    square = np.full((FACE_PX, FACE_PX, 3), 240, np.uint8)  # as wide as a face, whatever the photo's shape
    y, x = (FACE_PX - small.shape[0]) // 2, (FACE_PX - small.shape[1]) // 2
    square[y:y + small.shape[0], x:x + small.shape[1]] = small
    return cv2.cvtColor(square, cv2.COLOR_BGR2RGB)


def gallery(files: list[TeachFile], emotion: str) -> None:
    """The chosen emotion's photos: each one's face (or 'no face'), with a Remove button."""
    label = display_name(emotion, lang())  # a catalog word, not a user's text
    if not files:
        st.info(t("teach.none_yet", emotion=label))
        return
    faces = sum(1 for f in files if (c := crop_of(f)) is not None and c.found)
    st.caption(t("teach.gallery", emotion=label, photos=plural("images.n_photos", len(files), lang()),
                 faces=plural("images.n_faces", faces, lang())))
    with st.container(horizontal=True, gap="small"):
        for i, f in enumerate(files, start=1):
            crop = crop_of(f)
            with st.container(width=FACE_PX + 8, gap=None):
                if crop is not None and crop.found:
                    st.image(enlarged(crop.crop), width=FACE_PX, caption=t("teach.face_n", i=i))
                else:
                    small = thumbnail(f.path)
                    if small is not None:
                        st.image(small, width=FACE_PX)
                    st.caption(t("teach.no_face", i=i))
                st.button(t("teach.remove"), key=f"teach_rm_{f.path.parent.name}_{f.path.name}",
                          icon=":material/close:", type="tertiary", on_click=remove, args=(str(f.path),),
                          help=t("teach.remove_help", i=i, emotion=label))


def face_counts(found: dict[str, list[TeachFile]]) -> dict[str, int]:
    return {e: sum(1 for f in files if (c := crop_of(f)) is not None and c.found) for e, files in found.items()}


def refusal(counts: dict[str, int]) -> str | None:
    """Why Train is off (translated), or None when the photos are enough."""
    lg = lang()
    short = [f"{display_name(e, lg)} ({fmt_count(n, lg)}/{MIN_FACES})" for e, n in counts.items() if 0 < n < MIN_FACES]
    if short:
        return t("teach.need_more", emotions=", ".join(short), min=MIN_FACES)
    taught = sum(1 for n in counts.values() if n >= MIN_FACES)
    if taught < MIN_EMOTIONS:
        return t("teach.need_emotions", k=MIN_EMOTIONS, min=MIN_FACES, n=taught)
    return None


def counts_table(found: dict[str, list[TeachFile]], counts: dict[str, int]) -> None:
    """Per emotion: photos, faces found and what is still needed."""
    lg = lang()

    def status(n: int) -> str:
        if n == 0:
            return t("teach.status_kept")
        if n < MIN_FACES:
            return t("teach.status_more", n=MIN_FACES - n)
        return t("teach.status_ready")

    frame = pd.DataFrame({t("teach.col_emotion"): [display_name(e, lg) for e in LABELS],
                          t("teach.col_photos"): [len(found[e]) for e in LABELS],
                          t("teach.col_faces"): [counts[e] for e in LABELS],
                          t("teach.col_status"): [status(counts[e]) for e in LABELS]})
    show_table(frame, hide_index=True, width="stretch")


def run_name() -> str:
    """A new personal run's folder name: date-time-personal, as the launcher names runs (ui.common.model_label
    shows it as 'personal · 5 Dec 2026, 23:40')."""
    from datetime import datetime

    base = f"{datetime.now():%Y%m%d-%H%M%S}-personal"
    name, n = base, 1
    while (jobs.runs_dir() / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def train() -> None:
    """Start the personal run on this session's photos, in the background, and follow it."""
    cfg = replace(PRESETS["personal"], data=str(folder()))
    start_run(lambda: jobs.start_job(cfg, name=run_name()), RUN)


def live(run_path: str) -> None:
    """The personal run's progress, redrawn every second until it ends."""
    info = jobs.run_info(Path(run_path))
    if info.state != "running":
        st.rerun(scope="app")
    st.caption(t("teach.training"))
    progress_view(info, key="teach_live")
    if (info.path / "stop").exists():
        st.info(t("train.stopping"))
    elif st.button(t("train.stop"), key="teach_stop"):
        jobs.stop_job(info.path)
        st.info(t("train.stopping"))


def comparison_chart(ba: Any) -> go.Figure:
    """Per emotion with held-out photos: the share the shipped and the personal model named right."""
    lg = lang()
    rows = [i for i, n in enumerate(ba.n) if n]
    names = [display_name(LABELS[i], lg) for i in rows]
    fig = go.Figure()
    for which, key, color in (("before", "teach.before", BEFORE_COLOR), ("after", "teach.after", AFTER_COLOR)):
        values = [ba.recall(which)[i] for i in rows]
        fig.add_trace(go.Bar(
            x=names, y=values, name=t(key), marker_color=color,
            text=[fmt_percent(v, lg, 0) for v in values], textposition="outside", cliponaxis=False))
    fig.update_layout(barmode="group", title=t("teach.chart_title"), height=320,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      yaxis={"range": [0, 1.15], "tickformat": ".0%", "title": t("teach.named_right")})
    return fig


def before_after(info: jobs.RunInfo) -> None:
    """The shipped and the personal model on the photos held out of training, per emotion, with their counts."""
    ba, problem = read_before_after(info.path)
    st.subheader(t("teach.before_after"))
    if ba is None:
        st.warning(t("teach.no_before_after", error=plain(problem)) if problem else t("teach.no_before_after_yet"))
        return
    lg = lang()
    if not ba.total:
        st.warning(t("teach.nothing_held_out"))
        return
    before, after = ba.accuracy("before"), ba.accuracy("after")
    c1, c2 = st.columns(2)
    c1.metric(t("teach.before"), fmt_percent(before, lg, 0))
    change = round(after - before, 2)  # no arrow for no change
    c2.metric(t("teach.after"), fmt_percent(after, lg, 0), delta=fmt_percent(change, lg, 0) if change else None,
              delta_description=t("teach.delta_description") if change else None)
    st.caption(t("teach.honest", n=plural("teach.n_held_out", ba.total, lg)))
    show_chart(comparison_chart(ba), key="teach_chart")
    rows = [i for i, n in enumerate(ba.n) if n]
    frame = pd.DataFrame({
        t("teach.col_emotion"): [display_name(LABELS[i], lg) for i in rows],
        t("teach.col_held_out"): [ba.n[i] for i in rows],
        t("teach.before"): [f"{ba.before_correct[i]}/{ba.n[i]} ({fmt_percent(ba.recall('before')[i], lg, 0)})"
                            for i in rows],
        t("teach.after"): [f"{ba.after_correct[i]}/{ba.n[i]} ({fmt_percent(ba.recall('after')[i], lg, 0)})"
                           for i in rows],
        t("teach.col_taught"): [t("teach.yes") if LABELS[i] in ba.taught else t("teach.no") for i in rows],
    })
    show_table(frame, hide_index=True, width="stretch")


def use_it(info: jobs.RunInfo) -> None:
    """One click makes the personal model the session's active model (Images, Webcam, How it works)."""
    if is_active_model(info.model_path):
        st.success(t("teach.in_use", name=plain(model_label(info.model_path))))
        c1, c2 = st.columns(2)
        c1.page_link("pages/images.py", label=t("nav.images"), icon=":material/image:", query_params={"lang": lang()})
        c2.page_link("pages/webcam.py", label=t("nav.webcam"), icon=":material/videocam:",
                     query_params={"lang": lang()})
    elif st.button(t("teach.use"), key="teach_use", type="primary", icon=":material/check:",
                   help=t("teach.use_help")):
        set_active_model(info.model_path)
        st.rerun()


def outcome(info: jobs.RunInfo) -> None:
    """How the personal run ended: its before and after and Use it, or why it failed."""
    if info.state == "finished" and info.model_path.is_file():
        st.success(t("teach.finished", name=plain(model_label(info.model_path))))
        before_after(info)
        use_it(info)
        with st.expander(t("teach.curves")):
            curves(info, "teach_done")
    elif info.state == "stopped":
        st.warning(t("train.stopped", run=plain(info.name)))
    elif info.state in ("failed", "broken"):
        why = t("train.died") if info.error == jobs.DIED else plain(info.error)
        st.error(t("train.failed", run=plain(info.name), error=why))
        st.code(info.log_tail(30) or t("train.no_log"), language=None)


def current_run(where: Path) -> jobs.RunInfo | None:
    """The personal run this session follows: the one it started, else the newest made from its folder."""
    path = st.session_state.get(RUN)
    if path is None and where.is_dir():
        runs = personal_runs(where, jobs.runs_dir())
        path = str(runs[0]) if runs else None
    if path is None or not Path(path).is_dir():
        st.session_state.pop(RUN, None)
        return None
    st.session_state[RUN] = path
    return jobs.run_info(Path(path))


def delete_all() -> None:
    """Delete every snapshot and personal model of this session; the shipped model is active again if one of
    them was."""
    where, root = folder(), jobs.runs_dir()
    mine = {str((p / "model.keras").resolve()) for p in personal_runs(where, root)} if where.is_dir() else set()
    active = st.session_state.get(ACTIVE_MODEL)
    try:
        gone = delete_teach(where, root)
    except OSError as exc:
        st.session_state[NOTES] = [("error", t("teach.delete_error", error=plain(exc)))]
        return
    if active and str(Path(active).resolve()) in mine and not Path(active).exists():
        set_active_model(DEFAULT_MODEL)
    for key in (CROPS, RUN, CONFIRM, SAVED):
        st.session_state.pop(key, None)
    renew("teach_upload")  # uploaders that still showed the deleted photos start empty
    st.session_state[NOTES] = [("success", t("teach.deleted", files=plural("teach.n_files", gone.files, lang()),
                                             size=fmt_size(gone.bytes, lang())))]


def your_files(where: Path, running: bool) -> None:
    """Privacy, kept: every file this session left on the server, its size, and one click (confirmed) to delete
    them all."""
    st.subheader(t("teach.files"))
    files = teach_files(where, jobs.runs_dir()) if where.is_dir() else []
    lg = lang()
    if not files:
        st.caption(t("teach.no_files"))
        return
    total = sum(f.size for f in files)
    root = jobs.runs_dir()
    with st.expander(t("teach.files_summary", files=plural("teach.n_files", len(files), lg),
                       size=fmt_size(total, lg))):
        frame = pd.DataFrame({
            t("teach.col_file"): [str(f.path.relative_to(root)) if f.path.is_relative_to(root) else f.path.name
                                  for f in files],
            t("teach.col_what"): [display_name(f.emotion, lg) if f.emotion else t("teach.model_file") for f in files],
            t("teach.col_size"): [fmt_size(f.size, lg) for f in files]})
        show_table(frame, hide_index=True, width="stretch")
    if running:
        st.button(t("teach.delete"), key="teach_delete", icon=":material/delete_forever:", disabled=True,
                  help=t("teach.delete_while_training"))
    elif not st.session_state.get(CONFIRM):
        if st.button(t("teach.delete"), key="teach_delete", icon=":material/delete_forever:",
                     help=t("teach.delete_help")):
            st.session_state[CONFIRM] = True
            st.rerun()
    else:
        st.warning(t("teach.confirm", files=plural("teach.n_files", len(files), lg), size=fmt_size(total, lg)))
        c1, c2 = st.columns(2)
        c1.button(t("teach.confirm_yes"), key="teach_delete_yes", type="primary", icon=":material/delete_forever:",
                  on_click=delete_all)
        c2.button(t("teach.confirm_no"), key="teach_delete_no", on_click=st.session_state.pop, args=(CONFIRM, None))


st.title(t("teach.title"))
st.caption(t("teach.intro"))
st.info(t("teach.privacy"), icon=":material/lock:")

where = folder()
names = {e: display_name(e, lang()) for e in LABELS}
# both choices are kept for the session (ui.state): back from another page, the same emotion and source
emotion = st.pills(t("teach.emotion"), LABELS, key=worded(kept("teach_emotion", "happy")),
                   format_func=names.__getitem__, required=True, help=t("teach.emotion_help"))
keep("teach_emotion")
sources = {"camera": t("teach.camera"), "upload": t("teach.upload")}
source = st.segmented_control(t("teach.source"), list(sources), key=worded(kept("teach_source", "camera")),
                              format_func=sources.__getitem__, required=True)
keep("teach_source")
if source == "camera":
    cam = generation("teach_camera")
    st.camera_input(t("teach.camera_label", emotion=names[emotion]), key=cam, on_change=took_snapshot,
                    args=(cam, emotion), help=t("teach.camera_help"), width=CAMERA_PX)
else:  # one uploader per emotion: each starts empty, and its files go to its own emotion
    up = f"{generation('teach_upload')}_{emotion}"
    st.file_uploader(t("teach.upload_label", emotion=names[emotion]), key=up, accept_multiple_files=True,
                     on_change=uploaded, args=(up, emotion), help=t("teach.upload_help", n=MAX_PER_EMOTION))
for kind, text in st.session_state.pop(NOTES, []):
    getattr(st, kind)(text)

found = snapshots(where) if where.is_dir() else {e: [] for e in LABELS}
gallery(found[emotion], emotion)

st.subheader(t("teach.counts"))
st.caption(t("teach.counts_help", min=MIN_FACES, k=MIN_EMOTIONS))
counts = face_counts(found)
counts_table(found, counts)

st.subheader(t("teach.train"))
info = current_run(where)
active = jobs.active_job()
running = info is not None and info.state == "running"
why_off = t("teach.busy") if active is not None and not running else refusal(counts)
if running:
    with st.container():  # alone in its container: see the note in pages/webcam.py
        st.fragment(live, run_every=1.0)(str(info.path))
else:
    st.caption(t("teach.train_help"))
    if why_off:
        st.caption(why_off)
    if st.button(t("teach.train_button"), key="teach_train", type="primary", icon=":material/model_training:",
                 disabled=why_off is not None, help=why_off) and why_off is None:
        train()
    if info is not None:
        outcome(info)

your_files(where, running)
