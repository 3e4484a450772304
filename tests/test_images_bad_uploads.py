"""The Images page given every kind of awkward upload at once (AppTest): a specific message per bad file,
a correct result for every readable one, never a traceback, and the real faces still found and labelled."""

import re
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from fer.i18n import t
from fer.labels import LABELS, display_name
from fer.vision.preprocessing import IMAGE_ERROR_KINDS
from tests.badfiles import ERRORS, KINDS, bad_files, hostile_images
from tests.helpers import PHOTOS, ROOT

PAGE = str(ROOT / "pages" / "images.py")
PHOTO = (PHOTOS / "obama.jpg").read_bytes()
FILES = bad_files(PHOTO)
CAPTION = re.compile(r"^(\d+)×(\d+) pixels · (?:no face|(\d+) faces?) · ")  # "no face", "1 face", "2 faces"

EXPECTED = {  # file: (width, height, faces) of every file that must be read
    "sixteen_bit.png": (50, 60, 0), "rgba.png": (40, 30, 0), "palette.png": (40, 30, 0), "cmyk.jpg": (40, 30, 0),
    "gray.png": (40, 30, 0), "one_pixel.png": (1, 1, 0), "wide.png": (10_000, 10, 0), "animated.gif": (40, 30, 0),
    "exif_rotated.jpg": (910, 1137, 1), "obama.jpg": (910, 1137, 1),
}
MESSAGES = {  # words the page's message must hold for each refused file, per language
    "en": {"notes.jpg": "is not an image file", "empty.jpg": "is empty (0 bytes)",
           "truncated.jpg": "is damaged or truncated", "bomb.png": "too many pixels to open safely",
           "huge.png": "is 8000×8000 pixels: too large (the limit is 60 megapixels)",
           "deep.png": "is 7100×7100 pixels of a kind that takes 192 MB to open: too large (the limit is 192 MB)"},
    "pt": {"notes.jpg": "não é um arquivo de imagem", "empty.jpg": "está vazio (0 bytes)",
           "truncated.jpg": "está danificado ou truncado", "bomb.png": "pixels demais para abrir com segurança",
           "huge.png": "tem 8000×8000 pixels: grande demais (o limite é 60 megapixels)",
           "deep.png": "tem 7100×7100 pixels de um tipo que ocupa 192 MB aberto: grande demais (o limite é 192 MB)"},
}


