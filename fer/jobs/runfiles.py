"""One validating reader for every file of a run folder (job.json, config.json, progress.json, state.json,
metrics.json, history.csv) and the runs folder's lock.

Each file is checked against the dataclass it describes (fer.schema): a file that is not JSON, not an object
or has a field of the wrong type (`config.json` = `[1,2]`, `"epochs": "ten"`, text in a history column) reads
as nothing, and its problem is returned in plain words, so that the run is shown as broken and no page fails.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fer.files import MAX_TEXT_BYTES, FileRefused, read_text
from fer.schema import MAX_COUNT, MAX_PID, bounds, field_problems, number_problem, shown

log = logging.getLogger(__name__)

MAX_BYTES = MAX_TEXT_BYTES
"""A run file larger than this is not read (the largest, metrics.json or history.csv, is a few kB)."""


@dataclass(frozen=True)
class JobRecord:
    """job.json: the background job's state, process and times (fer.jobs.launcher, fer.jobs.runner)."""

    state: str = ""
    pid: int | None = field(default=None, metadata=bounds(1, MAX_PID))
    started: str = ""
    finished: str = ""
    error: str = ""


@dataclass(frozen=True)
class PartialEpoch:
    batches: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    seconds: float = field(default=0.0, metadata=bounds(0, None))


@dataclass(frozen=True)
class ResumeState:
    """state.json: the resume point the trainer writes after each epoch (fer.train.callbacks)."""

    epoch: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    best: float = field(default=math.inf, metadata=bounds(finite=False))
    train_seconds: float = field(default=0.0, metadata=bounds(0, None))
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    partial: PartialEpoch | None = None


@dataclass(frozen=True)
class LockRecord:
    """The runs folder's .train.lock: the process that holds it and the run it trains."""

    pid: int | None = field(default=None, metadata=bounds(1, MAX_PID))
    run: str = ""
    starting: bool = False


def _text(path: Path) -> str | None:
    """The file's text; None when it does not exist. OSError, ValueError for an unreadable or huge one, a
    link, a FIFO or a device (fer.files: never followed, never waited on)."""
    try:
        return read_text(path, MAX_BYTES)
    except FileNotFoundError:
        return None


def read_object(path: Path, schema: type | None = None) -> tuple[dict[str, Any], str]:
    """(the JSON object in `path`, '') when it is valid for `schema` (a dataclass) or missing ({}, '');
    ({}, problem) when it is unreadable, not an object or a field has the wrong type."""
    path = Path(path)
    try:
        text = _text(path)
        if text is None:
            return {}, ""
        data = json.loads(text)
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        problem = f"{path.name}: unreadable ({exc})"
    else:
        problems = field_problems(schema, data, path.name) if schema else (
            [] if isinstance(data, dict) else [f"{path.name}: expected a JSON object, found {shown(data)}"])
        if not problems:
            return data, ""
        problem = "; ".join(problems)
    log.info("%s: %s", path.parent.name, problem)  # each page run reads it: shown there, not logged each time
    return {}, problem


def read_history(run_dir: Path) -> tuple[list[dict[str, float]], str]:
    """(per-epoch rows of history.csv, '') or, when a value is not a number or the file is unreadable,
    (the rows before the first bad one, problem)."""
    path = Path(run_dir) / "history.csv"
    rows: list[dict[str, float]] = []
    try:
        text = _text(path)
        if text is None:
            return [], ""
        for n, row in enumerate(csv.DictReader(text.splitlines()), start=2):
            try:
                values = {str(k): float(v) for k, v in row.items() if v not in ("", None)}
            except (TypeError, ValueError):
                bad = next((k, v) for k, v in row.items() if v not in ("", None) and not _is_number(v))
                raise ValueError(f"row {n}: {bad[0]} is {shown(bad[1])}, not a number") from None
            if (why := row_problem(values)) is not None:
                raise ValueError(f"row {n}: {why}")
            rows.append(values)
    except (OSError, ValueError, csv.Error) as exc:
        unreadable = isinstance(exc, OSError | FileRefused)
        problem = f"history.csv: unreadable ({exc})" if unreadable else f"history.csv: {exc}"
        log.info("%s: %s", Path(run_dir).name, problem)
        return rows, problem
    return rows, ""


MAX_EPOCH = 1_000_000
"""The largest epoch number a history row may have."""


def row_problem(row: dict[str, Any]) -> str | None:
    """Why one per-epoch row (history.csv, a model report's history) cannot be drawn, or None: its epoch must be
    a whole number from 1 to MAX_EPOCH; its values numbers, finite or NaN (a diverged loss, drawn as a gap)."""
    if "epoch" not in row:
        return "no epoch"
    epoch = row["epoch"]
    why = number_problem(epoch, 1, MAX_EPOCH)
    if why is None and epoch != int(epoch):
        why = f"{shown(epoch)} is not a whole number"
    if why is not None:
        return f"epoch: {why}"
    for k, v in row.items():
        why = number_problem(v, finite=False)
        if why is None and math.isinf(v):
            why = f"{shown(v)} is not a finite number"
        if why is not None:
            return f"{k}: {why}"
    return None


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def read_reports(run_dir: Path) -> tuple[dict[str, Any], str]:
    """({split: EvalReport} from metrics.json, '') or ({}, problem) when it is not {split: report}."""
    from fer.model.evaluation import EvalReport

    data, problem = read_object(Path(run_dir) / "metrics.json")
    if problem:
        return {}, problem
    problems = [p for split, rep in data.items() for p in field_problems(EvalReport, rep, f"metrics.json {split}")]
    problems += [f"metrics.json {split}: incomplete report" for split, rep in data.items()
                 if isinstance(rep, dict) and not problems and not set(EvalReport.__dataclass_fields__) <= set(rep)]
    if problems:
        log.info("%s: %s", Path(run_dir).name, "; ".join(problems))
        return {}, "; ".join(problems)
    return {k: EvalReport.from_dict(v) for k, v in data.items()}, ""


def read_before_after(run_dir: Path) -> tuple[Any, str]:
    """(the run's fer.model.evaluation.BeforeAfter, '') from before_after.json (fer.train.trainer.BEFORE_AFTER);
    (None, '') when the run has none (not a fine-tuning run, or not finished); (None, problem) when the file is
    unreadable or does not hold one."""
    from fer.model.evaluation import BeforeAfter
    from fer.train.trainer import BEFORE_AFTER

    path = Path(run_dir) / BEFORE_AFTER
    data, problem = read_object(path, BeforeAfter)
    if problem or not data:
        return None, problem
    try:
        return BeforeAfter.from_dict(data), ""
    except (KeyError, TypeError, ValueError) as exc:  # a field missing, or more right than held out
        problem = f"{BEFORE_AFTER}: {exc}"
        log.info("%s: %s", Path(run_dir).name, problem)
        return None, problem
