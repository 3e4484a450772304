"""Home: what the app does, in two sentences, and links to every page."""

import streamlit as st

from fer.i18n import fmt_percent
from ui.common import active_model_path, lang, model_card, model_name, t
from ui.limits import limits_note
from ui.text import plain

LINKS = [("pages/images.py", "images"), ("pages/webcam.py", "webcam"), ("pages/teach.py", "teach"),
         ("pages/dataset.py", "dataset"),
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
    st.page_link(path, label=f"**{t('nav.' + key)}**: {t('home.' + key)}", query_params={"lang": lang()})

model = active_model_path()  # the session's one active model, as the sidebar and Results name it
card = model_card(model) if model.is_file() else None
if card is not None:
    acc = card.metrics.get("test", {}).get("accuracy")
    st.caption(t("home.model", name=plain(model_name(model)), arch=card.arch,
                 acc=fmt_percent(acc, lang()) if acc is not None else "?"))
elif model.is_file():
    st.caption(t("home.model_unknown", name=plain(model_name(model))))

limits_note()
