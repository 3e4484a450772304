"""The results page (AppTest through app.py) on real finished runs and the shipped model."""

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.config import TrainConfig
from fer.i18n import fmt_percent, t
from fer.labels import LABELS, display_name
from tests.helpers import ROOT, shown, write_folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two finished tiny-cnn runs (2 and 3 epochs) on a generated dataset."""
    from fer.train.trainer import train

    root = tmp_path_factory.mktemp("results")
    data = write_folder(root / "ds", n_per_class=6)
    for name, epochs in (("older", 2), ("newer", 3)):
        cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=epochs, batch_size=8,
                          learning_rate=0.01)
        train(cfg, root / "runs" / name)
    return root / "runs"


def arr(v) -> np.ndarray:
    """A plotly JSON array (plain list or base64 'bdata')."""
    if isinstance(v, dict):
        shape = tuple(int(n) for n in str(v.get("shape", "-1")).split(","))
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).reshape(shape)
    return np.array(v)


def open_page(lang: str, runs: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.switch_page("pages/results.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_finished_run_shows_curves_scores_confusion_and_mistakes(lang, runs, monkeypatch):
    at = open_page(lang, runs, monkeypatch)
    assert at.title[0].value == t("results.title", lang)
    # the shipped models first (the default, the course's CNN, the webcam's network), not the newest run
    assert at.multiselect(key="res_pick").value == ["default", "models/course-cnn", "models/webcam"]
    assert at.multiselect(key="res_pick").proto.select_all == 0  # no English "Select all" (issue 39, 14)
    at.multiselect(key="res_pick").set_value(["newer"]).run()
    metrics = json.loads((runs / "newer" / "metrics.json").read_text())["test"]
    shown = {m.label: m.value for m in at.metric}
    assert shown[t("results.accuracy", lang)] == fmt_percent(metrics["accuracy"], lang)
    assert shown[t("results.n", lang)] == "42"
    table = at.dataframe[0].value
    assert list(table[t("results.class", lang)]) == [display_name(c, lang) for c in LABELS]
    assert list(table[t("results.support", lang)]) == [6] * 7
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # loss, accuracy, confusion
    confusion = json.loads(charts[2].proto.spec)
    z = arr(confusion["data"][0]["z"])
    assert z.sum() == 42 and (z == np.array(metrics["confusion"])).all()
    assert confusion["layout"]["title"]["text"] == t("results.confusion", lang)
    history = [json.loads(c.proto.spec) for c in charts[:2]]
    assert [len(arr(tr["x"])) for tr in history[0]["data"]] == [3, 3]
    at.radio(key="res_cm_newer").set_value("normalised").run()
    z = arr(json.loads(at.get("plotly_chart")[2].proto.spec)["data"][0]["z"])
    assert np.allclose(z.sum(axis=1), 1.0)
    [find] = [b for b in at.button if b.label == t("results.find_mistakes", lang)]
    find.click().run()
    assert not at.exception, [e.value for e in at.exception]
    true, pred = at.selectbox(key="res_true_newer").value, at.selectbox(key="res_pred_newer").value
    wrong = metrics["confusion"][true][pred]
    assert true != pred and wrong > 0  # preselected: the largest confusion cell
    [images] = at.get("image")
    assert len(images.proto.imgs) == min(wrong, 12)
    assert all(img.caption.endswith("%") for img in images.proto.imgs)
    [make] = [b for b in at.button if b.label == t("results.make_active", lang)]
    make.click().run()
    assert at.session_state["active_model"] == str(runs / "newer" / "model.keras")
    assert any(s.value == t("results.is_active", lang) for s in at.success)


def test_runs_and_the_shipped_model_side_by_side_only_on_the_same_test_set(runs, monkeypatch):
    at = open_page("en", runs, monkeypatch)
    at.multiselect(key="res_pick").set_value(["newer", "older", "default"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert t("results.different_sets") in [i.value for i in at.info]
    runs_table, shipped_table = at.dataframe[0].value, at.dataframe[1].value  # one table per test set
    assert list(runs_table[t("results.epochs")]) == ["3", "2"]
    card = json.loads((ROOT / "models" / "default.json").read_text())  # an ensemble: its members' epochs
    members = [json.loads((ROOT / Path(m).with_suffix(".json")).read_text()) for m in card["members"]]
    assert list(shipped_table[t("results.epochs")]) == [" + ".join(str(m["epochs_trained"]) for m in members)]
    sets = [shown(m.value) for m in at.markdown if m.value.startswith("**Test set:")]  # names escaped: plain()
    assert len(sets) == 2 and "42 images" in sets[0] and "fer2013.zip" in sets[1] and "3,589 images" in sets[1]
    assert len(at.tabs) == 3


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_shipped_model_shows_its_report_at_once_without_the_dataset(lang, runs, monkeypatch):
    from fer.jobs import results
    # the page must not score the test split (that needs FER2013 on the server)
    monkeypatch.setattr(results, "test_predictions", lambda *a, **k: pytest.fail("scored the dataset"))
    at = open_page(lang, runs, monkeypatch)
    at.multiselect(key="res_pick").set_value(["default"]).run()
    assert not at.exception, [e.value for e in at.exception]
    report = json.loads((ROOT / "models" / "default.report.json").read_text())["reports"]["test"]
    card = json.loads((ROOT / "models" / "default.json").read_text())
    assert round(report["accuracy"], 4) == card["metrics"]["test"]["accuracy"]  # the report is the card's scoring
    shown = {m.label: m.value for m in at.metric}
    assert shown[t("results.accuracy", lang)] == fmt_percent(report["accuracy"], lang)
    assert not any(b.label == t("results.compute", lang) for b in at.button)
    # an ensemble trained no epochs itself: each member's curves, named, from the reports committed beside them
    n_members = len(card["members"])
    assert card["arch"] == "ensemble" and n_members == 2
    from tests.helpers import shown as unescaped  # `shown` is this test's dict of metrics

    said = [unescaped(m.value) for m in at.markdown]
    for n, member in enumerate(card["members"], 1):
        assert t("results.member_curves", lang, name=Path(member).stem, n=n, of=n_members) in said
    curves = [c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["data"][0]["type"] != "heatmap"]
    assert len(curves) == 2 * n_members  # loss and accuracy of each member
    # its epochs are its members' (the card's own count is 0), in the caption and the table
    epochs = [json.loads((ROOT / Path(m).with_suffix(".json")).read_text())["epochs_trained"] for m in card["members"]]
    assert card["epochs_trained"] == 0 and all(epochs)
    said_epochs = " + ".join(map(str, epochs))
    assert any(f"· {said_epochs} " in c.value for c in at.caption), [c.value for c in at.caption]
    at.multiselect(key="res_pick").set_value(["default", "newer"]).run()  # side by side with a run
    rows = [r for d in at.dataframe if t("results.epochs", lang) in d.value.columns
            for r in d.value.to_dict("records")]
    assert [(r[t("results.epochs", lang)], r[t("results.best", lang)]) for r in rows
            if r[t("results.arch", lang)] == "ensemble"] == [(said_epochs, "—")]
    assert len(rows) == 2 and all(r[t("results.epochs", lang)].isdigit() for r in rows
                                  if r[t("results.arch", lang)] != "ensemble")
    at.multiselect(key="res_pick").set_value(["default"]).run()
    member = json.loads((ROOT / Path(card["members"][1]).with_suffix(".report.json")).read_text())["history"]
    assert len(json.loads(curves[2].proto.spec)["data"][0]["x"]) == len(member)
    from fer.i18n import fmt_list

    lifted = [LABELS[i] for i, v in enumerate(card["class_offsets"]) if v > 0]  # its recall floors
    assert lifted == ["disgust", "fear"]
    words = t("results.lifted.other", lang, emotions=fmt_list([display_name(k, lang) for k in lifted], lang))
    assert words in [c.value for c in at.caption]
    at.multiselect(key="res_pick").set_value(["newer"]).run()  # a run without floors says nothing of them
    assert not any(c.value.startswith(words[:12]) for c in at.caption)
    at.multiselect(key="res_pick").set_value(["default"]).run()
    [confusion] = [c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["data"][0]["type"] == "heatmap"]
    z = arr(json.loads(confusion.proto.spec)["data"][0]["z"])
    assert z.sum() == 3589 and (z == np.array(report["confusion"])).all()
    per_class, pairs = at.dataframe[0].value, at.dataframe[1].value
    assert list(per_class[t("results.support", lang)]) == [report["per_class"][c]["support"] for c in LABELS]
    cm = np.array(report["confusion"])
    off = cm - np.diag(np.diag(cm))
    i, j = np.unravel_index(off.argmax(), off.shape)
    assert pairs[t("results.true", lang)][0] == display_name(LABELS[i], lang)
    assert pairs[t("results.predicted", lang)][0] == display_name(LABELS[j], lang)
    assert pairs[t("results.images", lang)][0] == off.max() and len(pairs) == 5


def without_the_dataset(monkeypatch) -> None:
    import dataclasses

    from fer.train import presets
    real = presets.resolve_data
    gone = "/nowhere/fer2013.zip"
    monkeypatch.setattr(presets, "resolve_data", lambda cfg: dataclasses.replace(real(cfg), data=gone))


def test_without_the_dataset_or_predictions_the_mistakes_section_says_so_instead_of_failing(runs, monkeypatch):
    from fer.jobs import results
    without_the_dataset(monkeypatch)
    monkeypatch.setattr(results, "load_predictions", lambda path: None)  # a model shipped without them
    at = open_page("en", runs, monkeypatch)
    at.multiselect(key="res_pick").set_value(["default"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert t("results.mistakes_need_data", data="fer2013.zip") in [i.value for i in at.info]
    assert not any(b.label == t("results.find_mistakes") for b in at.button)
    assert "res_cmfig_default" in [c.key for c in at.get("plotly_chart")]  # the confusion matrix, from the report


def shipped_mistakes(lang: str) -> tuple[list[str], list[str], int, int]:
    """The keys and confidences of the shipped model's 12 most confident mistakes in its largest confusion cell,
    from models/default.predictions.npz itself (and that cell, true and predicted)."""
    with np.load(ROOT / "models" / "default.predictions.npz") as z:
        keys, labels, predicted, scores = z["keys"], z["labels"], z["predicted"], z["scores"].astype(np.float64)
    report = json.loads((ROOT / "models" / "default.report.json").read_text())["reports"]["test"]
    cm = np.array(report["confusion"])
    assert (np.array([[((labels == i) & (predicted == j)).sum() for j in range(7)] for i in range(7)]) == cm).all()
    off = cm - np.diag(np.diag(cm))
    true, pred = np.unravel_index(off.argmax(), off.shape)
    idx = np.flatnonzero((labels == true) & (predicted == pred))
    idx = idx[np.argsort(-scores[idx, pred], kind="stable")][:12]
    return [str(k) for k in keys[idx]], [fmt_percent(float(v), lang) for v in scores[idx, pred]], int(true), int(pred)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_shipped_mistakes_show_at_once_without_the_dataset_as_a_table(lang, runs, monkeypatch):
    from fer.jobs import results
    without_the_dataset(monkeypatch)
    monkeypatch.setattr(results, "test_predictions", lambda *a, **k: pytest.fail("scored the dataset"))
    at = open_page(lang, runs, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="res_pick").set_value(["default"]).run()  # the default's own tab (no scoring either)
    assert t("results.mistakes_no_faces", lang, data="fer2013.zip") in [shown(i.value) for i in at.info]
    assert not at.get("image") and not any(b.label == t("results.find_mistakes", lang) for b in at.button)
    keys, conf, true, pred = shipped_mistakes(lang)
    tables = len(at.dataframe)  # per class, most confused pairs, the mistakes
    table = at.dataframe[-1].value
    assert list(table[t("results.col_key", lang)]) == keys and len(keys) == 12
    assert list(table[t("results.col_pred_prob", lang, pred=display_name(LABELS[pred], lang))]) == conf
    at.selectbox(key="res_pred_default").set_value(true).run()  # the diagonal: right answers, not mistakes
    assert t("results.pick_two", lang) in [i.value for i in at.info] and len(at.dataframe) == tables - 1


@pytest.mark.skipif(not (ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013.zip").exists(),
                    reason="needs the full FER2013 where the shipped model's card names it")
def test_the_shipped_mistakes_show_their_faces_where_the_server_has_the_dataset(runs, monkeypatch):
    from fer.jobs import results
    monkeypatch.setattr(results, "test_predictions", lambda *a, **k: pytest.fail("scored the dataset"))
    at = open_page("en", runs, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    at.multiselect(key="res_pick").set_value(["default"]).run()
    keys, conf, _, _ = shipped_mistakes("en")
    [faces] = at.get("image")
    assert [img.caption for img in faces.proto.imgs] == conf
    assert list(at.dataframe[-1].value[t("results.col_key")]) == keys


def test_shipped_models_come_first_and_are_picked_with_the_run_this_session_trained(runs, tmp_path, monkeypatch):
    import ui.common

    models = tmp_path / "models"
    models.mkdir()
    for name in ("default", "course-cnn"):  # a second shipped model, with its card (but no report or predictions)
        for suffix in (".keras", ".json") + ((".report.json", ".predictions.npz") if name == "default" else ()):
            shutil.copyfile(ROOT / "models" / f"default{suffix}", models / f"{name}{suffix}")  # links are never offered
    shutil.copyfile(ROOT / "models" / "default.keras", models / "stray.keras")  # no card: not offered
    monkeypatch.setattr(ui.common, "MODELS_DIR", models)
    monkeypatch.setattr(ui.common, "DEFAULT_MODEL", models / "default.keras")
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = "pt"
    at.session_state["train_run"] = str(runs / "older")  # the run this session trained last
    at.switch_page("pages/results.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    pick = at.multiselect(key="res_pick")
    assert pick.options[:2] == [t("results.default_model", "pt", name=f"models/{n}.keras")
                                for n in ("default", "course-cnn")]
    assert len(pick.options) == 4  # and the two runs, not the model without a card
    assert pick.value == ["default", "models/course-cnn", "older"]
    assert [tab.label for tab in at.tabs][:2] == pick.options[:2]


def test_scoring_the_test_split_reports_its_progress(tmp_path) -> None:
    """fer.jobs.results.test_predictions tells a plain callback how far it is (the page draws the bar)."""
    from fer.config import TrainConfig
    from fer.data.dataset import load_dataset
    from fer.jobs.results import test_predictions
    from tests.helpers import write_folder

    class Counting:
        def scores(self, faces):
            return np.full((len(faces), 7), 1 / 7, np.float32)

    ds = load_dataset(write_folder(tmp_path / "ds", n_per_class=30))
    seen: list[float] = []
    preds = test_predictions(Counting(), TrainConfig(data=str(tmp_path / "ds")), batch_size=8, dataset=ds,
                             progress=seen.append)
    assert len(preds.labels) == len(preds.scores) > 8
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == -(-len(preds.labels) // 8)


def test_a_model_of_the_course_recipe_is_read_beside_the_course_reports_figure(tmp_path, monkeypatch):
    """Issue 38: the course CNN's row beside the course's 61.8 %. A run made with the course's recipe and split
    (its config says so) shows the course's figure and the difference; another recipe does not."""
    from fer.config import COURSE, course_recipe
    from fer.train.trainer import train

    assert course_recipe(TrainConfig()) and not course_recipe(TrainConfig(split="official"))
    assert not course_recipe(TrainConfig(arch="fer-net"))
    data = write_folder(tmp_path / "ds", n_per_class=10, with_test=False)
    run = tmp_path / "runs" / "course"
    train(TrainConfig(data=str(data), arch="tiny-cnn", epochs=1, batch_size=8), run)
    for name in ("config.json", "model.json"):  # the recipe as the course's (its network made small for a test)
        d = json.loads((run / name).read_text())
        (d.setdefault("config", d) if name == "model.json" else d)["arch"] = "course-cnn"
        (run / name).write_text(json.dumps(d))
    for lang in ("en", "pt"):
        at = open_page(lang, run.parent, monkeypatch)
        at.multiselect(key="res_pick").set_value(["course"]).run()
        want = t("results.course_reference", lang, acc=fmt_percent(COURSE.test_accuracy, lang), epochs=35, ours="",
                 diff="")
        assert any(shown(c.value).startswith(want.split("(")[0][:60]) for c in at.caption), lang