def upload(files: list[tuple[str, bytes]], lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["lang"] = lang
    at.run()
    at.file_uploader[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def texts(at: AppTest, kind: str) -> list[str]:
    """The text of every element of a kind, Markdown escapes (file names are shown escaped) removed."""
    return [re.sub(r"\\(.)", r"\1", e.value).replace("\u2060", "") for e in getattr(at, kind)]  # and joiners


@pytest.fixture(scope="module")
def batch() -> AppTest:
    """One upload of every awkward file of tests/badfiles.py plus a real face photo, in English."""
    assert set(ERRORS) | set(EXPECTED) == set(FILES) | {"obama.jpg"}
    return upload([*FILES.items(), ("obama.jpg", PHOTO)])


def test_no_traceback_and_one_specific_message_per_bad_file(batch: AppTest) -> None:
    assert not batch.exception
    errors = texts(batch, "error")
    assert len(errors) == len(ERRORS), errors
    for name, words in MESSAGES["en"].items():
        mine = [e for e in errors if e.startswith(name + " ")]
        assert len(mine) == 1 and words in mine[0], (name, errors)
    assert not any("Traceback" in e or "Error:" in e for e in errors)


def test_every_readable_file_is_shown_with_its_size_and_faces(batch: AppTest) -> None:
    shown = [s for s in texts(batch, "subheader") if s != "All faces"]
    assert shown == list(EXPECTED)  # upload order, refused files left out
    sizes = [CAPTION.match(c) for c in texts(batch, "caption")]
    got = [(int(m[1]), int(m[2]), int(m[3] or 0)) for m in sizes if m]
    assert dict(zip(shown, got, strict=True)) == EXPECTED
    no_face = sum(1 for v in EXPECTED.values() if v[2] == 0)
    assert texts(batch, "warning").count("No face found in this image.") == no_face
    assert len(batch.image) == len(EXPECTED)  # every readable file is drawn (faces boxed, or as it is)


def test_the_real_faces_are_still_labelled(batch: AppTest) -> None:
    names = {display_name(k, "en") for k in LABELS}
    table = batch.dataframe[0].value
    faces = table[table["Face"] != ""]  # the table shows text: a blank face number for a photo without one
    assert list(faces["File"]) == ["exif_rotated.jpg", "obama.jpg"]
    assert set(faces["Emotion"]) <= names
    no_face = [n for n, v in EXPECTED.items() if v[2] == 0]  # each photo without a face has a row saying so
    assert list(table[table["Face"] == ""]["File"]) == no_face
    assert set(table[table["Face"] == ""]["Emotion"]) == {"No face found"}
    import json

    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in batch.get("plotly_chart")]
    assert len(titles) == 2
    assert all(re.fullmatch(rf"Face 1: ({'|'.join(names)}) \(\d+\.\d%\)", s) for s in titles), titles
    labels = sorted(b.label for b in batch.get("download_button"))  # and each photo with faces, as drawn
    assert labels == ["Download CSV", "Download JSON", *["Download the photo with its faces named (PNG)"] * 2]


def test_portuguese_messages_for_the_bad_files() -> None:
    at = upload([*((n, FILES[n]) for n in ERRORS), ("obama-240p.jpg", (PHOTOS / "obama-240p.jpg").read_bytes())],
                "pt")
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == len(ERRORS)
    for name, words in MESSAGES["pt"].items():
        assert sum(1 for e in errors if e.startswith(name + " ") and words in e) == 1, (name, errors)
    assert not any(w in " ".join(errors) for w in ("not an image", "truncated (", "empty (0"))
    assert [s for s in texts(at, "subheader") if s != "Todos os rostos"][0] == "obama-240p.jpg"


def test_every_error_kind_has_a_message_in_every_language() -> None:
    assert set(KINDS.values()) == set(IMAGE_ERROR_KINDS)
    for lang in ("en", "pt"):
        for kind in IMAGE_ERROR_KINDS:
            text = t(f"images.error_{kind}", lang, name="x.png", w=1, h=2, limit=3, mb=4)
            assert text.startswith("x.png ") and text != f"images.error_{kind}"


def test_two_files_with_the_same_name_are_both_shown() -> None:
    face = (PHOTOS / "obama-240p.jpg").read_bytes()
    at = upload([("IMG_0001.jpg", face), ("IMG_0001.jpg", face)])
    assert not at.exception
    assert [s for s in texts(at, "subheader") if s != "All faces"][:2] == ["IMG_0001.jpg", "IMG_0001.jpg"]
    assert len(at.get("plotly_chart")) == 2 and len(at.dataframe[0].value) == 2


def test_the_upload_limit_is_set_on_purpose_and_explained() -> None:
    with (ROOT / ".streamlit" / "config.toml").open("rb") as fh:
        server = tomllib.load(fh)["server"]
    assert server["maxUploadSize"] == 200  # MB: a video (the Videos page) fits
    limit = 100  # MB a photo: the Images page asks its uploader for less than the server's limit
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    uploader = at.file_uploader[0]
    assert f"up to {limit} MB each" in uploader.help and uploader.proto.max_upload_size_mb == limit
    assert "GIF" in uploader.help and not uploader.allowed_type  # any file is read, a wrong one named
    at.session_state["lang"] = "pt"
    at.run()
    assert f"até {limit} MB cada" in at.file_uploader[0].help


def test_crafted_images_each_give_one_message_and_the_other_files_are_still_shown() -> None:
    """Issue 30 (3): a 1x3000 PNG, EXIF that makes Pillow raise KeyError or struct.error and DDS content named
    .png crashed the page, and the other files of the upload were lost."""
    hostile = hostile_images()
    at = upload([*hostile.items(), ("obama.jpg", PHOTO)])
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 3
    for name in set(hostile) - {"tall.png"}:
        assert sum(name in e and "is damaged or truncated" in e for e in errors) == 1, (name, errors)
    assert [h for h in texts(at, "subheader") if h != "All faces"][:2] == ["tall.png", "obama.jpg"]  # summary first


def test_how_it_works_says_a_crafted_image_is_unreadable() -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "how_it_works.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.run()
    at.radio(key="how_source").set_value("upload").run()
    for name, data in hostile_images().items():
        at.file_uploader(key="how_upload").upload(name, data, "image/png").run()
        assert not at.exception, name
        if name == "tall.png":
            assert texts(at, "warning") == [t("how.no_face", "en")]
        else:
            assert texts(at, "error") == [t("how.bad_file", "en", name=name)], name
