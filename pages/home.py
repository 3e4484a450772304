"""Home: what the app does, in two sentences, and links to every page."""

import streamlit as st

from fer.i18n import fmt_percent
from ui.common import DEFAULT_MODEL, lang, model_card, t
from ui.limits import limits_note

LINKS = [("pages/images.py", "images"), ("pages/webcam.py", "webcam"), ("pages/dataset.py", "dataset"),
         ("pages/train.py", "train"), ("pages/results.py", "results"), ("pages/how_it_works.py", "how")]

TRY_PHOTO = "obama_and_biden.jpg"  # what "Try it" analyses on the Images page (data/examples); not a docstring:
# Streamlit's magic would write a bare string on the page

st.title(t("home.title"))
st.write(t("home.intro"))
if st.button(t("home.try_it"), type="primary", icon=":material/play_arrow:", help=t("home.try_it_help"),
             key="home_try"):
    st.session_state["img_try"] = TRY_PHOTO  # the Images page picks it among its examples
    st.switch_page("pages/images.py")
st.subheader(t("home.pages"))
for path, key in LINKS:
    st.page_link(path, label=f"**{t('nav.' + key)}**: {t('home.' + key)}")

card = model_card(DEFAULT_MODEL)
if card is not None:
    acc = card.metrics.get("test", {}).get("accuracy")
    st.caption(t("home.model", name=DEFAULT_MODEL.name, arch=card.arch,
                 acc=fmt_percent(acc, lang()) if acc is not None else "?"))

limits_note()
