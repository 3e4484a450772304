"""Streamlit helpers shared by the pages (the only package besides pages/ that imports streamlit)."""


def _leave_pages_directory_mode() -> None:
    """Make Streamlit route through app.py's st.navigation even when a deep link is the first request.

    Streamlit 1.67 decides once per process, on the first session, that an app with a pages/ folder is
    an old-style multipage app (`PagesManager.uses_pages_directory`, set only while it is None), and
    keeps it so until some run calls st.navigation. A first request for e.g. /webcam therefore ran
    pages/webcam.py alone under a list of the pages/ files (and "app"). Imported before any session
    (at server start, ui.server), this sets the flag first, so Streamlit never decides. Imported by a
    session's run that already decided (e.g. a server started otherwise), it turns that mode off and
    starts over through app.py (same page: page hashes are their url paths).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory is None:
        PagesManager.uses_pages_directory = False
        return
    if not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is not None:
        import streamlit as st

        st.rerun()


_leave_pages_directory_mode()


def _keep_tensorflow_state() -> None:
    """Every page imports this package: whichever way the app was started, Streamlit stops clearing the
    Keras session after each run (ui.server explains why)."""
    from ui.server import keep_tensorflow_state

    keep_tensorflow_state()


_keep_tensorflow_state()
