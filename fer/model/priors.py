"""Class priors: the correction that gives a model trained on FER+ soft targets back the shares of
the FER2013 labels it is scored against."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from fer.labels import LABELS, NUM_CLASSES


def prior_correction(labels: np.ndarray, targets: np.ndarray) -> tuple[float, ...]:
    """Per class, log(share of `labels`) - log(mean of `targets` [N, 7]): what to add to a model's
    log-probabilities so that the class prior it learned from the targets becomes the labels' prior.
    Empty when the targets are the labels themselves (one-hot), so there is nothing to correct.

    A class that is absent from either side keeps 0: its share cannot be estimated.
    """
    targets = np.asarray(targets, np.float64)
    one_hot = np.eye(NUM_CLASSES)[np.asarray(labels)]
    if len(targets) == 0 or np.allclose(targets, one_hot, atol=1e-6):
        return ()
    label_share = one_hot.mean(axis=0)
    target_share = targets.mean(axis=0)
    known = (label_share > 0) & (target_share > 0)
    out = np.zeros(NUM_CLASSES)
    out[known] = np.log(label_share[known]) - np.log(target_share[known])
    return tuple(round(float(v), 4) for v in out)


MAX_CORRECTION = 50.0
"""The largest size of one class's correction, far beyond any log(share of labels / share of targets) (a share
of one in a million is 13.8) and safe in the float32 the model computes in: 1e300 is finite in float64 but
inf in float32 (scores NaN, "Angry (nan%)")."""


def check_prior_correction(values: Sequence[float], what: str = "a prior correction") -> None:
    """ValueError unless `values` is empty or one number per class within +-MAX_CORRECTION."""
    ok = len(values) in (0, NUM_CLASSES) and all(
        isinstance(v, int | float | np.floating) and not isinstance(v, bool) and math.isfinite(v)
        and abs(v) <= MAX_CORRECTION for v in values)
    if not ok:
        shown = [v if isinstance(v, int | float) else repr(v) for v in list(values)[:NUM_CLASSES + 1]]
        raise ValueError(f"{what} is {NUM_CLASSES} finite numbers from -{MAX_CORRECTION:g} to "
                         f"{MAX_CORRECTION:g} (or none), not {shown}")


def apply_correction(scores: np.ndarray, correction: Sequence[float]) -> np.ndarray:
    """Probabilities [N, 7] with `correction` added to their logarithms and normalised again, in float32: what
    `Classifier` does after averaging its views (log of at least 1e-12, then softmax)."""
    if not len(correction):
        return np.asarray(scores, np.float32)
    z = np.log(np.maximum(np.asarray(scores, np.float64), 1e-12)) + np.asarray(correction, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def recall_offsets(scores: np.ndarray, labels: np.ndarray, floors: Mapping[int, float], step: float = 0.1,
                   limit: float = 3.0) -> tuple[float, ...]:
    """Per class, what to add to the log-probabilities `scores` [N, 7] (as `prior_correction` is added) so that
    each class `c` of `floors` is recalled on at least `floors[c]` of its `labels`: every combination of
    non-negative offsets in steps of `step` up to `limit` for those classes (the others keep 0) is tried, and
    of those that reach every floor the most accurate is kept (ties: the smallest total); empty when that adds
    nothing (the floors are met already). ValueError when none does, or a class has no image. At most three
    classes: the combinations grow as (limit / step) ** classes."""
    labels = np.asarray(labels)
    classes = sorted(floors)
    if not classes or len(classes) > 3:
        raise ValueError(f"recall floors: one to three classes, not {len(classes)}")
    for c in classes:
        if not 0 <= c < NUM_CLASSES or not 0.0 < floors[c] <= 1.0:
            raise ValueError(f"recall floor {floors[c]!r} for class {c}: a share in (0, 1] of one of "
                             f"{NUM_CLASSES} classes")
        if not (labels == c).any():
            raise ValueError(f"recall floor for class {c}: no image of that class to measure its recall on")
    logp = np.log(np.maximum(np.asarray(scores, np.float64), 1e-12))
    steps = np.round(np.arange(0.0, limit + step / 2, step), 6)
    grids = np.meshgrid(*[steps] * len(classes), indexing="ij")
    best: tuple[float, float, np.ndarray] | None = None  # (accuracy, -total, offsets)
    for combo in zip(*(g.ravel() for g in grids), strict=True):
        offsets = np.zeros(NUM_CLASSES)
        offsets[classes] = combo
        pred = (logp + offsets).argmax(axis=1)
        if any(np.mean(pred[labels == c] == c) < floors[c] for c in classes):
            continue
        key = (float(np.mean(pred == labels)), -float(sum(combo)))
        if best is None or key > best[:2]:
            best = (*key, offsets)
    if best is None:
        raise ValueError(f"no offsets up to {limit:g} bring every class to its recall floor "
                         f"({', '.join(f'{c}: {floors[c]:g}' for c in classes)})")
    return tuple(round(float(v), 4) for v in best[2]) if best[2].any() else ()


def class_floors(floors: Mapping[str, float]) -> dict[int, float]:
    """Recall floors by emotion name ({"fear": 0.45}) as `recall_offsets` takes them, by class index; ValueError
    for a name that is not one of LABELS."""
    unknown = sorted(set(floors) - set(LABELS))
    if unknown:
        raise ValueError(f"recall floors: {', '.join(unknown)} not among {', '.join(LABELS)}")
    return {LABELS.index(name): float(share) for name, share in floors.items()}


def add_offsets(correction: Sequence[float], offsets: Sequence[float]) -> tuple[float, ...]:
    """`correction` (empty: none) with `offsets` added, class by class: what the classifier adds to the
    log-probabilities once recall floors lift some classes."""
    if not len(offsets):
        return tuple(correction)
    base = correction if len(correction) else (0.0,) * len(offsets)
    return tuple(round(float(b) + float(o), 4) for b, o in zip(base, offsets, strict=True))


def missed_floors(floors: Mapping[str, float], recall: Mapping[str, float]) -> tuple[str, ...]:
    """The emotions of `floors` ({name: share}) whose `recall` ({name: recall}, e.g. a card's validation recall) is
    under their floor, in LABELS order: a run asked for them and its scores do not reach them."""
    return tuple(k for k in LABELS if k in floors and float(recall.get(k, 0.0)) < float(floors[k]))
