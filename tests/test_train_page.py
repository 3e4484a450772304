"""The train page (AppTest through app.py): presets, refused settings, missing classes, starting a job."""

import json
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.config import TrainConfig
from fer.i18n import fmt_number, t
from fer.jobs import launcher as jobs
from fer.train.presets import PRESETS
from tests.helpers import ROOT, craft, shown, write_folder


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    runs, data = tmp_path / "runs", tmp_path / "data"
    write_folder(data / "tiny", n_per_class=6)
    monkeypatch.setenv("FER_RUNS_DIR", str(runs))
    monkeypatch.setenv("FER_DATA_DIRS", str(data))
    yield runs
    monkeypatch.undo()  # a test's fake job (follow) is not a process to wait for: the real launcher looks
    job = jobs.active_job(runs)
    if job is not None:
        jobs.stop_job(job.path, wait_s=120)


def open_page(lang: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def submit(at: AppTest) -> AppTest:
    [button] = [b for b in at.button if b.label == t("train.start", at.session_state["lang"])]
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def refused(at: AppTest, env: Path) -> str:
    """Submit a form that must be refused: no run is started; returns the error messages shown."""
    submit(at)
    assert not env.exists() or not any(env.iterdir())
    return " ".join(shown(e.value) for e in at.error)  # errors quoting paths are escaped (ui.text.plain)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_presets_fill_the_form_and_out_of_range_values_are_refused(env, lang):
    at = open_page(lang)
    assert at.title[0].value == t("train.title", lang)
    assert at.number_input(key="tf_epochs").value == 30 and at.selectbox(key="tf_arch").value == "tiny-cnn"
    at.selectbox(key="train_preset").set_value("course").run()
    assert at.number_input(key="tf_epochs").value == 100 and at.selectbox(key="tf_arch").value == "course-cnn"
    assert at.number_input(key="tf_lr_factor").value == 0.9 and at.selectbox(key="tf_split").value == "stratified"
    assert at.selectbox(key="tf_lr_schedule").value == "plateau"
    assert at.selectbox(key="tf_mixed_precision").value == "auto"  # the course: the machine's choice
    at.selectbox(key="train_preset").set_value("default-stage1").run()
    assert at.selectbox(key="tf_arch").value == "fer-net" and at.selectbox(key="tf_mixed_precision").value == "bfloat16"
    at.selectbox(key="train_preset").set_value("default").run()
    assert at.selectbox(key="tf_lr_schedule").value == "cosine"
    assert at.selectbox(key="tf_mixed_precision").value == "float32"
    assert at.number_input(key="tf_time_budget_minutes").value == 0
    at.selectbox(key="train_preset").set_value("one-stage").run()
    assert at.number_input(key="tf_time_budget_minutes").value == 145 and at.number_input(key="tf_epochs").value == 100
    at.selectbox(key="train_source").set_value("data/tiny").run()  # the official split needs a test part
    at.number_input(key="tf_epochs").set_value(0)
    at.number_input(key="tf_learning_rate").set_value(5.0)
    at.number_input(key="tf_time_budget_minutes").set_value(-1.0)
    errors = refused(at, env)
    assert t("train.bad_epochs", lang) in errors and t("train.bad_learning_rate", lang) in errors
    assert t("train.bad_time_budget_minutes", lang) in errors
    assert not env.exists()


def test_seeds_out_of_range_are_refused_with_their_own_reasons(env):
    """Issue 30 (7): seed 4294967296 passed the form (no maximum) and failed in training; test seed -1 was
    refused as "every class needs at least 2 images"."""
    at = open_page("en")
    at.number_input(key="tf_seed").set_value(4294967296)
    at.number_input(key="tf_test_seed").set_value(-1)
    at.number_input(key="tf_val_seed").set_value(2**40)
    errors = refused(at, env)
    for key in ("bad_seed", "bad_test_seed", "bad_val_seed"):
        assert t(f"train.{key}", "en") in errors, errors
    assert "at least 2" not in errors
    assert TrainConfig(seed=2**32 - 1, test_seed=0).validate() == []


@pytest.mark.parametrize("sent", ["/etc/passwd", "/nonexistent/x.keras", str(ROOT / "models" / "default.keras"),
                                  "../shared/anything.keras"])
def test_a_start_model_the_server_did_not_offer_never_reaches_a_job(env, monkeypatch, sent):
    """Issue 30 (2): a rewritten websocket message made any server path the "Start from" model: /etc/passwd
    started a job, a .keras anywhere trained, a missing path said "is not there" (a probe for files)."""
    started = []

    def fake_start(cfg, **_kwargs):  # noqa: ANN001, ANN202  (name=: the run name, issue 31)
        started.append(cfg)
        raise jobs.JobError("stopped by the test")

    monkeypatch.setattr(jobs, "start_job", fake_start)
    at = open_page("en")
    craft(at.selectbox(key="tf_init_model"), sent)
    submit(at)
    assert all(cfg.init_model in ("",) for cfg in started), [c.init_model for c in started]
    shown = " ".join(e.value for e in at.error)
    assert "is not there" not in shown and t("train.init_missing", "en", path=sent)[:20] not in shown
    assert sent not in at.selectbox(key="tf_init_model").options


def test_the_personal_preset_keeps_its_freezing_and_replay(env):
    """Issue 41: the fields the form does not show (freeze, replay) come from the preset into what Start runs."""
    at = open_page("en")
    at.selectbox(key="train_preset").set_value("personal").run()
    assert not at.exception
    kept = at.session_state["train_values"]
    assert (kept["freeze"], kept["replay"], kept["replay_per_class"], kept["replay_classes"]) == (
        "early", "data/sample", 8, "untaught")
    assert at.selectbox(key="tf_split").value == "per-class" and kept["init_model"] == "models/webcam.keras"


def test_a_preset_or_dataset_the_server_did_not_offer_is_ignored(env):
    """Issue 30 (2): a crafted `train_preset` raised KeyError in apply_preset; the dataset choice likewise
    takes only what the server listed."""
    at = open_page("en")
    craft(at.selectbox(key="train_preset"), "no-such-preset")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="train_preset").value in PRESETS  # reset by the widget
    assert at.number_input(key="tf_epochs").value == 30  # and the form left as it was (the demo's)
    craft(at.selectbox(key="train_source"), "/etc")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="train_source").value == "sample"


