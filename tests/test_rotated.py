"""Tilted and side faces: detection modes, boxes mapped back, de-rotated crops, NMS (issue 7)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from fer.cli.main import build_parser
from fer.vision.boxes import FaceBox
from fer.vision.detection import DETECT_MODES, Detector, DetectorConfig
from fer.vision.preprocessing import MODEL_SIZE, crop_face, crop_faces
from fer.vision.rotation import Candidate, merge, overlap, rotate_image
from tests.helpers import PHOTOS


def _photo(name: str = "obama.jpg", side: int = 560) -> np.ndarray:
    g = cv2.imread(str(PHOTOS / name), cv2.IMREAD_GRAYSCALE)
    f = min(1.0, side / max(g.shape))
    return cv2.resize(g, (round(g.shape[1] * f), round(g.shape[0] * f)), interpolation=cv2.INTER_AREA)


def _turn(gray: np.ndarray, angle: float, face: FaceBox) -> tuple[np.ndarray, FaceBox]:
    """The photo turned clockwise (on screen) by `angle` degrees, same size, and its face turned with it."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)  # OpenCV: positive = counter-clockwise
    img = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    cx, cy = m @ np.array([*face.center, 1.0])
    return img, FaceBox(round(cx - face.w / 2), round(cy - face.h / 2), face.w, face.h, angle)


def _inside(point: tuple[float, float], box: FaceBox) -> bool:
    return cv2.pointPolygonTest(box.corners().astype(np.float32), point, False) >= 0


@pytest.fixture(scope="module")
def upright() -> tuple[np.ndarray, FaceBox]:
    gray = _photo()
    faces = Detector(DetectorConfig(mode="upright")).detect(gray)
    assert len(faces) == 1
    return gray, faces[0]


def test_modes_and_config() -> None:
    assert DETECT_MODES == ("upright", "rotated", "all")
    assert DetectorConfig().mode in DETECT_MODES
    with pytest.raises(ValueError, match="detection mode"):
        Detector(DetectorConfig(mode="sideways"))
    with pytest.raises(ValueError, match="angles"):
        Detector(DetectorConfig(mode="rotated", angles=(0.0, 20.0)))


def test_corners_turn_clockwise_for_positive_angle() -> None:
    # y points down: a box turned clockwise has its top edge going down to the right
    tl, tr, br, bl = FaceBox(100, 100, 40, 40, 30.0).corners()
    assert tr[1] > tl[1] and br[0] < tr[0]
    tl, tr, _, _ = FaceBox(100, 100, 40, 40, -30.0).corners()
    assert tr[1] < tl[1]


@pytest.mark.parametrize("angle", [30.0, -30.0])
def test_face_turned_30_degrees_found_only_with_rotated_mode(upright: tuple[np.ndarray, FaceBox],
                                                              angle: float) -> None:
    gray, face = upright
    img, truth = _turn(gray, angle, face)
    assert Detector(DetectorConfig(mode="upright")).detect(img) == []
    found = Detector(DetectorConfig(mode="rotated")).detect(img)
    assert len(found) == 1
    box = found[0]
    assert _inside(box.center, truth)
    assert np.sign(box.angle) == np.sign(angle) and abs(box.angle - angle) <= 15
    # the drawn box follows the face: its corners lie near the true turned box's corners
    assert np.abs(box.corners() - truth.corners()).max() < 0.25 * face.w
    # boxes map back inside the image
    h, w = img.shape
    tol = 0.1 * box.w
    assert (box.corners() >= -tol).all() and (box.corners()[:, 0] <= w + tol).all()
    assert (box.corners()[:, 1] <= h + tol).all()


def test_all_mode_finds_the_turned_face_too(upright: tuple[np.ndarray, FaceBox]) -> None:
    gray, face = upright
    img, truth = _turn(gray, 30.0, face)
    found = Detector(DetectorConfig(mode="all")).detect(img)
    assert len(found) == 1 and _inside(found[0].center, truth)


