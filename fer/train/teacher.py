"""Distillation: a teacher's probabilities on the training images, computed once and stored (issue 38).

`fer teacher DEST MODEL...` averages the models' probabilities, each predicting as its card says (views and prior
correction), on one part of a dataset and writes them with the images' keys (a few hundred KB for FER2013's
28,709 training images in float16). A run with `TrainConfig.teacher` set mixes them into its training targets,
matched by key, so the student learns what the ensemble says, with one network and one view.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.data.dataset import Dataset
from fer.files import FileRefused, read_bytes
from fer.labels import NUM_CLASSES

log = logging.getLogger(__name__)

MAX_TEACHER_BYTES = 64 * 1024**2
"""A teacher file larger than this is refused before it is read (FER2013's is under 1 MB)."""


class TeacherError(ValueError):
    """A teacher file that cannot be used (missing, unreadable, malformed, for other images): the message says why."""


@dataclass(frozen=True)
class TeacherTargets:
    """Probabilities [N, 7] (rows sum to 1) of the images named by `keys` (Dataset.paths), and what made them."""

    keys: np.ndarray
    probs: np.ndarray
    members: tuple[str, ...]
    """The teacher's models, as given to `fer teacher`."""
    part: str
    """The dataset part they were computed on (a usage such as Training; empty: every image)."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:  # np.savez would add .npz to a name without it
            np.savez_compressed(fh, keys=self.keys.astype(str), probs=self.probs.astype(np.float16),
                                about=np.array(json.dumps({"members": list(self.members), "part": self.part})))


def compute_targets(models: Sequence[Path], ds: Dataset, part: str = "Training",
                    progress: Callable[[int, int], None] | None = None) -> TeacherTargets:
    """The average of `models`' probabilities (each with its card's views and prior correction) on the images
    of `part` (all of them when `part` is empty); TeacherError when the part has no image."""
    from fer.model.evaluation import predict_scores
    from fer.model.inference import card_views
    from fer.model.modelio import load_card, load_model

    idx = np.flatnonzero(ds.usage == part) if part else np.arange(len(ds))
    if len(idx) == 0:
        raise TeacherError(f"no {part or 'image'} images in {ds.source or 'the dataset'}")
    total = np.zeros((len(idx), NUM_CLASSES), np.float64)
    for i, model in enumerate(models):
        if progress:
            progress(i, len(models))
        total += predict_scores(load_model(model), ds.images[idx], **card_views(load_card(model)))
        log.info("teacher member %s done (%d of %d)", model, i + 1, len(models))
    if progress:
        progress(len(models), len(models))
    probs = (total / len(models)).astype(np.float32)
    return TeacherTargets(ds.paths[idx].astype(str), probs, tuple(str(m) for m in models), part)


def load_targets(path: Path) -> TeacherTargets:
    """A file written by `TeacherTargets.save`, read as every file the project reads (a regular file, no link,
    within MAX_TEACHER_BYTES: fer.files.read_bytes) and checked (shapes, finite probabilities summing to 1, unique
    keys); TeacherError naming what is wrong."""
    try:
        data = read_bytes(path, MAX_TEACHER_BYTES)
    except FileNotFoundError:
        raise TeacherError(f"teacher file {path} not found") from None
    except (OSError, FileRefused) as exc:
        raise TeacherError(f"teacher file {path} cannot be read: {exc}") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            keys, probs, about = f["keys"], f["probs"].astype(np.float32), json.loads(str(f["about"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TeacherError(f"teacher file {path} cannot be read: {exc}") from None
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES or keys.shape != (len(probs),):
        raise TeacherError(f"teacher file {path}: expected one key and {NUM_CLASSES} probabilities per image")
    if not np.isfinite(probs).all() or (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-2):
        raise TeacherError(f"teacher file {path}: probabilities must be finite, non-negative and sum to 1")
    if len(np.unique(keys)) != len(keys):
        raise TeacherError(f"teacher file {path}: an image appears twice")
    about = about if isinstance(about, dict) else {}
    return TeacherTargets(keys.astype(str), probs / probs.sum(axis=1, keepdims=True),
                          tuple(str(m) for m in about.get("members", [])), str(about.get("part", "")))


def mix_teacher(targets: np.ndarray, keys: np.ndarray, rows: np.ndarray, teacher: TeacherTargets,
                weight: float) -> np.ndarray:
    """`targets` [N, 7] with rows `rows` (the images trained on) moved `weight` of the way to the teacher's
    probabilities of the same keys; TeacherError when the teacher has none of them. Rows the teacher lacks keep
    their targets (counted in the log)."""
    index = {k: i for i, k in enumerate(teacher.keys.tolist())}
    where = np.array([index.get(k, -1) for k in keys[rows].astype(str).tolist()], dtype=np.int64)
    found = where >= 0
    if not found.any():
        raise TeacherError("the teacher file has none of the training images (another dataset or part?)")
    if not found.all():
        log.warning("the teacher has %d of %d training images; the others keep their labels",
                    int(found.sum()), len(found))
    out = targets.copy()
    hit = rows[found]
    out[hit] = (1.0 - weight) * out[hit] + weight * teacher.probs[where[found]]
    return out