def test_a_run_starts_only_from_a_model_of_its_architecture(env):
    at = open_page("en")
    assert at.selectbox(key="tf_init_model").value == ""  # the demo starts from random weights
    assert "models/default.keras" in at.selectbox(key="tf_init_model").options
    at.selectbox(key="train_preset").set_value("default").run()
    assert at.selectbox(key="tf_init_model").value == "runs/default-stage1/model.keras"
    at.selectbox(key="train_source").set_value("data/tiny").run()  # the official split needs a test part
    at.selectbox(key="tf_arch").set_value("tiny-cnn")
    at.selectbox(key="tf_init_model").set_value("models/webcam.keras")  # the shipped fer-net
    errors = refused(at, env)
    assert "models/webcam.keras is a fer-net model" in errors and "tiny-cnn" in errors
    at.selectbox(key="tf_init_model").set_value("models/default.keras")  # an ensemble: no run starts from it
    assert "models/default.keras averages several networks" in refused(at, env)


def test_a_class_missing_from_a_split_is_reported_before_training(env, tmp_path):
    shutil.rmtree(tmp_path / "data" / "tiny" / "train" / "disgust")
    at = open_page("en")
    at.selectbox(key="train_source").set_value("data/tiny")
    at.selectbox(key="tf_split").set_value("official")
    errors = refused(at, env)
    assert "Disgust" in errors and "training" in errors


