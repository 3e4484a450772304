"""Images: upload photos (or pick an example), see every face boxed and named, download the results."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from fer.csvcells import cell
from fer.i18n import decimal_sep, fmt_count, fmt_percent, plural
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
from fer.vision.detection import DetectorConfig
from fer.vision.preprocessing import IMAGE_ERROR_KINDS, ImageError
from ui.charts import show_chart, show_table
from ui.common import ROOT, detector, get_classifier, lang, t, worded
from ui.controls import sidebar_controls
from ui.limits import limits_note
from ui.server import SESSION_UPLOAD_MAX_MB
from ui.text import plain

EXAMPLES_DIR = ROOT / "data" / "examples"
TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]


RESULTS = "img_results"
"""session_state: {(content hash, name, detector settings, margin, model, its mtime): PhotoResult or ImageError}
of this upload's photos: each photo analysed once, kept with the session (gone when it ends), pruned to the
photos on the page."""
DIGESTS = "img_digests"
"""session_state: {uploaded file id: content hash}, so a rerun does not hash the bytes again."""


def analyse(data: bytes, digest: str, name: str, config: DetectorConfig, margin: float, model: Path,
            used: dict) -> PhotoResult:
    """Faces of one photo, from this session's results when the same bytes were analysed with the same
    settings; `used` collects the results this run shows (the rest are dropped after it)."""
    key = (digest, name, config, margin, str(model), model.stat().st_mtime)
    store = st.session_state.get(RESULTS, {})
    if key not in store:
        try:
            store[key] = analyse_photo(data, name, detector(config), get_classifier(model), margin)
        except ImageError as exc:
            store[key] = exc
    used[key] = store[key]
    if isinstance(used[key], ImageError):
        raise used[key]
    return used[key]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def score_chart(face: FacePrediction, title: str) -> go.Figure:
    names = [display_name(k, lang()) for k in LABELS]
    fig = go.Figure(go.Bar(x=names, y=list(face.scores), marker_color=[hex_color(k) for k in LABELS],
                           text=[fmt_percent(s, lang()) for s in face.scores], textposition="outside",
                           cliponaxis=False))
    fig.update_layout(title=title, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": t("images.probability")},
                      xaxis={"title": t("images.emotion")})
    return fig


def image_error(name: str, exc: ImageError) -> str:
    """The translated message for an unusable upload, specific to what is wrong with it."""
    if exc.kind in IMAGE_ERROR_KINDS:
        d = exc.details
        return t(f"images.error_{exc.kind}", name=plain(name), w=d.get("width", "?"), h=d.get("height", "?"),
                 limit=d.get("limit", "?"), mb=d.get("mb", "?"))
    return t("images.bad_file", name=plain(name), reason=plain(exc))


def upload_limit_mb() -> int:
    """The server's upload limit per file (server.maxUploadSize in .streamlit/config.toml)."""
    return int(st.get_option("server.maxUploadSize"))


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
    """The CSV download in the language's numbers: probabilities as plain decimals with six digits (never
    '3.6e-05'); with a decimal comma (Portuguese), fields are separated by ';' as its spreadsheets expect."""
    comma = decimal_sep(lang()) == ","
    return csv_frame(rows).to_csv(index=False, float_format="%.6f", sep=";" if comma else ",",
                                  decimal=decimal_sep(lang()))


