"""The one bounded reader for files that anyone with access to the app's folders can put there (run files,
model cards and reports, logs, lock files, a model to download).

Such a file may be a FIFO (an open for reading would wait for a writer for ever), a device (`/dev/zero` never
ends), a link to a file outside the app's folders (`/etc/passwd` offered as a download) or a sparse file of a
gigabyte. `read_bytes` opens without following a link and without blocking, checks with fstat that it opened a
regular file, and reads at most `limit` bytes of it, so none of those can hang a page, fill the memory or leak
a file that is not the app's. docs/security.md lists the limits.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_TEXT_BYTES = 4 * 1024**2
"""A run file, model card, report or lock larger than this is not read (the largest, a report, is a few kB)."""
MAX_MODEL_BYTES = 512 * 1024**2
"""A model file larger than this is not offered for download (the largest architecture, course-cnn, saves
in 24 MB; with its optimizer state about 70 MB)."""
TAIL_BYTES = 64 * 1024
"""`tail` reads at most this much of the end of a log."""


class FileRefused(ValueError):
    """A file that is there but is not read: a link, not a regular file, or over its limit. `why` is one of
    'link', 'special', 'too_big'."""

    def __init__(self, path: Path, why: str, message: str) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.why = why


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _open(path: Path) -> tuple[int, os.stat_result]:
    """An open file descriptor of the regular file `path` and its stat; FileNotFoundError when it is missing,
    FileRefused for a link or anything but a regular file."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise FileRefused(path, "link", "a symbolic link, not followed") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
            raise FileRefused(path, "special", f"{kind}, not a regular file: not read")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def is_regular(path: Path) -> bool:
    """True when `path` is a regular file itself (not a link to one, not a FIFO, device or folder)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_bytes(path: Path, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them. FileNotFoundError when it is missing;
    FileRefused (a ValueError) for a link, a FIFO, a device or a folder, or a file over `limit`; other
    OSErrors as they come."""
    fd, st = _open(Path(path))
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            raise FileRefused(path, "too_big", f"{st.st_size:,} bytes, more than the {limit:,} this file may hold")
        data = fh.read(limit + 1)  # the size may have grown since fstat
    if len(data) > limit:
        raise FileRefused(path, "too_big", f"more than the {limit:,} bytes this file may hold")
    return data


def read_text(path: Path, limit: int = MAX_TEXT_BYTES, errors: str = "strict") -> str:
    """`read_bytes` decoded as UTF-8 (UnicodeDecodeError, a ValueError, for bytes that are not, unless
    `errors` says otherwise)."""
    return read_bytes(path, limit).decode("utf-8", errors)


def tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The last `limit` bytes of the regular file `path` as text (a log: damaged bytes replaced); FileNotFoundError
    or FileRefused as for read_bytes, whatever its size."""
    fd, st = _open(Path(path))
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            fh.seek(st.st_size - limit)
        return fh.read(limit).decode("utf-8", "replace")


def inside(path: Path, root: Path) -> bool:
    """True when `path`, every link resolved, lies under `root` (resolved too)."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError, ValueError):
        return False


MAX_DEPTH = 32
"""Folders nested deeper than this under a dataset or data folder are not entered (FER2013 needs 3 levels;
1,200 levels made the recursive pathlib.rglob raise RecursionError, issue 42)."""


@dataclass(frozen=True)
class Found:
    """One entry of a folder tree, as `walk` saw it without following links."""

    path: str
    """Relative to the walked folder, with / between parts."""
    kind: str
    """'file' (regular), 'dir', 'link' (to anything, dangling or a loop: never followed), 'special' (a FIFO,
    device or socket) or 'too_deep' (a folder at MAX_DEPTH, not entered)."""
    size: int = 0
    mtime_ns: int = 0


class TooManyEntries(Exception):
    """A walk met more entries than its limit (raised as soon as it has read one past it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit:,} entries")
        self.limit = limit


def walk(root: Path, max_depth: int = MAX_DEPTH, limit: int | None = None) -> Iterator[Found]:
    """Every entry under `root` in the order of sorted(root.rglob('*')) (each folder before its contents,
    names sorted), without recursion (any depth) and without following a link; a folder `max_depth` levels
    down is reported as 'too_deep' and not entered. Entries that vanish meanwhile are left out. Every entry
    read counts towards `limit`: one past it raises TooManyEntries at once (a folder of millions of entries
    costs the time of the limit, not of the folder)."""
    seen = [0]
    stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = [("", _sorted_entries(Path(root), seen, limit))]
    while stack:
        prefix, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        rel = prefix + entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            kind = "link"
        elif stat.S_ISDIR(st.st_mode):
            kind = "dir" if len(stack) < max_depth else "too_deep"
        else:
            kind = "file" if stat.S_ISREG(st.st_mode) else "special"
        yield Found(rel, kind, st.st_size, st.st_mtime_ns)
        if kind == "dir":
            stack.append((rel + "/", _sorted_entries(Path(entry.path), seen, limit)))


def _sorted_entries(folder: Path, seen: list[int], limit: int | None) -> Iterator[os.DirEntry[str]]:
    entries = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                seen[0] += 1
                if limit is not None and seen[0] > limit:
                    raise TooManyEntries(limit)
                entries.append(entry)
    except OSError:
        return iter(())
    return iter(sorted(entries, key=lambda e: e.name))
