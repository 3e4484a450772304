"""The app's server process: TensorFlow's state survives every rerun, and the default model warms up at start.

Why this module exists (measured on 2 cores, webcam page, three faces): after every script run,
fragment reruns included, Streamlit 1.67's script runner calls `keras.backend.clear_session()`
(`_clean_problem_modules` in streamlit/runtime/scriptrunner/script_runner.py, whenever `keras` is in
`sys.modules`) and then `gc.collect(2)` (`runner.postScriptGC`). `clear_session` drops TensorFlow's
kernel cache and runs a full collection of its own. The app loads its models once per process
(`st.cache_resource`) and classifies from other threads (the webcam's frame thread) while pages rerun
several times a second, so every rerun of every page threw that work away under the frame thread's
feet: 0.8 frames a second reached the browser, one analysis took 800 ms instead of 42 ms.

Keras's global state is only worth clearing for a script that builds new models on every run; this
app builds none in a page run (models are loaded once and cached; training runs in its own
process, fer.jobs.runner), so both clean-ups are switched off here, for the whole server, once:
`keep_tensorflow_state()`. Python's own generational collector still runs as usual.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def _close_matplotlib_only() -> None:
    """Streamlit's `_clean_problem_modules` without its Keras part: matplotlib figures are still closed."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def keep_tensorflow_state() -> None:
    """Stop Streamlit from clearing the Keras session and collecting all garbage after each script run.

    Idempotent; called by the first import of `ui` (every page) and at server start (app.py).
    """
    from streamlit import config
    from streamlit.runtime.scriptrunner import script_runner

    if script_runner._clean_problem_modules is not _close_matplotlib_only:  # noqa: SLF001 - see module doc
        script_runner._clean_problem_modules = _close_matplotlib_only  # noqa: SLF001
    if config.get_option("runner.postScriptGC"):
        config.set_option("runner.postScriptGC", False, "ui.server.keep_tensorflow_state")


class ActivityMiddleware:
    """ASGI middleware: every HTTP request and websocket message counts as the server being busy
    (ui.common.ACTIVITY), so the warm-up waits for a quiet moment instead of slowing a visitor's page."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from ui.common import ACTIVITY

        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        ACTIVITY.touch()

        async def receive_marked() -> Any:
            message = await receive()
            ACTIVITY.touch()
            return message

        await self.app(scope, receive_marked, send)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """The server's start (st.App lifespan): keep TensorFlow's state, and warm the default model up in the
    background as soon as the server is quiet (at once when nobody is there, after the first page
    otherwise), so the first visitor's first photo does not wait for TensorFlow."""
    from ui.common import ACTIVITY, WARM_UP
    from ui.warmup import import_webrtc_before_tensorflow, start_when_quiet

    import_webrtc_before_tensorflow()
    keep_tensorflow_state()
    start_when_quiet(WARM_UP, ACTIVITY)
    yield
