"""Training jobs as background processes: one at a time, stoppable, with live progress files.

`start_job` launches `python -m fer.jobs.launcher run RUN_DIR` in its own session, so the job outlives
the page, the tab and the Streamlit rerun that started it. Besides the trainer's files
(see fer.train.trainer), a job's run folder holds job.json (pid, state, times, error), progress.json
(the latest batch, rewritten about twice a second), train.log (the process's output) and, when
asked to stop, a `stop` flag file. A lock file in the runs folder holds the running job's PID.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from fer.config import TrainConfig
from fer.jobs.runfiles import LockRecord
from fer.jobs.runs import (
    DIED,
    STATES,
    JobProgress,
    RunInfo,
    is_job_process,
    list_runs,
    log_tail,
    pid_alive,
    read_json,
    run_info,
    runs_dir,
    starting_progress,
)
from fer.model.modelio import os_problem, utc_now, write_json
from fer.paths import ROOT
from fer.train.runlock import LOCK_FD, LOCK_NAME, Lock, LockFileError, held_by, try_lock

__all__ = ["DIED", "LOCK_NAME", "STATES", "BusyError", "JobError", "JobProgress", "RunInfo", "active_job",
           "is_job_process", "list_runs", "log_tail", "pid_alive", "resume_job", "run_info", "runs_dir", "start_job",
           "stop_job", "wait_job"]
"""Reading run folders lives in fer.jobs.runs; its names are here too, for the callers of jobs."""

log = logging.getLogger(__name__)


class JobError(RuntimeError):
    """A job could not be started or controlled; the message says why."""


class BusyError(JobError):
    """Another training job is running on this machine."""

    def __init__(self, run: str) -> None:
        super().__init__(f"another training job is running ({run}); stop it or wait until it ends")
        self.run = run


def active_job(root: Path | None = None) -> RunInfo | None:
    """The running job of this runs folder, if any (a lock file that no process holds is ignored)."""
    path = Path(root or runs_dir()) / LOCK_NAME
    if held_by(path) is None:
        return None
    lock = read_json(path, LockRecord)
    run = lock.get("run")
    if run and is_job_process(lock.get("pid"), Path(run)):
        return run_info(Path(run))
    return None


# --------------------------------------------------------------------------- controlling jobs
def new_run_name(cfg: TrainConfig, root: Path) -> str:
    base = f"{datetime.now():%Y%m%d-%H%M%S}-{cfg.arch}"
    name, i = base, 1
    while (root / name).exists():
        i += 1
        name = f"{base}-{i}"
    return name


def _acquire_lock(root: Path, run_dir: Path) -> Lock:
    """Take the runs folder's one-job lock (fer.train.runlock: atomic, freed when its holder ends); BusyError
    while another job holds it."""
    path = root / LOCK_NAME
    lock = try_lock(path, json.dumps({"pid": os.getpid(), "run": str(run_dir), "starting": True}))
    if lock is None:
        held = read_json(path, LockRecord)
        raise BusyError(Path(held.get("run", "")).name or "starting")
    return lock


def start_job(cfg: TrainConfig, root: Path | None = None, name: str | None = None) -> RunInfo:
    """Start training `cfg` in a new run folder, in a background process; BusyError if one runs."""
    errors = cfg.validate()
    if errors:
        raise JobError("invalid training settings: " + "; ".join(map(str, errors)))
    from fer.train.trainer import start_problem

    problem = start_problem(cfg)
    if problem is not None:
        raise JobError(str(problem))
    from fer.train.feasibility import machine_problems

    infeasible = machine_problems(cfg)  # the dataset's own checks (data_problems) run in the job, once loaded
    if infeasible:
        raise JobError("; ".join(map(str, infeasible)))
    root = Path(root or runs_dir()).resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
        run_dir = root / (name or new_run_name(cfg, root))
        lock = _acquire_lock(root, run_dir)
    except LockFileError as exc:
        raise JobError(f"the runs folder's lock {exc.filename} is {exc.strerror}") from None
    except OSError as exc:
        raise JobError(f"cannot write to the runs folder {root}: {os_problem(exc)}") from None
    try:
        if (run_dir / "job.json").exists():
            raise JobError(f"run {run_dir.name} already exists")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", cfg.to_dict())
        write_json(run_dir / "progress.json", {"phase": "loading", "epochs": cfg.epochs})
    except BaseException as exc:
        lock.release()
        if isinstance(exc, OSError):
            raise JobError(f"cannot write the run folder {run_dir}: {os_problem(exc)}") from None
        raise
    return _launch(run_dir, lock)


def resume_job(run_dir: Path) -> RunInfo:
    """Continue a stopped or failed run from its last checkpoint (inside a cut-short epoch), in the background.

    The run keeps its folder, config and history; JobError says why a run cannot be resumed,
    BusyError when another job runs.
    """
    info = run_info(Path(run_dir).resolve())
    if not info.resumable:
        if info.state == "running":
            why = f"another process (pid {info.pid}) is training it"
        elif info.state == "finished":
            why = "it is finished"
        elif info.done is None or info.config is None:
            why = "it has no checkpoint to continue from"
        else:
            why = f"all {info.config.epochs} epochs are done"
        raise JobError(f"run {info.name} cannot be resumed: {why}")
    try:
        lock = _acquire_lock(info.path.parent, info.path)
    except LockFileError as exc:
        raise JobError(f"the runs folder's lock {exc.filename} is {exc.strerror}") from None
    except OSError as exc:
        raise JobError(f"cannot write to the runs folder {info.path.parent}: {os_problem(exc)}") from None
    try:
        (info.path / "stop").unlink(missing_ok=True)
        # the last session's final report (its last batch, its phase) is not this one's: where it continues
        write_json(info.path / "progress.json", starting_progress(info.path, info.config.epochs), parents=False)
    except OSError as exc:
        lock.release()
        raise JobError(f"cannot write the run folder {info.path}: {os_problem(exc)}") from None
    return _launch(info.path, lock)


def _launch(run_dir: Path, lock: Lock) -> RunInfo:
    """Start the job process for `run_dir` and hand it the runs lock (it holds it until it ends, however it
    ends); record it in job.json and the lock."""
    proc: subprocess.Popen[bytes] | None = None
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
               "PYTHONUNBUFFERED": "1", LOCK_FD: str(lock.fd)}
        with (run_dir / "train.log").open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "fer.jobs.launcher", "run", str(run_dir)], cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=(lock.fd,))
        started = utc_now()
        write_json(run_dir / "job.json", {"state": "running", "pid": proc.pid, "started": started})
        lock.write(json.dumps({"pid": proc.pid, "run": str(run_dir)}))
    except BaseException as exc:
        if proc is not None:  # started, but its state could not be recorded: no untracked job
            proc.kill()
            proc.wait()
        lock.release()
        if isinstance(exc, OSError):
            raise JobError(f"cannot write the run folder {run_dir}: {os_problem(exc)}") from None
        raise
    lock.close()  # the job process holds it now
    _reap_when_done(proc)
    log.info("started job %s (pid %d)", run_dir.name, proc.pid)
    return run_info(run_dir)


def _reap_when_done(proc: subprocess.Popen[bytes]) -> None:
    """Wait for the job process in a thread of its own, so that it never lingers as a zombie child of the
    server, whatever becomes of its run folder (a deleted folder is no longer listed, so nothing else would
    ask about its PID)."""
    threading.Thread(target=proc.wait, name=f"fer-job-{proc.pid}", daemon=True).start()


def stop_job(run_dir: Path, wait_s: float = 0.0) -> RunInfo:
    """Ask a job to stop at the next batch (flag file, then SIGTERM); it keeps its best checkpoint."""
    run_dir = Path(run_dir)
    (run_dir / "stop").touch()
    info = run_info(run_dir)
    # SIGTERM also stops a job still loading, but only once the process handles it: before that
    # (its first moments) it would kill it, and the flag file alone is enough.
    if info.state == "running" and info.pid and info.progress and info.progress.pid == info.pid:
        try:
            os.kill(info.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return wait_job(run_dir, wait_s) if wait_s > 0 else run_info(run_dir)


def wait_job(run_dir: Path, timeout_s: float, poll_s: float = 0.5) -> RunInfo:
    """Poll until the job has ended and its process exited, or `timeout_s` passes; returns its state."""
    deadline = time.monotonic() + timeout_s
    info = run_info(run_dir)
    while (info.state == "running" or is_job_process(info.pid, info.path)) and time.monotonic() < deadline:
        time.sleep(poll_s)
        info = run_info(run_dir)
    return info


# --------------------------------------------------------------------------- the job process
def main(argv: list[str] | None = None) -> int:
    """`python -m fer.jobs.launcher run RUN_DIR` (the job itself), `list`, `stop RUN_DIR` or `resume RUN_DIR`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "run":
        from fer.jobs.runner import run_job

        return run_job(Path(args[1]))
    if args == ["list"]:
        for r in list_runs():
            print(f"{r.name:<40} {r.state}")
        return 0
    if len(args) == 2 and args[0] == "stop":
        print(stop_job(Path(args[1]), wait_s=60).state)
        return 0
    if len(args) == 2 and args[0] == "resume":
        try:
            info = resume_job(Path(args[1]))
        except JobError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{info.name} {info.state} (pid {info.pid}); log: {info.path / 'train.log'}")
        return 0
    print("usage: python -m fer.jobs.launcher run RUN_DIR | list | stop RUN_DIR | resume RUN_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
