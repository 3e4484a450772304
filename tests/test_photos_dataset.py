"""Photos datasets (issue 41): folders or zips of `<emotion>/*` ordinary photos, each photo's largest face found by
the app's detector and cropped as the Images page crops it; photos without a face, and bad files, listed as skipped
for the same reasons the Images page gives."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.personal import scene
from fer.data import photos
from fer.data.dataset import DataError, load_dataset, load_photos
from fer.data.photos import face_crop
from fer.data.splits import per_class_split
from fer.labels import LABELS
from fer.media.photo import analyse_photo
from fer.vision.detection import Detector
from fer.vision.preprocessing import ImageError
from tests.badfiles import KINDS, bad_files, exif_rotated_jpeg
from tests.helpers import PHOTOS


def jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


def small(name: str, width: int = 360, mirror: bool = False, angle: float = 0.0) -> bytes:
    """A fixture photo shrunk to `width` pixels (detection is fast), mirrored or turned `angle` degrees clockwise."""
    img = Image.open(PHOTOS / name).convert("RGB")
    img = img.resize((width, round(img.height * width / img.width)))
    if mirror:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if angle:
        img = img.rotate(-angle, expand=True, fillcolor=(128, 128, 128))
    return jpeg(img)


def no_face() -> bytes:
    return jpeg(Image.fromarray(scene(np.random.default_rng(0), (240, 320))))


class Recorder:
    """A classifier that records the crops the Images page gives it (fer.media.photo.analyse_photo)."""

    def __init__(self) -> None:
        self.crops: list[np.ndarray] = []

    def scores(self, crops: np.ndarray) -> np.ndarray:
        self.crops.extend(crops)
        return np.full((len(crops), len(LABELS)), 1 / len(LABELS), np.float32)


@pytest.mark.parametrize("name", ["obama.jpg", "obama-240p.jpg", "obama-1080p.jpg", "32bit.png"])
def test_the_face_is_cropped_exactly_as_the_images_page_crops_it(name):
    data = (PHOTOS / name).read_bytes()
    got = face_crop(data, name)
    rec = Recorder()
    page = analyse_photo(data, name, Detector(), rec)
    assert got.found and got.faces_found == len(page.faces) == 1
    assert got.crop.shape == (48, 48) and got.crop.dtype == np.uint8
    assert got.box == page.faces[0].box  # in the photo's full-size pixels, as the page reports it
    np.testing.assert_array_equal(got.crop, rec.crops[0])
    assert (got.width, got.height) == (page.width, page.height)


def test_of_several_faces_the_largest_is_kept():
    data = (PHOTOS / "obama_and_biden.jpg").read_bytes()
    got = face_crop(data, "two.jpg")
    page = analyse_photo(data, "two.jpg", Detector(), Recorder())
    assert got.faces_found == 2
    areas = [f.box.w * f.box.h for f in page.faces]
    assert got.box == page.faces[int(np.argmax(areas))].box
    assert got.box.w * got.box.h == max(areas) > min(areas)


def test_a_photo_without_a_face_gives_no_crop():
    got = face_crop(no_face(), "wall.jpg")
    assert not got.found and got.faces_found == 0 and got.box is None and got.crop is None
    assert (got.width, got.height) == (320, 240)


def test_a_tilted_head_is_found_by_the_turned_passes_and_cropped_upright():
    data = small("obama.jpg", angle=30)
    upright_only = face_crop(data, "tilted.jpg", photos.photo_detector("upright"))
    got = face_crop(data, "tilted.jpg")
    assert not upright_only.found  # the plain cascade misses it: the default falls back to the turned passes
    assert got.found and got.box.angle != 0
    straight = face_crop(small("obama.jpg"), "straight.jpg")
    # the de-rotated crop looks like the upright photo's crop (same face, same framing, roughly)
    corr = np.corrcoef(got.crop.ravel().astype(float), straight.crop.ravel().astype(float))[0, 1]
    assert corr > 0.6, corr


def test_exif_orientation_is_applied_before_the_face_is_looked_for():
    data = exif_rotated_jpeg((PHOTOS / "obama.jpg").read_bytes())
    stored = Image.open(io.BytesIO(data)).size
    got = face_crop(data, "sideways.jpg", photos.photo_detector("upright"))
    assert stored == (1137, 910)  # stored sideways
    assert (got.width, got.height) == (910, 1137) and got.found and got.box.angle == 0


@pytest.mark.parametrize("name", sorted(KINDS))
def test_bad_files_raise_the_images_pages_errors(name):
    files = bad_files((PHOTOS / "obama.jpg").read_bytes())
    with pytest.raises(ImageError) as err:
        face_crop(files[name], name)
    assert err.value.kind == KINDS[name]


def write_photos(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def photo_set() -> dict[str, bytes]:
    """3 emotions, 2-3 ordinary photos each, of several sizes, one tilted, one sideways with EXIF, a wall, bad files."""
    obama = (PHOTOS / "obama.jpg").read_bytes()
    bad = bad_files(obama)
    return {
        "happy/a.jpg": small("obama.jpg"), "happy/b.jpg": small("obama2.jpg", 300, mirror=True),
        "happy/c.jpg": small("obama-240p.jpg", 427),
        "sad/a.jpg": small("biden.jpg", 400), "sad/b.jpg": small("obama.jpg", 500, angle=30),
        "sad/c.png": (PHOTOS / "32bit.png").read_bytes(),
        "surprise/a.jpg": exif_rotated_jpeg(small("obama2.jpg")), "surprise/b.jpg": small("obama_and_biden.jpg", 800),
        "surprise/wall.jpg": no_face(),
        "surprise/notes.jpg": bad["notes.jpg"], "surprise/empty.jpg": bad["empty.jpg"],
        "surprise/truncated.jpg": bad["truncated.jpg"], "happy/readme.txt": b"my photos",
    }


def check_photo_set(ds) -> None:  # noqa: ANN001
    by_name = dict(zip(ds.paths.tolist(), ds.labels.tolist(), strict=True))
    key = {k.split("/", 1)[1] if k.count("/") > 1 else k: v for k, v in by_name.items()}
    assert key == {"happy/a.jpg": 3, "happy/b.jpg": 3, "happy/c.jpg": 3, "sad/a.jpg": 4, "sad/b.jpg": 4,
                   "sad/c.png": 4, "surprise/a.jpg": 5, "surprise/b.jpg": 5}
    assert ds.images.shape == (8, 48, 48) and ds.images.dtype == np.uint8
    assert set(ds.usage.tolist()) == {"Training"}
    sizes = dict(zip(key, map(tuple, ds.sizes.tolist()), strict=True))
    assert sizes["happy/c.jpg"] == (240, 427) and sizes["sad/c.png"] == (1200, 626)
    assert sizes["surprise/a.jpg"] == (round(1200 * 360 / 626), 360)  # upright, after its EXIF orientation
    skipped = {w.where.split("/", 1)[1] if w.where.count("/") > 1 else w.where: w.kind for w in ds.warnings}
    assert skipped == {"surprise/wall.jpg": "no_face", "surprise/notes.jpg": "not_image",
                       "surprise/empty.jpg": "undecodable", "surprise/truncated.jpg": "undecodable",
                       "happy/readme.txt": "not_image"}


def test_load_dataset_recognises_a_folder_of_photos(tmp_path):
    root = write_photos(tmp_path / "mine", photo_set())
    ds = load_dataset(root)
    check_photo_set(ds)
    again = load_dataset(root)  # from the cache, the same
    np.testing.assert_array_equal(again.images, ds.images)
    assert [str(w) for w in again.warnings] == [str(w) for w in ds.warnings]
    assert str(ds.warnings[0]).endswith("skipped")


def test_a_zip_of_photos_under_a_wrapping_folder_is_one_too(tmp_path):
    path = tmp_path / "mine.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in photo_set().items():
            zf.writestr(f"my photos/{rel}", data)
    check_photo_set(load_dataset(path))
    check_photo_set(load_photos(path))


def test_an_unknown_folder_names_the_photo(tmp_path):
    root = write_photos(tmp_path / "mine", {"happy/a.jpg": small("obama.jpg"), "smiling/b.jpg": small("biden.jpg")})
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert err.value.kind == "unknown_class" and err.value.details["folder"] == "smiling"


def test_photos_without_any_face_are_refused(tmp_path):
    root = write_photos(tmp_path / "mine", {"happy/a.jpg": no_face(), "sad/b.jpg": no_face()})
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert err.value.kind == "no_images"


def test_too_many_photos_are_refused_before_any_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(photos, "MAX_PHOTOS", 3)
    root = write_photos(tmp_path / "mine", {f"happy/{i}.jpg": b"never read" for i in range(4)})
    with pytest.raises(DataError) as err:
        load_dataset(root)
    assert err.value.kind == "too_many_photos" and err.value.details["limit"] == 3


def test_a_fer2013_folder_is_not_taken_for_photos(tmp_path):
    from tests.helpers import write_folder

    ds = load_dataset(write_folder(tmp_path / "fer", n_per_class=2))
    assert set(ds.usage.tolist()) == {"Training", "PublicTest", "PrivateTest"} and len(ds) == 42


def test_the_per_class_split_holds_out_some_of_every_emotion(tmp_path):
    from fer.data.dataset import Dataset

    labels = np.repeat([3, 4, 5, 0], [20, 5, 2, 1])
    n = len(labels)
    ds = Dataset(np.zeros((n, 48, 48), np.uint8), labels, np.full(n, "Training"), np.arange(n).astype(object),
                 np.full((n, 2), 48, np.int32))
    split = per_class_split(ds, 0.2, seed=1)
    count = {part: np.bincount(labels[getattr(split, part)], minlength=7).tolist() for part in ("train", "test")}
    assert count["test"] == [0, 0, 0, 4, 1, 1, 0]
    assert count["train"] == [1, 0, 0, 16, 4, 1, 0]
    assert len(split.val) == 0
    assert sorted(np.concatenate([split.train, split.test]).tolist()) == list(range(n))
    assert per_class_split(ds, 0.2, seed=1).test.tolist() == split.test.tolist()
    assert per_class_split(ds, 0.2, seed=2).test.tolist() != split.test.tolist()