def png_bytes(rgb) -> bytes:
    """An RGB image (the photo with its boxes and names drawn) as PNG bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def photo_key(n: int, name: str, digest: str) -> str:
    """A key for one photo's widgets that follows the photo (its content hash and name), not its place in
    the list."""
    return f"{n}_{hashlib.sha1((digest + name).encode()).hexdigest()[:12]}"


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


def show_photo(n: int, res: PhotoResult, data: bytes, digest: str, show_conf: bool) -> None:
    """One photo: its boxes (numbered), the faces to leave out, a chart per face, a link to How it works; the
    first MAX_FACES_DRAWN faces only (the table lists all)."""
    lg = lang()
    key = photo_key(n, res.name, digest)
    st.subheader(plain(res.name))
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
    left_out = set(st.session_state.get(f"img_drop_{key}", []))
    kept = [i for i in numbers if i not in left_out]
    left, right = st.columns([3, 2])
    drawn = annotate(res.display, [res.faces[i - 1] for i in kept], lg, show_conf, scale=res.display_scale,
                     numbers=kept)
    left.image(drawn, width=display_width(res.display.shape[1], res.display.shape[0]))
    left.download_button(t("images.download_annotated"), data=lambda: png_bytes(drawn),
                         file_name=f"{Path(res.name).stem or 'photo'}-emotions.png", mime="image/png",
                         icon=":material/download:", key=f"img_dl_png_{key}", on_click="ignore")
    left.pills(t("images.drop"), numbers, selection_mode="multi", key=worded(f"img_drop_{key}"),
               format_func=lambda i: t("images.face_n", i=i), help=t("images.drop_help"))
    for i in kept:
        face = res.faces[i - 1]
        title = t("images.face_title", i=i, label=display_name(face.label, lg), conf=fmt_percent(face.confidence, lg))
        show_chart(score_chart(face, title), key=f"chart_{key}_{i}", where=right)
        if right.button(t("images.explain", i=i), key=f"img_how_{key}_{i}", icon=":material/psychology:"):
            open_in_how(res.name, data, [f.box for f in res.faces], i - 1)


st.title(t("images.title"))
st.caption(t("images.intro"))
limits_note()
ctl = sidebar_controls()
if ctl.model_path is None:
    st.stop()

# A key of its own: the uploads stay when the language (the label) changes.
uploads = st.file_uploader(t("images.upload"), type=TYPES, accept_multiple_files=True, key="img_upload",
                           help=t("images.upload_help", mb=upload_limit_mb(), photos=MAX_PHOTOS,
                                  total=MAX_UPLOAD_BYTES // 1024**2, session=SESSION_UPLOAD_MAX_MB))
examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
if (tried := st.session_state.pop("img_try", None)) in {p.name for p in examples}:  # Home's "Try it"
    st.session_state["img_examples"] = sorted({*(st.session_state.get("img_examples") or []), tried})
picked = st.pills(t("images.examples"), [p.name for p in examples], selection_mode="multi", key="img_examples",
                  help=t("images.examples_help")) or []
known = st.session_state.get(DIGESTS, {})
hashes = {f.file_id: known.get(f.file_id) or content_hash(f.getvalue()) for f in uploads or []}
st.session_state[DIGESTS] = hashes
items = [(f.name, f.getvalue(), hashes[f.file_id]) for f in uploads or []]
items += [(n, b, content_hash(b)) for n in picked if n in {p.name for p in examples}
          for b in [(EXAMPLES_DIR / n).read_bytes()]]
if not items:
    st.info(t("images.empty"))
    st.stop()
kept = photos_within_limits([len(data) for _, data, _ in items])
if kept < len(items):
    st.warning(t("images.upload_capped", kept=kept, n=len(items), photos=MAX_PHOTOS,
                 total=MAX_UPLOAD_BYTES // 1024**2))
    items = items[:kept]

results: list[PhotoResult] = []
datas: list[bytes] = []
model_file = ctl.model_path
get_classifier(model_file)  # outside the cached analyse(): a fresh server's wait for the model is drawn here
digests: list[str] = []
used: dict = {}
bar = st.progress(0.0, text=t("images.working", images=plural("images.n_images", len(items), lang())))
for i, (name, data, digest) in enumerate(items):
    bar.progress(i / len(items), text=t("images.working_one", i=i + 1, n=len(items), name=plain(name)))
    try:
        results.append(analyse(data, digest, name, ctl.detector, ctl.margin, model_file, used))
        datas.append(data)
        digests.append(digest)
    except ImageError as exc:
        st.error(image_error(name, exc))
bar.empty()
st.session_state[RESULTS] = used  # only this upload's photos stay

if results:
    summary = st.container()  # filled last, shown first: it needs the faces left out below
    dropped = {n: list(st.session_state.get(f"img_drop_{photo_key(n, r.name, d)}", []))
               for n, (r, d) in enumerate(zip(results, digests, strict=True))}
    for n, (res, data, digest) in enumerate(zip(results, datas, digests, strict=True)):
        show_photo(n, res, data, digest, ctl.show_confidence)
    show_summary(results, {k: v for k, v in dropped.items() if v}, summary)
