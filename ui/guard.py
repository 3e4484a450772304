"""The page-level guard: an error in a page is logged with its traceback and shown as a plain sentence.

Streamlit's own control flow (st.rerun, st.stop, st.switch_page) raises ScriptControlException, a
BaseException, and passes through untouched. Fragment reruns do not go through the guard: for them,
client.showErrorDetails = "none" (.streamlit/config.toml) keeps the traceback off the page.
"""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

import streamlit as st

from ui.common import t

log = logging.getLogger(__name__)


class Runnable(Protocol):
    def run(self) -> None: ...


def run_guarded(page: Runnable) -> None:
    """`page.run()`; an exception is logged (with a short reference) and the page says so in its language."""
    try:
        page.run()
    except Exception:
        ref = uuid.uuid4().hex[:8]
        log.exception("page %s failed (reference %s)", getattr(page, "url_path", page), ref)
        st.error(t("app.error", ref=ref), icon=":material/error:")
