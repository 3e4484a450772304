"""One trainer per run folder, one job per runs folder: lock files held with `flock` while a process works.

A lock is an exclusive `fcntl.flock` on a small file (`.trainer.pid` in a run folder, `.train.lock` in the runs
folder) that also says who holds it. The kernel holds it for the open file, so taking it is atomic (two
processes starting at once: exactly one gets it) and a process that dies, however it dies, frees it: a lock
file left behind is no lock. (The old scheme read a stale PID, then unlinked and re-created the file: two or
three processes could all take it, issue 42.) The holder removes the file when it lets go; a process that
opened the file just before that notices it locked a removed file and tries again.

The job runner's lock (fer.jobs.launcher) allows one background job per runs folder; the run folder's lock also
covers the CLI and any other caller of fer.train.trainer.train, so two processes never write the same run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fer.files import FileRefused, read_text

log = logging.getLogger(__name__)

NAME = ".trainer.pid"
LOCK_NAME = ".train.lock"
"""The runs folder's one-job lock (fer.jobs.launcher takes it when a job starts and hands it to the job process,
which holds it until it ends)."""
LOCK_FD = "FER_JOB_LOCK_FD"
"""The environment variable that tells a job process which of its file descriptors holds the runs lock."""
RETRY_S = 0.25
"""How long taking a lock keeps trying while it is held only for a moment (a reader checking whether it is held)."""


class RunBusyError(RuntimeError):
    """Another process is training into this run folder."""

    def __init__(self, run_dir: Path, pid: int) -> None:
        super().__init__(f"run {Path(run_dir).name} is being trained by another process (pid {pid})")
        self.pid = pid


class LockFileError(OSError):
    """A lock file that cannot be one: a link, a FIFO, a device or a folder in its place."""


def _open_lock(path: Path, flags: int) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular lock file `path` (never a link, never waiting on a FIFO) and its stat."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockFileError(errno.ELOOP, "a symbolic link where a lock file belongs", str(path)) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LockFileError(errno.EINVAL, "not a regular file where a lock file belongs", str(path))
    return fd, st


@dataclass
class Lock:
    """A held lock: the open lock file whose flock this process holds (or shares with the children it was
    passed to)."""

    path: Path
    fd: int

    def write(self, content: str) -> None:
        """Say who holds it (the file's whole content)."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, content.encode(), 0)

    def release(self) -> None:
        """Remove the lock file (best effort: a read-only folder keeps it, which is no lock) and let go."""
        try:
            if _same_file(self.path, os.fstat(self.fd)):
                self.path.unlink()
        except OSError as exc:
            log.warning("could not remove the lock file %s: %s", self.path, exc)
        self.close()

    def close(self) -> None:
        """Let go of this process's hold, the file kept: a child it was passed to still holds the lock."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1


def _same_file(path: Path, st: os.stat_result) -> bool:
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


def try_lock(path: Path, content: str) -> Lock | None:
    """Take the lock file `path` (made if missing) and write `content` in it; None while another process holds
    it. OSError when it cannot be made (LockFileError: something else has its name)."""
    deadline = time.monotonic() + RETRY_S
    while True:
        fd, st = _open_lock(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
            continue
        except BaseException:
            os.close(fd)
            raise
        if not _same_file(path, st):  # its holder removed it between our open and our flock: a new file now
            os.close(fd)
            continue
        lock = Lock(Path(path), fd)
        try:
            lock.write(content)
        except BaseException:
            lock.release()
            raise
        return lock


def held_by(path: Path) -> str | None:
    """What the lock file `path` says when a process holds it ('' if it has not written it yet); None when it is
    free (missing, or left by a process that ended) or is not a regular file."""
    try:
        fd, _ = _open_lock(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # held
    else:
        return None
    finally:
        os.close(fd)  # also lets go of our shared lock at once
    try:
        return read_text(path, errors="replace")
    except (OSError, FileRefused):
        return ""


def holder(run_dir: Path) -> int | None:
    """The PID of the process training into `run_dir` (0 when it has not said yet), or None."""
    said = held_by(Path(run_dir) / NAME)
    if said is None:
        return None
    try:
        return int(said.strip() or 0)
    except ValueError:
        return 0


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
        line = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if line.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return None
    args = tuple(a.decode(errors="replace") for a in cmdline.split(b"\0") if a)
    return Process(line[line.index("(") + 1:line.rindex(")")], args)


@contextlib.contextmanager
def claim(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir` for this process while the block runs; RunBusyError if another process holds it."""
    path = Path(run_dir) / NAME
    lock = try_lock(path, str(os.getpid()))
    if lock is None:
        raise RunBusyError(run_dir, holder(run_dir) or 0)
    try:
        yield
    finally:
        lock.release()
