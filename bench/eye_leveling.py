"""Tilted faces: does leveling the two eyes refine the detector's angle, and steady the emotion?

    python -m bench.eye_leveling [--json] [--mode rotated] [--max-angle 30] [--step 5]

The rotated detector reports a face's tilt in the steps it searched. This tries a finer angle: OpenCV's eye
cascade (haarcascade_eye.xml) on the top 60 % of the face's upright 120-pixel crop; with two eyes found, at
least a fifth of the crop apart and within 25 degrees of level, the angle between their centres is added to
the box's. The real photos of bench.detect_rotated (true faces from the unturned photo) are turned from
-max-angle to +max-angle; for every face found it prints how well each angle follows the turn (|change of the
reported angle from the unturned photo - the turn|) and how the shipped model's answer (one view) on the
48-pixel crop moves from the unturned one (total variation distance; same top emotion). Plus the eye step's
CPU ms a face.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from bench.common import PHOTOS, emit, machine
from bench.detect_rotated import NAMES, cpu_ms, fit, inside, turn
from fer.model.inference import Classifier
from fer.paths import DEFAULT_MODEL
from fer.vision.boxes import FaceBox
from fer.vision.detection import DETECT_MODES, Detector, DetectorConfig
from fer.vision.preprocessing import decode_image, to_gray
from fer.vision.rotation import upright_crop

CROP = 120
EYES = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")


def eye_angle(gray: np.ndarray, box: FaceBox) -> float | None:
    """The tilt left in the box's upright crop (degrees, clockwise positive like FaceBox.angle), or None."""
    top = upright_crop(gray, box, 0.0, CROP)[: CROP * 6 // 10]
    found = EYES.detectMultiScale(top, 1.1, 5, minSize=(CROP // 8, CROP // 8), maxSize=(CROP // 3, CROP // 3))
    if len(found) < 2:
        return None
    two = sorted(sorted(found, key=lambda r: -r[2] * r[3])[:2], key=lambda r: r[0])
    (x1, y1, w1, h1), (x2, y2, w2, h2) = two
    dx, dy = (x2 + w2 / 2) - (x1 + w1 / 2), (y2 + h2 / 2) - (y1 + h1 / 2)
    if dx < CROP * 0.2:
        return None
    angle = float(np.degrees(np.arctan2(dy, dx)))
    return angle if abs(angle) <= 25 else None


def leveled(gray: np.ndarray, box: FaceBox) -> FaceBox:
    a = eye_angle(gray, box)
    return box if a is None else FaceBox(box.x, box.y, box.w, box.h, box.angle + a)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default="rotated", choices=DETECT_MODES)
    p.add_argument("--max-angle", type=int, default=30)
    p.add_argument("--step", type=int, default=5)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    clf = Classifier.from_file(DEFAULT_MODEL).single_view()
    detector = Detector(DetectorConfig(mode=args.mode))
    # per method: (photo, face) -> {turn: (reported angle, probabilities)}
    seen: dict[str, dict[tuple[str, int], dict[int, tuple[float, np.ndarray]]]] = {"detector": {}, "eyes": {}}
    faces = found = moved = 0
    for name in NAMES:
        g0 = fit(to_gray(decode_image((PHOTOS / name).read_bytes())))
        truth0 = Detector(DetectorConfig(min_neighbors=8)).detect(g0)
        for a in range(-args.max_angle, args.max_angle + 1, args.step):
            g, truths = turn(g0, a, truth0)
            boxes = detector.detect(g)
            for i, t in enumerate(truths):
                faces += 1
                hit = [b for b in boxes if inside(b.center, t)]
                if not hit:
                    continue
                found += 1
                for method, b in (("detector", hit[0]), ("eyes", leveled(g, hit[0]))):
                    moved += method == "eyes" and b.angle != hit[0].angle
                    probs = clf.scores(upright_crop(g, b, 0.0, 48)[None])[0]
                    seen[method].setdefault((name, i), {})[a] = (b.angle, probs)
    result: dict = {"machine": machine(), "mode": args.mode, "faces": faces, "found": found, "eyes_leveled": moved}
    table = []
    for method, per_face in seen.items():
        follow, tv, same = [], [], []
        for d in per_face.values():
            if 0 not in d:
                continue
            a0, p0 = d[0]
            for a, (angle, probs) in d.items():
                if a:
                    follow.append(abs((angle - a0) - a))
                    tv.append(0.5 * float(np.abs(probs - p0).sum()))
                    same.append(bool(probs.argmax() == p0.argmax()))
        row = {"angle_follow_mean": round(float(np.mean(follow)), 1),
               "angle_follow_median": round(float(np.median(follow)), 1),
               "tv_to_unturned": round(float(np.mean(tv)), 3), "same_emotion": round(float(np.mean(same)), 3),
               "pairs": len(tv)}
        result[method] = row
        table.append([method, *row.values()])
    g = fit(to_gray(decode_image((PHOTOS / "obama.jpg").read_bytes())))
    box = Detector().detect(g)[0]
    result["eye_step_cpu_ms"] = cpu_ms(lambda: eye_angle(g, box), 200)
    emit(result, args.json, table, ["angle", "follow mean deg", "median", "TV to unturned", "same emotion", "pairs"])
    if not args.json:
        print(f"faces found {found}/{faces}, leveled by the eyes {moved}; eye step {result['eye_step_cpu_ms']} CPU ms "
              "a face")


if __name__ == "__main__":
    main()
