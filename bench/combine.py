"""Combining two checkpoints of the same architecture, selected on PublicTest only: each alone, their
averaged probabilities (an ensemble, twice the cost) and averaged weights (a "soup", same cost), with and
without test-time flip averaging.

    git show 401b7b8:models/default.keras > /tmp/stage1.keras   # the stage-1 default
    python bench/combine.py /tmp/stage1.keras models/default.keras
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013.zip"


def main() -> None:
    from fer.data import load_dataset
    from fer.evaluation import predict_scores, report_from_scores
    from fer.modelio import load_model
    from fer.splits import official_split

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("first", type=Path)
    p.add_argument("second", type=Path)
    p.add_argument("--data", type=Path, default=DATA)
    args = p.parse_args()
    ds = load_dataset(args.data)
    val = official_split(ds).val
    x, y = ds.images[val], ds.labels[val]
    a, b = load_model(args.first), load_model(args.second)

    def show(name: str, scores: object) -> None:
        r = report_from_scores(y, scores, "PublicTest")
        print(f"{name:<28} PublicTest accuracy {r.accuracy:.4f}  macro F1 {r.macro_f1:.4f}", flush=True)

    for flip in (False, True):
        tag = " + flip" if flip else ""
        sa, sb = predict_scores(a, x, tta_flip=flip), predict_scores(b, x, tta_flip=flip)
        show(f"first{tag}", sa)
        show(f"second{tag}", sb)
        show(f"ensemble{tag}", (sa + sb) / 2)
        for w in (0.3, 0.5, 0.7):
            soup = load_model(args.second)
            soup.set_weights([w * u + (1 - w) * v for u, v in zip(a.get_weights(), b.get_weights(), strict=True)])
            show(f"soup {w:.1f} first{tag}", predict_scores(soup, x, tta_flip=flip))


if __name__ == "__main__":
    main()
