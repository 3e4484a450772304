"""Images: upload photos (or pick an example), see every face boxed and named, download the results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fer.annotate import annotate
from fer.detection import DetectorConfig
from fer.i18n import fmt_number, fmt_percent
from fer.inference import FacePrediction
from fer.labels import LABELS, display_name, hex_color
from fer.photo import PhotoResult, analyse_photo, result_rows, results_json
from fer.preprocessing import IMAGE_ERROR_KINDS, ImageError
from ui.common import ROOT, detector, get_classifier, lang, separators, t
from ui.controls import sidebar_controls
from ui.text import plain

EXAMPLES_DIR = ROOT / "data" / "examples"
TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"]


@st.cache_data(max_entries=32, show_spinner=False)
def analyse(data: bytes, name: str, config: DetectorConfig, margin: float, model: str, mtime: float) -> PhotoResult:
    """Faces of one photo, cached per bytes, detector settings, margin and model file."""
    return analyse_photo(data, name, detector(config), get_classifier(Path(model)), margin)


def score_chart(face: FacePrediction, title: str) -> go.Figure:
    names = [display_name(k, lang()) for k in LABELS]
    fig = go.Figure(go.Bar(x=names, y=list(face.scores), marker_color=[hex_color(k) for k in LABELS],
                           text=[fmt_percent(s, lang()) for s in face.scores], textposition="outside",
                           cliponaxis=False))
    fig.update_layout(title=title, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": t("images.probability")},
                      xaxis={"title": t("images.emotion")}, separators=separators())
    return fig


def image_error(name: str, exc: ImageError) -> str:
    """The translated message for an unusable upload, specific to what is wrong with it."""
    if exc.kind in IMAGE_ERROR_KINDS:
        d = exc.details
        return t(f"images.error_{exc.kind}", name=plain(name), w=d.get("width", "?"), h=d.get("height", "?"),
                 limit=d.get("limit", "?"))
    return t("images.bad_file", name=plain(name), reason=plain(exc))


def upload_limit_mb() -> int:
    """The server's upload limit per file (server.maxUploadSize in .streamlit/config.toml)."""
    return int(st.get_option("server.maxUploadSize"))


def headers() -> dict[str, str]:
    """Translated column headers of the results table and CSV."""
    out = {k: t(f"images.col_{k}") for k in ("file", "face", "x", "y", "w", "h", "angle", "label", "confidence")}
    return out | {k: display_name(k, lang()) for k in LABELS}


st.title(t("images.title"))
st.caption(t("images.intro"))
ctl = sidebar_controls()
if ctl.model_path is None:
    st.stop()

uploads = st.file_uploader(t("images.upload"), type=TYPES, accept_multiple_files=True,
                           help=t("images.upload_help", mb=upload_limit_mb()))
examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
picked = st.pills(t("images.examples"), [p.name for p in examples], selection_mode="multi", key="img_examples",
                  help=t("images.examples_help")) or []
items = [(f.name, f.getvalue()) for f in uploads or []] + [(n, (EXAMPLES_DIR / n).read_bytes()) for n in picked
                                                  if n in {p.name for p in examples}]
if not items:
    st.info(t("images.empty"))
    st.stop()

results: list[PhotoResult] = []
model_file = ctl.model_path
with st.spinner(t("images.working", n=len(items))):
    for name, data in items:
        try:
            results.append(analyse(data, name, ctl.detector, ctl.margin, str(model_file), model_file.stat().st_mtime))
        except ImageError as exc:
            st.error(image_error(name, exc))

for n, res in enumerate(results):
    st.subheader(plain(res.name))
    st.caption(t("images.summary", w=res.width, h=res.height, n=len(res.faces),
                 ms=fmt_number(1000 * res.seconds, lang(), 0)))
    if not res.faces:
        st.warning(t("images.no_face"))
        st.info(t("images.no_face_hint"))
        st.image(res.display, width="content")
        continue
    left, right = st.columns([3, 2])
    left.image(annotate(res.display, res.faces, lang(), ctl.show_confidence, scale=res.display_scale),
               width="stretch")
    for i, face in enumerate(res.faces, start=1):
        title = t("images.face_title", i=i, label=display_name(face.label, lang()),
                  conf=fmt_percent(face.confidence, lang()))
        right.plotly_chart(score_chart(face, title), key=f"chart_{n}_{i}", config={"displayModeBar": False})

if results and any(r.faces for r in results):
    st.subheader(t("images.table"))
    rows = result_rows(results)
    table = pd.DataFrame(rows)
    table["label"] = [display_name(v, lang()) for v in table["label"]]
    st.dataframe(table.rename(columns=headers()), hide_index=True, width="stretch",
                 column_config={display_name(k, lang()): st.column_config.ProgressColumn(
                     display_name(k, lang()), min_value=0.0, max_value=1.0, format="percent") for k in LABELS})
    c1, c2 = st.columns(2)
    c1.download_button(t("images.download_csv"), pd.DataFrame(rows).rename(columns=headers()).to_csv(index=False),
                       file_name="faces.csv", mime="text/csv", icon=":material/download:")
    c2.download_button(t("images.download_json"), results_json(results), file_name="faces.json",
                       mime="application/json", icon=":material/download:")
