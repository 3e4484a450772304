"""The prior correction checked on PublicTest only: the class shares of the Training labels and of the
soft targets the model was trained on, PublicTest with and without the correction, and a check on
halves of PublicTest (5 random halvings, each half in turn): seven biases fitted by log-loss on one
half against the unfitted prior ratio, both scored on the other half.

    python bench/prior_check.py models/default.keras [--one-view]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)
import numpy as np  # noqa: E402

from bench.common import public_test_line  # noqa: E402


def log_loss(bias: np.ndarray, logp: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of labels y under log-probabilities logp shifted by bias."""
    from scipy.special import log_softmax

    return float(-log_softmax(logp + bias, axis=1)[np.arange(len(y)), y].mean())


def main() -> None:
    from scipy.optimize import minimize

    from fer.evaluation import predict_scores
    from fer.export import TrainingData
    from fer.labels import LABELS
    from fer.modelio import load_card, load_model
    from fer.priors import prior_correction
    from fer.training import training_targets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--halvings", type=int, default=5)
    p.add_argument("--one-view", action="store_true",
                   help="score each face once, without the mirror averaging the card may ask for (the webcam's view)")
    args = p.parse_args()
    card = load_card(args.model)
    if card is None:
        sys.exit(f"{args.model}: no model card (the check needs the run's data and split)")
    cfg, ds, split = TrainingData(card).loaded
    train_idx, targets = training_targets(ds, split, cfg)
    labels = np.bincount(ds.labels[train_idx], minlength=len(LABELS)) / len(train_idx)
    print("class      label share  target share")
    for name, a, b in zip(LABELS, labels, targets[train_idx].mean(axis=0), strict=True):
        print(f"{name:<10} {a:>11.3f} {b:>13.3f}")
    shift = np.array(prior_correction(ds.labels[train_idx], targets[train_idx]) or np.zeros(len(LABELS)))
    print("prior correction", np.round(shift, 4).tolist())

    x, y = ds.images[split.val], ds.labels[split.val]
    logp = np.log(np.clip(predict_scores(load_model(args.model), x, tta_flip=card.tta_flip and not args.one_view,
                                         zoom=card.zoom),
                          1e-12, 1))
    print("without correction:", public_test_line(y, np.exp(logp)))
    print("with correction:   ", public_test_line(y, np.exp(logp + shift)))

    rng = np.random.default_rng(0)
    fitted, ratio = [], []
    for _ in range(args.halvings):
        order = rng.permutation(len(y))
        halves = order[: len(y) // 2], order[len(y) // 2:]
        for fit, held in (halves, halves[::-1]):
            bias = minimize(log_loss, np.zeros(len(LABELS)), args=(logp[fit], y[fit])).x
            base = (logp[held].argmax(1) == y[held]).mean()
            fitted.append(((logp[held] + bias).argmax(1) == y[held]).mean() - base)
            ratio.append(((logp[held] + shift).argmax(1) == y[held]).mean() - base)
    print(f"held-out half, accuracy gain: fitted biases {100 * np.mean(fitted):+.2f} +- {100 * np.std(fitted):.2f} "
          f"points, prior ratio {100 * np.mean(ratio):+.2f} +- {100 * np.std(ratio):.2f} points")


if __name__ == "__main__":
    main()
