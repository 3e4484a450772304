"""Geometry for in-plane rotated faces: rotated copies of an image, boxes mapped back, NMS, upright crops.

Sign convention (image coordinates, y pointing down): a positive angle is a clockwise turn on
screen, as in `FaceBox.corners()`. A face turned clockwise by `a` degrees is found by turning the
image counter-clockwise by `a` (`cv2.getRotationMatrix2D(centre, a, ...)`: OpenCV's positive angle
is counter-clockwise on screen), and is reported with `FaceBox.angle == a`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer.vision.boxes import FaceBox


@dataclass(frozen=True)
class Rotated:
    """An image turned counter-clockwise by `angle` degrees (and scaled) onto a canvas that holds all of it."""

    image: np.ndarray
    angle: float
    scale: float
    inverse: np.ndarray
    """2x3 affine map from the rotated canvas back to the original image's pixels."""

    def box_back(self, x: float, y: float, w: float, h: float) -> FaceBox:
        """A box found upright on the canvas, as a box turned by `angle` in the original image."""
        cx, cy = self.inverse @ np.array([x + w / 2, y + h / 2, 1.0])
        bw, bh = w / self.scale, h / self.scale
        return FaceBox(round(cx - bw / 2), round(cy - bh / 2), round(bw), round(bh), float(self.angle))


def rotate_image(gray: np.ndarray, angle: float, scale: float = 1.0) -> Rotated:
    """Turn `gray` counter-clockwise by `angle` degrees around its centre, scaled by `scale`.

    The image is resized first (area averaging) and then turned onto a canvas that grows so no
    pixel is lost; the corners it adds repeat the border pixels (a black wedge would add strong
    straight edges where the cascade could see faces).
    """
    h, w = gray.shape[:2]
    small = gray
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)
    sh, sw = small.shape[:2]
    turn = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    nw, nh = int(np.ceil(sw * cos + sh * sin)), int(np.ceil(sw * sin + sh * cos))
    turn[0, 2] += nw / 2 - sw / 2
    turn[1, 2] += nh / 2 - sh / 2
    img = cv2.warpAffine(small, turn, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    resize = np.array([[sw / w, 0, 0], [0, sh / h, 0], [0, 0, 1.0]])
    full = (np.vstack([turn, [0, 0, 1.0]]) @ resize)[:2]
    return Rotated(img, float(angle), float(sw / w), cv2.invertAffineTransform(full))


def _rect(box: FaceBox) -> tuple[tuple[float, float], tuple[float, float], float]:
    return (box.center, (float(box.w), float(box.h)), float(box.angle))


def overlap(a: FaceBox, b: FaceBox) -> float:
    """Area shared by two (possibly rotated) boxes over the smaller box's area, 0..1."""
    smaller = min(a.w * a.h, b.w * b.h)
    if smaller <= 0:
        return 0.0
    kind, pts = cv2.rotatedRectangleIntersection(_rect(a), _rect(b))
    if kind == cv2.INTERSECT_NONE or pts is None or len(pts) < 3:
        return 0.0
    hull = cv2.convexHull(pts.astype(np.float32))
    return float(min(1.0, cv2.contourArea(hull) / smaller))


@dataclass(frozen=True)
class Candidate:
    """One raw detection before merging: its box, a strength and a rank (lower wins ties of strength)."""

    box: FaceBox
    score: float
    rank: int = 0
    """0: frontal cascade on the upright image, 1: frontal on a rotated copy, 2: profile cascade."""


def merge(candidates: list[Candidate], threshold: float = 0.4) -> list[Candidate]:
    """Non-maximum suppression over rotated boxes.

    Frontal detections beat profile ones; among frontal ones the strongest wins and the upright
    pass wins ties. Detections that overlap a kept box by more than `threshold` (of the smaller
    box) are merged into it; the kept box's angle becomes the score-weighted mean angle of the
    frontal detections merged into it, which lands between the retry angles for a face turned
    between them.
    """
    order = sorted(candidates, key=lambda c: (c.rank == 2, -c.score, c.rank))
    kept: list[tuple[Candidate, list[Candidate]]] = []
    for c in order:
        for k, group in kept:
            if overlap(k.box, c.box) > threshold:
                group.append(c)
                break
        else:
            kept.append((c, [c]))
    out = []
    for k, group in kept:
        frontal = [g for g in group if g.rank < 2 and abs(g.box.angle - k.box.angle) <= 30]
        if k.rank < 2 and len(frontal) > 1:
            weights = np.array([max(g.score, 1e-3) for g in frontal])
            angle = round(float(np.average([g.box.angle for g in frontal], weights=weights)), 1)
            b = k.box
            k = Candidate(FaceBox(b.x, b.y, b.w, b.h, angle), float(sum(g.score for g in group)), k.rank)
        out.append(k)
    return out


def upright_crop(gray: np.ndarray, box: FaceBox, margin: float, size: int) -> np.ndarray:
    """The face under a rotated `box` turned upright, grown by `margin`, as a size x size uint8 image."""
    bw, bh = box.w * (1 + 2 * margin), box.h * (1 + 2 * margin)
    if bw < 1 or bh < 1:
        return np.zeros((size, size), np.uint8)
    cx, cy = box.center
    m = cv2.getRotationMatrix2D((cx, cy), box.angle, 1.0)  # counter-clockwise by angle: undoes the face's turn
    m[0, 2] += bw / 2 - cx
    m[1, 2] += bh / 2 - cy
    out_w, out_h = max(1, round(bw)), max(1, round(bh))
    patch = cv2.warpAffine(gray, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if min(out_w, out_h) >= size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)
