"""What emotion recognition can and cannot tell: one short note, shown from Home and the Images page."""

from __future__ import annotations

import streamlit as st

from fer.data.stats import load_counts
from fer.i18n import fmt_number, fmt_percent
from fer.labels import display_name
from ui.common import DEFAULT_MODEL, lang, model_card, t
from ui.data_source import FULL_COUNTS


def limits_note(expanded: bool = False) -> None:
    """An expander with the note; its figures (the shipped model's test accuracy, FER2013's disgust faces)
    come from the model card and data/fer2013_counts.json, not from the text."""
    lg = lang()
    card = model_card(DEFAULT_MODEL)
    acc = (card.metrics.get("test") or {}).get("accuracy") if card is not None else None
    counts = load_counts(FULL_COUNTS)
    with st.expander(t("limits.title"), expanded=expanded, icon=":material/info:"):
        st.markdown(t("limits.can"))
        st.markdown(t("limits.posed"))
        st.markdown(t("limits.culture"))
        if counts is not None and "Training" in counts.splits:
            train = counts.splits["Training"]
            st.markdown(t("limits.dataset", disgust=display_name("disgust", lg), n=fmt_number(train["disgust"], lg, 0),
                          total=fmt_number(sum(train.values()), lg, 0)))
        if acc is not None:
            st.markdown(t("limits.accuracy", acc=fmt_percent(acc, lg, 0)))
        st.markdown(t("limits.use"))
