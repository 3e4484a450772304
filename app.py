"""Entry point: `streamlit run app.py`. Only routes to the pages in pages/."""

# streamlit_webrtc (aiortc, pylibsrtp) must be imported before tensorflow, or the process crashes.
import streamlit_webrtc  # noqa: F401, I001
import pandas  # noqa: F401  (plotly imports it lazily; a rerun during that import breaks charts)
import streamlit as st

from ui.common import language_switch, t

st.set_page_config(page_title=t("app.title"), page_icon=":performing_arts:", layout="wide")

PAGES = [
    ("pages/home.py", "home", "nav.home", ":material/home:", True),
    ("pages/images.py", "images", "nav.images", ":material/image:", False),
    ("pages/webcam.py", "webcam", "nav.webcam", ":material/videocam:", False),
    ("pages/dataset.py", "dataset", "nav.dataset", ":material/dataset:", False),
    ("pages/train.py", "train", "nav.train", ":material/model_training:", False),
    ("pages/results.py", "results", "nav.results", ":material/analytics:", False),
    ("pages/how_it_works.py", "how-it-works", "nav.how", ":material/psychology:", False),
]

language_switch()
nav = st.navigation([
    st.Page(path, title=t(key), icon=icon, url_path=url, default=default)
    for path, url, key, icon, default in PAGES
])
nav.run()
