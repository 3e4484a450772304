"""What a model card's prediction settings cost per classification. Three classifiers on the same
network are timed in alternation (A, B, C, A, B, C, ...), so that the machine's drift hits all alike:
as the card says (zoom, prior correction, flip averaging), the same without the prior correction, and
the bare network (faces as cropped, no correction).

    python bench/card_cost.py models/default.keras [--repeat 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)
import numpy as np  # noqa: E402


def main() -> None:
    from fer.inference import Classifier

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--repeat", type=int, default=300)
    args = p.parse_args()
    card = Classifier.from_file(args.model)
    variants = {
        f"card (zoom {card.zoom}, correction {'on' if card.prior_correction else 'none'})": card,
        "no correction": Classifier(card.model, tta_flip=card.tta_flip, zoom=card.zoom),
        "bare (zoom 1.0, no correction)": Classifier(card.model, tta_flip=card.tta_flip),
    }
    rng = np.random.default_rng(0)
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
        print(f"batch {batch}: " + ", ".join(f"{name} median {np.median(ms):.2f} ms" for name, ms in times.items()),
              flush=True)


if __name__ == "__main__":
    main()
