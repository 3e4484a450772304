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

from fer.schema import field_problems, shown

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024**2
"""A run file larger than this is not read (the largest, metrics.json or history.csv, is a few kB)."""


@dataclass(frozen=True)
class JobRecord:
    """job.json: the background job's state, process and times (fer.jobs.launcher, fer.jobs.runner)."""

    state: str = ""
    pid: int | None = None
    started: str = ""
    finished: str = ""
    error: str = ""


@dataclass(frozen=True)
class PartialEpoch:
    batches: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ResumeState:
    """state.json: the resume point the trainer writes after each epoch (fer.train.callbacks)."""

    epoch: int = 0
    best: float = math.inf
    train_seconds: float = 0.0
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    partial: PartialEpoch | None = None


@dataclass(frozen=True)
class LockRecord:
    """The runs folder's .train.lock: the process that holds it and the run it trains."""

    pid: int | None = None
    run: str = ""
    starting: bool = False


def _text(path: Path) -> str | None:
    """The file's text; None when it does not exist. OSError, ValueError for an unreadable or huge one."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size > MAX_BYTES:
        raise ValueError(f"{size:,} bytes, more than a run file holds")
    return path.read_text(errors="strict")


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
            if "epoch" not in values:
                raise ValueError(f"row {n}: no epoch")
            rows.append(values)
    except (OSError, ValueError, csv.Error) as exc:
        problem = f"history.csv: {exc}"
        log.info("%s: %s", Path(run_dir).name, problem)
        return rows, problem
    return rows, ""


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
                 if isinstance(rep, dict) and not problems and not {"split", "n", "accuracy", "loss", "macro_f1",
                                                                      "per_class", "confusion"} <= set(rep)]
    if problems:
        log.info("%s: %s", Path(run_dir).name, "; ".join(problems))
        return {}, "; ".join(problems)
    return {k: EvalReport.from_dict(v) for k, v in data.items()}, ""
