"""How often a class activation map comes out blank for the emotion a network is surest of, by method
(`fer.model.explain.CAM_METHODS`): the faces of the sample photos and the first PublicTest faces of FER2013, each
shipped network (the webcam's, and each of the default's). A blank map is what How it works shows as "no region
pushes the network toward this emotion". Also the correlation of the top and the runner-up emotion's maps (near 1:
the two maps are the same picture) and of the trained and a re-initialised network's maps (Adebayo et al., 2018).

    python -m bench.cam_blank [--data PATH (default: $FER_DATA)] [--faces 150] [--json] [model.keras ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.common import FER_ZIP, PHOTOS, emit, machine
from fer.paths import DEFAULT_MODEL, WEBCAM_MODEL


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")


def main() -> None:
    from ui.warmup import import_webrtc_before_tensorflow

    import_webrtc_before_tensorflow()
    import keras

    from fer.data.dataset import load_dataset
    from fer.model.explain import CAM_METHODS, Explainer
    from fer.model.inference import Classifier
    from fer.vision.detection import Detector
    from fer.vision.preprocessing import crop_faces, decode_image, to_gray

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", type=Path, nargs="*",
                   default=[WEBCAM_MODEL, DEFAULT_MODEL])
    p.add_argument("--data", type=Path, default=FER_ZIP, help="FER2013 (fer2013.csv, its zip or folder)")
    p.add_argument("--faces", type=int, default=150, help="PublicTest faces, after the sample photos' faces")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    detector = Detector()
    crops = []
    for photo in sorted(PHOTOS.glob("*.jp*g")):
        gray = to_gray(decode_image(photo.read_bytes()))
        crops.append(crop_faces(gray, detector.detect(gray)))
    ds = load_dataset(args.data)
    crops = np.concatenate([*crops, ds.images[np.flatnonzero(ds.usage == "PublicTest")[:args.faces]]])
    rows, table = [], []
    for path in args.models:
        clf = Classifier.from_file(path)
        faces = clf.network_input(crops)  # as How it works feeds them: zoomed as the card says
        for member in range(max(1, Explainer(clf.model).members)):
            ex = Explainer(clf.model, member=member)
            keras.utils.set_random_seed(0)
            rnd = Explainer(keras.models.clone_model(ex.model))
            for method in CAM_METHODS:
                blank = sure_blank = sure = 0
                classes, randomised = [], []
                for x in faces:
                    scores = ex.walk(x).scores
                    first, second = (int(i) for i in np.argsort(scores)[::-1][:2])
                    top = ex.grad_cam(x, first, method)
                    blank += top.empty
                    sure += bool(scores[first] > 0.9)
                    sure_blank += bool(scores[first] > 0.9 and top.empty)
                    classes.append(_corr(top.heatmap, ex.grad_cam(x, second, method).heatmap))
                    randomised.append(_corr(top.heatmap, rnd.grad_cam(x, first, method).heatmap))
                row = {"model": path.name, "member": member, "method": method, "faces": len(faces),
                       "blank_top": blank, "sure_faces": sure, "sure_blank_top": sure_blank,
                       "corr_top_runner_up_median": round(float(np.nanmedian(classes)), 2),
                       "corr_top_runner_up_max": round(float(np.nanmax(classes)), 2),
                       "corr_randomised_median": round(float(np.nanmedian(randomised)), 2),
                       "corr_randomised_max": round(float(np.nanmax(randomised)), 2)}
                rows.append(row)
                table.append([path.name, member, method, f"{blank}/{len(faces)}", f"{sure_blank}/{sure}",
                              row["corr_top_runner_up_median"], row["corr_top_runner_up_max"],
                              row["corr_randomised_median"], row["corr_randomised_max"]])
    emit({"rows": rows, "machine": machine()}, args.json, table,
         ["model", "member", "method", "blank top", "blank top (p > 0.9)", "corr 2nd med", "corr 2nd max",
          "corr random med", "corr random max"])


if __name__ == "__main__":
    main()
