"""Entry point: `streamlit run app.py`. Only routes to the pages in pages/.

`streamlit run` finds the `st.App` at the bottom and serves it: its lifespan (ui.server) runs once, when
the server starts, and warms the default model up in the background. Every visitor's script run
executes this file as `__main__` and routes.
"""

import pandas  # noqa: F401  (plotly imports it lazily; a rerun during that import breaks charts)
import streamlit as st

from ui.common import ACTIVITY, language_switch, sync_language, t
from ui.guard import run_guarded
from ui.server import ActivityMiddleware, UploadLimitMiddleware, lifespan
from ui.warmup import import_webrtc_before_tensorflow

PAGES = [
    ("pages/home.py", "home", "nav.home", ":material/home:", True),
    ("pages/images.py", "images", "nav.images", ":material/image:", False),
    ("pages/webcam.py", "webcam", "nav.webcam", ":material/videocam:", False),
    ("pages/videos.py", "videos", "nav.videos", ":material/movie:", False),
    ("pages/teach.py", "teach", "nav.teach", ":material/school:", False),
    ("pages/dataset.py", "dataset", "nav.dataset", ":material/dataset:", False),
    ("pages/train.py", "train", "nav.train", ":material/model_training:", False),
    ("pages/results.py", "results", "nav.results", ":material/analytics:", False),
    ("pages/how_it_works.py", "how-it-works", "nav.how", ":material/psychology:", False),
]


def main() -> None:
    """One visitor's run: the language (URL, session, browser), the page config, the language switch, the page."""
    import_webrtc_before_tensorflow()
    ACTIVITY.run_started()  # the warm-up waits while pages run
    try:
        sync_language()  # ?lang= in the URL first: it names the page title's language too
        st.set_page_config(page_title=t("app.title"), page_icon=":performing_arts:", layout="wide")
        language_switch()
        nav = st.navigation([
            st.Page(path, title=t(key), icon=icon, url_path=url, default=default)
            for path, url, key, icon, default in PAGES
        ])
        run_guarded(nav)  # a page's error is logged and said in plain words, never a traceback
    finally:
        ACTIVITY.run_ended()


if __name__ == "__main__":
    main()
else:  # imported once by `streamlit run app.py` to serve it
    from starlette.middleware import Middleware

    app = st.App(__file__, lifespan=lifespan,
                 middleware=[Middleware(ActivityMiddleware), Middleware(UploadLimitMiddleware)])
