"""Class priors: the correction that gives a model trained on FER+ soft targets back the shares of
the FER2013 labels it is scored against."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fer.labels import NUM_CLASSES


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


def check_prior_correction(values: Sequence[float]) -> None:
    """ValueError unless `values` is empty or one number per class within +-MAX_CORRECTION."""
    ok = len(values) in (0, NUM_CLASSES) and all(
        isinstance(v, int | float | np.floating) and not isinstance(v, bool) and math.isfinite(v)
        and abs(v) <= MAX_CORRECTION for v in values)
    if not ok:
        shown = [v if isinstance(v, int | float) else repr(v) for v in list(values)[:NUM_CLASSES + 1]]
        raise ValueError(f"a prior correction is {NUM_CLASSES} finite numbers from -{MAX_CORRECTION:g} to "
                         f"{MAX_CORRECTION:g} (or none), not {shown}")
