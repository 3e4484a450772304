"""What the card's zoom costs per classification: the same model with faces zoomed as its card says and
as cropped (zoom 1.0), timed in alternation (A, B, A, B, ...) so that the machine's drift hits both alike.

    python bench/zoom_cost.py models/default.keras [--repeat 300]
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
    zoomed = Classifier.from_file(args.model)
    plain = Classifier(zoomed.model, tta_flip=zoomed.tta_flip)
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        faces = rng.integers(0, 255, (batch, 48, 48), dtype=np.uint8)
        times: dict[str, list[float]] = {"zoom": [], "plain": []}
        for clf in (zoomed, plain):
            for _ in range(10):
                clf.scores(faces)
        for _ in range(args.repeat):
            for key, clf in (("zoom", zoomed), ("plain", plain)):
                t0 = time.perf_counter()
                clf.scores(faces)
                times[key].append((time.perf_counter() - t0) * 1000)
        print(f"batch {batch}: zoom {zoomed.zoom} median {np.median(times['zoom']):.2f} ms, "
              f"zoom 1.0 median {np.median(times['plain']):.2f} ms", flush=True)


if __name__ == "__main__":
    main()