def test_a_split_the_data_cannot_give_is_refused_in_the_pages_language(env, tmp_path):
    write_folder(tmp_path / "data" / "one", n_per_class=1, with_test=False)  # 1 image a class: no stratified test
    at = open_page("pt")
    at.selectbox(key="train_source").set_value("data/one")
    at.selectbox(key="tf_split").set_value("stratified")
    refused(at, env)
    assert [e.value for e in at.error] == [t("train.data_error", "pt",
                                             error=t("data_error.stratified_test", "pt", images="7"))]


def test_a_bad_or_taken_run_name_is_refused(env):
    at = open_page("en")
    at.selectbox(key="train_source").set_value("data/tiny")
    at.text_input(key="train_name").set_value("../escape")
    assert refused(at, env) == t("train.bad_name")
    (env / "taken").mkdir(parents=True)
    at.text_input(key="train_name").set_value("taken")
    submit(at)
    assert " ".join(e.value for e in at.error) == t("train.name_taken", name="taken")
    assert [p.name for p in env.iterdir()] == ["taken"]


@pytest.mark.slow
def test_submitting_the_form_starts_a_background_job_and_start_is_off_while_it_runs(env):
    at = open_page("pt")
    at.selectbox(key="train_source").set_value("data/tiny")
    at.selectbox(key="tf_split").set_value("official")
    at.number_input(key="tf_epochs").set_value(2)
    at.text_input(key="train_name").set_value("meu treino")
    submit(at)
    run = Path(at.session_state["train_run"])
    assert run.name == "meu-treino"  # the name typed, spaces made '-'
    assert run.parent == env.resolve() and (run / "job.json").exists()
    info = jobs.run_info(run)
    assert info.config.epochs == 2 and info.config.arch == "tiny-cnn" and info.config.data.endswith("tiny")
    assert info.state == "running" and jobs.is_job_process(info.pid, run)
    assert any(t("train.running", "pt", run=run.name) == shown(s.value) for s in at.subheader)
    # while it runs: the settings fold away under the progress, and Start is off
    [start] = [b for b in at.button if b.label == t("train.start", "pt")]
    assert start.disabled
    assert t("train.next_run", "pt") in [e.label for e in at.expander]
    assert t("train.start_disabled", "pt") in [c.value for c in at.caption]
    assert jobs.wait_job(run, 180).state == "finished"
    at.run()
    assert any(shown(s.value).startswith(t("train.finished", "pt", run=run.name, acc="")[:20]) for s in at.success)
    assert [p.name for p in env.iterdir()] == [run.name]  # one run folder; the lock is released


@pytest.mark.slow
def test_the_stop_button_ends_the_job_and_keeps_its_checkpoint(env):
    at = open_page("en")
    at.selectbox(key="train_source").set_value("data/tiny")
    at.selectbox(key="tf_split").set_value("official")
    at.number_input(key="tf_epochs").set_value(500)
    at.number_input(key="tf_batch_size").set_value(4)
    at.number_input(key="tf_time_budget_minutes").set_value(60.0)
    submit(at)
    run = Path(at.session_state["train_run"])
    deadline = time.monotonic() + 180
    while not (run / "history.csv").exists():
        assert time.monotonic() < deadline and jobs.run_info(run).state == "running", jobs.log_tail(run)
        time.sleep(0.5)
    at.run()
    [bar] = at.get("progress")
    before, after = t("train.progress_budget", used="USED", budget="1:00:00").split("USED")
    assert before in bar.proto.text and after in bar.proto.text  # the budget in the bar's text
    assert "(at most 500)" in bar.proto.text and "/500" not in bar.proto.text  # not "Epoch n/500": a maximum
    [stop] = [b for b in at.button if b.label == t("train.stop")]
    stop.click().run()
    assert not at.exception, [e.value for e in at.exception]
    info = jobs.wait_job(run, 120)
    assert info.state == "stopped" and 1 <= len(info.history()) < 500 and info.has_model
    at.run()
    assert any(shown(w.value) == t("train.stopped", run=run.name) for w in at.warning)

    # Resume: the same run folder continues where the stop left it
    epochs, batches = info.done
    key = "train.resume_at_batch" if batches else "train.resume_at"
    assert any(shown(c.value) == t(key, run=run.name, epoch=epochs + 1, epochs=500, batch=batches + 1)
               for c in at.caption)
    at.button(key="train_resume_current").click().run()
    assert not at.exception, [e.value for e in at.exception]
    resumed = jobs.run_info(run)
    assert resumed.state == "running" and resumed.pid != info.pid and jobs.active_job().path == run
    assert any(t("train.running", run=run.name) == shown(s.value) for s in at.subheader)
    # where it continues, not the last session's final batch (issue 39)
    [bar] = at.get("progress")
    loading = t("train.loading_resumed", epoch=epochs + 1, epochs=500, elapsed="ELAPSED").split("ELAPSED")[0]
    assert bar.proto.text.startswith((loading, f"Epoch {epochs + 1} ")), bar.proto.text
    assert jobs.stop_job(run, wait_s=120).state == "stopped"
    history = jobs.run_info(run).history()
    assert [int(r["epoch"]) for r in history] == list(range(1, len(history) + 1)) and len(history) >= epochs


