"""Issue 42 (15-19): words and values from visitors. Run names shown as text (Markdown and plotly), CSV cells that
are not formulas, settings that pass the form but cannot run refused before Start, the command line's one
boundary (`error: ...`, exit 2), How it works with a huge faceless image and crafted widget values."""

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from fer.config import TrainConfig
from fer.csvcells import cell
from fer.data.dataset import load_dataset
from fer.i18n import t
from fer.media.live import records_csv
from fer.train.feasibility import data_problems, machine_problems
from tests.helpers import ROOT, run_fer, shown
from tests.test_hostile_runs import make_run
from ui.text import plot_text

EVIL = ["www.evil-site.com", '<a href="https:attacker.invalid">Click here']


# ----------------------------------------------------------------------------------- 15: run names
def test_plot_text_shows_plotly_markup_as_text():
    assert plot_text('<a href="https:x">Click</a> & <b>') == '&lt;a href="https:x"&gt;Click&lt;/a&gt; &amp; &lt;b&gt;'
    assert plot_text("a\nb") == "a b"


def test_run_names_are_text_on_the_results_page_tabs_and_in_the_plotly_legend(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for name in EVIL:
        make_run(root, name)
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "pages" / "results.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["res_pick"] = EVIL
    at.run()
    assert not at.exception
    tabs = [tab.label for tab in at.tabs]
    assert all("www." not in label and "\\<a" in label for label in tabs[1:]) or all(
        "\\." in label or "\u2060" in label for label in tabs), tabs  # escaped by plain()
    legends = [trace["name"] for chart in at.get("plotly_chart")
               for trace in json.loads(chart.proto.spec)["data"] if trace.get("name")]
    assert any("&lt;a href" in n for n in legends) and not any("<a" in n for n in legends), legends


def test_a_run_name_is_text_on_the_train_page_heading(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run = make_run(root, "www.evil-site.com", {"job.json": '{"state": "failed", "pid": 1, "error": "boom"}'})
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "pages" / "train.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["train_run"] = str(run)
    at.run()
    assert not at.exception
    said = [e.value for e in at.error if "evil" in e.value]
    assert said and all("www.evil" not in w for w in said), said  # a word joiner inside www. (ui.text.plain)
    assert all(shown(w).count("www.evil-site.com") == 1 for w in said)


# ----------------------------------------------------------------------------------- 16: CSV formulas
@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_that_a_spreadsheet_would_run_is_text(name):
    assert cell(name) == "'" + name
    assert cell("photo.jpg") == "photo.jpg" and cell(-0.5) == -0.5 and cell(None) is None


def test_the_images_csv_neutralises_an_upload_name(monkeypatch):
    from tests.test_images_page import CapturedFiles, blank_png, run_page

    files = CapturedFiles(monkeypatch)
    at = run_page()
    at.default_timeout = 600  # the first run of the page loads TensorFlow (minutes on a busy machine)
    at.file_uploader[0].set_value([("=HYPERLINK(\"http://attacker.invalid\").png", blank_png(), "image/png"),
                                   ("@wall.png", blank_png(), "image/png")])
    at.run()
    assert not at.exception
    text = files.files["faces.csv"].decode()
    assert "'=HYPERLINK" in text and "'@wall.png" in text
    assert not any(line.startswith(("=", "+", "-", "@")) for row in text.splitlines() for line in row.split(","))


def test_the_webcam_csv_passes_every_cell_through_the_same_function():
    text = records_csv([], {"frame": "=frame", "happy": "+Feliz"})
    header = text.splitlines()[0].split(",")
    assert "'=frame" in header and "'+Feliz" in header


# ----------------------------------------------------------------------------------- 17: refused before Start
def test_settings_that_cannot_run_here_are_found_before_the_job():
    ds = load_dataset(ROOT / "data" / "sample")
    for fraction in (0.001, 0.02):
        (problem,) = data_problems(TrainConfig(train_fraction=fraction), ds)
        assert problem.kind == "train_fraction" and problem.details["classes"] == 7
    assert data_problems(TrainConfig(train_fraction=0.1), ds) == []
    (problem,) = machine_problems(TrainConfig(distribute="multi-worker"), environ={})
    assert problem.kind == "tf_config" and "TF_CONFIG" in str(problem)
    (problem,) = machine_problems(TrainConfig(distribute="mirrored", replicas=64))
    assert problem.kind == "replicas" and problem.details["replicas"] == 64
    assert machine_problems(TrainConfig(distribute="mirrored", replicas=1)) == []


@pytest.mark.parametrize(("changes", "words"), [
    ({"tf_train_fraction": 0.02}, "keeps 5 of the 283 training images"),
    ({"tf_distribute": "multi-worker"}, "TF_CONFIG"),
    ({"tf_distribute": "mirrored", "tf_replicas": 64}, "64 mirrored replicas"),
])
def test_the_train_form_refuses_them_in_the_visitors_language(tmp_path, monkeypatch, changes, words):
    from tests.test_train_page import open_page, submit

    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for lang in ("en", "pt"):
        at = open_page(lang)
        values = dict(at.session_state["train_values"])  # what the form holds (fields hidden or not)
        values.update({key.removeprefix("tf_"): value for key, value in changes.items()})
        at.session_state["train_values"] = values
        submit(at)
        assert not at.exception
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith(t("train.infeasible", lang)), errors
        if lang == "en":
            assert words in errors[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ----------------------------------------------------------------------------------- 18: the CLI's one boundary
@pytest.mark.parametrize("flags", [["--scale-factor", "1.0"], ["--min-size", "0"], ["--min-neighbors", "-1"],
                                   ["--cascade", "nope"], ["--margin", "nan"], ["--margin", "inf"],
                                   ["--margin", "1e400"], ["--scale-factor", "x"]])
def test_fer_predict_refuses_a_bad_flag_with_error_and_exit_2(flags, face_photo):
    r = run_fer("predict", str(face_photo), *flags)
    assert r.returncode == 2 and "error: argument " + flags[0] in r.stderr and "Traceback" not in r.stderr


def test_fer_train_refuses_a_training_fraction_too_small_for_the_data(tmp_path):
    r = run_fer("train", "--data", "data/sample", "--arch", "tiny-cnn", "--epochs", "1", "--train-fraction", "0.001",
            "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.startswith("error: a training fraction of 0.001 keeps 0 of the 283 training images")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("exc", [MemoryError, RecursionError])
def test_memory_and_recursion_errors_from_an_input_are_error_and_exit_2(monkeypatch, capsys, exc):
    import fer.data.dataset
    from fer.cli.main import main

    def overwhelmed(*args: object, **kwargs: object) -> None:
        raise exc()

    monkeypatch.setattr(fer.data.dataset, "load_dataset", overwhelmed)
    assert main(["stats", "--data", "data/sample"]) == 2
    assert capsys.readouterr().err.startswith(f"error: the input is too large or too deeply nested to process here "
                                              f"({exc.__name__})")


# ----------------------------------------------------------------------------------- 19: How it works, widget values
def huge_faceless_png(width: int = 1, height: int = 59_999_999) -> bytes:
    """A 1 x 59,999,999 grey PNG (about 117 kB): a side JPEG cannot encode (over 65,535)."""
    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def test_the_preview_of_a_very_long_faceless_image_is_bounded():
    from fer.media.annotate import preview

    for shape in ((59_999_999, 1, 3), (1, 70_000, 3), (10, 10, 3)):
        small = preview(np.zeros(shape, np.uint8), 2048)
        assert max(small.shape[:2]) <= 2048 and min(small.shape[:2]) >= 1
        assert small.shape[:2] == shape[:2] or max(small.shape[:2]) == 2048


def test_how_it_works_shows_a_huge_faceless_image_without_failing():
    at = AppTest.from_file(str(ROOT / "pages" / "how_it_works.py"), default_timeout=240)
    at.session_state["lang"] = "en"
    at.session_state["how_source"] = "images"
    at.session_state["how_handoff"] = {"name": "long.png", "data": huge_faceless_png(), "boxes": [], "face": 0}
    at.run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == [t("how.no_face", "en")]  # the picture above it, shrunk


@pytest.mark.parametrize(("key", "value"), [("ctl_scale_factor", math.nan), ("ctl_margin", math.nan),
                                            ("ctl_scale_factor", 99.0), ("ctl_margin", -1.0),
                                            ("ctl_min_size", 10**9), ("ctl_mode", "nope")])
def test_a_crafted_sidebar_value_is_refused_like_any_bad_value(key, value):
    at = AppTest.from_file(str(ROOT / "pages" / "images.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.run()  # and the page keeps working
    assert not at.exception, at.exception


def test_an_unknown_results_pick_is_dropped(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    make_run(root, "good")
    monkeypatch.setenv("FER_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "pages" / "results.py"), default_timeout=120)
    at.session_state["lang"] = "en"
    at.session_state["res_pick"] = ["good", "no-such-run", Path("/etc/passwd")]
    at.run()
    assert not at.exception, at.exception
    assert at.multiselect(key="res_pick").value == ["good"]
