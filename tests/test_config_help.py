"""One description of each TrainConfig field, in every language: the `fer train` flags' help and the form's."""

import dataclasses
import os
import subprocess
import sys

import pytest

from fer import i18n
from fer.config import TrainConfig
from tests.helpers import ROOT

FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "extra"]


@pytest.mark.parametrize("lang", list(i18n.languages()))
def test_every_field_has_one_description(lang: str) -> None:
    for name in FIELDS:
        text = i18n.t(f"config.{name}", lang)
        assert text and text != f"config.{name}" and len(text) > 10, (lang, name)


def test_train_help_describes_every_flag() -> None:
    r = subprocess.run([sys.executable, "-m", "fer", "train", "--help"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "400"}, check=True)
    text = " ".join(r.stdout.split())
    from fer.cli.flags import flag_of

    assert flag_of("recall_floors") == "--recall-floor" and flag_of("time_budget_minutes") == "--time-budget-minutes"
    for name in FIELDS:
        assert flag_of(name) in text
        assert " ".join(i18n.t(f"config.{name}", "en").split()) in text, name


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_train_form_shows_each_fields_description(lang: str, tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception
    helps: dict[str, str] = {}

    def seen() -> None:
        widgets = [*at.number_input, *at.selectbox, *at.checkbox, *at.multiselect]
        helps.update({w.key[len("tf_"):]: w.help for w in widgets if w.key and w.key.startswith("tf_")})

    seen()  # then the fields shown only where they apply (issue 39, 12): SGD's, the custom split's, mirrored's
    for key, choice in (("tf_optimizer", "sgd"), ("tf_split", "custom"), ("tf_distribute", "mirrored")):
        at.selectbox(key=key).set_value(choice).run()
        assert not at.exception
        seen()
    # every field on the form (the dataset has its chooser above it; soft labels, label smoothing and the
    # personal preset's freezing and replay come from the presets only; a teacher file from `fer teacher`, for
    # the command line's runs)
    # recall floors: two widgets, the emotions (with the form's own words: no EMOTION=SHARE there) and their share
    assert helps.pop("floor_emotions") == i18n.t("train.floors_help", lang)
    assert helps.pop("floor_share") in (None, "")
    assert set(helps) == set(FIELDS) - {"data", "soft_labels", "label_smoothing", "freeze", "replay",
                                        "replay_per_class", "replay_classes", "teacher", "teacher_weight",
                                        "recall_floors"}
    for name, text in helps.items():
        assert text == i18n.t(f"config.{name}", lang), name
