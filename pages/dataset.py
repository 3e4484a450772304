"""Dataset explorer: counts and class imbalance, image sizes, pixel intensities, samples, mean
faces and data quality, for the sample, a server dataset or an uploaded zip/CSV."""

from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from fer.data.dataset import DataError
from fer.data.stats import load_counts
from fer.i18n import fmt_count, fmt_number, fmt_percent, plural
from fer.labels import LABELS, display_name, hex_color
from ui.charts import show_chart, show_table
from ui.common import data_error_text, lang, t, worded
from ui.data_source import FULL_COUNTS, SAMPLE, choose_dataset, dataset_stats, load_with_progress

GRID = 24  # images in the sample grid
HIST_BIN = 8  # intensity values per histogram bar
EXAMPLE_GROUPS = 4

L = lang()
COLOR_MAP = {display_name(c, L): hex_color(c) for c in LABELS}


def n(x: float) -> str:
    return fmt_count(x, L)


def split_name(usage: str) -> str:
    return t(f"dataset.split_{usage}") if usage in ("Training", "PublicTest", "PrivateTest") else usage


def chart(fig: Any, key: str) -> None:
    """A plotly figure with the language's number separators, and hover text without plotly express's
    internal 'text' field (the bar labels, already shown on the bars)."""
    for trace in fig.data:
        if trace.hovertemplate:
            trace.hovertemplate = trace.hovertemplate.replace("<br>text=%{text}", "")
    show_chart(fig, key=key)


def caption(i: int) -> str:
    return f"{display_name(LABELS[int(ds.labels[i])], L)} · {split_name(str(ds.usage[i]))}"


st.title(t("dataset.title"))
st.write(t("dataset.intro"))
path = choose_dataset("dataset", prefer_full=True)  # the full FER2013 where the server has it
try:
    ds = load_with_progress(path)
except DataError as exc:
    st.error(t("dataset.load_error", error=data_error_text(exc)))
    st.stop()
if ds.warnings:
    st.warning(t("dataset.skipped", problems=plural("dataset.n_problems", len(ds.warnings), L)))
    with st.expander(t("dataset.skipped_details")):
        show_table(pd.DataFrame({t("dataset.col_where"): [w.where for w in ds.warnings],
                                   t("dataset.col_problem"): [t(f"dataset.skip_{w.kind}") for w in ds.warnings]}),
                     hide_index=True, width="stretch")
with st.spinner(t("dataset.computing")):
    stats = dataset_stats(path, ds)
imb = stats.imbalance
q = stats.quality
# The sample is drawn evenly from the full set's classes: its own balance teaches nothing, so its imbalance
# section shows the full set's counts, counted once from the real data (data/fer2013_counts.json).
on_sample = path.resolve() == SAMPLE.resolve()
full = load_counts(FULL_COUNTS) if on_sample else None

c1, c2, c3, c4 = st.columns(4)
c1.metric(t("dataset.total"), n(stats.total))
c2.metric(t("dataset.splits"), n(len(stats.splits)))
c3.metric(t("dataset.classes"), n(len(LABELS) - len(imb.missing)))
if full is not None:
    c4.metric(t("dataset.ratio_full", name=full.name), fmt_number(full.imbalance.ratio, L, 1) + "×",
              help=t("dataset.ratio_full_help"))
else:
    c4.metric(t("dataset.ratio"), fmt_number(imb.ratio, L, 1) + "×")
if on_sample:
    per_class = sorted(set(imb.counts.values()))
    even = len(per_class) == 1
    st.info(t("dataset.sample_note" if even else "dataset.sample_note_uneven", total=n(stats.total),
              per_class=n(per_class[0]), name=full.name if full else "FER2013",
              full_total=n(full.total) if full else "?"))

