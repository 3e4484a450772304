"""Does zooming into the face help on the app's own crops? PublicTest images go through the app's path:
each 48x48 image is enlarged 4x onto a canvas with a replicated border (so the cascade sees the whole
face), the default detector looks for faces, and the largest box is cropped as the app crops it
(`crop_faces`, margin 0). The faces found are classified as cropped and zoomed in by each factor
(enlarged, centre 48x48 kept); the dataset's own crops of the same images are the reference.

    python bench/app_path_zoom.py models/default.keras [--zooms 1.05 1.1] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.common import FER_ZIP, public_test_line  # noqa: E402
from bench.tta_views import zoomed  # noqa: E402

SCALE, BORDER = 4, 48


def app_crop(face: np.ndarray, detector: object) -> np.ndarray | None:
    """The app's 48x48 crop of the largest face the detector finds in the enlarged image, or None."""
    from fer.preprocessing import crop_faces

    big = cv2.resize(face, (48 * SCALE, 48 * SCALE), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.copyMakeBorder(big, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE)
    boxes = detector.detect(canvas)  # type: ignore[attr-defined]
    if not boxes:
        return None
    return crop_faces(canvas, [max(boxes, key=lambda b: b.w * b.h)])[0]


def main() -> None:
    from fer.data import load_dataset
    from fer.detection import Detector
    from fer.evaluation import predict_scores
    from fer.modelio import load_model
    from fer.splits import official_split

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, default=FER_ZIP)
    p.add_argument("--zooms", type=float, nargs="+", default=[1.05, 1.1])
    p.add_argument("--limit", type=int, default=0, help="N PublicTest images drawn at random, seed 0 (0: all)")
    args = p.parse_args()
    ds = load_dataset(args.data)
    val = official_split(ds).val
    if args.limit:
        val = np.sort(np.random.default_rng(0).choice(val, args.limit, replace=False))
    detector = Detector()
    crops = [app_crop(f, detector) for f in ds.images[val]]
    found = np.array([c is not None for c in crops])
    x_app = np.stack([c for c in crops if c is not None])
    x_own, y = ds.images[val][found], ds.labels[val][found]
    print(f"faces found: {found.sum()} of {len(val)} PublicTest images ({found.mean():.1%})", flush=True)
    model = load_model(args.model)

    def show(name: str, faces: np.ndarray) -> None:
        print(f"{name:<32} {public_test_line(y, predict_scores(model, faces))}", flush=True)

    for source, faces in (("dataset crop", x_own), ("app crop", x_app)):
        show(source, faces)
        for z in args.zooms:
            show(f"{source}, zoom {z}", zoomed(faces, z))


if __name__ == "__main__":
    main()
