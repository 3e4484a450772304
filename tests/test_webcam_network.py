"""The shipped model's webcam network (models/webcam.keras, when shipped): the file that looks once at each face
for the shipped model on the Webcam and Videos pages and in `fer video`; any other model looks once itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

import fer.model.modelio as modelio
from fer.cli.main import main as cli
from fer.i18n import t
from fer.model.architectures import build_model
from fer.model.modelio import ModelCard, one_view_model, save_model
from tests.helpers import ROOT, StreamerStub, shown
from tests.videoclips import make_clip

DEFAULT = ROOT / "models" / "default.keras"


def captions(at: AppTest) -> list[str]:
    return [shown(c.value) for c in at.caption]


def tiny_model(path: Path) -> Path:
    model = build_model("tiny-cnn")
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params())))
    return path


@pytest.fixture
def webcam_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small network shipped as the webcam's (the real default stays the shipped model)."""
    path = tiny_model(tmp_path / "webcam.keras")
    monkeypatch.setattr(modelio, "WEBCAM_MODEL", path)
    return path


def test_the_shipped_model_looks_once_through_its_webcam_network_when_one_is_shipped(tmp_path, monkeypatch):
    monkeypatch.setattr(modelio, "WEBCAM_MODEL", tmp_path / "webcam.keras")
    assert one_view_model(DEFAULT) == DEFAULT  # none shipped: the shipped model looks once itself
    tiny_model(tmp_path / "webcam.keras")
    assert one_view_model(DEFAULT) == tmp_path / "webcam.keras"
    assert one_view_model(ROOT / "models" / ".." / "models" / "default.keras") == tmp_path / "webcam.keras"
    other = tiny_model(tmp_path / "mine.keras")
    assert one_view_model(other) == other  # another model has no webcam network: it looks once itself
    # a link is not a shipped file (fer.files: never through a link)
    link = tmp_path / "link.keras"
    link.symlink_to(tmp_path / "webcam.keras")
    monkeypatch.setattr(modelio, "WEBCAM_MODEL", link)
    assert one_view_model(DEFAULT) == DEFAULT


def test_fer_video_uses_the_webcam_network_for_the_shipped_model_only(tmp_path, monkeypatch, webcam_network):
    import fer.cli.main

    loaded: list[Path] = []
    real = fer.cli.main._load_classifier
    monkeypatch.setattr(fer.cli.main, "_load_classifier", lambda p: loaded.append(Path(p)) or real(p))
    clip = make_clip(tmp_path / "one.mp4", seconds=0.2, size=(160, 120), faces=1)
    assert cli(["video", str(clip), "--json"]) == 0
    assert cli(["video", str(clip), "--json", "--model", str(DEFAULT)]) == 0
    other = tiny_model(tmp_path / "mine.keras")
    assert cli(["video", str(clip), "--json", "--model", str(other)]) == 0
    assert loaded == [webcam_network, webcam_network, other]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_webcam_page_runs_the_webcam_network_and_says_so(lang, monkeypatch, webcam_network):
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", StreamerStub())
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    at = AppTest.from_file(str(ROOT / "pages" / "webcam.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    live = at.session_state["live_processor"].classifier
    assert live.model.count_params() == modelio.load_card(webcam_network).params  # the small network, not fer-net
    assert t("controls.live_model", lang, name=t("common.shipped", lang)) in captions(at)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_webcam_page_names_only_the_model_when_none_is_shipped(lang, monkeypatch, tmp_path):
    monkeypatch.setattr(modelio, "WEBCAM_MODEL", tmp_path / "webcam.keras")  # not there
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", StreamerStub())
    at = AppTest.from_file(str(ROOT / "pages" / "webcam.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    assert at.session_state["live_processor"].classifier.model.count_params() == modelio.load_card(DEFAULT).params
    text = captions(at)
    assert t("controls.active_model", lang, name=t("common.shipped", lang)) in text
    assert t("controls.live_model", lang, name=t("common.shipped", lang)) not in text


def test_the_videos_page_says_which_network_looks_at_each_face(webcam_network):
    at = AppTest.from_file(str(ROOT / "pages" / "videos.py"), default_timeout=120)
    at.session_state["lang"] = "pt"
    at.run()
    assert not at.exception
    assert t("controls.live_model", "pt", name=t("common.shipped", "pt")) in captions(at)