@pytest.mark.slow
def test_a_killed_job_is_shown_as_failed_with_its_log_tail(env, tmp_path):
    import os
    import signal

    from fer.config import TrainConfig

    cfg = TrainConfig(data=str(tmp_path / "data" / "tiny"), split="official", arch="tiny-cnn", epochs=500,
                      batch_size=4, early_stopping_patience=1000)
    run = jobs.start_job(cfg).path
    deadline = time.monotonic() + 180
    while not (run / "state.json").exists():  # written last at the end of an epoch: its checkpoint is complete
        assert time.monotonic() < deadline, jobs.log_tail(run)
        time.sleep(0.5)
    os.kill(jobs.run_info(run).pid, signal.SIGKILL)
    assert jobs.wait_job(run, 30).state == "failed"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = "pt"
    at.session_state["train_run"] = str(run)
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert shown(at.error[0].value) == t("train.failed", "pt", run=run.name, error=t("train.died", "pt"))
    assert "epoch 1/500" in at.code[0].value
    assert "train_stop" not in [b.key for b in at.button]  # no Stop for a dead job

    # Another visitor (no run in their session) finds it under "Continue a stopped run" and resumes it
    other = open_page("en")
    assert "train_resume_current" not in [b.key for b in other.button]
    epochs = jobs.run_info(run).done[0]
    assert other.selectbox(key="train_resume_run").value == str(run)
    assert t("train.resume_at", run=run.name, epoch=epochs + 1, epochs=500) in other.selectbox(
        key="train_resume_run").options
    other.button(key="train_resume_pick").click().run()
    assert not other.exception, [e.value for e in other.exception]
    assert jobs.run_info(run).state == "running" and other.session_state["train_run"] == str(run)
    assert "train_resume_run" not in [s.key for s in other.selectbox]  # no other run to resume while one runs


@pytest.mark.slow
def test_the_devices_field_starts_a_mirrored_job_and_bad_replicas_are_refused(env):
    at = open_page("en")
    assert at.selectbox(key="tf_distribute").value == "none"  # presets train on one device
    assert at.selectbox(key="tf_distribute").options == [t("train.dist_" + s) for s in
                                                          ("none", "mirrored", "multi_worker")]
    at.selectbox(key="tf_distribute").set_value("mirrored").run()
    at.number_input(key="tf_replicas").set_value(65)
    assert t("train.bad_replicas") in refused(at, env)
    at.selectbox(key="train_source").set_value("data/tiny")
    at.selectbox(key="tf_split").set_value("official")
    at.number_input(key="tf_epochs").set_value(1)
    at.number_input(key="tf_replicas").set_value(2)
    submit(at)
    run = Path(at.session_state["train_run"])
    cfg = jobs.run_info(run).config
    assert (cfg.distribute, cfg.replicas) == ("mirrored", 2)
    done = jobs.wait_job(run, 180)
    assert done.state == "finished", done.log_tail()
    assert "mirrored over" in (run / "train.log").read_text()
    assert json.loads((run / "model.json").read_text())["machine"].endswith(" mirrored x2")


