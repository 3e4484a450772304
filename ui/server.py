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

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger(__name__)


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


SESSION_UPLOAD_MAX_MB = 300
"""Bytes of uploads one browser session may hold on the server at once (every uploader of every page
together; Streamlit keeps them in memory until the file is removed or the session ends). Streamlit's own limit
(`server.maxUploadSize`, 200 MB: the Videos page's largest video) is per file only: eight 99 MB files in one
upload took the server from 0.9 to 2.6 GB."""
UPLOAD_PREFIX = "/_stcore/upload_file/"


def session_upload_bytes(session_id: str) -> int:
    """Bytes of the files Streamlit holds for this session (its uploaded-file manager); 0 when unknown."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return 0
    storage = getattr(Runtime.instance().uploaded_file_mgr, "file_storage", {})
    return sum(len(f.data) for f in dict(storage.get(session_id, {})).values())


class UploadLimitMiddleware:
    """ASGI middleware: an upload (PUT /_stcore/upload_file/<session>/<file>) must say its size
    (Content-Length), and is refused (413) when the session's files already held plus the uploads in flight plus
    this one would pass SESSION_UPLOAD_MAX_MB, before any of its body is read. The page says the limit."""

    def __init__(self, app: Any, limit_mb: float | None = None) -> None:
        self.app = app
        self.limit = int((SESSION_UPLOAD_MAX_MB if limit_mb is None else limit_mb) * 1024**2)
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":  # a session's connection: once it is gone for good, give memory back
            try:
                await self.app(scope, receive, send)
            finally:
                release_memory_later()
            return
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or scope.get("method") != "PUT" or not path.startswith(UPLOAD_PREFIX):
            await self.app(scope, receive, send)
            return
        session_id = path[len(UPLOAD_PREFIX):].split("/", 1)[0]
        headers = dict(scope.get("headers") or [])
        try:
            size = int(headers.get(b"content-length", b""))
        except ValueError:
            await _refuse(send, 411, "an upload must say its length")
            return
        held = session_upload_bytes(session_id) + self.in_flight.get(session_id, 0)
        if size < 0 or held + size > self.limit:
            log.warning("upload refused: session %s holds %d bytes, %d more would pass the %d-byte limit",
                        session_id[:8], held, size, self.limit)
            await _refuse(send, 413, "over this session's upload limit")
            return
        self.in_flight[session_id] = self.in_flight.get(session_id, 0) + size
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight.get(session_id, 0) - size
            if left > 0:
                self.in_flight[session_id] = left
            else:
                self.in_flight.pop(session_id, None)


def release_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the system (glibc's malloc_trim): what a closed
    session held (its uploads, results, session state) otherwise stays in the process's resident memory."""
    import ctypes
    import gc

    shut_down_expired_sessions()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def shut_down_expired_sessions() -> int:
    """Shut down the disconnected sessions whose time to reconnect is over; returns how many.

    Streamlit (1.67) keeps a disconnected session in a TTL cache that forgets it only lazily, when another
    session is stored, and never calls its `shutdown()`: so its uploaded files (held by the runtime's uploaded
    file manager) and its session state stayed in memory for good (`shut_down_session`). Eight 99 MB uploads left
    the server 550 MB larger after their session was gone (`python -m bench.hostile_uploads --only eight`, issue
    42 (7))."""
    from streamlit.runtime import Runtime

    try:
        mgr = Runtime.instance()._session_mgr
        cache, lock = mgr._session_storage._cache, mgr._storage_lock
        with lock:
            expired = cache.expire()
    except (RuntimeError, AttributeError) as e:  # no runtime (a test), or Streamlit's internals changed
        log.warning("expired sessions not shut down: %s", e)
        return 0
    for session_id, info in expired:
        try:
            shut_down_session(info.session)
        except Exception:  # noqa: BLE001 - one session's shutdown must not stop the others'
            log.exception("session %s did not shut down", str(session_id)[:8])
    if expired:
        log.info("shut down %d expired session(s)", len(expired))
    return len(expired)


def shut_down_session(session: Any) -> None:
    """Shut one session down for good (`AppSession.shutdown`: its uploaded files go) and drop what it still holds.

    Streamlit's runtime loop keeps the last session it served referenced (the loop variable of
    `Runtime._loop_coroutine`, streamlit/runtime/runtime.py) after it is gone, so whatever that session object
    reaches stays in memory until another session is served. `SessionState.clear()` empties the values but not
    the widgets' metadata: each widget's callback (a page function) kept its page's last namespace alive, and
    with it that run's uploads (+270 MB after eight 99 MB files, issue 42 (7)); fragments (page functions too)
    are kept the same way. Both go here; the Teach photos nobody can reach any more are deleted."""
    state = session._session_state
    forget_teach_photos(state)
    session.shutdown()
    state.clear()  # kept uploads, results, widget values
    widgets = getattr(state, "_new_widget_state", None)  # Streamlit's WStates
    if widgets is not None:
        widgets.widget_metadata.clear()  # callbacks: the page functions, holding their page's last names
    fragments = getattr(session, "_fragment_storage", None)
    if fragments is not None:
        fragments.clear()


def forget_teach_photos(state: Any) -> None:
    """Delete the Teach photos of a session that is gone for good: nobody can reach them any more (a reload is a
    new session with a folder of its own), and the page promises they stay only until their owner deletes them.
    The personal models made from them stay, as every run does."""
    from fer.jobs.runs import runs_dir
    from fer.jobs.teach import delete_teach, teach_dir
    from ui.common import TEACH_ID

    teach_id = state[TEACH_ID] if TEACH_ID in state else None
    if isinstance(teach_id, str) and teach_id.isalnum():
        folder = teach_dir(runs_dir(), teach_id)
        if folder.is_dir() and not folder.is_symlink():
            delete_teach(folder)
            log.info("deleted the Teach photos of an expired session (%s)", teach_id[:8])


def release_memory_later() -> None:
    """`release_memory` once a disconnected session's time to reconnect (server.disconnectedSessionTTL) is over
    and Streamlit has dropped its files and state."""
    import asyncio

    from streamlit import config

    global _release_pending  # noqa: PLW0603 - one pending release for the whole server
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if _release_pending is not None and not _release_pending.cancelled():
        _release_pending.cancel()  # the latest close decides: one release after the last session went
    _release_pending = loop.call_later(float(config.get_option("server.disconnectedSessionTTL")) + 5.0,
                                       release_memory)


_release_pending: Any = None


async def _refuse(send: Any, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


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
