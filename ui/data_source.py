"""The dataset chooser shared by the dataset and train pages: bundled sample, server folder, upload.

Users never type a path: server datasets are listed from configured data folders only, and an
upload is saved under a server-controlled folder with a generated name (its content hash).
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import streamlit as st

from fer.data.dataset import DataError, Dataset, check_upload, load_dataset, walk_files
from fer.data.stats import DatasetStats, describe
from fer.files import TooManyEntries, walk
from fer.i18n import fmt_percent
from fer.paths import ROOT
from fer.train.presets import DATA_ENV, from_root, full_data
from ui.common import UPLOAD_NAMES, data_error_text, lang, t, worded
from ui.state import keep, kept, kept_uploader
from ui.text import plain

log = logging.getLogger(__name__)

SAMPLE = ROOT / "data" / "sample"
FULL_COUNTS = ROOT / "data" / "fer2013_counts.json"
"""The full FER2013's images per split and class (`python -m fer stats --data "$FER_DATA" --counts`), shown
beside the sample when the server does not have the full set."""
UPLOAD_SUFFIXES = (".zip", ".csv")
UPLOAD_MAX_AGE_S = 24 * 3600
"""Uploads older than this are removed when a new one is saved."""
UPLOAD_MAX_BYTES = 1024**3
"""The uploads folder is kept under this ($FER_UPLOAD_MAX_MB overrides), oldest first out."""
KEEP_LOADED = 2
"""Parsed datasets kept in memory (shared by all sessions); the .npz cache covers the rest."""


def data_dirs() -> list[Path]:
    """Folders whose datasets the server offers: $FER_DATA_DIRS (os.pathsep-separated), else the
    repository's data/."""
    env = os.environ.get("FER_DATA_DIRS")
    dirs = [Path(p) for p in env.split(os.pathsep)] if env else [ROOT / "data"]
    return [d for d in dirs if d.is_dir()]


MAX_DATA_ENTRIES = 100_000
"""Entries read in each data folder when looking for datasets (a folder of millions costs only this many)."""


def server_datasets() -> dict[str, Path]:
    """{display name: path} of the full FER2013 ($FER_DATA, where it exists) and of the zips, CSVs and
    train/ folders found in the data folders."""
    full = from_root(full_data())
    found: dict[str, Path] = {f"{full.name} ({DATA_ENV})": full} if full.exists() else {}
    for d in data_dirs():
        try:  # any depth, links not followed, at most MAX_DATA_ENTRIES (fer.files; issue 42: 1,200 levels, loops)
            for f in walk(d, limit=MAX_DATA_ENTRIES):
                p = d / f.path
                if p in (SAMPLE, full) or "cache" in p.parts:
                    continue
                if f.kind not in ("file", "dir", "link"):  # a FIFO, a device, a folder too deep to enter
                    continue
                if (p.suffix.lower() in (".zip", ".csv") and p.name != "ferplus_votes.csv" and p.is_file()) or (
                    f.kind != "file" and (p / "train").is_dir()  # an operator's link to a dataset is followed once
                ):
                    found[str(p.relative_to(d.parent))] = p
        except TooManyEntries as e:  # what was found before the limit is offered; the rest is not walked
            log.warning("data folder %s holds %s: only the datasets found before the limit are offered", d, e)
    return found


def upload_dir() -> Path:
    """Where uploaded datasets are written: $FER_UPLOAD_DIR, else <tmp>/fer-uploads."""
    return Path(os.environ.get("FER_UPLOAD_DIR", Path(tempfile.gettempdir()) / "fer-uploads"))


def save_upload(stream: Any, filename: str, folder: Path | None = None) -> Path:
    """Write an uploaded .zip/.csv under `folder` as <sha256 prefix><suffix>; the user's file name
    only picks the suffix. The same content maps to the same file, so its .npz cache is reused.

    Checked first (fer.data.dataset.check_upload: a zip that is one, of at most MAX_ENTRIES entries; a CSV of
    bounded lines and rows with emotion and pixels columns): a refused file raises DataError and takes no space.
    Then the folder is pruned, sparing the datasets runs were trained on (`datasets_in_use`)."""
    suffix = Path(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ValueError(f"{filename}: expected a .zip or .csv file")
    check_upload(stream, suffix, filename)
    folder = folder or upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, keep=datasets_in_use())
    part = folder / f".{uuid.uuid4().hex}.part"
    h = hashlib.sha256()
    stream.seek(0)
    with part.open("wb") as fh:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            h.update(chunk)
            fh.write(chunk)
    target = folder / f"{h.hexdigest()[:32]}{suffix}"
    if target.exists():
        part.unlink()
    else:
        part.replace(target)
    return target