CHOICE_KEYS = ("train_preset", "train_source", "tf_split", "tf_arch", "tf_optimizer", "tf_lr_schedule",
               "tf_distribute", "tf_init_model")


def switch_language_as_a_browser_does(at: AppTest, lang: str) -> None:
    """Switch the sidebar's language, then run once more as the browser would: a selectbox sends back the words
    of its option, and the browser keeps the words it last had unless the server sent new ones with the run
    (AppTest itself recomputes them from the value, so it would hide the bug of issue 39, item 2)."""
    held = {b.key: b.options[b.index] for b in at.selectbox if b.key in CHOICE_KEYS}
    at.sidebar.selectbox(key="lang_select").set_value(lang).run()
    assert not at.exception, [e.value for e in at.exception]
    for box in at.selectbox:
        if box.key in held:
            craft(box, box.proto.raw_value if box.proto.set_value else held[box.key])
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_language_switch_keeps_every_choice_of_the_form_and_the_run_it_would_start(env, monkeypatch):
    """Issue 39 (2): after a switch Preset and Split kept their English words, and the next click reset them to
    their first options (Course CNN, Official) while Epochs kept its value: a run recorded preset demo but
    trained course-cnn on official."""
    from tests.test_i18n_pages import rerun_app_py

    rerun_app_py(monkeypatch)  # the language switch lives in app.py: every run goes through it
    at = open_page("en")
    at.selectbox(key="train_preset").set_value("one-stage").run()
    at.selectbox(key="train_source").set_value("data/tiny")
    at.selectbox(key="tf_split").set_value("custom")
    at.number_input(key="tf_epochs").set_value(7)
    at.run()
    expander = [e for e in at.expander if e.label == t("train.advanced")]
    assert expander
    at.selectbox(key="tf_optimizer").set_value("sgd").run()
    chosen = {b.key: b.value for b in at.selectbox if b.key in CHOICE_KEYS}
    config = dict(at.session_state["train_values"])
    assert chosen["tf_split"] == "custom" and chosen["train_preset"] == "one-stage" and config["optimizer"] == "sgd"
    for lang in ("pt", "en", "pt"):
        switch_language_as_a_browser_does(at, lang)
        assert {b.key: b.value for b in at.selectbox if b.key in CHOICE_KEYS} == chosen, lang
        assert at.session_state["train_values"] == config, lang
        words = {b.key: b.options[b.index] for b in at.selectbox}
        assert words["tf_split"] == t("train.split_custom", lang) and words["train_preset"] == t(
            "presets.one-stage", lang)
        assert at.number_input(key="tf_epochs").value == 7


def test_the_form_refuses_a_split_the_dataset_cannot_make_before_start(env):
    """Issue 39 (5): Split "Official" on the bundled sample (Training images only) trained a run with no test
    score and broke Results: the form says why under the split, in the page's language, and Start is off."""
    for lang in ("en", "pt"):
        at = open_page(lang)
        at.selectbox(key="tf_split").set_value("official").run()
        assert [e.value for e in at.error] == [t("train.bad_split_no_test", lang)]
        start = at.button(key="train_start")
        assert start.disabled and start.help == t("train.start_refused", lang)
        at.selectbox(key="train_source").set_value("data/tiny").run()  # it has test/: PrivateTest images
        assert not at.error and not at.button(key="train_start").disabled
        at.selectbox(key="train_source").set_value("sample")
        at.selectbox(key="tf_split").set_value("stratified").run()
        assert not at.error and not at.button(key="train_start").disabled


