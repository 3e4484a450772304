"""How it works: every step of the CNN, as pictures, on the user's own face (or an example)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fer.config import TrainConfig
from fer.i18n import fmt_count, fmt_number, fmt_percent
from fer.labels import LABELS, display_name, hex_color
from fer.media.annotate import PREVIEW_MAX_SIDE, numbered_boxes, preview
from fer.model.ensemble import member_models, member_scores
from fer.model.explain import Explainer, GradCam, enlarge, first_layer_filters, model_anatomy, normalise, overlay, tile
from fer.paths import ROOT
from fer.vision.boxes import FaceBox
from fer.vision.detection import DetectorConfig
from fer.vision.preprocessing import ImageError, crop_face, decode_image, expand_box, to_gray
from ui.charts import show_chart, show_table
from ui.common import detector, emotions_sentence, get_classifier, lang, model_card, t, worded
from ui.controls import model_choice
from ui.state import keep, kept, kept_uploader, set_kept
from ui.text import plain

EXAMPLES_DIR = ROOT / "data" / "examples"
SOURCES = ("example", "upload", "camera")
FROM_IMAGES = "images"  # the source offered when the Images page handed over a face ("How face N was read")
PHOTO_SHOWN_PX = 300  # about the width of a third of the page on a desktop, where the photo is shown
BIG = 192  # side in pixels of the enlarged face pictures (a bare string here would be drawn by st magic)


@st.cache_resource(show_spinner=False)
def explainer(path: str, mtime: float, member: int = 0) -> Explainer:
    """Sub-models over the cached classifier's network (an ensemble's member `member`), built once per model
    file and member."""
    return Explainer(get_classifier(Path(path)).model, member=member)


def member_names(card: Any, n: int) -> list[str]:
    """The names of an ensemble's `n` networks, from the cards of the files its card names ("Network 1
    (fer-net): FER2013 labels"), or "Network i" where a member's card is gone."""
    paths = card.members if card is not None and len(card.members) == n else (None,) * n
    names = []
    for i, member in enumerate(paths, start=1):
        mc = model_card(ROOT / member) if member else None  # a card is checked when read (its config too)
        cfg = TrainConfig.from_dict(mc.config) if mc is not None and mc.config else None
        names.append(t("how.member_label", i=i, arch=cfg.arch, labels=t(f"how.labels_{cfg.labels_kind()}"))
                     if cfg is not None else t("how.member_n", i=i))
    return names


def read_face_source() -> tuple[str, bytes] | None:
    """(name, bytes) of the picture the user chose, or None when there is none yet. The choice, the example
    and the uploaded photo stay for the session (ui.state): back from another page, the same face is explained."""
    handoff = st.session_state.get("how_handoff")
    sources = (FROM_IMAGES, *SOURCES) if handoff else SOURCES
    if handoff and handoff.pop("new", False):  # just sent here from the Images page
        set_kept("how_source", FROM_IMAGES)
    if st.session_state.get(kept("how_source", SOURCES[0])) not in sources:
        set_kept("how_source", SOURCES[0])
    names = {s: t(f"how.source_{s}") for s in sources}  # format_func: plain lookups, no session state
    st.radio(t("how.source"), sources, format_func=names.__getitem__, horizontal=True, key=worded("how_source"))
    source = keep("how_source")
    if source == FROM_IMAGES:
        st.caption(t("how.from_images", name=plain(handoff["name"]), i=handoff["face"] + 1))
        return handoff["name"], handoff["data"]
    if source == "example":
        examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
        if not examples:
            st.info(t("how.no_examples"))
            return None
        names = [p.name for p in examples]
        if st.session_state.get(kept("how_example", "obama.jpg")) not in names:  # a value never offered
            before = st.session_state.get("_kept_how_example")
            set_kept("how_example", next(n for n in (before, "obama.jpg", names[0]) if n in names))
        name = st.selectbox(t("how.example"), names, key="how_example")
        keep("how_example")
        return name, (EXAMPLES_DIR / (name if name in names else names[0])).read_bytes()  # never a sent path
    if source == "upload":
        # any file type: a file that is not an image is named below, in the page's language
        up = next(iter(kept_uploader(t("how.upload"), "how_upload", multiple=False, help=t("how.upload_help"))), None)
        return (up.name, up.data) if up is not None else None
    snap = st.camera_input(t("how.camera"), key="how_camera")
    return (snap.name, snap.getvalue()) if snap is not None else None