def upload_max_bytes() -> int:
    """The uploads folder's size cap: $FER_UPLOAD_MAX_MB, else UPLOAD_MAX_BYTES."""
    try:
        return int(float(os.environ["FER_UPLOAD_MAX_MB"]) * 1024**2)
    except (KeyError, ValueError):
        return UPLOAD_MAX_BYTES


def datasets_in_use(root: Path | None = None) -> set[Path]:
    """The resolved dataset paths that the runs under `root` (the runs folder by default) were configured with:
    the uploads a run needs to resume or be scored again. Read through the runs' validating reader."""
    from fer.jobs.runfiles import read_object
    from fer.jobs.runs import runs_dir

    root = runs_dir() if root is None else root
    used: set[Path] = set()
    try:
        folders = [d for d in root.iterdir() if d.is_dir() and not d.is_symlink()]
    except OSError:
        return used
    for d in folders:
        data = read_object(d / "config.json")[0].get("data")
        if isinstance(data, str) and data:
            try:
                used.add(from_root(data).resolve())
            except (OSError, RuntimeError, ValueError):
                continue
    return used


def _prune(folder: Path, keep: frozenset[Path] | set[Path] = frozenset()) -> None:
    """Remove uploads older than UPLOAD_MAX_AGE_S, then the oldest until the folder is under its cap with
    room for one more upload at the server's limit. Files in `keep` (datasets runs use) are never removed;
    they count towards the cap (another visitor's uploads cannot push a run's dataset out)."""
    cutoff = time.time() - UPLOAD_MAX_AGE_S
    kept = []
    for p in folder.iterdir():
        try:
            st_ = p.stat()
            if p.resolve() in keep:
                kept.append((math.inf, st_.st_size, p))  # last in line: never reached below
            elif p.is_file() and st_.st_mtime < cutoff:
                p.unlink()
            elif p.is_file():
                kept.append((st_.st_mtime, st_.st_size, p))
        except OSError as exc:
            log.warning("could not remove old upload %s: %s", p, exc)
    room = upload_max_bytes() - int(st.get_option("server.maxUploadSize")) * 1024**2
    total = sum(size for _, size, _ in kept)
    for mtime, size, p in sorted(kept, key=lambda k: k[0]):
        if total <= room or mtime == math.inf:
            break
        try:
            p.unlink()
            total -= size
        except OSError as exc:
            log.warning("could not remove old upload %s: %s", p, exc)


SAMPLE_CODE, UPLOAD_CODE = "sample", "upload"
"""The dataset chooser's codes for the bundled sample and an upload (a server dataset's code is its name)."""


def dataset_options() -> dict[str, Path]:
    """{code: path} of the datasets the chooser offers besides an upload: the sample, then the server's."""
    return {SAMPLE_CODE: SAMPLE} | server_datasets()


def choose_dataset(key: str, prefer_full: bool = False) -> Path:
    """A selectbox over the sample, the server datasets and an upload; returns the chosen path.
    `prefer_full`: it opens on the full FER2013 when the server has it ($FER_DATA), else on the sample.

    Its options are codes (words through format_func), so the choice survives a language switch. With the
    upload option picked and no file uploaded yet, it shows a hint and stops the page run.
    """
    options = dataset_options()
    words = {SAMPLE_CODE: t("data.sample"), UPLOAD_CODE: t("data.upload")}
    kept(f"{key}_source")  # the choice and the upload stay for the session (ui.state), across pages
    full = from_root(full_data())
    first = next((i for i, p in enumerate(options.values()) if p == full), 0) if prefer_full else 0
    if f"{key}_source" in st.session_state:  # the kept choice decides; an index beside it would be warned about
        first = 0
    name = st.selectbox(t("data.source"), [*options, UPLOAD_CODE], index=first, key=worded(f"{key}_source"),
                        format_func=lambda code: words.get(code, code))
    keep(f"{key}_source")
    if name != UPLOAD_CODE:
        return options.get(name, SAMPLE)  # only what the server listed (the selectbox resets anything else)
    # any file type: a file that is not a .zip or .csv is named below, in the page's language
    f = next(iter(kept_uploader(t("data.upload_file"), f"{key}_upload", multiple=False, help=t("data.upload_help"))),
             None)
    if f is None:
        st.info(t("data.upload_wait"))
        st.stop()
    if Path(f.name).suffix.lower() not in UPLOAD_SUFFIXES:
        st.error(t("data.upload_wrong_type", name=plain(f.name)))
        st.stop()
    saved = st.session_state.get(f"{key}_upload_saved")
    if saved and saved[0] == f.id and Path(saved[1]).exists():
        return Path(saved[1])
    refused = st.session_state.get(f"{key}_upload_refused")
    if refused and refused[0] == f.id:  # checked once per file, not on every rerun
        st.error(t("dataset.load_error", error=data_error_text(DataError(refused[1], refused[2], **refused[3]))))
        st.stop()
    try:
        path = save_upload(io.BytesIO(f.data), f.name)
    except DataError as exc:
        st.session_state[f"{key}_upload_refused"] = (f.id, str(exc), exc.kind, dict(exc.details))
        st.error(t("dataset.load_error", error=data_error_text(exc)))
        st.stop()
    except (ValueError, OSError) as exc:
        st.error(t("data.upload_error", error=plain(exc)))
        st.stop()
    st.session_state[f"{key}_upload_saved"] = (f.id, str(path))
    st.session_state.setdefault(UPLOAD_NAMES, {})[path.name] = f.name  # what a DataError names it by
    return path


