"""The body of a background training job (`python -m fer.jobs.launcher run RUN_DIR`), see fer.jobs.launcher."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

from fer.config import TrainConfig
from fer.model.modelio import os_problem, utc_now, write_json
from fer.train.events import TrainEvent
from fer.train.runlock import LOCK_FD, LOCK_NAME, Lock

log = logging.getLogger(__name__)


class _Stopped(BaseException):
    """Raised by SIGTERM outside the training loop (or on a second SIGTERM)."""


class _Vanished(BaseException):
    """The run folder was deleted while the job trained it: the job ends at once, writing nothing more."""


class _Infeasible(Exception):
    """The config cannot train on this dataset (fer.train.feasibility); the message says why."""


VANISHED = "the run folder was deleted while the job trained it"


class StopControl:
    """Stop requests: the `stop` flag file or SIGTERM. In the training loop they end the epoch cleanly."""

    def __init__(self, run_dir: Path) -> None:
        self.flag = run_dir / "stop"
        self.config = run_dir / "config.json"
        self.requested = False
        self.in_fit = False
        self._signals = 0

    def should_stop(self) -> bool:
        """Asked before every batch. Raises _Vanished once the run folder (its config.json) is gone: training
        on would recreate the folder with its next checkpoint, a job no page can see or stop."""
        if not self.config.exists():
            raise _Vanished()
        if not self.requested and self.flag.exists():
            self.requested = True
        return self.requested

    def on_sigterm(self, signum: int, frame: Any) -> None:
        self.requested = True
        self._signals += 1
        if not self.in_fit or self._signals > 1:
            raise _Stopped()


class ProgressWriter:
    """A plain training-progress callback that rewrites progress.json (and logs each epoch).

    `elapsed` is the run's training time over all its sessions (a resumed run goes on from its earlier
    sessions' seconds, state.json), and the speed behind the time left is measured on this session's batches
    after its first one."""

    def __init__(self, run_dir: Path, epochs: int, control: StopControl) -> None:
        self.path = run_dir / "progress.json"
        self.run_dir = run_dir
        self.epochs = epochs
        self.control = control
        self.t0: float | None = None
        """When this session's training started (its 'start' event); None while it loads."""
        self.start_epoch = 0
        self.start_batch = 0
        self.batches = 0
        self.epoch_logs: dict[str, float] = {}
        self.budget_s = 0.0
        """The run's time budget in training seconds (0: none)."""
        self.loading_at = (0, 0)
        """(epoch, batch) the job continues at, said while it loads."""
        self._loading_written = -1.0
        self.used_s = 0.0
        """Training seconds the run used in earlier sessions."""
        self.resumed = False
        self.rate_from: tuple[float, int] | None = None
        """(time, batches done) when this session's first batch ended: the rate is measured from there,
        so the first batch's graph building (seconds, for a batch that then takes milliseconds) is not
        taken as the speed of every batch."""

    def starting(self) -> None:
        """Write where the job continues before it loads anything (fer.jobs.runs.starting_progress), and take the
        earlier sessions' training seconds and last figures from it."""
        from fer.jobs.runs import starting_progress

        start = starting_progress(self.run_dir, self.epochs)
        self.used_s = float(start["elapsed"])
        self.epoch_logs = dict(start["epoch_logs"])
        self.resumed = bool(start["resumed"])
        self.start_epoch, self.start_batch = max(int(start["epoch"]) - 1, 0), int(start["batch"])
        self.loading_at = (int(start["epoch"]), int(start["batch"]))
        self.write("loading", *self.loading_at)

    def loading(self, fraction: float, message: str = "") -> None:
        """fer.data.dataset's progress callback while the job loads its dataset: the share read so far, written
        at most twice a second (a loader reports every image)."""
        now = time.monotonic()
        if fraction < 1.0 and now - self._loading_written < 0.5:
            return
        self._loading_written = now
        self.write("loading", *self.loading_at, loaded=min(max(float(fraction), 0.0), 1.0))

    def write(self, phase: str, epoch: int = 0, batch: int = 0, logs: dict[str, float] | None = None,
              loaded: float = 0.0) -> None:
        now = time.monotonic()
        session = now - self.t0 if self.t0 is not None else 0.0
        elapsed = self.used_s + session
        done = max(epoch - 1, 0) * self.batches + batch
        total = self.epochs * self.batches
        eta = None
        if phase == "training" and self.rate_from is not None and done > self.rate_from[1] and self.batches:
            eta = (now - self.rate_from[0]) / (done - self.rate_from[1]) * (total - done)
        budget = {}
        if self.budget_s > 0:  # the budget ends the run before its last epoch
            used = self.used_s + (session if phase == "training" else 0.0)
            budget = {"budget_s": self.budget_s, "budget_used_s": round(used, 1)}
            if eta is not None:
                eta = min(eta, max(self.budget_s - used, 0.0))
        logs = logs or {}
        lr = logs.get("learning_rate", self.epoch_logs.get("learning_rate"))
        try:
            write_json(self.path, {"phase": phase, "pid": os.getpid(), "epoch": epoch, "epochs": self.epochs,
                                   "batch": batch, "batches": self.batches, "elapsed": round(elapsed, 2),
                                   "eta": None if eta is None else round(eta, 1), "logs": logs,
                                   "epoch_logs": self.epoch_logs, "learning_rate": lr, "resumed": self.resumed,
                                   "stopping": self.control.requested, "loaded": round(loaded, 3), **budget},
                       parents=False)
        except FileNotFoundError:
            raise _Vanished() from None

    def __call__(self, e: TrainEvent) -> None:
        if e.kind == "start":
            self.start_epoch, self.start_batch = e.epoch, e.batch
            self.batches = e.batches or self.batches
            self.t0 = time.monotonic()
            self.rate_from = None
            self.control.in_fit = True
            at = f" batch {e.batch + 1}" if e.batch else ""
            log.info("training from epoch %d%s: %s", e.epoch + 1, at, e.message)
            self.write("training", e.epoch + 1, e.batch)
        elif e.kind == "batch":
            self.batches = e.batches or self.batches
            if self.rate_from is None:  # only once a batch of this session has ended (not at 'start')
                self.rate_from = (time.monotonic(), max(e.epoch - 1, 0) * self.batches + e.batch)
            self.write("training", e.epoch, e.batch, e.logs)
        elif e.kind == "epoch":
            self.epoch_logs = e.logs
            log.info("epoch %d/%d %s", e.epoch, e.epochs, " ".join(f"{k}={v:.4g}" for k, v in e.logs.items()))
            phase = "evaluating" if e.epoch >= self.epochs or self.control.requested else "training"
            self.write(phase, e.epoch, self.batches, e.logs)
        elif e.kind == "cut":
            log.info("epoch %d/%d stopped after batch %d of %d (not recorded; resuming the run trains the rest)",
                     e.epoch, e.epochs, e.batch, e.batches)
            self.write("evaluating", e.epoch, e.batch, e.logs)
        elif e.kind == "done":
            self.write("done", e.epoch, self.batches, self.epoch_logs)


