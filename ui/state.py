"""What a user made or chose outlives the page: kept uploads and kept widget values.

Streamlit forgets a widget's value, a file uploader's files included, once a run of another page leaves it
out. What matters to the user is copied into plain st.session_state keys, which stay for the session:
uploads as `Upload`s keyed by a stable id (the file's content and name), choices under a `_kept_` key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass(frozen=True)
class Upload:
    """One uploaded file, as the session keeps it."""

    id: str
    """Stable over reruns, pages and languages: the content's and name's hash (and -2, -3... for a second upload
    of the same file)."""
    name: str
    data: bytes


def upload_id(name: str, data: bytes) -> str:
    return hashlib.sha1(data + name.encode()).hexdigest()[:12]


def _names(key: str) -> tuple[str, str, str]:
    """Session keys of an uploader's kept files, the files its widget held last run, and its generation."""
    return f"_kept_{key}", f"_kept_{key}_seen", f"_kept_{key}_gen"


def widget_key(key: str) -> str:
    """The uploader widget's own key: `key`, then `key_1`, `key_2`... after each `clear_uploads` (a new, empty
    uploader: Streamlit cannot empty one)."""
    gen = st.session_state.get(_names(key)[2], 0)
    return f"{key}_{gen}" if gen else key


def kept_uploads(key: str) -> list[Upload]:
    """The files kept for the uploader `key`, oldest first (without drawing it)."""
    return list(st.session_state.get(_names(key)[0], {}).values())


def kept_uploader(label: str, key: str, *, multiple: bool = True, **kwargs: Any) -> list[Upload]:
    """A st.file_uploader whose files stay in the session when the user leaves the page and comes back.

    A file is kept once uploaded; it goes when the user takes it out of the uploader while it shows it, or
    through `forget_upload` / `clear_uploads`. Back on the page the uploader is empty (Streamlit cannot
    refill it) and the kept files are still returned: the page shows them. With `multiple` False a new
    upload replaces the kept file. Accepts every file type unless `type` is given: the page checks the
    content itself and names a file it cannot use (a refused type would only turn the uploader's chip red)."""
    store_key, seen_key, _ = _names(key)
    wkey = widget_key(key)
    fresh = wkey not in st.session_state  # a new uploader: the first visit, or back from another page
    got = st.file_uploader(label, key=wkey, accept_multiple_files=multiple, **kwargs)
    files = list(got or []) if multiple else ([got] if got is not None else [])
    store: dict[str, Upload] = st.session_state.setdefault(store_key, {})
    seen: dict[str, str] = {} if fresh else dict(st.session_state.get(seen_key, {}))  # file_id: upload id
    now: dict[str, str] = {}
    for f in files:
        uid = seen.get(f.file_id)
        if uid is None:  # new in the uploader
            data = f.getvalue()
            if not multiple:
                store.clear()
            uid = base = upload_id(f.name, data)
            for n in range(2, len(store) + 2):  # the same file uploaded twice is shown twice, as two uploads
                if uid not in store:
                    break
                uid = f"{base}-{n}"
            store[uid] = Upload(uid, f.name, data)
        now[f.file_id] = uid
    for uid in set(seen.values()) - set(now.values()):  # taken out of the uploader by the user
        store.pop(uid, None)
    st.session_state[seen_key] = now
    return list(store.values())


def forget_upload(key: str, uid: str) -> None:
    """Drop one kept file (a Remove button's callback)."""
    st.session_state.get(_names(key)[0], {}).pop(uid, None)


def clear_uploads(key: str) -> None:
    """Drop every kept file and empty the uploader (a callback: the new uploader is drawn next run)."""
    store_key, seen_key, gen_key = _names(key)
    st.session_state[store_key] = {}
    st.session_state[seen_key] = {}
    st.session_state[gen_key] = st.session_state.get(gen_key, 0) + 1


def kept(key: str, default: Any = None) -> str:
    """`key` for a widget whose value outlives the page: the widget starts from the value kept last time.
    Call `keep(key)` after drawing the widget (or read it with `kept_value`)."""
    if key not in st.session_state:
        value = st.session_state.get(f"_kept_{key}", default)
        if value is not None:  # nothing kept and no default: the widget's own default
            st.session_state[key] = value
    return key


def keep(key: str) -> Any:
    """Remember the widget `key`'s value for the session and return it."""
    value = st.session_state.get(key)
    st.session_state[f"_kept_{key}"] = value
    return value


def set_kept(key: str, value: Any) -> None:
    """Set a kept widget's value from a callback (before the widget is drawn again)."""
    st.session_state[key] = value
    st.session_state[f"_kept_{key}"] = value