def test_settings_that_do_not_apply_are_hidden_and_keep_their_values(env):
    """Issue 39 (12): SGD's momentum showed while Adam was chosen, the test fraction on non-custom splits."""
    at = open_page("en")
    keys = lambda: {w.key for w in [*at.number_input, *at.checkbox, *at.selectbox]}  # noqa: E731
    shown_now = keys()
    assert {"tf_beta_1", "tf_lr_monitor", "tf_test_seed"} <= shown_now
    assert not {"tf_momentum", "tf_nesterov", "tf_test_fraction", "tf_replicas"} & shown_now
    assert at.checkbox(key="tf_augment").value and "tf_aug_shift" in shown_now  # the demo varies its images
    at.checkbox(key="tf_augment").uncheck().run()
    assert "tf_aug_shift" not in keys()
    at.number_input(key="tf_beta_1").set_value(0.8)
    at.selectbox(key="tf_optimizer").set_value("sgd").run()
    assert {"tf_momentum", "tf_nesterov"} <= keys() and "tf_beta_1" not in keys()
    at.selectbox(key="tf_lr_schedule").set_value("cosine")
    at.selectbox(key="tf_split").set_value("official")
    at.selectbox(key="tf_distribute").set_value("mirrored")
    at.checkbox(key="tf_augment").check().run()
    assert not {"tf_lr_monitor", "tf_lr_factor", "tf_lr_patience", "tf_test_seed", "tf_val_seed"} & keys()
    assert {"tf_replicas", "tf_aug_shift", "tf_aug_zoom"} <= keys()
    at.selectbox(key="tf_optimizer").set_value("adam").run()
    assert at.number_input(key="tf_beta_1").value == 0.8  # kept while hidden
    assert at.session_state["train_values"]["beta_1"] == 0.8
    # the plain part stays out of the expander: name, split, network, epochs and time come first
    labels = [e.label for e in at.expander]
    assert labels == [t("train.advanced")]
