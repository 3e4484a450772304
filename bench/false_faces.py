"""Faces found on every photo of ../shared/photos with and without the second-cascade check.

    python -m bench.false_faces [--json]

Each photo goes through the images page's path (fer.media.photo.analyse_photo's decoding, then
Detector.detect) in every detection mode, with `verify_neighbors` 0 (no check) and 12 (the
default). The README of ../shared/photos says how many real faces each photo holds (obama_partial_face:
a face cut by the border, which no mode finds); `lost` counts real faces the check dropped
(boxes found without the check whose centre lies in no box found with it).
"""

from __future__ import annotations

import argparse

from bench.common import PHOTOS, emit, machine
from fer.vision.boxes import FaceBox
from fer.vision.detection import DETECT_MODES, Detector, DetectorConfig
from fer.vision.preprocessing import decode_reduced, to_gray

REAL = {"32bit.png": 1, "biden.jpg": 1, "obama-1080p.jpg": 1, "obama-240p.jpg": 1, "obama.jpg": 1,
        "obama2.jpg": 1, "obama_and_biden.jpg": 2, "obama_partial_face.jpg": 1}
"""Real faces per photo (../shared/photos/README.md; obama_and_biden's girl looking down is not counted)."""


def inside(box: FaceBox, boxes: list[FaceBox]) -> bool:
    cx, cy = box.center
    return any(b.x <= cx < b.x + b.w and b.y <= cy < b.y + b.h for b in boxes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for name, real in REAL.items():
        data = (PHOTOS / name).read_bytes()
        for mode in DETECT_MODES:
            found = {}
            for verify in (0, 12):
                det = Detector(DetectorConfig(mode=mode, verify_neighbors=verify))
                img = decode_reduced(data, name, det.config.max_side)
                found[verify] = det.detect(to_gray(img.rgb), img.scale)
            lost = [b for b in found[0] if not inside(b, found[12])]
            rows.append({"photo": name, "mode": mode, "real": real, "unchecked": len(found[0]),
                         "checked": len(found[12]), "dropped": len(lost)})
    if args.json:
        emit({"machine": machine(), "rows": rows}, True)
        return 0
    print(f"{'photo':<24}{'mode':<9}{'real':>5}{'unchecked':>10}{'checked':>9}{'dropped':>9}")
    for r in rows:
        print(f"{r['photo']:<24}{r['mode']:<9}{r['real']:>5}{r['unchecked']:>10}{r['checked']:>9}{r['dropped']:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
