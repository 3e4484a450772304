"""Run folders as the app and the CLI see them: state, progress, history, resume point.

Reading only: fer.jobs.launcher starts, stops and resumes the background jobs that write them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer.config import TrainConfig
from fer.files import FileRefused, is_regular, tail
from fer.jobs.runfiles import JobRecord, ResumeState, read_history, read_object, read_reports
from fer.paths import ROOT
from fer.schema import MAX_COUNT, MAX_PID, bounds
from fer.train.runlock import holder, process

log = logging.getLogger(__name__)

STATES = ("running", "finished", "stopped", "failed", "incomplete", "broken")
"""`incomplete`: a folder made outside the job runner (e.g. by the CLI) without test metrics yet; `broken`: a
run file is damaged (RunInfo.error says which and how), or the folder is gone."""
DIED = "the training process ended without finishing (killed or crashed)"
"""The error of a job whose process vanished without recording an outcome."""


def runs_dir() -> Path:
    """Where runs live: $FER_RUNS_DIR, else <repo>/runs (read at call time)."""
    return Path(os.environ.get("FER_RUNS_DIR", ROOT / "runs"))


@dataclass(frozen=True)
class JobProgress:
    """The latest progress report of a running job."""

    phase: str
    """'loading', 'training', 'evaluating' or 'done'."""
    epoch: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    epochs: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    batch: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    batches: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    elapsed: float = field(default=0.0, metadata=bounds(0, None))
    eta: float | None = field(default=None, metadata=bounds(0, None))
    logs: dict[str, float] = field(default_factory=dict, metadata=bounds(finite=False))
    epoch_logs: dict[str, float] = field(default_factory=dict, metadata=bounds(finite=False))
    learning_rate: float | None = field(default=None, metadata=bounds(0, None))
    pid: int | None = field(default=None, metadata=bounds(1, MAX_PID))
    """The job process that wrote this report (its SIGTERM handler is in place from then on)."""
    budget_s: float = field(default=0.0, metadata=bounds(0, None))
    """The run's time budget in training seconds (0: none)."""
    budget_used_s: float = field(default=0.0, metadata=bounds(0, None))
    """Training seconds used so far, over every session of the run."""
    resumed: bool = False
    """This session of the job continues a run that trained before (`epoch`, `batch`: where it continues)."""
    stopping: bool = False
    """A stop was asked for: 'evaluating' then scores the best checkpoint of a run cut short, not a finished one."""
    loaded: float = field(default=0.0, metadata=bounds(0, 1))
    """While 'loading': the share of the dataset read so far (a photos dataset's faces are found one photo at a
    time: a minute or more for a few hundred photos)."""

    @property
    def last_logs(self) -> dict[str, float]:
        """The latest figures: those of the batch in progress over those of the last whole epoch (which is all
        a resumed job has until its first batch)."""
        return {**self.epoch_logs, **self.logs}

    @property
    def fraction(self) -> float:
        """Share of the run done, 0..1: of all planned batches, or of the time budget when that is further."""
        if not self.epochs:
            return 0.0
        within = self.batch / self.batches if self.batches else 0.0
        done = (max(self.epoch - 1, 0) + within) / self.epochs
        if self.budget_s > 0:
            done = max(done, self.budget_used_s / self.budget_s)
        return min(1.0, max(0.0, done))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobProgress:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class RunInfo:
    """A run folder and the state of its job."""

    name: str
    path: Path
    state: str
    pid: int | None = None
    started: str = ""
    finished: str = ""
    error: str = ""
    config: TrainConfig | None = None
    progress: JobProgress | None = None
    done: tuple[int, int] | None = None
    """The resume point: (epochs recorded, batches of the next one done); None without a checkpoint or once
    the run ended by itself."""
    problems: tuple[str, ...] = ()
    """What is wrong with its files (fer.jobs.runfiles), in plain words; such a run is `broken` unless it trains."""

    @property
    def resumable(self) -> bool:
        """Ended without finishing (stopped, failed, incomplete), with a checkpoint and epochs left to train."""
        return (self.state in ("stopped", "failed", "incomplete") and self.done is not None
                and self.config is not None and self.done[0] < self.config.epochs)

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def card_path(self) -> Path:
        return self.path / "model.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def has_model(self) -> bool:
        """A model.keras that is a regular file of the run folder: never a link, which could lead anywhere
        (issue 42: a link to /etc/passwd offered as "Download the model")."""
        return is_regular(self.model_path)

    def history(self) -> list[dict[str, float]]:
        """Per-epoch rows of history.csv (those before a damaged row, if any)."""
        return read_history(self.path)[0]

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.path, lines)


def read_json(path: Path, schema: type | None = None) -> dict[str, Any]:
    """The JSON object in a run file, checked against `schema` (fer.jobs.runfiles); {} when it is missing or
    damaged (not JSON, not an object, a field of the wrong type)."""
    return read_object(path, schema)[0]