def follow(lang: str, progress: jobs.JobProgress, tmp_path: Path, monkeypatch) -> AppTest:
    """The Train page following a running job whose latest report is `progress` (no process behind it)."""
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    info = jobs.RunInfo("r", run, "running", pid=1, config=TrainConfig(data="x", epochs=progress.epochs),
                        progress=progress)
    monkeypatch.setattr(jobs, "active_job", lambda root=None: info)
    monkeypatch.setattr(jobs, "run_info", lambda path: info)
    return open_page(lang)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_resumed_job_shows_where_it_continues_and_its_last_figures_while_it_loads(env, tmp_path, monkeypatch, lang):
    from fer.i18n import fmt_number, fmt_percent

    p = jobs.JobProgress("loading", epoch=35, epochs=100, batch=0, elapsed=754.0, resumed=True,
                         epoch_logs={"loss": 0.9, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.55})
    at = follow(lang, p, tmp_path, monkeypatch)
    [bar] = at.get("progress")
    assert bar.proto.text == t("train.loading_resumed", lang, epoch=35, epochs=100, elapsed="12:34")
    assert bar.proto.value == 34  # 34 of 100 epochs done
    shown_ = {m.label: m.value for m in at.metric}
    assert shown_[t("train.m_loss", lang)] == fmt_number(0.9, lang, 3)  # the last epoch's, not "—"
    assert shown_[t("train.m_val_accuracy", lang)] == fmt_percent(0.55, lang)


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_loading_job_shows_the_share_of_its_dataset_read(env, tmp_path, monkeypatch, lang):
    from fer.i18n import fmt_percent

    at = follow(lang, jobs.JobProgress("loading", epochs=8, loaded=0.4), tmp_path, monkeypatch)
    [bar] = at.get("progress")
    assert bar.proto.text == t("train.loading_share", lang, share=fmt_percent(0.4, lang, 0)) and bar.proto.value == 40


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_stopped_job_scoring_its_best_checkpoint_does_not_say_training_is_done(env, tmp_path, monkeypatch, lang):
    p = jobs.JobProgress("evaluating", epoch=12, epochs=100, batch=3, batches=8, elapsed=95.0, stopping=True)
    at = follow(lang, p, tmp_path, monkeypatch)
    [bar] = at.get("progress")
    assert bar.proto.text == t("train.evaluating_stopped", lang, elapsed="1:35")
    assert t("train.evaluating", lang, elapsed="1:35") != bar.proto.text


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_quick_demo_says_when_its_dataset_was_switched(env, lang):
    at = open_page(lang)
    captions = [c.value for c in at.caption]
    assert t("presets.demo_help", lang) in captions
    assert not any(c.startswith(t("train.preset_other_data", lang, data="")[:20]) for c in captions)
    at.selectbox(key="train_source").set_value("data/tiny").run()
    assert not at.exception, [e.value for e in at.exception]
    assert t("train.preset_other_data", lang, data="tiny") in [shown(c.value) for c in at.caption]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_a_batch_too_large_for_the_architecture_is_refused_with_the_reason(env, lang):
    """Issue 42 (5): batch 4096 of course-cnn passed the form, and one step passed 9 GB."""
    from fer.config import max_batch_size, step_memory_mb

    at = open_page(lang)
    at.selectbox(key="tf_arch").set_value("course-cnn")
    at.number_input(key="tf_batch_size").set_value(4096)
    errors = refused(at, env)
    gb = fmt_number(round(step_memory_mb("course-cnn", 4096) / 1024, 1), lang, 1)
    assert t("train.bad_batch_memory", lang, batch=4096, arch="course-cnn", gb=gb, limit=max_batch_size("course-cnn"),
             budget=4) in errors, errors


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_emotions_to_name_more_often_reach_the_job_and_survive_a_language_switch_and_a_preset(env, monkeypatch,
                                                                                              lang):
    """Recall floors in the form: the emotions picked (at most three) with the one share become the run's
    TrainConfig.recall_floors; a preset puts its own (none) back; the per-emotion split, without validation
    images to choose the offsets on, is refused in the page's language."""
    from tests.test_i18n_pages import rerun_app_py

    rerun_app_py(monkeypatch)
    at = open_page(lang)
    share = at.number_input(key="tf_floor_share")
    assert share.value == 0.45 and share.disabled  # nothing picked: nothing to share out
    assert at.multiselect(key="tf_floor_emotions").value == []
    at.multiselect(key="tf_floor_emotions").set_value(["disgust", "fear"]).run()
    at.number_input(key="tf_floor_share").set_value(0.5).run()
    assert at.session_state["train_values"]["recall_floors"] == {"fear": 0.5, "disgust": 0.5}
    other = "pt" if lang == "en" else "en"
    at.sidebar.selectbox(key="lang_select").set_value(other).run()
    assert at.multiselect(key="tf_floor_emotions").value == ["disgust", "fear"]  # as picked
    assert at.session_state["train_values"]["recall_floors"] == {"fear": 0.5, "disgust": 0.5}
    at.sidebar.selectbox(key="lang_select").set_value(lang).run()

    at.selectbox(key="tf_split").set_value("per-class")
    assert t("train.bad_recall_floors_no_validation", lang) in refused(at, env)
    at.selectbox(key="tf_split").set_value("custom")
    at.number_input(key="tf_epochs").set_value(1)
    submit(at)
    run = Path(at.session_state["train_run"])
    assert jobs.run_info(run).config.recall_floors == {"fear": 0.5, "disgust": 0.5}
    assert jobs.wait_job(run, 180).state == "finished"

    at.selectbox(key="train_preset").set_value("course").run()  # a preset's own floors: none
    assert at.multiselect(key="tf_floor_emotions").value == []
    assert at.session_state["train_values"]["recall_floors"] == {}
