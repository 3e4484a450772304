"""Where a Teach session's snapshots live, what they take, and deleting them with the models made from them.

Layout: `<runs root>/teach/<session id>/<emotion>/<photo>`: a photos dataset (fer.data.dataset.load_dataset) that
`python -m fer train --preset personal --data FOLDER` trains on. Nothing leaves the server: the snapshots and the
personal runs stay in the runs folder until `delete_teach` removes them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fer.files import is_regular, walk
from fer.labels import LABELS

log = logging.getLogger(__name__)

TEACH = "teach"
"""The folder under the runs root that holds every Teach session's snapshots."""
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a session id may be: a folder name, never a path."""


@dataclass(frozen=True)
class TeachFile:
    """One file of a Teach session: a snapshot (`emotion` its folder) or a file of a personal run made from them
    (`emotion` empty, `run` the run folder's name)."""

    path: Path
    size: int
    """Bytes."""
    emotion: str = ""
    run: str = ""


def teach_dir(root: Path, session_id: str) -> Path:
    """The folder of one Teach session's snapshots: `<root>/teach/<session_id>` (not created). ValueError when
    `session_id` is not a plain name (SESSION_ID)."""
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    return Path(root) / TEACH / session_id


def add_snapshot(folder: Path, emotion: str, data: bytes, suffix: str = ".jpg") -> Path:
    """Save one snapshot's bytes as `<folder>/<emotion>/<n><suffix>` (n: the next free number) and return its
    path. ValueError for an emotion not in LABELS or a suffix that is not an image's."""
    from fer.data.dataset import IMAGE_SUFFIXES

    if emotion not in LABELS:
        raise ValueError(f"not an emotion: {emotion!r}")
    if suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"not an image suffix: {suffix!r}")
    out = Path(folder) / emotion
    out.mkdir(parents=True, exist_ok=True)
    n = 1 + max((int(p.stem) for p in out.iterdir() if p.stem.isdigit()), default=0)
    while True:  # exclusive creation: two tabs of one session never write the same file
        path = out / f"{n:04d}{suffix.lower()}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            n += 1
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path


def remove_snapshot(folder: Path, path: Path) -> bool:
    """Delete one snapshot of `folder` (a path outside it, or a link, is refused with ValueError); False when it
    was already gone."""
    folder, path = Path(folder).resolve(), Path(path)
    if path.parent.resolve().parent != folder or path.parent.name not in LABELS:
        raise ValueError(f"{path} is not a snapshot of {folder}")
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def personal_runs(folder: Path, root: Path) -> list[Path]:
    """The run folders under `root` whose config trains on `folder` (a personal model made from these
    snapshots), newest first."""
    from fer.jobs.runs import list_runs
    from fer.train.presets import from_root

    want = Path(folder).resolve()
    return [r.path for r in list_runs(Path(root)) if r.config is not None and from_root(r.config.data) == want]


def teach_files(folder: Path, root: Path | None = None) -> list[TeachFile]:
    """Every snapshot under `folder` (sorted by emotion and name) and, with `root`, every file of the personal
    runs made from them (personal_runs), each with its size. Links are listed (size 0) but never followed."""
    folder = Path(folder)
    out = [TeachFile(folder / f.path, f.size if f.kind == "file" else 0, f.path.split("/")[0])
           for f in _entries(folder) if f.kind != "dir"]
    for run in personal_runs(folder, root) if root is not None else []:
        out += [TeachFile(run / f.path, f.size if f.kind == "file" else 0, "", run.name)
                for f in _entries(run) if f.kind != "dir"]
    return out


def _entries(folder: Path) -> list:
    """fer.files.walk of `folder` (nothing when it is missing or not a folder)."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return list(walk(folder))


@dataclass(frozen=True)
class Deleted:
    """What `delete_teach` removed: files and bytes, and the personal runs it left because they still train."""

    files: int
    bytes: int
    busy: tuple[Path, ...] = ()


def delete_teach(folder: Path, root: Path | None = None) -> Deleted:
    """Delete the snapshots in `folder` (the folder itself) and, with `root`, the personal runs made from them
    (personal_runs). A run still training is left (in `busy`): stop it, then call again. Links are removed, never
    followed."""
    from fer.jobs.runs import run_info

    files = teach_files(folder, root)
    runs = personal_runs(folder, root) if root is not None else []
    busy = tuple(r for r in runs if run_info(r).state == "running")
    freed = [f for f in files if not any(f.run == b.name for b in busy)]
    for path in [Path(folder), *(r for r in runs if r not in busy)]:
        if path.is_symlink() or is_regular(path):
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)  # links inside are removed, never followed
    for b in busy:
        log.warning("%s still trains: not deleted", b)
    return Deleted(len(freed), sum(f.size for f in freed), busy)


def emotions_taught(folder: Path) -> dict[str, int]:
    """{emotion: snapshots} for every emotion folder under `folder` that holds at least one (LABELS order)."""
    counts = {e: sum(1 for p in (Path(folder) / e).iterdir() if is_regular(p))
              for e in LABELS if (Path(folder) / e).is_dir()}
    return {e: n for e, n in counts.items() if n}