def is_job_process(pid: int | None, run_dir: Path | None = None) -> bool:
    """True when `pid` is alive (not a zombie) and is a `fer.jobs.launcher` runner (for `run_dir` if given)."""
    if not pid or pid <= 0:
        return False
    _reap(pid)
    try:
        proc = process(pid)
    except OSError:
        return pid_alive(pid)  # no /proc (not Linux): liveness only
    if proc is None:
        return False
    if not proc.args:  # just started, exec in progress: judge by the executable
        return "python" in proc.comm.lower()
    if "fer.jobs.launcher" not in proc.args:
        return False
    return run_dir is None or str(Path(run_dir).resolve()) in proc.args


def _reap(pid: int) -> None:
    """Collect an exited child of this process so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(run_dir: Path, lines: int = 30) -> str:
    """The last lines of a run's train.log (its last 64 kB at most, fer.files.tail); '' when there is none or
    it is not a regular file (a FIFO, a link)."""
    p = Path(run_dir) / "train.log"
    try:
        text = tail(p)
    except (OSError, FileRefused) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("%s: train.log not read: %s", Path(run_dir).name, exc)
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_info(run_dir: Path) -> RunInfo:
    """The state of one run folder; a job whose process is gone is `failed`, never `running`; a folder that any
    live process trains (fer.train.runlock) is `running`."""
    path = Path(run_dir)
    job, p_job = read_object(path / "job.json", JobRecord)
    cfg_dict, p_cfg = read_object(path / "config.json", TrainConfig)
    cfg = TrainConfig.from_dict(cfg_dict) if cfg_dict else None
    if cfg is not None and (bad := cfg.validate()):  # well typed, out of range: 1e400 epochs, a NaN fraction
        p_cfg, cfg = "config.json: " + "; ".join(map(str, bad)), None
    prog, p_prog = read_object(path / "progress.json", JobProgress)
    progress = JobProgress.from_dict(prog) if prog else None
    point, p_state = read_object(path / "state.json", ResumeState)
    problems = [p for p in (p_job, p_cfg, p_prog, p_state, read_history(path)[1], read_reports(path)[1]) if p]
    if job.get("state") and job["state"] not in STATES:
        problems.append(f"job.json: state is {job['state']!r}, not one of {', '.join(STATES)}")
    if not path.is_dir():
        problems.append("the run folder no longer exists")
    pid = job.get("pid")
    state, error = job.get("state", ""), job.get("error", "")
    if state == "running" and not is_job_process(pid, path):
        state = "failed"
        error = error or DIED
    elif not state:  # made outside the job runner (the CLI)
        done = (path / "metrics.json").is_file() and (path / "model.json").is_file()
        complete = point.get("complete", True)
        state = ("finished" if complete else "stopped") if done else "incomplete"
    if state != "running" and (trainer := holder(path)) is not None:  # e.g. the CLI training it now
        state, pid, error = "running", trainer, ""
    if problems and state != "running":  # a live job rewrites its files; any other run is shown as broken
        state, error = "broken", "; ".join(problems)
    return RunInfo(path.name, path, state, pid, job.get("started", ""), job.get("finished", ""), error, cfg,
                   progress, _resume_point(path, point), tuple(problems))


METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def starting_progress(run_dir: Path, epochs: int) -> dict[str, Any]:
    """progress.json for a job about to (re)start on `run_dir`: where it continues (the epoch and batch after
    its last checkpoint), the training seconds of its earlier sessions and its last epoch's figures, so that a
    resumed run never shows the previous session's last batch, a clock back at zero or blank figures."""
    path = Path(run_dir)
    point = read_object(path / "state.json", ResumeState)[0] if (path / "last.keras").is_file() else {}
    rows = read_history(path)[0] if point else []
    last = rows[-1] if rows else {}
    done = int(point.get("epoch", 0))
    skip = int((point.get("partial") or {}).get("batches", 0))
    used = float(point.get("train_seconds", 0.0))
    return {"phase": "loading", "epochs": epochs, "epoch": done + 1 if point else 0, "batch": skip,
            "elapsed": round(used, 2), "budget_used_s": round(used, 1), "resumed": bool(point),
            "epoch_logs": {k: last[k] for k in METRICS if k in last},
            "learning_rate": last.get("learning_rate")}


def _resume_point(path: Path, point: dict[str, Any]) -> tuple[int, int] | None:
    if not (path / "last.keras").is_file():
        return None
    if "epoch" not in point or point.get("complete"):
        return None
    return int(point["epoch"]), int((point.get("partial") or {}).get("batches", 0))


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run folder (one holding config.json or history.csv), newest first. A link in the runs folder is
    not a run: it could lead anywhere (its model offered for download, issue 42)."""
    root = Path(root or runs_dir())
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if not d.is_symlink() and d.is_dir()
            and (is_regular(d / "config.json") or is_regular(d / "history.csv"))]
    dirs.sort(key=_config_mtime, reverse=True)
    return [run_info(d) for d in dirs]


def _config_mtime(run_dir: Path) -> float:
    try:
        return os.lstat(run_dir / "config.json").st_mtime
    except OSError:
        return 0.0


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
