"""Several networks of one architecture as one network: their weights averaged (a model soup, Wortsman et al. 2022).

Averaging weights only works for networks that grew from one start (fine-tuned or warm-restarted from the same
weights): two networks trained from different random weights compute with their units in different orders, and
their average computes nothing. Unlike an ensemble (fer.model.ensemble), the soup costs one network's time.
BatchNorm statistics do not average (the averaged weights give other activations than any member's): measure
them again (fer.train.averaging.refresh_batchnorm).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fer.labels import NUM_CLASSES

log = logging.getLogger(__name__)


class SoupError(ValueError):
    """The networks cannot be averaged: their weights differ in number or shape."""


def average_weights(members: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of each weight array over `members` (each a model's get_weights()), in float64
    summed and returned in the first member's dtypes."""
    if not members:
        raise SoupError("a soup needs at least one network")
    first = members[0]
    for i, weights in enumerate(members[1:], start=2):
        shapes = [np.shape(w) for w in weights]
        if shapes != [np.shape(w) for w in first]:
            raise SoupError(f"network {i} has other weights than network 1 ({len(shapes)} arrays against "
                            f"{len(first)}, or other shapes): only networks of one architecture average")
    return [np.mean([np.asarray(m[k], np.float64) for m in members], axis=0).astype(np.asarray(first[k]).dtype)
            for k in range(len(first))]


def average_corrections(corrections: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """The members' prior corrections (fer.model.priors) averaged, a member without one counted as zeros;
    empty when no member has one."""
    if not any(len(c) for c in corrections):
        return ()
    rows = [np.asarray(c, np.float64) if len(c) else np.zeros(NUM_CLASSES) for c in corrections]
    return tuple(round(float(v), 4) for v in np.mean(rows, axis=0))


@dataclass(frozen=True)
class SoupStep:
    """One soup the greedy choice scored: its members and score, and whether the candidate it tried was kept."""

    members: tuple[str, ...]
    score: float
    kept: bool


@dataclass(frozen=True)
class SoupChoice:
    """The greedy soup: its members in the order they joined, its score, and every step that led to it (each
    candidate alone first, then each soup tried)."""

    members: tuple[str, ...]
    score: float
    steps: tuple[SoupStep, ...]


def greedy_soup(candidates: Sequence[str], score: Callable[[tuple[str, ...]], float]) -> SoupChoice:
    """Wortsman et al.'s greedy soup: score each candidate alone (`score((name,))`), sort best first (ties in
    the order given), start from the best and add each next one when the soup's score rises (`score(members)`
    on the soup of those members)."""
    if not candidates:
        raise SoupError("a soup needs at least one candidate")
    alone = {c: score((c,)) for c in candidates}
    order = sorted(candidates, key=lambda c: -alone[c])  # stable: ties keep the given order
    members, best = (order[0],), alone[order[0]]
    steps = [SoupStep((c,), s, c == order[0]) for c, s in alone.items()]
    for c in order[1:]:
        tried = (*members, c)
        s = score(tried)
        kept = s > best
        log.info("soup %s: %.4f (%s)", " + ".join(tried), s, "kept" if kept else f"not above {best:.4f}")
        steps.append(SoupStep(tried, s, kept))
        if kept:
            members, best = tried, s
    return SoupChoice(members, best, tuple(steps))