def test_the_shipped_course_cnn_shows_its_curves_beside_the_course_reports_figure(runs, monkeypatch):
    """Issue 38: models/course-cnn.keras, the course's recipe run to its own early stop, ships with its history:
    the Results page draws its curves and reads it beside the course's 61.8 %, without the dataset."""
    from fer.config import COURSE

    without_the_dataset(monkeypatch)
    at = open_page("en", runs, monkeypatch)
    at.multiselect(key="res_pick").set_value(["models/course-cnn"]).run()
    assert not at.exception, [e.value for e in at.exception]
    want = t("results.course_reference", "en", acc=fmt_percent(COURSE.test_accuracy, "en"), epochs=35, ours="",
             diff="")
    assert any(shown(c.value).startswith(want.split("(")[0][:60]) for c in at.caption)
    assert t("results.history_gone", "en", epochs=35, best=27) not in [shown(i.value) for i in at.info]
    assert len(at.get("plotly_chart")) >= 2  # its loss and accuracy curves, its confusion matrix


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_run_asked_for_recall_floors_it_got_no_boost_for_says_why(lang, runs, tmp_path, monkeypatch):
    """TrainConfig.recall_floors without offsets in the card: either the run already named those emotions often
    enough on its validation images (a caption), or no boost reached the share asked (a warning naming them)."""
    from fer.i18n import fmt_list

    mine = tmp_path / "runs"
    card = json.loads((runs / "newer" / "model.json").read_text())
    recall = card["metrics"]["validation"]["recall"]
    reached = next(k for k in LABELS if recall[k] > 0)  # asked for what it already does
    short = next(k for k in LABELS if recall[k] < 1)  # asked for every face
    for name, floors in (("met", {reached: recall[reached]}), ("unmet", {short: 1.0})):
        shutil.copytree(runs / "newer", mine / name)
        card["config"]["recall_floors"] = floors
        (mine / name / "model.json").write_text(json.dumps(card))
    at = open_page(lang, mine, monkeypatch)
    at.multiselect(key="res_pick").set_value(["met"]).run()
    met = t("results.floors_met", lang, emotions=display_name(reached, lang))
    assert met in [c.value for c in at.caption] and not at.warning
    at.multiselect(key="res_pick").set_value(["unmet"]).run()
    unmet = t("results.floors_unmet", lang, emotions=fmt_list([display_name(short, lang)], lang))
    assert unmet in [w.value for w in at.warning]
    assert met not in [c.value for c in at.caption]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_boosted_emotions_are_named_in_a_sentence_for_one_or_for_several(lang, runs, tmp_path, monkeypatch):
    """A card whose class_offsets lift emotions: one lifted emotion gets the singular sentence, two the plural."""
    from fer.i18n import fmt_list

    mine = tmp_path / "runs"
    card = json.loads((runs / "newer" / "model.json").read_text())
    for name, lifted in (("one", ["fear"]), ("two", ["disgust", "fear"])):
        shutil.copytree(runs / "newer", mine / name)
        card["class_offsets"] = [0.3 if k in lifted else 0.0 for k in LABELS]
        (mine / name / "model.json").write_text(json.dumps(card))
    at = open_page(lang, mine, monkeypatch)
    for name, key, lifted in (("one", "results.lifted.one", ["fear"]),
                              ("two", "results.lifted.other", ["disgust", "fear"])):
        at.multiselect(key="res_pick").set_value([name]).run()
        assert not at.exception, [e.value for e in at.exception]
        words = t(key, lang, emotions=fmt_list([display_name(k, lang) for k in lifted], lang))
        assert words in [c.value for c in at.caption], name
