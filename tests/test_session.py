"""The webcam session's summary (fer.media.session): time per emotion, faces followed by position."""

import pytest

from fer.labels import LABELS
from fer.media.live import DEFAULT_INTERVAL_S, FrameRecord
from fer.media.session import MAX_GAP_S, follow_faces, frame_weights, summarise
from fer.model.inference import FacePrediction
from fer.vision.boxes import FaceBox


def face(x: int, label: str, p: float = 0.8) -> FacePrediction:
    rest = (1 - p) / (len(LABELS) - 1)
    return FacePrediction(FaceBox(x, 100, 80, 80), tuple(p if k == label else rest for k in LABELS))


def rec(t: float, *faces: FacePrediction) -> FrameRecord:
    return FrameRecord(t, 1_000 + t, round(30 * t) + 1, tuple(faces))


def test_weights_are_gaps_capped_and_the_last_frame_the_median() -> None:
    records = [rec(0.0), rec(0.1), rec(0.2), rec(5.0), rec(5.1)]
    assert frame_weights(records) == pytest.approx([0.1, 0.1, MAX_GAP_S, 0.1, 0.1])
    assert frame_weights([rec(3.0)]) == [DEFAULT_INTERVAL_S]
    assert frame_weights([]) == []


def test_time_per_emotion_follows_the_largest_face() -> None:
    big = FacePrediction(FaceBox(300, 100, 150, 150), face(0, "happy").scores)
    records = [rec(0.0, face(10, "sad"), big), rec(0.5, face(10, "sad"), big), rec(1.0, face(10, "sad")), rec(1.5)]
    s = summarise(records)
    assert s.analysed == 4 and s.duration_s == 2.0
    assert s.seconds_per_label["happy"] == 1.0 and s.seconds_per_label["sad"] == 0.5
    assert s.no_face_s == 0.5 and s.dominant == "happy"


def test_faces_keep_their_number_when_the_detector_lists_them_in_another_order() -> None:
    left, right = [face(10 + i, "angry") for i in range(6)], [face(400 - i, "surprise") for i in range(6)]
    records = [rec(0.1 * i, *((left[i], right[i]) if i % 2 else (right[i], left[i]))) for i in range(6)]
    tracks = follow_faces(records)
    assert len(tracks) == 2 and all(len(t) == 6 for t in tracks)
    s = summarise(records)
    assert [(f.number, f.dominant, f.frames) for f in s.faces] == [(1, "angry", 6), (2, "surprise", 6)]
    assert s.faces[0].dominant_share == 1.0
    assert s.faces[1].mean_scores[LABELS.index("surprise")] == pytest.approx(0.8)


def test_a_face_that_changes_its_mind_and_a_flicker() -> None:
    records = [rec(0.1 * i, face(100, "happy" if i < 30 else "neutral")) for i in range(40)]
    records[5] = rec(0.5, face(100, "happy"), face(500, "fear"))  # one false detection in 40 frames
    s = summarise(records)
    assert len(s.faces) == 1  # the flicker (1 frame of 40) is left out
    assert s.faces[0].dominant == "happy" and abs(s.faces[0].dominant_share - 0.75) < 0.01


def test_a_session_with_no_face() -> None:
    s = summarise([rec(0.0), rec(0.2)])
    assert s.dominant is None and s.faces == () and s.no_face_s > 0
    assert summarise([]).analysed == 0
