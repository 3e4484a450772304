"""Awkward uploads through the library and the CLI: a clear message or a correct result, never a traceback."""

import json

import pytest

from fer.media.photo import analyse_photo
from fer.model.inference import Classifier, predict_faces
from fer.vision.detection import Detector
from fer.vision.preprocessing import IMAGE_ERROR_KINDS, ImageError, decode_image
from tests.badfiles import ERRORS, KINDS, bad_files, hostile_images
from tests.helpers import PHOTOS, run_fer

PHOTO = (PHOTOS / "obama.jpg").read_bytes()
FILES = bad_files(PHOTO)


@pytest.fixture(scope="module")
def clf(tiny_model_path):
    return Classifier.from_file(tiny_model_path)


@pytest.mark.parametrize("name", sorted(FILES))
def test_library_gives_a_clear_error_or_a_result(name, clf):
    data = FILES[name]
    if name in ERRORS:
        with pytest.raises(ImageError, match=ERRORS[name]) as exc:
            decode_image(data, name)
        assert name in str(exc.value) and "\n" not in str(exc.value)
        assert exc.value.kind == KINDS[name] and exc.value.kind in IMAGE_ERROR_KINDS
        return
    rgb = decode_image(data, name)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype.name == "uint8"
    faces = predict_faces(rgb, Detector(), clf)
    assert faces == [] or all(len(f.scores) == 7 for f in faces)


def test_exif_rotated_photo_is_shown_upright_and_its_face_found(clf):
    rgb = decode_image(FILES["exif_rotated.jpg"])
    assert rgb.shape[0] > rgb.shape[1]  # the original portrait orientation is restored
    assert len(predict_faces(rgb, Detector(), clf)) == 1


def test_cli_processes_good_files_and_exits_2_on_bad_ones(tmp_path):
    paths = []
    for name, data in FILES.items():
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(str(p))
    good = tmp_path / "face.jpg"
    good.write_bytes(PHOTO)
    r = run_fer("predict", *paths, str(good), "--json")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(ERRORS)
    for name, words in ERRORS.items():
        assert any(name in line and words in line for line in errors), name
    results = {row["file"].rsplit("/", 1)[-1]: row for row in json.loads(r.stdout)}
    assert len(results["face.jpg"]["faces"]) == 1 and len(results["exif_rotated.jpg"]["faces"]) == 1
    assert all("error" not in results[n] for n in FILES if n not in ERRORS)


def test_cli_missing_file_and_bad_model(tmp_path):
    r = run_fer("predict", str(tmp_path / "nope.jpg"))
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr
    fake = tmp_path / "m.keras"
    fake.write_text("not a model")
    r = run_fer("predict", str(PHOTOS / "obama.jpg"), "--model", str(fake))
    assert r.returncode == 2 and "not a readable Keras model" in r.stderr and "Traceback" not in r.stderr


def test_a_too_large_image_reports_its_size_and_the_limit():
    with pytest.raises(ImageError) as exc:
        decode_image(FILES["huge.png"], "huge.png")
    assert exc.value.details == {"width": 8000, "height": 8000, "limit": 60}


HOSTILE = hostile_images()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_crafted_images_give_one_clear_message_or_a_result(name, clf):
    """Issue 30 (3): a 1x3000 PNG (cv2.error in detection), EXIF that makes Pillow raise KeyError 262 or
    struct.error, DDS content named .png (NotImplementedError) crashed instead of an ImageError."""
    data = HOSTILE[name]
    if name == "tall.png":
        res = analyse_photo(data, name, Detector(), clf)
        assert (res.width, res.height, res.faces) == (1, 3000, ())
        return
    with pytest.raises(ImageError, match="damaged or truncated") as exc:
        analyse_photo(data, name, Detector(), clf)
    assert str(exc.value).startswith(name + ": ") and exc.value.kind == "damaged"


def test_the_cli_reports_crafted_images_and_still_predicts_the_others(tmp_path):
    paths = []
    for name, data in HOSTILE.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    r = run_fer("predict", *paths, str(PHOTOS / "obama.jpg"), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert sorted(e.split(":")[1].strip() for e in errors) == sorted(set(HOSTILE) - {"tall.png"})
    results = {row["file"].rsplit("/", 1)[-1]: row for row in json.loads(r.stdout)}
    assert len(results["obama.jpg"]["faces"]) == 1 and results["tall.png"]["faces"] == []