def boxed(rgb: np.ndarray, boxes: list[FaceBox], chosen: int) -> np.ndarray:
    """The photo with every face boxed and numbered as on the Images page (the explained one thick and
    yellow), at most 640 pixels wide and PREVIEW_MAX_SIDE high."""
    scale = min(1.0, 640 / rgb.shape[1], PREVIEW_MAX_SIDE / rgb.shape[0])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))  # at least one row
    img = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    return numbered_boxes(img, boxes, chosen, scale, shown_width=PHOTO_SHOWN_PX)


ACTIVATIONS = ("relu", "softmax", "linear")  # dense activations explained in words; any other is named


def activation_meaning(act: str) -> str:
    """What a dense layer's activation does, in words (the explanation matches each layer's own)."""
    return t(f"how.act_{act}") if act in ACTIVATIONS else t("how.act_other", act=plain(act))


def input_heatmap(x: np.ndarray) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=x, colorscale="gray", zmin=0, zmax=1, showscale=False,
                               hovertemplate=f"x %{{x}}, y %{{y}}: {t('how.brightness')} %{{z:.2f}}<extra></extra>"))
    fig.update_layout(height=260, width=260, margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      yaxis={"autorange": "reversed", "scaleanchor": "x", "visible": False},
                      xaxis={"visible": False})
    return fig


def score_chart(scores: np.ndarray) -> go.Figure:
    names = [display_name(k, lang()) for k in LABELS]
    fig = go.Figure(go.Bar(x=names, y=[float(s) for s in scores], marker_color=[hex_color(k) for k in LABELS],
                           text=[fmt_percent(float(s), lang()) for s in scores], textposition="outside",
                           cliponaxis=False))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": t("how.probability")},
                      xaxis={"title": t("how.emotion")})
    return fig


def vector_chart(vector: np.ndarray) -> go.Figure:
    fig = go.Figure(go.Bar(y=vector, marker_color="#268bd2"))
    fig.update_layout(title=t("how.vector_chart"), height=220, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis={"title": t("how.vector_index")}, yaxis={"title": t("how.value")}, bargap=0)
    return fig


