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

from bench.common import FER_ZIP, public_test, public_test_line  # noqa: E402


def main() -> None:
    from fer.evaluation import predict_scores
    from fer.modelio import load_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("first", type=Path)
    p.add_argument("second", type=Path)
    p.add_argument("--data", type=Path, default=FER_ZIP)
    args = p.parse_args()
    x, y = public_test(args.data)
    a, b = load_model(args.first), load_model(args.second)

    def show(name: str, scores: object) -> None:
        print(f"{name:<28} {public_test_line(y, scores)}", flush=True)

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
