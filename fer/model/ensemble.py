"""Several trained networks as one model: their probabilities averaged, in one .keras file.

Each member keeps its own prior correction (fer.model.priors) by folding it into the bias of the layer that
computes its logits, so the ensemble averages corrected probabilities and needs no correction of its own.
Everything else a card says about predicting (mirror, zoom, shifted views) applies to the ensemble as a whole.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer.labels import NUM_CLASSES

log = logging.getLogger(__name__)

ENSEMBLE_ARCH = "ensemble"
"""The card's `arch` for an ensemble; its `members` name the files it was made of."""


class FoldError(ValueError):
    """A member's prior correction cannot be folded into its weights (no biased layer feeds its softmax)."""


def logits_layer(model: Any) -> Any:
    """The layer whose bias shifts every logit of `model` alike: the softmax Dense ("scores"), or, where the
    softmax is a bare Activation after global average pooling, the biased convolution before the pooling."""
    import keras

    out = model.layers[-1]
    if isinstance(out, keras.layers.Dense) and out.use_bias:
        return out
    chain = model.layers[-3:]
    if (len(chain) == 3 and isinstance(chain[0], keras.layers.Conv2D) and chain[0].use_bias
            and isinstance(chain[1], keras.layers.GlobalAveragePooling2D) and isinstance(out, keras.layers.Activation)):
        return chain[0]
    raise FoldError(f"{model.name}: no biased layer computes its logits; its prior correction cannot be folded")


def fold_prior_correction(model: Any, correction: Sequence[float]) -> None:
    """Add `correction` (log-space, one per class) to the logits' bias: the model then outputs
    softmax(logits + correction), the probabilities fer.model.priors.apply_correction would give."""
    if not len(correction):
        return
    c = np.asarray(correction, np.float32)
    if c.shape != (NUM_CLASSES,) or not np.all(np.isfinite(c)):
        raise FoldError(f"a prior correction has {NUM_CLASSES} finite numbers, not {list(correction)!r}")
    layer = logits_layer(model)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + c])


def build_ensemble(members: Sequence[Any], name: str = "ensemble") -> Any:
    """One Keras model that feeds the same 48x48x1 pixels to every member and averages their 7 probabilities.
    The members are used as they are (fold their corrections first); each is renamed member_<i>."""
    import keras

    if not members:
        raise ValueError("an ensemble needs at least one member")
    inp = keras.Input(members[0].input_shape[1:], name="pixels")
    outs = []
    for i, m in enumerate(members):
        m.name = f"member_{i}"  # unique names: nested models must not clash in the saved file
        outs.append(m(inp))
    out = outs[0] if len(outs) == 1 else keras.layers.Average(name="scores", dtype="float32")(outs)
    return keras.Model(inp, out, name=name)


def member_models(model: Any) -> list[Any]:
    """The networks an ensemble built by build_ensemble averages, in order (its nested models); [] for a
    single network."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def member_scores(model: Any, x: np.ndarray) -> np.ndarray:
    """Each member's probabilities for a batch of network inputs `x` (N, 48, 48, 1), one view, their prior
    corrections folded in: shape (members, N, 7). The ensemble's own output (one view) is their mean."""
    members = member_models(model)
    if not members:
        raise ValueError(f"model {model.name!r} is not an ensemble: it has no member networks")
    x = np.asarray(x, np.float32)
    return np.stack([np.asarray(m(x, training=False), np.float32) for m in members])


@dataclass(frozen=True)
class Choice:
    """The members an ensemble is made of, in the order given, and the accuracy of their average."""

    members: tuple[str, ...]
    accuracy: float


def subset_accuracies(scores: Mapping[str, np.ndarray], labels: np.ndarray, max_members: int | None = None
                      ) -> list[Choice]:
    """Every subset of the candidates ({name: probabilities [N, 7]}, at most `max_members` of them) and the
    accuracy of its averaged probabilities on `labels`, best first; ties go to fewer members, then to the
    subset whose names come first in the order given. Exhaustive: 2^n - 1 subsets, so meant for the handful of
    candidates one trains on this machine (a greedy choice stops too early: two fer-nets averaged can score
    under the best alone while all three score above it)."""
    names = list(scores)
    if len(names) > 16:
        raise ValueError(f"{len(names)} candidates: at most 16 (every subset is scored)")
    labels = np.asarray(labels)
    top = max_members or len(names)
    found: list[tuple[float, int, int, Choice]] = []
    for size in range(1, min(top, len(names)) + 1):
        for rank, combo in enumerate(itertools.combinations(names, size)):
            total = np.sum([scores[n] for n in combo], axis=0)  # the sum ranks as the average does
            acc = float((total.argmax(axis=1) == labels).mean())
            found.append((-acc, size, rank, Choice(combo, acc)))
    found.sort(key=lambda f: f[:3])
    return [f[3] for f in found]


@dataclass(frozen=True)
class Disagreement:
    """Two candidates on the faces where their answers differ: how many each gets right there, how many their
    average gets right, and each one's mean top probability where it is right and where it is wrong. An average
    can only gain on these faces, and only when the one that is right is also the surer one."""

    faces: int
    first_right: int
    second_right: int
    average_right: int
    first_confidence: tuple[float, float]
    second_confidence: tuple[float, float]


def disagreement(first: np.ndarray, second: np.ndarray, labels: np.ndarray) -> Disagreement:
    """`Disagreement` of two candidates' probabilities [N, 7] on `labels`."""
    labels = np.asarray(labels)
    a, b = first.argmax(axis=1), second.argmax(axis=1)
    differ = a != b
    avg = (first + second)[differ].argmax(axis=1)

    def confidence(s: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
        top, right = s[differ].max(axis=1), pred[differ] == labels[differ]
        return (float(top[right].mean()) if right.any() else float("nan"),
                float(top[~right].mean()) if (~right).any() else float("nan"))

    return Disagreement(int(differ.sum()), int((a[differ] == labels[differ]).sum()),
                        int((b[differ] == labels[differ]).sum()), int((avg == labels[differ]).sum()),
                        confidence(first, a), confidence(second, b))