def run_job(run_dir: Path) -> int:
    """Train the run folder's config.json; record the outcome in job.json; release the lock."""
    run_dir = Path(run_dir).resolve()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lock = _adopt_lock(run_dir)
    control = StopControl(run_dir)
    signal.signal(signal.SIGTERM, control.on_sigterm)
    writer = ProgressWriter(run_dir, _read(run_dir / "config.json").get("epochs", 0), control)
    job = _read(run_dir / "job.json")
    job.update(state="running", pid=os.getpid())
    job.setdefault("started", utc_now())
    state, error = "failed", ""
    try:
        writer.starting()  # its pid says the process now handles SIGTERM
        from fer.jobs.runfiles import read_object
        from fer.tfenv import import_tensorflow
        from fer.train.distribute import setup_hook

        cfg_dict, problem = read_object(run_dir / "config.json", TrainConfig)
        if problem or not cfg_dict:
            raise ValueError(problem or "config.json is missing")
        cfg = TrainConfig.from_dict(cfg_dict)
        import_tensorflow(training=True, setup=setup_hook(cfg))  # devices laid out before TensorFlow starts
        from fer.data.dataset import load_dataset
        from fer.train.trainer import train

        writer.epochs = cfg.epochs
        writer.budget_s = max(cfg.time_budget_s, 0.0)
        log.info("job %s (pid %d): loading %s", run_dir.name, os.getpid(), cfg.data)
        ds = load_dataset(cfg.data, progress=writer.loading)
        if control.should_stop():
            raise _Stopped()
        from fer.train.feasibility import data_problems

        if infeasible := data_problems(cfg, ds):  # said in plain words, not as scikit-learn's ValueError
            raise _Infeasible("; ".join(map(str, infeasible)))
        result = train(cfg, run_dir, dataset=ds, progress=writer, should_stop=control.should_stop)
        state = "stopped" if control.requested else "finished"
        log.info("job %s %s after %d epochs: %s", run_dir.name, state, len(result.history),
                 json.dumps(result.card.metrics.get("test", {})))
    except _Stopped:
        state = "stopped"
        log.info("job %s stopped", run_dir.name)
    except _Infeasible as exc:
        state, error = "failed", str(exc)
        log.error("job %s: %s", run_dir.name, exc)
    except _Vanished:
        state, error = "failed", VANISHED
        log.error("job %s: %s; it ends here", run_dir.name, VANISHED)
    except OSError as exc:  # disk full, folder not writable: say so in plain words
        log.exception("job %s failed", run_dir.name)
        state, error = "failed", f"could not read or write a file: {os_problem(exc)}"
    except Exception as exc:  # noqa: BLE001 - any failure is recorded for the page, with its traceback in the log
        log.exception("job %s failed", run_dir.name)
        state, error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        job.update(state=state, error=error, finished=utc_now())
        _record_outcome(run_dir / "job.json", job)
        if lock is not None:
            lock.release()  # also freed by the kernel if this process dies first
    return 0 if state != "failed" else 1


def _record_outcome(path: Path, job: dict[str, Any]) -> None:
    """Write job.json: atomically, else (a folder that became read-only for new files, issue 42) over the file
    in place, else log it: the page then reports the job as ended without finishing, never as running."""
    try:
        write_json(path, job, parents=False)
        return
    except OSError as exc:
        first = exc
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "wb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise OSError(f"{path.name} is not a regular file")
            fh.truncate(0)
            fh.write(json.dumps(job, indent=2).encode())
        log.warning("job.json of %s rewritten in place: %s", path.parent.name, os_problem(first))
    except OSError as exc:
        log.error("could not record the outcome of job %s (%s): %s", path.parent.name, json.dumps(job),
                  os_problem(first if isinstance(exc, FileNotFoundError) else exc))


def _adopt_lock(run_dir: Path) -> Lock | None:
    """The runs lock the launcher handed to this process (fer.jobs.launcher.LOCK_FD), or None when started
    without one (by hand)."""
    raw = os.environ.pop(LOCK_FD, "")
    if not raw.isdigit():
        return None
    fd = int(raw)
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return None
    return Lock(run_dir.parent / LOCK_NAME, fd)


def _read(path: Path) -> dict[str, Any]:
    from fer.jobs.runfiles import read_object

    return read_object(path)[0]  # {} for a missing or damaged file, or one that is not an object


