"""Where a Teach session's snapshots live, what they take, and deleting them with the models made from them.

Layout: `<runs root>/teach/<session id>/<emotion>/<photo>`: a photos dataset (fer.data.dataset.load_dataset) that
`python -m fer train --preset personal --data FOLDER` trains on. Nothing leaves the server: the snapshots and the
personal runs stay in the runs folder until `delete_teach` removes them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

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
    raise NotImplementedError


def add_snapshot(folder: Path, emotion: str, data: bytes, suffix: str = ".jpg") -> Path:
    """Save one snapshot's bytes as `<folder>/<emotion>/<n><suffix>` (n: the next free number) and return its
    path. ValueError for an emotion not in LABELS or a suffix that is not an image's."""
    raise NotImplementedError


def remove_snapshot(folder: Path, path: Path) -> bool:
    """Delete one snapshot of `folder` (a path outside it, or a link, is refused with ValueError); False when it
    was already gone."""
    raise NotImplementedError


def personal_runs(folder: Path, root: Path) -> list[Path]:
    """The run folders under `root` whose config trains on `folder` (a personal model made from these
    snapshots), newest first."""
    raise NotImplementedError


def teach_files(folder: Path, root: Path | None = None) -> list[TeachFile]:
    """Every snapshot under `folder` (sorted by emotion and name) and, with `root`, every file of the personal
    runs made from them (personal_runs), each with its size. Links are listed (size 0) but never followed."""
    raise NotImplementedError


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
    raise NotImplementedError


def emotions_taught(folder: Path) -> dict[str, int]:
    """{emotion: snapshots} for every emotion folder under `folder` that holds at least one (LABELS order)."""
    raise NotImplementedError
