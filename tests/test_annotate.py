"""fer.media.annotate's label placement (issue 39, item 15): no label covers another face."""

import numpy as np
import pytest

from fer.labels import COLORS, LABELS
from fer.media.annotate import _rect, annotate, numbered_boxes, place_label
from fer.model.inference import FacePrediction
from fer.vision.boxes import FaceBox


def _hit(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(r: tuple, image: tuple[int, int]) -> bool:
    return 0 <= r[0] and 0 <= r[1] and r[2] <= image[0] and r[3] <= image[1]


def test_a_lone_face_gets_its_label_above_else_below_else_inside() -> None:
    assert place_label((50, 10), (20, 30, 60, 70), (200, 200)) == (20, 20, 70, 30)  # above
    assert place_label((50, 10), (20, 0, 60, 40), (200, 200)) == (20, 40, 70, 50)  # at the top edge: below
    assert place_label((50, 10), (20, 0, 60, 100), (200, 100)) == (20, 0, 70, 10)  # filling the height: inside
    assert place_label((50, 10), (180, 30, 200, 70), (200, 200)) == (150, 20, 200, 30)  # kept in the image


def test_the_issue_case_a_label_above_would_cover_the_next_head() -> None:
    """Face 1's label, wider than its box, would run over face 2 (higher up, close to its right): it moves."""
    face1, face2 = (100, 120, 160, 180), (170, 60, 250, 140)
    label = place_label((120, 16), face1, (400, 300), faces=[face2])
    assert not _hit(label, face2) and _inside(label, (400, 300))
    assert label == (100, 180, 220, 196)  # below face 1, its next preferred place


def test_labels_shift_sideways_when_above_below_and_inside_are_taken() -> None:
    box = (100, 50, 140, 90)
    blockers = [(90, 30, 200, 49), (90, 91, 200, 120), (141, 50, 200, 90)]  # above, below, right of the box
    label = place_label((60, 12), box, (300, 200), faces=blockers)
    assert not any(_hit(label, b) for b in blockers)
    assert label[1] in (38, 90, 50)  # still on one of the three rows, moved left
    assert label[0] < 100


def brute_force_free(size: tuple[int, int], image: tuple[int, int], obstacles: list[tuple]) -> bool:
    lw, lh = size
    return any(not any(_hit((x, y, x + lw, y + lh), o) for o in obstacles)
               for y in range(image[1] - lh + 1) for x in range(image[0] - lw + 1))


@pytest.mark.parametrize("seed", range(40))
def test_no_label_covers_another_face_or_label_when_a_free_place_exists(seed: int) -> None:
    """Random crowded images: whenever some place in the image is free of the other faces and the labels
    placed before (checked pixel by pixel), the label is put in such a place."""
    rng = np.random.default_rng(seed)
    image = (int(rng.integers(60, 120)), int(rng.integers(50, 100)))
    boxes: list[tuple] = []
    for _ in range(int(rng.integers(2, 7))):
        s = int(rng.integers(10, 25))
        x, y = int(rng.integers(0, image[0] - s)), int(rng.integers(0, image[1] - s))
        if not any(_hit((x, y, x + s, y + s), b) for b in boxes):
            boxes.append((x, y, x + s, y + s))
    taken: list[tuple] = []
    for k, box in enumerate(boxes):
        size = (int(rng.integers(15, 40)), int(rng.integers(6, 12)))
        others = boxes[:k] + boxes[k + 1:]
        label = place_label(size, box, image, others, taken)
        assert _inside(label, image) and (label[2] - label[0], label[3] - label[1]) == size
        if brute_force_free(size, image, others + taken):
            assert not any(_hit(label, o) for o in others + taken)
        elif brute_force_free(size, image, others):
            assert not any(_hit(label, o) for o in others)
        taken.append(label)


def _face(label: str, box: FaceBox) -> FacePrediction:
    scores = [0.02] * 7
    scores[LABELS.index(label)] = 0.88
    return FacePrediction(box, tuple(scores))


def test_a_drawn_label_leaves_the_other_face_untouched() -> None:
    """On the image: nothing of face 1's label lands inside face 2's box (the issue's '1 · Happy' over face 2)."""
    img = np.zeros((300, 400, 3), np.uint8)
    faces = [_face("happy", FaceBox(100, 120, 60, 60)), _face("sad", FaceBox(175, 60, 80, 80))]
    out = annotate(img, faces, numbers=[1, 2])
    inner = out[63:137, 178:252]  # face 2's box without its outline
    assert not (inner == COLORS["happy"]).all(axis=2).any()
    assert (out == COLORS["happy"]).all(axis=2).sum() > 60 * 4  # face 1's box and label are drawn


def test_rotated_boxes_count_by_their_corners() -> None:
    box = FaceBox(100, 100, 100, 100, angle=45.0)
    x0, y0, x1, y1 = _rect(box)
    assert x0 < 100 and y0 < 100 and x1 > 200 and y1 > 200


def test_numbered_preview_numbers_every_face_and_marks_the_chosen_one() -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    boxes = [FaceBox(40, 100, 80, 80), FaceBox(220, 100, 80, 80)]
    out = numbered_boxes(img, boxes, chosen=0)
    yellow, grey = (255, 200, 0), (200, 200, 200)
    assert tuple(out[140, 40]) == yellow and tuple(out[140, 220]) == grey
    # each number sits on a label in its box's colour, above its box
    assert (out[60:100, 40:120] == yellow).all(axis=2).sum() > 50
    assert (out[60:100, 220:300] == grey).all(axis=2).sum() > 50


def test_preview_numbers_are_sized_for_the_width_the_photo_is_shown_at() -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    boxes = [FaceBox(200, 200, 80, 80)]

    def label_rows(out: np.ndarray) -> int:
        return int(((out[:200] == (255, 200, 0)).all(axis=2).any(axis=1)).sum())

    default, small = numbered_boxes(img, boxes, 0), numbered_boxes(img, boxes, 0, shown_width=300)
    assert label_rows(small) > 1.5 * label_rows(default)  # shown at 300 px, not 560: larger numbers
