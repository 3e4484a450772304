"""Shifted views chosen on the validation split only (PublicTest for the official split): each model
scored with the card settings (mirror averaging, zoom, prior correction from its run's training
labels) and its faces also moved SHIFT pixels up, down, left and right (`Classifier(shift=...)`), for
each SHIFT. The test split is never read. The last line names the (model, shift) with the most faces
right (ties: the smaller shift, then the model named first). A run's `average.keras` is described by
the run's card (`model.json` beside it).

    python bench/shift_views.py models/default.keras runs/one-stage-avg/average.keras --shifts 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)
import numpy as np  # noqa: E402


def main() -> None:
    from fer.evaluation import evaluate
    from fer.export import TrainingData, source_model, training_prior_correction
    from fer.modelio import ModelError, load_card, load_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", type=Path, help="model files (with their cards) or run folders")
    p.add_argument("--shifts", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--zoom", type=float, default=1.05)
    p.add_argument("--no-tta", action="store_true", help="one view per shift instead of the face and its mirror")
    args = p.parse_args()
    best: tuple[int, int, int, str] | None = None  # (-right, shift, order, model)
    for order, src in enumerate(args.models):
        path = source_model(src)
        card = load_card(path) or load_card(path.with_name("model.keras"))  # a run's average.keras: the run's card
        if card is None:
            raise ModelError(f"{path}: no model card beside it (nor a run's model.json)")
        data = TrainingData(card)
        _, ds, split = data.loaded
        correction = training_prior_correction(data)
        model = load_model(path)
        for shift in args.shifts:
            rep = evaluate(model, ds.images[split.val], ds.labels[split.val], split="validation",
                           tta_flip=not args.no_tta, zoom=args.zoom, prior_correction=correction, shift=shift)
            right = int(np.rint(rep.accuracy * rep.n))
            print(f"{str(src):<45} shift {shift}  validation {right:>5} of {rep.n}  accuracy {rep.accuracy:.4f}  "
                  f"macro F1 {rep.macro_f1:.4f}", flush=True)
            if best is None or (-right, shift, order) < best[:3]:
                best = (-right, shift, order, str(src))
    if best is not None:
        print(f"most right: {best[3]} shift {best[1]} ({-best[0]} faces)")


if __name__ == "__main__":
    main()