def test_boxes_near_the_border_map_back_inside_the_image() -> None:
    gray = _photo("obama-240p.jpg")  # 427x240, the face near the top edge
    face = Detector(DetectorConfig(mode="upright")).detect(gray)[0]
    img, truth = _turn(gray, -30.0, face)
    found = Detector(DetectorConfig(mode="rotated")).detect(img)
    assert [_inside(b.center, truth) for b in found] == [True]
    h, w = img.shape
    c = found[0].corners()
    tol = 0.15 * found[0].w
    assert c[:, 0].min() >= -tol and c[:, 1].min() >= -tol and c[:, 0].max() <= w + tol and c[:, 1].max() <= h + tol


def test_derotated_crop_matches_the_upright_crop(upright: tuple[np.ndarray, FaceBox]) -> None:
    gray, face = upright
    img, _ = _turn(gray, 30.0, face)
    box = Detector(DetectorConfig(mode="rotated")).detect(img)[0]
    turned = crop_face(img, box)
    straight = crop_face(gray, face)
    assert turned.shape == straight.shape == (MODEL_SIZE, MODEL_SIZE) and turned.dtype == np.uint8
    corr = np.corrcoef(turned.ravel().astype(float), straight.ravel().astype(float))[0, 1]
    assert corr > 0.8
    # the same crop without de-rotation (axis-aligned, like angle 0) matches much worse
    flat = crop_face(img, FaceBox(box.x, box.y, box.w, box.h, 0.0))
    assert corr > np.corrcoef(flat.ravel().astype(float), straight.ravel().astype(float))[0, 1] + 0.1
    assert crop_faces(img, [box, face], margin=0.1).shape == (2, MODEL_SIZE, MODEL_SIZE)


def test_nms_merges_one_face_found_at_several_angles() -> None:
    cands = [Candidate(FaceBox(100, 100, 80, 80, 0.0), 8.0, 0),
             Candidate(FaceBox(104, 98, 76, 76, 20.0), 30.0, 1),
             Candidate(FaceBox(97, 103, 84, 84, 40.0), 10.0, 1),
             Candidate(FaceBox(102, 100, 78, 78, 0.0), 20.0, 2),  # profile: never beats a frontal box
             Candidate(FaceBox(300, 90, 70, 70, -20.0), 12.0, 1)]
    kept = merge(cands)
    assert len(kept) == 2
    first = next(k for k in kept if k.box.x < 200)
    assert first.box.xywh == (104, 98, 76, 76)  # the strongest frontal detection
    assert 0 < first.box.angle < 40  # mean of the merged angles, weighted by strength
    assert next(k for k in kept if k.box.x > 200).box.angle == -20.0
    assert overlap(cands[0].box, cands[4].box) == 0.0


def test_detect_merges_duplicates_of_a_slightly_tilted_face(upright: tuple[np.ndarray, FaceBox]) -> None:
    gray, face = upright
    img, truth = _turn(gray, 12.0, face)  # found by the upright pass and by the +20 degree pass
    found = Detector(DetectorConfig(mode="all")).detect(img)
    assert len(found) == 1 and _inside(found[0].center, truth)


def test_rotate_image_maps_boxes_back() -> None:
    gray = np.zeros((200, 300), np.uint8)
    turned = rotate_image(gray, 30.0, 0.5)
    # the whole image fits on the canvas, and the canvas centre maps to the image centre
    ch, cw = turned.image.shape
    assert cw >= 0.5 * (300 * np.cos(np.pi / 6) + 200 * np.sin(np.pi / 6)) - 1
    box = turned.box_back(cw / 2 - 10, ch / 2 - 10, 20, 20)
    assert box.center == pytest.approx((150, 100), abs=1.0) and box.w == 40 and box.angle == 30.0


def test_detector_is_thread_safe(upright: tuple[np.ndarray, FaceBox]) -> None:
    gray, face = upright
    img, _ = _turn(gray, -30.0, face)
    det = Detector(DetectorConfig(mode="rotated"))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(det.detect, [img, img, img]))
    assert results[0] == results[1] == results[2] and len(results[0]) == 1


def test_cli_predict_takes_detect() -> None:
    p = build_parser()
    assert p.parse_args(["predict", "x.jpg", "--detect", "all"]).detect == "all"
    assert p.parse_args(["predict", "x.jpg"]).detect == DetectorConfig().mode
    with pytest.raises(SystemExit):
        p.parse_args(["predict", "x.jpg", "--detect", "sideways"])