def members_chart(per_member: np.ndarray, names: list[str]) -> go.Figure:
    """Each member's probabilities for the face (one view) as grouped bars, and their average."""
    emotions = [display_name(k, lang()) for k in LABELS]
    fig = go.Figure()
    shades = ("#268bd2", "#2aa198", "#6c71c4", "#d33682")
    for i, (scores, name) in enumerate(zip([*per_member, per_member.mean(axis=0)], [*names, t("how.members_average")],
                                           strict=True)):
        colour = "#073642" if i == len(per_member) else shades[i % len(shades)]  # the average: darkest
        fig.add_bar(x=emotions, y=[float(v) for v in scores], name=name, marker_color=colour,
                    hovertemplate="%{x}: %{y:.0%}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis={"range": [0, 1], "tickformat": ".0%", "title": t("how.probability")},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def show_cam(col: Any, face_rgb: np.ndarray, cam: GradCam, title: str) -> None:
    col.markdown(f"**{title}**")
    col.image(overlay(face_rgb, cam.heatmap), width=BIG)
    if cam.empty:
        col.caption(t("how.cam_empty"))


st.title(t("how.title"))
st.caption(t("how.intro"))
model_path = model_choice()
if model_path is None:
    st.stop()
picked = read_face_source()
if picked is None:
    st.info(t("how.empty"))
    st.stop()
name, data = picked
try:
    rgb = decode_image(data, name)
except ImageError:
    st.error(t("how.bad_file", name=plain(name)))
    st.stop()
gray = to_gray(rgb)
photo_id = hashlib.sha1(data + name.encode()).hexdigest()[:12]  # widget keys follow the photo
from_images = st.session_state.get("how_source") == FROM_IMAGES and "how_handoff" in st.session_state
if from_images:  # the faces the Images page found (its detector settings), the one clicked chosen
    boxes = list(st.session_state["how_handoff"]["boxes"])
    chosen = int(st.session_state["how_handoff"]["face"])
else:
    boxes = detector(DetectorConfig()).detect(gray)
    chosen = 0  # face 1, numbered left to right as on the Images page
if not boxes:
    st.image(preview(rgb), width=480)  # bounded: a 1 x 59,999,999 image is no JPEG
    st.warning(t("how.no_face"))
    st.stop()
if len(boxes) > 1:
    faces = [t("how.face_n", i=i + 1) for i in range(len(boxes))]
    chosen = st.selectbox(t("how.pick_face"), range(len(boxes)), index=chosen, format_func=faces.__getitem__,
                          key=worded(f"how_face_{photo_id}_{chosen if from_images else ''}"))
box = boxes[chosen]
clf = get_classifier(model_path)
crop = crop_face(gray, box)
face = clf.network_input(crop[None])[0]  # zoomed as the model's card says
seen = expand_box(box, (1 / clf.zoom - 1) / 2, gray.shape[1], gray.shape[0])  # the part of the box it keeps
face_rgb = cv2.resize(rgb[seen.y:seen.y + seen.h, seen.x:seen.x + seen.w], (BIG, BIG), interpolation=cv2.INTER_AREA)

n_members = len(member_models(clf.model))  # 0 for a single network
st.caption(t("how.model", name=plain(model_path.stem if model_path.name != "model.keras" else model_path.parent.name),
             params=fmt_count(clf.model.count_params(), lang())))
card = model_card(model_path)
names = member_names(card, n_members)
member = 0
if n_members:
    st.caption(t("how.ensemble_member", n=n_members))
    member = st.selectbox(t("how.member_pick"), range(n_members), format_func=names.__getitem__,
                          key=worded(f"how_member_{n_members}"))
with st.spinner(t("how.working")):
    ex = explainer(str(model_path), model_path.stat().st_mtime, member)
    walk = ex.walk(face)
    scores = clf.scores(crop[None])[0]
top = int(np.argmax(scores))

st.header(t("how.step_input"))
c1, c2, c3 = st.columns(3)
c1.markdown(f"**{t('how.photo')}**")
c1.image(boxed(rgb, boxes, chosen), width="stretch")
c1.caption(t("how.photo_caption"))
c2.markdown(f"**{t('how.crop')}**")
c2.image(enlarge(np.clip(face, 0, 255).astype(np.uint8), BIG), width=BIG)
c2.caption(t("how.crop_caption"))
if clf.zoom != 1.0:
    c2.caption(t("how.crop_zoom_caption", zoom=fmt_number(clf.zoom, lang(), 2)))
c3.markdown(f"**{t('how.model_input')}**")
show_chart(input_heatmap(walk.model_input), key="how_input", where=c3)
c3.caption(t("how.model_input_caption", lo=fmt_number(float(walk.model_input.min()), lang(), 2),
             hi=fmt_number(float(walk.model_input.max()), lang(), 2)))

st.header(t("how.step_filters"))
n_maps = st.slider(t("how.n_maps"), 4, 32, 16, step=4, key="how_n_maps")
filters = first_layer_filters(ex.model)
k = filters.kernels.shape[1]
c1, c2 = st.columns(2)
c1.markdown(f"**{t('how.filters_title', n=len(filters.kernels), k=k)}**")
c1.image(tile(np.moveaxis(filters.kernels, 0, -1), n=64, cols=8, cell=32, pad=4), width="content")
c1.caption(t("how.filters_caption"))
c2.markdown(f"**{t('how.first_maps_title')}**")
c2.image(tile(walk.first_maps.maps, n=n_maps, cols=8, cell=56), width="content")
c2.caption(t("how.first_maps_caption"))

st.header(t("how.step_blocks"))
st.caption(t("how.blocks_caption"))
for i, block in enumerate(walk.blocks, start=1):
    h, w, c = block.shape
    st.markdown(f"**{t('how.block_title', i=i, h=h, w=w, c=c)}**")
    st.image(tile(block.maps, n=n_maps, cols=8, cell=64 if h >= 12 else 40), width="content")
    st.caption(t("how.block_shown", n=min(n_maps, c), c=c))

st.header(t("how.step_pool"))
st.caption(t("how.pool_caption"))
if not walk.pooling:
    st.info(t("how.pool_none"))
for i, step in enumerate(walk.pooling, start=1):
    channel = int(np.argmax(step.before.maps.mean(axis=(0, 1))))  # the most active map shows pooling best
    (bh, bw, _), (ah, aw, _) = step.before.shape, step.after.shape
    st.markdown(f"**{t('how.pool_title', i=i, size=step.pool_size[0])}**")
    c1, c2, _ = st.columns([1, 1, 2])
    c1.image(enlarge(normalise(step.before.maps[..., channel]), 144), caption=t("how.pool_before", h=bh, w=bw))
    c2.image(enlarge(normalise(step.after.maps[..., channel]), 144), caption=t("how.pool_after", h=ah, w=aw))

st.header(t("how.step_vector"))
h, w, c = walk.vector_from
st.metric(t("how.vector_length"), fmt_count(len(walk.vector), lang()))
st.caption(t(f"how.vector_{walk.vector_kind}", h=h, w=w, c=c, n=fmt_count(len(walk.vector), lang())))
show_chart(vector_chart(walk.vector), key="how_vector")

st.header(t("how.step_dense"))
if walk.dense:
    items = [t("how.dense_item", i=i, units=d.units, act=d.activation, meaning=activation_meaning(d.activation))
             for i, d in enumerate(walk.dense, start=1)]
    st.markdown("\n".join(f"- {item}" for item in items))
    st.caption(t("how.dense_caption"))
else:
    st.info(t("how.no_dense"))

st.header(t("how.step_softmax"))
show_chart(score_chart(scores), key="how_scores")
st.caption(t("how.softmax_caption", label=display_name(LABELS[top], lang()), conf=fmt_percent(float(scores[top]),
                                                                                               lang())))
if clf.tta_flip:
    st.caption(t("how.flip_caption"))
if clf.shift:
    st.caption(t("how.shift_caption", px=clf.shift))
if card is not None and any(card.learned_correction):  # a correction beyond the floors' offsets: FER+ votes
    st.caption(t("how.prior_caption"))
if card is not None and card.lifted:
    st.caption(emotions_sentence("how.offsets_caption", card.lifted))

if n_members:
    st.markdown(f"**{t('how.members_title', n=n_members)}**")
    show_chart(members_chart(member_scores(clf.model, face[None, ..., None])[:, 0], names), key="how_members")
    st.caption(t("how.members_caption"))

st.header(t("how.step_cam"))
cam_top = ex.grad_cam(face, top)
st.caption(t("how.cam_caption", rows=cam_top.grid[0], cols=cam_top.grid[1]))
st.caption(t("how.cam_limits"))
emotions = [display_name(k, lang()) for k in LABELS]
others = [int(i) for i in np.argsort(-scores) if i != top]  # never the predicted emotion, most likely first
# keyed by photo, face and prediction: a choice made for another face never stays behind
other = st.selectbox(t("how.cam_other"), others, index=0, format_func=emotions.__getitem__,
                     key=worded(f"how_cam_other_{photo_id}_{chosen}_{top}"), width=320)
c1, c2, _ = st.columns([1, 1, 1])
show_cam(c1, face_rgb, cam_top,
         t("how.cam_predicted", label=display_name(LABELS[top], lang()), conf=fmt_percent(float(scores[top]), lang())))
show_cam(c2, face_rgb, ex.grad_cam(face, other),
         t("how.cam_other_title", label=display_name(LABELS[other], lang()),
           conf=fmt_percent(float(scores[other]), lang())))

with st.expander(t("how.layers")):
    rows = [{t("how.col_layer"): n, t("how.col_role"): t(f"how.role_{role}"),
             t("how.col_shape"): " × ".join(str(d) for d in shape)} for n, role, shape in model_anatomy(ex.model)]
    show_table(pd.DataFrame(rows), hide_index=True, width="stretch")
