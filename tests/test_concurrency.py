"""One Detector and one Classifier serve every session (st.cache_resource): used from many threads at once
they give exactly the results they give one call at a time."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fer.media.photo import analyse_photo
from fer.model.inference import Classifier
from fer.vision.detection import Detector, DetectorConfig
from fer.vision.preprocessing import decode_image, to_gray
from tests.helpers import PHOTOS, ROOT

NAMES = ["obama.jpg", "biden.jpg", "obama2.jpg", "obama-240p.jpg", "obama_and_biden.jpg", "obama-1080p.jpg"]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    clf = Classifier.from_file(ROOT / "models" / "default.keras")
    clf.warm_up()
    return clf


def run_at_once(fn, args: list) -> list:  # noqa: ANN001
    """fn(arg) for every arg, each in its own thread, all released together."""
    gate = threading.Barrier(len(args))

    def call(a):  # noqa: ANN001, ANN202
        gate.wait()
        return fn(a)

    with ThreadPoolExecutor(len(args)) as pool:
        return list(pool.map(call, args))


@pytest.mark.parametrize("mode", ["upright", "rotated"])
def test_a_shared_detector_gives_the_same_boxes_from_many_threads(mode):
    grays = [to_gray(decode_image((PHOTOS / n).read_bytes())) for n in NAMES]
    det = Detector(DetectorConfig(mode=mode))
    serial = [det.detect(g) for g in grays]
    assert len(serial[0]) == 1 and len(serial[4]) == 2
    rounds = 2 if mode == "upright" else 1
    for _ in range(rounds):
        assert run_at_once(det.detect, grays * 2) == serial * 2


def test_a_shared_classifier_gives_the_same_scores_from_many_threads(classifier):
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 256, (k, 48, 48), dtype=np.uint8) for k in (1, 2, 3, 5, 8, 13, 1, 4)]
    serial = [classifier.scores(b) for b in batches]
    for got, want in zip(run_at_once(classifier.scores, batches), serial, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_whole_photos_analysed_at_once_match_one_at_a_time(classifier):
    det = Detector()
    items = [(n, (PHOTOS / n).read_bytes()) for n in NAMES]
    serial = [analyse_photo(d, n, det, classifier) for n, d in items]
    together = run_at_once(lambda item: analyse_photo(item[1], item[0], det, classifier), items)
    for a, b in zip(together, serial, strict=True):
        assert a.name == b.name and [f.box for f in a.faces] == [f.box for f in b.faces]
        assert [f.label for f in a.faces] == [f.label for f in b.faces]
        np.testing.assert_allclose([f.scores for f in a.faces], [f.scores for f in b.faces], atol=1e-5)
