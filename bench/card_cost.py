"""What a model card's prediction settings cost per classification. Classifiers on the same network
are timed in alternation (A, B, C, A, B, C, ...), so that the machine's drift hits all alike: as the
card says (flip averaging, zoom, shifted views, prior correction: photos, `predict`, `evaluate`), without
its shifted views (when it has them), with one view per
face (`Classifier.single_view`: the webcam), the same without the prior correction, and the bare
network (faces as cropped, no correction).

    python -m bench.card_cost models/default.keras [--repeat 300] [--json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.common import emit, machine


def main() -> None:
    from fer.model.inference import Classifier

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--repeat", type=int, default=300)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    card = Classifier.from_file(args.model)
    variants = {
        f"card (flip {'on' if card.tta_flip else 'off'}, zoom {card.zoom}, shift {card.shift}, "
        f"correction {'on' if card.prior_correction else 'none'})": card,
    }
    if card.shift:  # the card without its shifted views (the mirror kept if the card has it)
        variants["no shifted views"] = Classifier(card.model, tta_flip=card.tta_flip, zoom=card.zoom,
                                                  prior_correction=card.prior_correction)
    if card.tta_flip or card.shift:  # else the card's classifier already looks once
        variants["one view (webcam)"] = card.single_view()
    variants["one view, no correction"] = Classifier(card.model, zoom=card.zoom)
    variants["bare (one view, zoom 1.0, no correction)"] = Classifier(card.model)
    rng = np.random.default_rng(0)
    medians: dict[str, dict[str, float]] = {}
    for batch in (1, 3):
        faces = rng.integers(0, 255, (batch, 48, 48), dtype=np.uint8)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for clf in variants.values():
            for _ in range(10):
                clf.scores(faces)
        for _ in range(args.repeat):
            for name, clf in variants.items():
                t0 = time.perf_counter()
                clf.scores(faces)
                times[name].append((time.perf_counter() - t0) * 1000)
        medians[f"batch {batch}"] = {name: round(float(np.median(ms)), 2) for name, ms in times.items()}
    rows = [[batch, name, ms] for batch, by_name in medians.items() for name, ms in by_name.items()]
    emit({"machine": machine(), "model": str(args.model), "repeat": args.repeat, "median_ms": medians}, args.json,
         rows, ["batch", "variant", "median ms"])


if __name__ == "__main__":
    main()