# ----------------------------------------------------------------------------- counts and imbalance
st.header(t("dataset.counts_header"))
col_class, col_split, col_count = t("dataset.col_class"), t("dataset.col_split"), t("dataset.col_count")
counts = pd.DataFrame([
    {col_class: display_name(c, L), col_split: split_name(u), col_count: k}
    for u, per_class in stats.splits.items() for c, k in per_class.items()
])
fig = px.bar(counts, x=col_class, y=col_count, color=col_split, barmode="group",
             title=t("dataset.chart_counts"))
chart(fig, key="counts_chart")
totals = pd.DataFrame({col_split: [split_name(u) for u in stats.splits],
                       col_count: [sum(c.values()) for c in stats.splits.values()]})
chart(px.bar(totals, x=col_split, y=col_count, title=t("dataset.chart_splits"),
             text=[n(k) for k in totals[col_count]]), key="splits_chart")

if full is not None:  # the full set's real figures, not the sample's made-up balance
    imb = full.imbalance
    st.subheader(t("dataset.imbalance_full_header", name=full.name,
                   split=split_name(imb.basis) if imb.basis != "all" else t("dataset.all")))
    st.caption(t("dataset.imbalance_full_caption", name=full.name, total=n(full.total)))
else:
    st.subheader(t("dataset.imbalance_header",
                   split=split_name(imb.basis) if imb.basis != "all" else t("dataset.all")))
col_share, col_weight = t("dataset.col_share"), t("dataset.col_weight")
shares = pd.DataFrame({
    col_class: [display_name(c, L) for c in LABELS],
    col_count: [imb.counts[c] for c in LABELS],
    col_share: [imb.shares[c] for c in LABELS],
})
fig = px.bar(shares, x=col_class, y=col_share, color=col_class, color_discrete_map=COLOR_MAP,
             text=[fmt_percent(s, L) for s in shares[col_share]], title=t("dataset.chart_shares"))
fig.update_layout(showlegend=False, yaxis_tickformat=".0%")
chart(fig, key="shares_chart")
if imb.ratio > 1:
    st.write(t("dataset.imbalance_ratio", largest=display_name(imb.largest, L), n_largest=n(imb.counts[imb.largest]),
               smallest=display_name(imb.smallest, L), n_smallest=n(imb.counts[imb.smallest]),
               ratio=fmt_number(imb.ratio, L, 1)))
if imb.ratio >= 1.5:
    st.info(t("dataset.imbalance_advice", smallest=display_name(imb.smallest, L),
              share=fmt_percent(imb.shares[imb.smallest], L),
              weight=fmt_number(imb.class_weights[imb.smallest], L, 2)))
elif on_sample:  # balanced because it was drawn so: no lesson about training on it
    st.info(t("dataset.sample_balanced"))
else:
    st.success(t("dataset.balanced"))
if imb.missing:
    st.warning(t("dataset.missing", classes=", ".join(display_name(c, L) for c in imb.missing)))
show_table(pd.DataFrame({
    col_class: shares[col_class], col_count: [n(k) for k in shares[col_count]],
    col_share: [fmt_percent(s, L) for s in shares[col_share]],
    col_weight: [fmt_number(imb.class_weights[c], L, 2) if c in imb.class_weights else "–" for c in LABELS],
}), hide_index=True)

# ----------------------------------------------------------------------------- sizes and intensities
st.header(t("dataset.sizes_header"))
col_size = t("dataset.col_size")
sizes = pd.DataFrame({col_size: [f"{s.height}×{s.width}" for s in stats.sizes],
                      col_count: [s.count for s in stats.sizes]})
chart(px.bar(sizes, x=col_size, y=col_count, title=t("dataset.chart_sizes"),
             text=[n(k) for k in sizes[col_count]]), key="sizes_chart")
if len(stats.sizes) == 1:
    s0 = stats.sizes[0]
    st.write(t("dataset.sizes_one", n=n(s0.count), h=s0.height, w=s0.width))
else:
    st.write(t("dataset.sizes_many", k=n(len(stats.sizes))))

