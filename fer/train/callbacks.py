"""Keras callbacks of the trainer: progress reports and resumable per-epoch checkpoints."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from fer.model.modelio import atomic_write_bytes, save_model, write_json
from fer.train.events import Progress, StopFlag, TrainEvent

log = logging.getLogger(__name__)

HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")


class ProgressCallback(keras.callbacks.Callback):
    """Turns Keras events into `TrainEvent`s for a plain callback; honours a stop flag."""

    def __init__(self, progress: Progress | None, should_stop: StopFlag | None, epochs: int,
                 every_s: float = 0.5) -> None:
        super().__init__()
        self.progress, self.should_stop, self.epochs, self.every_s = progress, should_stop, epochs, every_s
        self.skip = 0
        """Batches of the current epoch done before this fit (a resumed, cut-short epoch)."""
        self.stopped = False
        """True once the stop flag ended training."""
        self._epoch = 0
        self._batches = 0
        self._last = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches = batch + 1
        if self.should_stop is not None and self.should_stop():
            self.model.stop_training = self.stopped = True
        now = time.monotonic()
        if self.progress and now - self._last >= self.every_s:
            self._last = now
            steps = int(self.params.get("steps") or 0)
            values = {k: float(v) for k, v in (logs or {}).items()}
            values.setdefault("learning_rate", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
            self.progress(TrainEvent("batch", self._epoch + 1, self.epochs, self.skip + batch + 1, self.skip + steps,
                                     values))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.progress:
            values = {k: float(v) for k, v in (logs or {}).items()}
            values.setdefault("learning_rate", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
            steps = int(self.params.get("steps") or 0)
            if self.model.stop_training and self._batches < steps:
                self.progress(TrainEvent("cut", epoch + 1, self.epochs, self.skip + self._batches, self.skip + steps,
                                         values))
            else:
                self.progress(TrainEvent("epoch", epoch + 1, self.epochs, logs=values))


def drop_uncommitted_history(run_dir: Path, epoch: int) -> None:
    """Keep in history.csv only the rows of epochs 1..`epoch` (state.json's), once each (the last row written
    for an epoch wins).

    state.json is an epoch's commit point: its history row is appended first, then the checkpoints, then the
    state. A crash (SIGKILL, a full disk) between the row and the state leaves a row of an epoch that the
    resumed run trains again; without this it would be listed twice and counted in `epochs_trained`.
    """
    hist = Path(run_dir) / "history.csv"
    if not hist.is_file():
        return
    with hist.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    kept: dict[int, dict[str, str]] = {}
    for row in rows:
        try:
            n = int(float(row.get("epoch") or "nan"))
        except (TypeError, ValueError, OverflowError):
            continue
        if 1 <= n <= epoch:
            kept[n] = row
    if len(kept) == len(rows) and [int(float(r["epoch"])) for r in rows] == sorted(kept):
        return
    log.info("%s: history.csv had %d rows past the committed epoch %d or repeated; kept %d",
             hist.parent.name, len(rows) - len(kept), epoch, len(kept))
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    w.writeheader()
    w.writerows(kept[n] for n in sorted(kept))
    atomic_write_bytes(hist, text.getvalue().encode(), parents=False)


class ResumeCheckpoint(keras.callbacks.Callback):
    """Each epoch: append history.csv, save model.keras when best, last.keras, then state.json (the commit
    point: on resume, history rows past its epoch are dropped, see `drop_uncommitted_history`).

    On a new `fit` in the same run folder it resumes from last.keras (optimizer included) and
    restores the plateau / early-stopping counters, so a killed run continues where it was.
    An epoch cut short by a stop is not recorded as an epoch: its weights are saved with the
    number of batches done (state.json "partial"), and a resumed run trains only the rest of it.
    """

    def __init__(self, run_dir: Path, agree: Callable[[float], float] | None = None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.agree = agree or (lambda seconds: seconds)
        """Makes each epoch's measured seconds the same on every worker of a multi-worker run (the chief's), so
        the time budget, the cosine schedule and weight averaging decide alike (fer.train.distribute)."""
        self.state: dict[str, Any] = {}
        state_file = self.run_dir / "state.json"
        if state_file.exists() and (self.run_dir / "last.keras").exists():
            self.state = json.loads(state_file.read_text())
        drop_uncommitted_history(self.run_dir, self.epoch)
        self.train_seconds = float(self.state.get("train_seconds", 0.0))
        self.best = float(self.state.get("best", math.inf))
        partial = self.state.get("partial") or {}
        self.skip = int(partial.get("batches", 0))
        """Batches of the next epoch trained before a stop cut it short (0: none)."""
        self._skip_seconds = float(partial.get("seconds", 0.0))
        self._others: list[keras.callbacks.Callback] = []
        self._monitor = "val_loss"
        self._t0 = 0.0
        self._lr = 0.0
        self._batches = 0

    @property
    def epoch(self) -> int:
        """Epochs completed and recorded."""
        return int(self.state.get("epoch", 0))

    def load_or_build(self, cfg: Any, build: Callable[[], Any]) -> tuple[Any, int]:
        """The model to fit and the epoch to start from."""
        if self.state:
            model = keras.saving.load_model(self.run_dir / "last.keras", compile=True, safe_mode=True)
            return model, self.epoch
        return build(), 0

    def attach(self, callbacks: list[keras.callbacks.Callback], monitor: str) -> None:
        self._others = callbacks
        self._monitor = monitor

    def on_train_begin(self, logs: dict | None = None) -> None:
        for cb in self._others:  # they reset themselves in their own on_train_begin, before ours
            saved = self.state.get("callbacks", {}).get(type(cb).__name__, {})
            for k, v in saved.items():
                setattr(cb, k, v)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.monotonic()
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches = batch + 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        seconds = self.agree(time.monotonic() - self._t0)
        self.train_seconds += seconds
        steps = int(self.params.get("steps") or 0)
        if self.model.stop_training and self._batches < steps:  # cut short by a stop
            # The weights are kept, but not the counters or the learning rate that the other callbacks
            # just updated from this partial epoch's validation.
            self.model.optimizer.learning_rate = self._lr
            save_model(self.model, self.run_dir / "last.keras", parents=False)
            self._write_state(epoch, self.state.get("callbacks", {}),
                              {"batches": self.skip + self._batches, "seconds": round(self._skip_seconds + seconds, 2)})
            return
        seconds += self._skip_seconds
        self.skip, self._skip_seconds = 0, 0.0
        row = {"epoch": epoch + 1, **{k: logs.get(k, "") for k in HISTORY_FIELDS[1:5]},
               "learning_rate": self._lr, "seconds": round(seconds, 2)}
        hist = self.run_dir / "history.csv"
        new = not hist.exists()
        with hist.open("a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
        value = logs.get(self._monitor)
        if value is not None and float(value) < self.best:
            self.best = float(value)
            save_model(self.model, self.run_dir / "model.keras", parents=False)
        save_model(self.model, self.run_dir / "last.keras", parents=False)
        self._write_state(epoch + 1, {type(cb).__name__: _counters(cb) for cb in self._others})

    def _write_state(self, epoch: int, counters: dict[str, Any], partial: dict[str, float] | None = None) -> None:
        """state.json: the resume point, written last (its checkpoints are complete when it changes)."""
        self.state = {"epoch": epoch, "best": self.best, "train_seconds": self.train_seconds, "callbacks": counters,
                      "complete": False, **({"partial": partial} if partial else {})}
        write_json(self.run_dir / "state.json", self.state, parents=False)

    def mark_complete(self) -> None:
        """Record that the run ended by itself (all epochs, or early stopping), not by a stop or a crash."""
        if self.state:
            self.state["complete"] = True
            write_json(self.run_dir / "state.json", self.state, parents=False)


class TimeBudget(keras.callbacks.Callback):
    """Ends training before an epoch that would finish past `budget_s` training seconds (as counted by
    `resume`, over every session of the run), judged by the slower of the last and the mean epoch.
    A budget of 0 never stops."""

    def __init__(self, resume: ResumeCheckpoint, budget_s: float) -> None:
        super().__init__()
        self.resume, self.budget_s = resume, budget_s
        self._before = 0.0
        self.last_epoch_s = 0.0

    def next_epoch_s(self) -> float:
        """Expected seconds of the next epoch (0 before any was recorded)."""
        mean = self.resume.train_seconds / self.resume.epoch if self.resume.epoch else 0.0
        return max(self.last_epoch_s, mean)

    def spent(self) -> bool:
        """True when another epoch would end past the budget."""
        return self.budget_s > 0 and self.resume.train_seconds + self.next_epoch_s() > self.budget_s

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._before = self.resume.train_seconds

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.last_epoch_s = self.resume.train_seconds - self._before
        if not self.model.stop_training and self.spent():
            log.info("time budget: %.0f of %.0f s used, the next epoch would take about %.0f s; stopping",
                     self.resume.train_seconds, self.budget_s, self.next_epoch_s())
            self.model.stop_training = True


def _counters(cb: keras.callbacks.Callback) -> dict[str, float]:
    return {k: float(getattr(cb, k)) for k in ("wait", "best", "cooldown_counter")
            if isinstance(getattr(cb, k, None), int | float)}
