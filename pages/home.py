"""Home: what the app does, in two sentences, and links to every page."""

import streamlit as st

from fer.i18n import fmt_percent
from ui.common import DEFAULT_MODEL, lang, model_card, t

LINKS = [("pages/images.py", "images"), ("pages/webcam.py", "webcam"), ("pages/dataset.py", "dataset"),
         ("pages/train.py", "train"), ("pages/results.py", "results"), ("pages/how_it_works.py", "how")]

st.title(t("home.title"))
st.write(t("home.intro"))
st.subheader(t("home.pages"))
for path, key in LINKS:
    st.page_link(path, label=f"**{t('nav.' + key)}**: {t('home.' + key)}")

card = model_card(DEFAULT_MODEL)
if card is not None:
    acc = card.metrics.get("test", {}).get("accuracy")
    st.caption(t("home.model", name=DEFAULT_MODEL.name, arch=card.arch,
                 acc=fmt_percent(acc, lang()) if acc is not None else "?"))