st.header(t("dataset.hist_header"))
col_int, col_frac = t("dataset.col_intensity"), t("dataset.col_fraction")
hist = pd.DataFrame([
    {col_class: display_name(c, L), col_int: b * HIST_BIN + HIST_BIN / 2,
     col_frac: float(h[b * HIST_BIN:(b + 1) * HIST_BIN].sum())}
    for c, h in stats.histograms.items() for b in range(256 // HIST_BIN)
])
fig = px.line(hist, x=col_int, y=col_frac, color=col_class, color_discrete_map=COLOR_MAP,
              title=t("dataset.chart_hist"))
fig.update_layout(yaxis_tickformat=".1%")
chart(fig, key="hist_chart")
st.caption(t("dataset.hist_caption"))

# ----------------------------------------------------------------------------- what the faces look like
st.header(t("dataset.samples_header"))
present = [c for i, c in enumerate(LABELS) if (ds.labels == i).any()]
left, right = st.columns([3, 1])
cls = left.selectbox(t("dataset.pick_class"), present, format_func=lambda c: display_name(c, L),
                     key=worded("dataset_class"))
seed_key = "dataset_seed"
st.session_state.setdefault(seed_key, 0)
if right.button(t("dataset.reshuffle"), key="dataset_reshuffle"):
    st.session_state[seed_key] += 1
idx = np.flatnonzero(ds.labels == LABELS.index(cls))
pick = np.random.default_rng(st.session_state[seed_key]).choice(idx, size=min(GRID, len(idx)), replace=False)
st.caption(t("dataset.samples_caption", n=n(len(pick)), total=n(len(idx)), cls=display_name(cls, L)))
st.image([ds.images[i] for i in pick], width=80, caption=[split_name(str(ds.usage[i])) for i in pick])

st.subheader(t("dataset.mean_header"))
st.caption(t("dataset.mean_caption"))
cols = st.columns(len(stats.mean_faces) or 1)
for col, (c, face) in zip(cols, stats.mean_faces.items(), strict=False):
    span = max(float(face.max() - face.min()), 1e-6)  # stretched to the full grey range: averages are flat
    col.image(((face - face.min()) * (255 / span)).astype(np.uint8), width=96, caption=display_name(c, L))

# ----------------------------------------------------------------------------- data quality
st.header(t("dataset.quality_header"))
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("dataset.q_duplicates"), n(q.duplicate_groups), help=t("dataset.q_duplicates_help"))
m2.metric(t("dataset.q_conflicting"), n(q.conflicting_groups), help=t("dataset.q_conflicting_help"))
m3.metric(t("dataset.q_cross"), n(q.cross_split_groups), help=t("dataset.q_cross_help"))
m4.metric(t("dataset.q_blank"), n(q.near_blank), help=t("dataset.q_blank_help"))
st.write(t("dataset.q_summary", groups=n(q.duplicate_groups), images=n(q.duplicate_images),
           conflicting=n(q.conflicting_groups), cross=n(q.cross_split_groups), train_test=n(q.train_test_groups),
           blank=n(q.near_blank)))
if not (q.duplicate_groups or q.near_blank):
    st.success(t("dataset.q_clean"))


def show_groups(title: str, groups: tuple[tuple[int, ...], ...]) -> None:
    if not groups:
        return
    st.subheader(title)
    for g in groups[:EXAMPLE_GROUPS]:
        shown = g[:8]
        st.image([ds.images[i] for i in shown], width=64, caption=[caption(i) for i in shown])
        if len(g) > len(shown):
            st.caption(t("dataset.q_more", n=n(len(g) - len(shown))))


show_groups(t("dataset.q_conflicting_examples"), q.conflicting_examples)
show_groups(t("dataset.q_cross_examples"), q.cross_split_examples)
show_groups(t("dataset.q_duplicate_examples"), q.duplicate_examples)
if q.near_blank_examples:
    st.subheader(t("dataset.q_blank_examples"))
    st.image([ds.images[i] for i in q.near_blank_examples], width=64,
             caption=[caption(i) for i in q.near_blank_examples])
