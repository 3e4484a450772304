"""The Teach page (AppTest through app.py): photos saved per emotion with the face found in each, counts and the
minimum, Train off until enough, a personal run end to end with its before and after, Use it, Delete."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.i18n import fmt_size, plural, t
from fer.jobs import launcher as jobs
from fer.labels import display_name
from tests.helpers import PHOTOS, ROOT, shown, wait_for

FACES = ("obama.jpg", "obama2.jpg", "biden.jpg", "obama-1080p.jpg", "obama-240p.jpg")
"""Five photos of one face each (tests/fixtures/photos): the detector finds a face in every one."""


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    yield root
    job = jobs.active_job(root)
    if job is not None:
        jobs.stop_job(job.path, wait_s=120)


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def faces(n: int = 5, mirrored: bool = False) -> list[tuple[str, bytes, str]]:
    """(name, bytes, mime) of `n` face photos; `mirrored`: each turned left to right (other photos of faces)."""
    out = []
    for name in FACES[:n]:
        data = (PHOTOS / name).read_bytes()
        if mirrored:
            data, name = jpeg(cv2.flip(cv2.imread(str(PHOTOS / name)), 1)), "mirror-" + name
        out.append((name, data, "image/jpeg"))
    return out


WALL = ("wall.png", cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))[1].tobytes(), "image/png")
"""A photo without a face: a grey wall."""


def open_page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["lang"] = lang
    at.switch_page("pages/teach.py")
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def pick(at: AppTest, emotion: str, source: str = "upload") -> AppTest:
    at.button_group(key="teach_emotion").set_value(emotion)
    at.button_group(key="teach_source").set_value(source)
    return ok(at.run())


def upload(at: AppTest, emotion: str, files: list[tuple[str, bytes, str]]) -> AppTest:
    pick(at, emotion)
    at.file_uploader(key=f"teach_upload_0_{emotion}").set_value(files)
    return ok(at.run())


def folder(at: AppTest, runs: Path) -> Path:
    return runs / "teach" / at.session_state["teach_id"]


def texts(at: AppTest, kind: str) -> list[str]:
    return [shown(e.value) for e in at.get(kind)]


def train_button(at: AppTest):
    [button] = [b for b in at.button if b.key == "teach_train"]
    return button


def counts(at: AppTest, lang: str = "en") -> dict[str, tuple[int, int]]:
    """{emotion name: (photos, faces found)} as the counts table shows them."""
    frame = next(d.value for d in at.dataframe if t("teach.col_faces", lang) in d.value.columns)
    return {row[t("teach.col_emotion", lang)]: (row[t("teach.col_photos", lang)], row[t("teach.col_faces", lang)])
            for _, row in frame.iterrows()}


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_page_states_its_privacy_and_what_train_needs_in_both_languages(runs, lang):
    at = open_page(lang)
    assert at.title[0].value == t("teach.title", lang)
    assert t("teach.privacy", lang) in [i.value for i in at.info]
    assert t("teach.counts_help", lang, min=5, k=2) in texts(at, "caption")
    assert train_button(at).disabled  # nothing taught yet: off, and the reason is on the page
    assert t("teach.need_emotions", lang, k=2, min=5, n=0) in texts(at, "caption")
    assert t("teach.no_files", lang) in texts(at, "caption")
    assert at.button_group(key="teach_emotion").value == "happy"
    assert not runs.exists() or not any(runs.iterdir())  # a visit alone writes nothing


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_photos_show_their_faces_a_no_face_photo_its_reason_and_the_counts(runs, lang):
    at = open_page(lang)
    at = upload(at, "happy", [*faces(3), WALL, ("notes.txt", b"not a photo", "text/plain")])
    # the file that is no photo is named and not saved; the wall is saved and said to have no face
    assert any("notes.txt" in e for e in texts(at, "error"))
    assert t("teach.added_no_face", lang, name="wall.png") in texts(at, "warning")
    saved = sorted(p.name for p in (folder(at, runs) / "happy").iterdir())
    assert saved == ["0001.jpg", "0002.jpg", "0003.jpg", "0004.png"]
    happy = display_name("happy", lang)
    assert t("teach.gallery", lang, emotion=happy, photos=plural("images.n_photos", 4, lang),
             faces=plural("images.n_faces", 3, lang)) in texts(at, "caption")
    images = at.image
    assert len(images) == 4  # three faces and the wall's thumbnail
    assert [c for c in texts(at, "caption") if c == t("teach.no_face", lang, i=4)]
    assert counts(at, lang)[happy] == (4, 3)
    assert counts(at, lang)[display_name("sad", lang)] == (0, 0)
    # the files are listed with their sizes, in the language's numbers
    sizes = [(folder(at, runs) / "happy" / n).stat().st_size for n in saved]
    listing = next(d.value for d in at.dataframe if t("teach.col_size", lang) in d.value.columns)
    assert list(listing[t("teach.col_size", lang)]) == [fmt_size(s, lang) for s in sizes]


def test_train_is_off_with_its_reason_until_two_emotions_have_five_faces(runs):
    at = open_page()
    at = upload(at, "happy", faces(5))
    assert train_button(at).disabled and t("teach.need_emotions", "en", k=2, min=5, n=1) in texts(at, "caption")
    at = upload(at, "sad", faces(4, mirrored=True))
    reason = t("teach.need_more", "en", emotions="Sad (4/5)", min=5)
    assert train_button(at).disabled and train_button(at).help == reason and reason in texts(at, "caption")
    assert counts(at)["Sad"] == (4, 4)
    ok(at.file_uploader(key="teach_upload_0_sad").upload(*WALL).run())  # the uploader now holds the wall only
    assert train_button(at).disabled  # a photo without a face does not count
    ok(at.file_uploader(key="teach_upload_0_sad").upload(*faces(5, mirrored=True)[4]).run())
    assert counts(at)["Sad"] == (6, 5)
    assert not train_button(at).disabled


def test_remove_deletes_one_photo_and_the_emotion_survives_a_language_switch(runs):
    at = open_page()
    at = upload(at, "fear", faces(2))
    assert at.button_group(key="teach_emotion").value == "fear"
    [first, _] = sorted((folder(at, runs) / "fear").iterdir())
    [remove] = [b for b in at.button if b.key == f"teach_rm_fear_{first.name}"]
    ok(remove.click().run())
    assert not first.exists() and counts(at)["Fear"] == (1, 1)
    at.session_state["lang"] = "pt"
    ok(at.run())
    assert at.button_group(key="teach_emotion").value == "fear" and counts(at, "pt")["Medo"] == (1, 1)
    assert at.title[0].value == t("teach.title", "pt")
    at.switch_page("pages/home.py")  # the emotion and the source are kept for the session, not only the page
    ok(at.run())
    at.switch_page("pages/teach.py")
    ok(at.run())
    assert at.button_group(key="teach_emotion").value == "fear"
    assert at.button_group(key="teach_source").value == "upload"


def test_delete_asks_first_then_removes_every_file(runs):
    at = open_page()
    at = upload(at, "happy", faces(2))
    where = folder(at, runs)
    assert len(list((where / "happy").iterdir())) == 2
    ok(at.button(key="teach_delete").click().run())
    assert where.exists()  # asked first
    ok(at.button(key="teach_delete_no").click().run())
    assert where.exists() and not [b for b in at.button if b.key == "teach_delete_yes"]
    ok(at.button(key="teach_delete").click().run())
    assert any(w.startswith("Delete 2 files") for w in texts(at, "warning"))
    ok(at.button(key="teach_delete_yes").click().run())
    assert not where.exists()
    assert t("teach.no_files", "en") in texts(at, "caption") and counts(at)["Happy"] == (0, 0)
    assert [s for s in texts(at, "success") if s.startswith("Deleted 2 files")]


def test_images_and_webcam_name_the_active_model(runs, tiny_model_path, monkeypatch):
    import streamlit_webrtc

    from tests.helpers import StreamerStub

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", StreamerStub())
    at = open_page()
    for page in ("images", "webcam"):
        at.switch_page(f"pages/{page}.py")
        ok(at.run())
        said = "controls.live_model" if page == "webcam" else "controls.active_model"  # through models/webcam.keras
        assert t(said, "en", name="Shipped model") in texts(at, "caption"), page


def test_a_personal_run_end_to_end_before_after_use_it_and_delete(runs, monkeypatch):
    """The real path: the page starts `--preset personal` through fer.jobs on this session's photos (one epoch
    instead of eight, to keep the test short), follows it, shows the before and after, makes the model active,
    and Delete removes the photos and the run and gives the shipped model back."""
    from dataclasses import replace

    from fer.train.presets import PRESETS

    monkeypatch.setitem(PRESETS, "personal", replace(PRESETS["personal"], epochs=1))
    at = open_page()
    at = upload(at, "happy", faces(5))
    at = upload(at, "sad", faces(5, mirrored=True))
    assert not train_button(at).disabled
    ok(train_button(at).click().run())
    run = Path(at.session_state["teach_run"])
    assert run.parent == runs and run.name.endswith("-personal")
    wait_for(lambda: jobs.run_info(run).state != "running", timeout=900, what="the personal run to end")
    info = jobs.run_info(run)
    assert info.state == "finished", info.log_tail(40)
    ok(at.run())
    assert [s for s in texts(at, "success") if s.startswith("Your personal model is ready: personal · ")]
    assert at.get("subheader") and t("teach.before_after", "en") in [s.value for s in at.subheader]
    metrics = {m.label: m.value for m in at.metric}
    assert re.fullmatch(r"\d+%", metrics["Shipped model"]) and re.fullmatch(r"\d+%", metrics["Your model"])
    table = next(d.value for d in at.dataframe if "Held out" in d.value.columns)
    assert set(table["Emotion"]) == {"Happy", "Sad"} and list(table["Held out"]) == [1, 1]  # 20 % of 5 each
    assert len(at.get("plotly_chart")) >= 1
    honest = t("teach.honest", "en", n=plural("teach.n_held_out", 2, "en"))
    assert honest.startswith("Scored on 2 of your photos that neither model trained on")
    assert honest in texts(at, "caption"), texts(at, "caption")
    # Use it: the session's active model, named on the Images page
    ok(at.button(key="teach_use").click().run())
    assert Path(at.session_state["active_model"]) == run / "model.keras"
    at.switch_page("pages/images.py")
    ok(at.run())
    assert [c for c in texts(at, "caption") if c.startswith("Model: personal · ")]
    at.switch_page("pages/teach.py")
    ok(at.run())
    assert [s for s in texts(at, "success") if "is the active model" in s]
    # the run's files are listed beside the photos, and Delete removes both
    listing = next(d.value for d in at.dataframe if "Size" in d.value.columns)
    assert "Personal model" in set(listing["What"]) and len(listing) > 10
    ok(at.button(key="teach_delete").click().run())
    ok(at.button(key="teach_delete_yes").click().run())
    assert not run.exists() and not folder(at, runs).exists()
    assert at.session_state["active_model"] == str(ROOT / "models" / "default.keras")