# ----------------------------------------------------------------------------- loading
def source_key(path: Path) -> tuple[str, int, int]:
    """(resolved path, size, latest mtime): changes whenever the file or a file in the folder does."""
    p = path.resolve()
    if p.is_dir():  # walk_files: bounded (a DataError past MAX_ENTRIES entries), links never followed
        found = [f for _, f in walk_files(p)]
        return str(p), sum(f.size for f in found), max((f.mtime_ns for f in found), default=0)
    st_ = p.stat()
    return str(p), st_.st_size, st_.st_mtime_ns


class KeyedStore:
    """The last `capacity` results of slow work (parsed datasets, test-split scores), keyed; one lock per
    key, so each is computed once while other keys compute in parallel. Kept in a st.cache_resource."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.lock = threading.Lock()
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.loading: dict[Any, threading.Lock] = {}

    def get(self, key: Any) -> Any | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)

    def key_lock(self, key: Any) -> threading.Lock:
        with self.lock:
            return self.loading.setdefault(key, threading.Lock())


@st.cache_resource(show_spinner=False)
def _loaded() -> KeyedStore:
    return KeyedStore(KEEP_LOADED)


KEEP_REFUSED = 64
"""Refused datasets remembered (shared by all sessions), so a rerun does not read a refused one again."""


@st.cache_resource(show_spinner=False)
def _refused() -> KeyedStore:
    return KeyedStore(KEEP_REFUSED)


def load_with_progress(path: Path) -> Dataset:
    """The parsed dataset: from memory when this server loaded it already, else loaded with a
    progress bar (from the .npz cache when the source is unchanged). Raises fer.data.dataset.DataError.

    A refused source is remembered by its key (an upload's name is its content hash): the next rerun raises
    the same DataError at once instead of reading it again (a 2.1 M-entry zip cost 10 s on every rerun)."""
    key = source_key(path)
    refused = _refused().get(key)
    if refused is not None:
        message, kind, details = refused
        raise DataError(message, kind, **details)
    store = _loaded()
    ds = store.get(key)
    if ds is not None:
        return ds
    with store.key_lock(key):
        ds = store.get(key)  # another session may have loaded it meanwhile
        if ds is not None:
            return ds
        bar = st.progress(0.0, text=t("data.loading"))

        def progress(fraction: float, _message: str) -> None:
            fraction = min(max(fraction, 0.0), 1.0)
            bar.progress(fraction, text=t("data.loading_progress", percent=fmt_percent(fraction, lang(), 0)))

        try:
            ds = load_dataset(path, progress=progress)
        except DataError as exc:
            _refused().put(key, (str(exc), exc.kind, dict(exc.details)))
            raise
        finally:
            bar.empty()
        store.put(key, ds)
        return ds


@st.cache_resource(show_spinner=False, max_entries=KEEP_LOADED * 2)
def _stats(key: tuple[str, int, int], _ds: Dataset) -> DatasetStats:
    return describe(_ds)


def dataset_stats(path: Path, ds: Dataset) -> DatasetStats:
    """fer.data.stats.describe(ds), computed once per source (shared by all sessions)."""
    return _stats(source_key(path), ds)
