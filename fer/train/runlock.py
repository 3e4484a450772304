"""One trainer per run folder: a `.trainer.pid` file held while a process trains into it.

The job runner's lock (fer.jobs.launcher) allows one background job per runs folder; this one also covers
the CLI and any other caller of fer.train.trainer.train, so two processes never write the same run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NAME = ".trainer.pid"
LOCK_NAME = ".train.lock"
"""The runs folder's one-job lock (fer.jobs.launcher takes it when a job starts, the job runner frees it at the end)."""


class RunBusyError(RuntimeError):
    """Another process is training into this run folder."""

    def __init__(self, run_dir: Path, pid: int) -> None:
        super().__init__(f"run {Path(run_dir).name} is being trained by another process (pid {pid})")
        self.pid = pid


def holder(run_dir: Path) -> int | None:
    """The PID of the live process training into `run_dir`, or None."""
    try:
        pid = int((Path(run_dir) / NAME).read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if pid and _is_python(pid) else None


@dataclass(frozen=True)
class Process:
    """What /proc says of a live process: its executable's name and its arguments."""

    comm: str
    args: tuple[str, ...]
    """Empty for a moment after it starts, while exec is in progress."""


def process(pid: int) -> Process | None:
    """The live (not zombie) process `pid`, or None; OSError where there is no /proc (not Linux)."""
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        raise OSError("no /proc")
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return None
    args = tuple(a.decode(errors="replace") for a in cmdline.split(b"\0") if a)
    return Process(stat[stat.index("(") + 1:stat.rindex(")")], args)


def _is_python(pid: int) -> bool:
    """Alive and a Python process (a recycled PID of another program does not hold the folder)."""
    if pid == os.getpid():
        return True
    try:
        p = process(pid)
    except OSError:
        return True  # cannot tell: assume it still holds the folder
    return p is not None and "python" in p.comm.lower()


def create_lock(path: Path, content: str, busy: Callable[[], Exception | None], contended: Exception) -> None:
    """Create the lock file `path` holding `content`, only if it does not exist.

    When it exists, `busy()` gives the error to raise for a live holder, or None for a stale lock,
    which is removed and the creation retried; `contended` is raised if that keeps failing.
    """
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            error = busy()
            if error is not None:
                raise error from None
            try:
                stale = path.read_text(errors="replace")
            except OSError:
                stale = "?"
            log.info("reclaiming the stale lock %s (%s)", path, stale)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        return
    raise contended


@contextlib.contextmanager
def claim(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir` for this process while the block runs; RunBusyError if a live process holds it."""
    path = Path(run_dir) / NAME

    def busy() -> Exception | None:
        pid = holder(run_dir)
        return RunBusyError(run_dir, pid) if pid is not None and pid != os.getpid() else None

    create_lock(path, str(os.getpid()), busy, RunBusyError(run_dir, 0))
    try:
        yield
    finally:
        if holder(run_dir) == os.getpid():
            path.unlink(missing_ok=True)
