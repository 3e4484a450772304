"""Images: upload photos (or pick an example), see every face boxed and named, download the results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from fer.csvcells import cell
from fer.i18n import fmt_count, fmt_percent, plural
from fer.labels import LABELS, display_name, hex_color
from fer.media.annotate import annotate, display_width
from fer.media.photo import (
    MAX_FACES_DRAWN,
    MAX_PHOTOS,
    MAX_UPLOAD_BYTES,
    NO_FACE,
    ROW_KEYS,
    PhotoResult,
    analyse_photo,
    photos_within_limits,
    result_rows,
    results_json,
)
from fer.model.inference import FacePrediction
from fer.paths import ROOT
from fer.vision.detection import DetectorConfig
from fer.vision.preprocessing import ImageError
from ui.charts import show_chart, show_table
from ui.common import detector, get_classifier, image_error, lang, t, worded
from ui.controls import Controls, model_note, sidebar_controls
from ui.downloads import csv_text as localised_csv
from ui.limits import limits_note
from ui.server import SESSION_UPLOAD_MAX_MB
from ui.state import Upload, clear_uploads, forget_upload, keep, kept, kept_uploader, set_kept, upload_id
from ui.text import plain

EXAMPLES_DIR = ROOT / "data" / "examples"
UPLOADS = "img_upload"
EXAMPLES = "img_examples"
RESULTS = "img_results"  # {photo id: ((detector, margin, model, mtime), PhotoResult or ImageError)}



def analyse(data: bytes, name: str, config: DetectorConfig, margin: float, model: str, mtime: float) -> PhotoResult:
    """Faces of one photo (the page keeps each photo's result in the session: `outcome`)."""
    return analyse_photo(data, name, detector(config), get_classifier(Path(model)), margin)


def score_chart(face: FacePrediction, title: str) -> go.Figure:
    names = [display_name(k, lang()) for k in LABELS]
    fig = go.Figure(go.Bar(x=names, y=list(face.scores), marker_color=[hex_color(k) for k in LABELS],
                           text=[fmt_percent(s, lang()) for s in face.scores], textposition="outside",
                           cliponaxis=False))
    fig.update_layout(title=title, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": t("images.probability")},
                      xaxis={"title": t("images.emotion")})
    return fig




def upload_limit_mb() -> int:
    """The limit per photo: the server's (server.maxUploadSize in .streamlit/config.toml, 200 MB for videos),
    at most the Images page's own 100 MB (MAX_UPLOAD_BYTES)."""
    return min(int(st.get_option("server.maxUploadSize")), MAX_UPLOAD_BYTES // 1024**2)


def headers() -> dict[str, str]:
    """Translated column headers of the results table and CSV ('label': the English key, 'emotion': its name)."""
    keys = ("file", "face", "x", "y", "w", "h", "angle", "label", "emotion", "confidence")
    return {k: t(f"images.col_{k}") for k in keys} | {k: display_name(k, lang()) for k in LABELS}


def emotion_name(label: str) -> str:
    """The translated name of a row's label ('No face found' for a photo without one)."""
    return t("images.no_face_row") if label == NO_FACE else display_name(label, lang())


BOX_KEYS = ("x", "y", "w", "h", "angle")
FILE_COLUMN_PX = 120  # the table's file column: face, emotion and confidence beside it fit a 390 px phone


def table_frame(rows: list[dict]) -> pd.DataFrame:
    """The table shown: what matters first (file, face, emotion, confidence and the seven scores in percent
    as fer.i18n writes them; the box last, off screen on a phone); blanks, not 'None' or face 0, for a photo
    without a face (its emotion says so)."""
    frame = pd.DataFrame(rows, columns=list(ROW_KEYS))
    frame["emotion"] = [emotion_name(v) for v in frame["label"]]
    for k in ("confidence", *LABELS):  # one decimal everywhere ('0.0%', '<0.1%'), as on the charts
        frame[k] = [fmt_percent(v, lang()) if pd.notna(v) else "" for v in frame[k]]
    frame["face"] = [str(v) if label != NO_FACE else "" for v, label in zip(frame["face"], frame["label"],
                                                                             strict=True)]
    for k in BOX_KEYS:
        frame[k] = [fmt_count(v, lang()) if pd.notna(v) else "" for v in frame[k]]
    return frame[["file", "face", "emotion", "confidence", *LABELS, *BOX_KEYS]]


def csv_frame(rows: list[dict]) -> pd.DataFrame:
    """The CSV's table: English keys in `label` (machine-readable), the translated name beside it, translated
    headers; no face number for a photo without a face."""
    frame = pd.DataFrame(rows, columns=list(ROW_KEYS))
    frame["face"] = frame["face"].where(frame["label"] != NO_FACE).astype("Int64")
    frame.insert(frame.columns.get_loc("label") + 1, "emotion", [emotion_name(v) for v in frame["label"]])
    frame = frame.rename(columns=headers())
    # an upload named =HYPERLINK(...) is text, not a formula, in a spreadsheet (fer.csvcells)
    return frame.map(cell).rename(columns=cell)


def csv_text(rows: list[dict]) -> str:
    """The CSV download in the language's numbers (ui.downloads.csv_text)."""
    return localised_csv(csv_frame(rows))


def png_bytes(rgb) -> bytes:
    """An RGB image (the photo with its boxes and names drawn) as PNG bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def open_in_how(name: str, data: bytes, boxes: list, face: int) -> None:
    """Hand one face of a photo to the How it works page and go there."""
    st.session_state["how_handoff"] = {"name": name, "data": data, "boxes": list(boxes), "face": face, "new": True}
    st.switch_page("pages/how_it_works.py")


def show_summary(results: list[PhotoResult], dropped: dict[int, list[int]], box: DeltaGenerator) -> None:
    """First on the page: counts, the table of all faces and the downloads."""
    lg = lang()
    rows = result_rows(results, dropped)
    faces = sum(1 for r in rows if r["label"] != NO_FACE)
    with box:
        st.subheader(t("images.table"))
        faceless, left_out = sum(1 for r in results if not r.faces), sum(len(v) for v in dropped.values())
        parts = [t("images.totals", photos=plural("images.n_photos", len(results), lg),
                   faces=plural("images.n_faces", faces, lg))]
        parts += [plural(key, count, lg) for key, count in (("images.n_faceless", faceless),
                                                           ("images.n_dropped", left_out)) if count]
        st.caption(" · ".join(parts))
        c1, c2 = st.columns(2)
        c1.download_button(t("images.download_csv"), csv_text(rows), file_name="faces.csv",
                           mime="text/csv", icon=":material/download:", key="img_dl_csv")
        c2.download_button(t("images.download_json"), results_json(results, dropped), file_name="faces.json",
                           mime="application/json", icon=":material/download:", key="img_dl_json")
        frame = table_frame(rows).rename(columns=headers())
        # the file name narrow enough that face, emotion and confidence fit a phone's 390 px (long names are
        # cut; each photo's own heading below shows it whole); the scores are text as fer.i18n writes percents
        file_col = t("images.col_file")
        show_table(frame, hide_index=True, width="stretch",
                   column_config={file_col: st.column_config.TextColumn(file_col, width=FILE_COLUMN_PX)})


def remove_photo(uid: str) -> None:
    """A photo's Remove button: the photo leaves the session (an upload, or an example's pick)."""
    forget_upload(UPLOADS, uid)
    picked = [n for n in st.session_state.get(EXAMPLES, []) or [] if example_id(n) != uid]
    set_kept(EXAMPLES, picked)
    st.session_state.get(RESULTS, {}).pop(uid, None)


def clear_all() -> None:
    """The Clear all button: every upload, example, result and face left out goes."""
    clear_uploads(UPLOADS)
    set_kept(EXAMPLES, [])
    st.session_state[RESULTS] = {}
    for k in [k for k in st.session_state if str(k).startswith(("img_drop_", "_kept_img_drop_"))]:
        del st.session_state[k]


def remove_button(uid: str, name: str) -> None:
    st.button(t("images.remove"), key=f"img_remove_{uid}", icon=":material/close:", type="tertiary",
              on_click=remove_photo, args=(uid,), help=t("images.remove_help", name=plain(name)))


def show_photo(uid: str, res: PhotoResult, data: bytes, show_conf: bool) -> None:
    """One photo: its boxes (numbered), the faces to leave out, a chart per face, a link to How it works; the
    first MAX_FACES_DRAWN faces only (the table lists all)."""
    lg = lang()
    head, remove = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(plain(res.name))
    with remove:
        remove_button(uid, res.name)
    st.caption(t("images.summary", w=res.width, h=res.height, faces=plural("images.n_faces", len(res.faces), lg),
                 ms=fmt_count(1000 * res.seconds, lg)))
    if not res.faces:
        st.warning(t("images.no_face"))
        st.info(t("images.no_face_hint"))
        st.image(res.display, width=display_width(res.display.shape[1], res.display.shape[0]))
        return
    numbers = list(range(1, min(len(res.faces), MAX_FACES_DRAWN) + 1))
    if len(res.faces) > MAX_FACES_DRAWN:
        st.info(t("images.faces_capped", shown=MAX_FACES_DRAWN, n=fmt_count(len(res.faces), lg)))
    drop_key = kept(f"img_drop_{uid}", [])
    left_out = set(st.session_state.get(drop_key) or [])
    kept_faces = [i for i in numbers if i not in left_out]
    left, right = st.columns([3, 2])
    drawn = annotate(res.display, [res.faces[i - 1] for i in kept_faces], lg, show_conf, scale=res.display_scale,
                     numbers=kept_faces)
    left.image(drawn, width=display_width(res.display.shape[1], res.display.shape[0]))
    left.download_button(t("images.download_annotated"), data=lambda: png_bytes(drawn),
                         file_name=f"{Path(res.name).stem or 'photo'}-emotions.png", mime="image/png",
                         icon=":material/download:", key=f"img_dl_png_{uid}", on_click="ignore")
    names = {i: t("images.face_n", i=i) for i in numbers}  # format_func: plain lookups, no session state
    left.pills(t("images.drop"), numbers, selection_mode="multi", key=worded(drop_key), format_func=names.__getitem__,
               help=t("images.drop_help"))
    keep(drop_key)
    for i in kept_faces:
        face = res.faces[i - 1]
        title = t("images.face_title", i=i, label=display_name(face.label, lg), conf=fmt_percent(face.confidence, lg))
        show_chart(score_chart(face, title), key=f"chart_{uid}_{i}", where=right)
        if right.button(t("images.explain", i=i), key=f"img_how_{uid}_{i}", icon=":material/psychology:"):
            open_in_how(res.name, data, [f.box for f in res.faces], i - 1)


def example_id(name: str) -> str:
    """An example's id: its file's, as if uploaded (the same photo uploaded is the same photo)."""
    return upload_id(name, (EXAMPLES_DIR / name).read_bytes())


def photos(uploaded: list[Upload], picked: list[str]) -> list[Upload]:
    """The session's photos: the kept uploads, then the picked examples, each once."""
    names = {p.name for p in sorted(EXAMPLES_DIR.glob("*.jpg"))}
    items = {u.id: u for u in uploaded}
    for n in picked:
        if n in names:  # only bundled files, never a sent path
            data = (EXAMPLES_DIR / n).read_bytes()
            items.setdefault(upload_id(n, data), Upload(upload_id(n, data), n, data))
    return list(items.values())


def outcome(item: Upload, ctl: Controls, model_file: Path) -> PhotoResult | ImageError:
    """The photo's result (or why it cannot be read) under the sidebar's settings, kept in the session: back
    from another page, the results are there at once."""
    settings = (ctl.detector, ctl.margin, str(model_file), model_file.stat().st_mtime)
    done = st.session_state.setdefault(RESULTS, {})
    if item.id in done and done[item.id][0] == settings:
        return done[item.id][1]
    try:
        got: PhotoResult | ImageError = analyse(item.data, item.name, *settings)
    except ImageError as exc:
        got = exc.detached()  # kept without the frames that raised it: they hold the photo and the run
    done[item.id] = (settings, got)
    return got


st.title(t("images.title"))
st.caption(t("images.intro"))
limits_note()
ctl = sidebar_controls()
if ctl.model_path is None:
    st.stop()
model_note(ctl.model_path)

# Every file type is accepted: the page reads each file and names the one it cannot use, in the page's language.
uploaded = kept_uploader(t("images.upload"), UPLOADS, max_upload_size=upload_limit_mb(),
                         help=t("images.upload_help", mb=upload_limit_mb(), photos=MAX_PHOTOS,
                                total=MAX_UPLOAD_BYTES // 1024**2, session=SESSION_UPLOAD_MAX_MB))
examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
if (tried := st.session_state.pop("img_try", None)) in {p.name for p in examples}:  # Home's "Try it"
    set_kept(EXAMPLES, sorted({*(st.session_state.get(EXAMPLES) or []), tried}))
picked = st.pills(t("images.examples"), [p.name for p in examples], selection_mode="multi", key=kept(EXAMPLES, []),
                  help=t("images.examples_help")) or []
keep(EXAMPLES)
items = photos(uploaded, picked)
if not items:
    st.info(t("images.empty"))
    st.stop()
st.button(t("images.clear_all"), key="img_clear_all", icon=":material/delete_sweep:", on_click=clear_all,
          help=t("images.clear_all_help"))
within = photos_within_limits([len(item.data) for item in items])
if within < len(items):
    st.warning(t("images.upload_capped", kept=within, n=len(items), photos=MAX_PHOTOS,
                 total=MAX_UPLOAD_BYTES // 1024**2))
    items = items[:within]
st.session_state[RESULTS] = {k: v for k, v in st.session_state.get(RESULTS, {}).items()
                             if k in {i.id for i in items}}  # only the photos still shown

model_file = ctl.model_path
get_classifier(model_file)  # outside the cached analyse(): a fresh server's wait for the model is drawn here
results: list[tuple[Upload, PhotoResult]] = []
bar = st.progress(0.0, text=t("images.working", images=plural("images.n_images", len(items), lang())))
for i, item in enumerate(items):
    bar.progress(i / len(items), text=t("images.working_one", i=i + 1, n=len(items), name=plain(item.name)))
    got = outcome(item, ctl, model_file)
    if isinstance(got, ImageError):
        st.error(image_error(item.name, got))
        remove_button(item.id, item.name)
    else:
        results.append((item, got))
bar.empty()

if results:
    summary = st.container()  # filled last, shown first: it needs the faces left out below
    for item, res in results:
        show_photo(item.id, res, item.data, ctl.show_confidence)
    dropped = {n: list(st.session_state.get(f"img_drop_{item.id}") or []) for n, (item, _) in enumerate(results)}
    show_summary([r for _, r in results], {k: v for k, v in dropped.items() if v}, summary)
