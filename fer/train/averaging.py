"""Weight averaging over the tail of a run (stochastic weight averaging, Izmailov et al. 2018).

From `TrainConfig.average_from` of the schedule on, the weights at the end of each epoch join a running
mean, kept in the run folder (average.npz) so a resumed run continues it. When training ends the mean
becomes a model: its BatchNorm statistics are measured again on the training batches (the averaged
weights give other activations than any epoch's), it is saved as average.keras, and it replaces the
best checkpoint when its validation loss is lower.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fer.config import TrainConfig
from fer.model.modelio import atomic_write_bytes, save_model

log = logging.getLogger(__name__)

AVERAGE_FILE = "average.npz"
AVERAGE_MODEL = "average.keras"


@dataclass(frozen=True)
class Averaged:
    """The averaged model of a run: the epochs it averages and its validation loss (None without one)."""

    path: Path
    first_epoch: int
    last_epoch: int
    count: int
    val_loss: float | None


class WeightAverage(keras.callbacks.Callback):
    """Adds each recorded epoch's weights to a running mean once `cfg.average_from` of the schedule is done.

    `resume` (fer.train.callbacks.ResumeCheckpoint) must run before it: an epoch it did not record (cut short
    by a stop) is not averaged, and its training seconds decide where in the schedule the run is.
    """

    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: Any) -> None:
        super().__init__()
        self.cfg, self.path, self.resume = cfg, Path(run_dir) / AVERAGE_FILE, resume
        self.count, self.first_epoch, self.last_epoch = 0, 0, 0
        self.mean: list[np.ndarray] | None = None
        if resume.state and self.path.exists():
            with np.load(self.path) as z:
                self.count, self.first_epoch, self.last_epoch = (int(z[k]) for k in ("count", "first", "last"))
                self.mean = [z[f"w{i}"] for i in range(len(z.files) - 3)]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.cfg.average_from <= 0 or self.resume.epoch != epoch + 1 or self.last_epoch >= epoch + 1:
            return
        if self.cfg.schedule_done(epoch + 1, self.resume.train_seconds) < self.cfg.average_from:
            return
        weights = [np.asarray(w, np.float64) for w in self.model.get_weights()]
        self.count += 1
        if self.mean is None:
            self.mean, self.first_epoch = weights, epoch + 1
        else:
            self.mean = [m + (w - m) / self.count for m, w in zip(self.mean, weights, strict=True)]
        self.last_epoch = epoch + 1
        self._save()

    def _save(self) -> None:
        assert self.mean is not None
        buf = io.BytesIO()
        arrays = {f"w{i}": m for i, m in enumerate(self.mean)}
        np.savez(buf, count=self.count, first=self.first_epoch, last=self.last_epoch, **arrays)
        atomic_write_bytes(self.path, buf.getvalue(), parents=False)  # the run folder exists (or was deleted)

    def finish(self, model: Any, batches: Any, val_data: Any) -> Averaged | None:
        """Turn the mean into `model` (BatchNorm measured again on `batches`), save it as average.keras and
        return it with its validation loss; None when no epoch was averaged. An average.keras written after
        the last averaged epoch is loaded instead of made again."""
        if not self.count or self.mean is None:
            return None
        path = self.path.parent / AVERAGE_MODEL
        if path.exists() and path.stat().st_mtime_ns > self.path.stat().st_mtime_ns:
            model.load_weights(path)  # finished before (a second call on a finished run): the mean is unchanged
        else:
            model.set_weights([m.astype(w.dtype) for m, w in zip(self.mean, model.get_weights(), strict=True)])
            refresh_batchnorm(model, batches)
            save_model(model, path, parents=False)
        loss = None
        if val_data is not None:
            loss = float(model.evaluate(val_data, verbose=0, return_dict=True)["loss"])
        log.info("average of epochs %d-%d (%d): val_loss %s", self.first_epoch, self.last_epoch, self.count, loss)
        return Averaged(path, self.first_epoch, self.last_epoch, self.count, loss)


def refresh_batchnorm(model: Any, batches: Any) -> None:
    """Measure the BatchNorm moving statistics again: forward passes in training mode (no weight update)
    over `batches` ((x, ...) tuples), as many as a training epoch has."""
    import tensorflow as tf

    if not any(isinstance(layer, keras.layers.BatchNormalization) for layer in _all_layers(model)):
        return
    step = tf.function(lambda x: model(x, training=True))
    for batch in batches:
        step(batch[0])


def _all_layers(layer: Any) -> Any:
    """`layer` and every layer inside it, nested models included."""
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _all_layers(inner)
