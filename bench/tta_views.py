"""Test-time augmentation beyond the mirror image, selected on PublicTest only: the accuracy of each
view (the face as is, mirrored, zoomed in by a centre crop) and of averaging the probabilities of
several views (N views cost N times the classification).

    python bench/tta_views.py models/default.keras
    git show 401b7b8:models/default.keras > /tmp/stage1.keras && python bench/tta_views.py /tmp/stage1.keras
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)
import numpy as np  # noqa: E402

from bench.common import FER_ZIP, public_test, public_test_line  # noqa: E402

ZOOMS = (1.05, 1.1, 1.15, 1.2, 1.25)


def zoomed(faces: np.ndarray, factor: float) -> np.ndarray:
    """The faces [N, 48, 48] enlarged by `factor` and cropped back to their centre 48x48."""
    import cv2

    side = round(48 * factor)
    off = (side - 48) // 2
    return np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_LINEAR)[off:off + 48, off:off + 48]
                     for f in faces])


def main() -> None:
    from fer.evaluation import predict_scores
    from fer.modelio import load_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, default=FER_ZIP)
    args = p.parse_args()
    x, y = public_test(args.data)
    model = load_model(args.model)

    views = {"as is": x, "mirrored": x[:, :, ::-1]}
    for z in ZOOMS:
        views[f"zoom {z}"] = zoomed(x, z)
        views[f"mirrored zoom {z}"] = zoomed(x[:, :, ::-1], z)
    scores = {name: predict_scores(model, v) for name, v in views.items()}

    def show(name: str, names: list[str]) -> None:
        line = public_test_line(y, np.mean([scores[n] for n in names], axis=0))
        print(f"{name:<40} views {len(names):>2}  {line}", flush=True)

    for name in views:
        show(name, [name])
    show("as is + mirrored", ["as is", "mirrored"])
    for z in ZOOMS:
        show(f"zoomed {z} + mirrored zoomed {z}", [f"zoom {z}", f"mirrored zoom {z}"])
    for z in ZOOMS:
        show(f"as is + mirrored + both zoomed {z}", ["as is", "mirrored", f"zoom {z}", f"mirrored zoom {z}"])
    show("all", list(views))


if __name__ == "__main__":
    main()
