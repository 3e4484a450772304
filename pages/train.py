"""Train: a form that builds a TrainConfig, runs it as a background job and follows it live."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from fer import i18n
from fer.config import MONITORS, OPTIMIZERS, SCHEDULES, SPLITS, STRATEGIES, ConfigProblem, TrainConfig
from fer.data.dataset import DataError
from fer.i18n import fmt_number, fmt_percent
from fer.jobs import launcher as jobs
from fer.labels import LABELS, display_name
from fer.model.architectures import ARCHITECTURES
from fer.paths import ROOT
from fer.train.presets import PRESETS, preset_starts, resolve_data
from fer.train.trainer import start_problem
from ui.common import available_models, data_error_text, lang, t, worded
from ui.data_source import choose_dataset, dataset_options, load_with_progress
from ui.text import plain
from ui.training import curves, progress_view, start_run

K = "tf_"  # prefix of the form's widget keys; the rest of each key is the TrainConfig field
FLOATS = ("test_fraction", "val_fraction", "learning_rate", "beta_1", "beta_2", "epsilon", "momentum", "lr_factor",
          "early_stopping_min_delta", "aug_shift", "aug_rotation", "aug_zoom", "train_fraction", "time_budget_minutes",
          "average_from")
INTS = ("test_seed", "val_seed", "epochs", "batch_size", "lr_patience", "early_stopping_patience", "seed",
        "replicas")
OPTIONAL = ("l2", "dropout")
CHOICES = ("split", "arch", "optimizer", "lr_schedule", "lr_monitor", "init_model", "distribute", "mixed_precision")
FLAGS = ("nesterov", "class_weights", "augment", "aug_flip")
# The precision box's stable values (what the form keeps) and the TrainConfig.mixed_precision each stands for.
PRECISIONS = {"auto": None, "bfloat16": True, "float32": False}
# Fields the form does not show: a preset sets them (the personal preset its freezing and replay; a teacher file).
HIDDEN = ("label_smoothing", "soft_labels", "freeze", "replay", "replay_per_class", "replay_classes", "teacher",
          "teacher_weight", "extra")
FIELDS = (*FLOATS, *INTS, *OPTIONAL, *CHOICES, *FLAGS)
FLOOR_SHARE = 0.45  # the recall floor's first value: the shipped model's floors for Fear and Disgust
FLOOR_SHARE_MIN, FLOOR_SHARE_MAX = 0.05, 1.0  # the share box's bounds
# Session key: {TrainConfig field: value}, what the form holds. Fields that do not apply are not drawn, and
# Streamlit forgets the value of a widget it did not draw: the form's values live here, its widgets start from
# them and write back on change. (A comment, not a string: Streamlit's magic would write a bare string.)
KEPT = "train_values"


def fill(cfg: TrainConfig) -> None:
    """Put a config's values into the form (and pick its dataset when the server has it)."""
    kept = {name: float(getattr(cfg, name)) if name in FLOATS else getattr(cfg, name) for name in FIELDS}
    kept["mixed_precision"] = next(code for code, v in PRECISIONS.items() if v is cfg.mixed_precision)
    st.session_state[KEPT] = kept | {name: getattr(cfg, name) for name in HIDDEN} | {
        "recall_floors": dict(cfg.recall_floors)}
    for name in FIELDS:
        st.session_state[K + name] = kept[name]
    for key in (K + "floor_emotions", K + "floor_share"):  # drawn again from the kept value (`floors`)
        st.session_state.pop(key, None)
    want = Path(resolve_data(cfg).data).resolve()
    for code, path in dataset_options().items():
        if Path(path).resolve() == want:
            st.session_state["train_source"] = code


def apply_preset() -> None:
    name = st.session_state.get("train_preset")  # the raw value sent: this callback runs before the widget checks it
    if name in PRESETS:
        fill(PRESETS[name])


def keep(name: str) -> None:
    """A form widget changed: keep its value (on_change)."""
    st.session_state[KEPT][name] = st.session_state[K + name]


def floor_emotions() -> list[str]:
    """The emotions picked, as LABELS names. A multiselect keeps an option's words it no longer offers as they
    are: after a language switch it can hold "Fear" or "Medo" for fear, so words of any language are read back."""
    codes = {display_name(e, lg): e for lg in i18n.languages() for e in LABELS} | {e: e for e in LABELS}
    picked = [codes[v] for v in st.session_state.get(K + "floor_emotions", []) if v in codes]
    return list(dict.fromkeys(picked))


def keep_floors() -> None:
    """The recall-floor widgets changed: the chosen emotions, each with the one share (on_change). Nothing when a
    preset has just put its own floors in their place (`fill`, a callback of the same run)."""
    if K + "floor_share" not in st.session_state or K + "floor_emotions" not in st.session_state:
        return
    share = float(st.session_state[K + "floor_share"])
    st.session_state[KEPT]["recall_floors"] = {e: share for e in floor_emotions()}


def floors() -> None:
    """The emotions to name more often (TrainConfig.recall_floors, at most three) and the one share of their
    validation faces each must then be named on. Their keys start from the kept value, as `field`'s do."""
    kept = value("recall_floors")
    st.session_state.setdefault(K + "floor_emotions", [e for e in LABELS if e in kept])
    if (codes := floor_emotions()) != list(st.session_state[K + "floor_emotions"]):  # codes again, not words
        st.session_state[K + "floor_emotions"] = codes
    share = float(max(kept.values(), default=FLOOR_SHARE))
    st.session_state.setdefault(K + "floor_share", min(max(share, FLOOR_SHARE_MIN), FLOOR_SHARE_MAX))
    c1, c2 = st.columns(2)
    c1.multiselect(t("train.floors"), LABELS, key=worded(K + "floor_emotions"), max_selections=3,
                   format_func=lambda e: display_name(e, lang()) if e in LABELS else e, help=t("train.floors_help"),
                   on_change=keep_floors, placeholder=t("train.floors_none"), select_all=False)
    c2.number_input(t("train.floor_share"), key=K + "floor_share", min_value=FLOOR_SHARE_MIN,
                    max_value=FLOOR_SHARE_MAX, step=0.05, format="%.2f", on_change=keep_floors,
                    disabled=not st.session_state[K + "floor_emotions"])


def same_data(cfg: TrainConfig, data: Path) -> bool:
    """True when `data` is the dataset `cfg` (a preset) was made for."""
    return Path(resolve_data(cfg).data).resolve() == Path(data).resolve()


def read_form(data: Path) -> TrainConfig:
    """The TrainConfig the form holds now, on `data` (what Start would run)."""
    kept = st.session_state[KEPT]
    return TrainConfig(data=str(data), **kept | {"mixed_precision": PRECISIONS.get(kept["mixed_precision"])})


def value(name: str) -> Any:
    """The form's value of the TrainConfig field `name`."""
    return st.session_state[KEPT][name]


def start_options() -> list[str]:
    """"" (random weights), every model a run could start from (models/ and runs/, as paths from the repository
    root) and the presets' starting points (shown even before they exist; start_refusal then says so). Never a
    value the browser sent: a selectbox keeps a value only if it is one of these."""
    paths = [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in available_models().values()]
    return ["", *paths, *(p for p in preset_starts() if p not in paths)]


def start_refusal(cfg: TrainConfig) -> str | None:
    """Why the run cannot start from cfg.init_model (missing file, other architecture), translated; or None."""
    problem = start_problem(cfg)
    if problem is None:
        return None
    return t(f"train.init_{problem.kind}", path=plain(problem.path), arch=problem.arch, want=problem.want)


def reason(problem: ConfigProblem) -> str:
    """A TrainConfig problem in the session's language: `train.bad_<field>_<kind>`, else `train.bad_<kind>`, else
    `train.bad_<field>` (filled in from its details), else its English message."""
    keys = [f"train.bad_{problem.field}_{problem.kind}", f"train.bad_{problem.kind}"] if problem.kind else []
    key = next((k for k in [*keys, f"train.bad_{problem.field}"] if k in i18n.catalog(lang())), None)
    details = {k: i18n.fmt_number(v, lang(), 1) if isinstance(v, float) else v for k, v in problem.details.items()}
    return t(key, **details) if key else plain(problem.message)


def infeasible_text(problem: Any, lg: str) -> str:
    """A fer.train.feasibility problem in the session's language, its numbers written as the language writes them."""
    values = {k: fmt_percent(v, lg, 1) if k == "fraction" else fmt_number(v, lg, 0) for k, v in problem.details.items()}
    return t(f"train.infeasible_{problem.kind}", **values)
def split_refusals(data: Path) -> list[str]:
    """Why the form's split cannot be made from `data`, in the session's language; empty when it can. Only the
    official split depends on which parts (Training, PublicTest, PrivateTest) the dataset has, so only then is
    the dataset loaded before Start (from memory when any page loaded it already)."""
    from fer.data.splits import split_problems

    cfg = read_form(data)
    if cfg.split != "official":
        return []
    try:
        ds = load_with_progress(data)
    except DataError as exc:
        return [t("train.data_error", error=data_error_text(exc))]
    return [reason(p) for p in split_problems(ds.counts(), cfg)]


def live(run_path: str) -> None:
    """Progress of the running job, redrawn every second until it ends."""
    info = jobs.run_info(Path(run_path))
    if info.state != "running":
        st.rerun(scope="app")
    st.subheader(t("train.running", run=plain(info.name)))
    progress_view(info)
    if (info.path / "stop").exists():
        st.info(t("train.stopping"))
    elif st.button(t("train.stop"), key="train_stop", type="primary"):
        jobs.stop_job(info.path)
        st.info(t("train.stopping"))


def outcome(info: jobs.RunInfo) -> None:
    """How the session's last job ended."""
    if info.state == "finished":
        acc = next((r.get("accuracy") for r in [_test_metrics(info)] if r), None)
        st.success(t("train.finished", run=plain(info.name), acc=fmt_percent(acc, lang()) if acc is not None else "—"))
        st.page_link("pages/results.py", label=t("train.see_results"), icon=":material/analytics:")
    elif info.state == "stopped":
        st.warning(t("train.stopped", run=plain(info.name)))
        st.page_link("pages/results.py", label=t("train.see_results"), icon=":material/analytics:")
    elif info.state in ("failed", "broken"):
        why = t("train.died") if info.error == jobs.DIED else plain(info.error)
        st.error(t("train.failed", run=plain(info.name), error=why))
        st.code(info.log_tail(30) or t("train.no_log"), language=None)
    if info.resumable:
        st.caption(resume_label(info, markdown=True))
        if st.button(t("train.resume"), key="train_resume_current", help=t("train.resume_help")):
            resume(info)
    curves(info, "done")


def resume_label(info: jobs.RunInfo, markdown: bool = False) -> str:
    """Where a resumable run continues: plain text (an option), or with `markdown` the run's name through plain()
    for a place that renders Markdown."""
    epoch, batch = info.done or (0, 0)
    epochs = info.config.epochs if info.config else 0
    run = plain(info.name) if markdown else info.name
    if batch:
        return t("train.resume_at_batch", run=run, epoch=epoch + 1, epochs=epochs, batch=batch + 1)
    return t("train.resume_at", run=run, epoch=epoch + 1, epochs=epochs)


def launch(start: Callable[[], jobs.RunInfo]) -> None:
    """Start or resume a job with `start` and follow it on this page; say why when it cannot start."""
    start_run(start, "train_run")


def resume(info: jobs.RunInfo) -> None:
    """Continue a stopped or failed run in the background and follow it."""
    launch(lambda: jobs.resume_job(info.path))


def resumable_runs(current: Path | None) -> None:
    """Other runs that ended without finishing and can continue."""
    runs = {str(r.path): r for r in jobs.list_runs()
            if r.resumable and (current is None or r.path.resolve() != current.resolve())}
    if not runs:
        return
    with st.expander(t("train.resume_section")):
        pick = st.selectbox(t("train.resume_pick"), list(runs), key=worded("train_resume_run"),
                            format_func=lambda p: resume_label(runs[p]))
        if st.button(t("train.resume"), key="train_resume_pick", help=t("train.resume_help")):
            resume(runs[pick])


def _test_metrics(info: jobs.RunInfo) -> dict[str, Any]:
    from fer.model.modelio import load_card

    card = load_card(info.model_path)
    return card.metrics.get("test", {}) if card else {}


# A run name is its folder's name: letters, digits, '.', '_' and '-' (spaces become '-'). A comment, not a
# string: Streamlit's magic would write a bare string on the page.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")


def run_name() -> tuple[str | None, str | None]:
    """(the run name typed in the form or None for a timestamp, the translated reason it is refused)."""
    raw = str(st.session_state.get("train_name", "") or "").strip()
    if not raw:
        return None, None
    name = re.sub(r"\s+", "-", raw)
    if not NAME.fullmatch(name):
        return None, t("train.bad_name")
    if (jobs.runs_dir() / name).exists():
        return None, t("train.name_taken", name=plain(name))
    return name, None


def field(name: str) -> dict[str, Any]:
    """A form widget's key, help and on_change for the TrainConfig field `name`: its key starts from the kept
    value, its help is the field's one description (the `config` section of the locale files, the same text as
    `fer train --help`). A choice's key goes through ui.common.worded: its words change with the language."""
    key = K + name
    if key not in st.session_state:
        st.session_state[key] = value(name)
    if name in CHOICES:
        worded(key)
    return {"key": key, "help": t(f"config.{name}"), "on_change": keep, "args": (name,)}


def heading(key: str) -> None:
    """A small heading inside the Advanced expander."""
    st.markdown(f"**{t(key)}**")


def form(data: Path, running: bool, problems: list[str]) -> None:
    """The plain settings (what to train on, which network, how long), then every expert setting under
    Advanced, each shown only where it applies, then Start (off while a run runs or the split cannot be made)."""
    archs, lg = list(ARCHITECTURES), lang()
    st.text_input(t("train.name"), key="train_name", max_chars=60, placeholder=t("train.name_placeholder"),
                  help=t("train.name_help"))
    st.selectbox(t("train.split"), SPLITS, **field("split"), format_func={s: t(f"train.split_{s}") for s in SPLITS}.get)
    for problem in problems:  # under the box that fixes it
        st.error(problem)
    st.selectbox(t("train.arch"), archs, **field("arch"),
                 format_func={a: f"{a}: {t('train.arch_' + a)}" for a in archs}.get)
    c1, c2 = st.columns(2)
    c1.number_input(t("train.epochs"), **field("epochs"), step=1)
    c2.number_input(t("train.time_budget"), **field("time_budget_minutes"), step=15.0, format="%g")
    with st.expander(t("train.advanced"), expanded=False):
        # a new pair of columns per row: on a phone the columns stack, and a row's two fields stay together
        st.caption(t("train.advanced_help"))
        split = value("split")
        heading("train.split_section")
        if split == "custom":
            c1, c2 = st.columns(2)
            c1.number_input(t("train.test_fraction"), **field("test_fraction"), step=0.05, format="%.2f")
            c2.number_input(t("train.val_fraction"), **field("val_fraction"), step=0.05, format="%.2f")
        if split != "official":
            c1, c2 = st.columns(2)
            c1.number_input(t("train.test_seed"), **field("test_seed"), step=1)
            c2.number_input(t("train.val_seed"), **field("val_seed"), step=1)
        c1, c2 = st.columns(2)
        c1.number_input(t("train.train_fraction"), **field("train_fraction"), step=0.1, format="%.2f")
        c2.selectbox(t("train.init_model"), starts := start_options(), **field("init_model"),
                     format_func=({"": t("train.init_scratch")} | {v: v for v in starts if v}).get)

        heading("train.optimizer_section")
        c1, c2 = st.columns(2)
        c1.selectbox(t("train.optimizer"), OPTIMIZERS, **field("optimizer"),
                     format_func={o: t(f"train.opt_{o}") for o in OPTIMIZERS}.get)
        c2.number_input(t("train.learning_rate"), **field("learning_rate"), format="%g", step=1e-4)
        c1, c2 = st.columns(2)
        c1.number_input(t("train.batch_size"), **field("batch_size"), step=8)
        if value("optimizer") == "adam":
            c2.number_input(t("train.beta_1"), **field("beta_1"), format="%g", step=0.01)
            c1, c2 = st.columns(2)
            c1.number_input(t("train.beta_2"), **field("beta_2"), format="%g", step=0.001)
            c2.number_input(t("train.epsilon"), **field("epsilon"), format="%g", step=1e-7)
        else:
            c2.number_input(t("train.momentum"), **field("momentum"), format="%g", step=0.05)
            st.checkbox(t("train.nesterov"), **field("nesterov"))
        c1, c2 = st.columns(2)
        c1.number_input(t("train.l2"), **field("l2"), format="%g", step=1e-4, placeholder=t("train.arch_default"))
        c2.number_input(t("train.dropout"), **field("dropout"), format="%g", step=0.05,
                        placeholder=t("train.arch_default"))

        heading("train.schedule_section")
        st.selectbox(t("train.lr_schedule"), SCHEDULES, **field("lr_schedule"),
                     format_func={m: t("train.sched_" + m) for m in SCHEDULES}.get)
        if value("lr_schedule") == "plateau":
            c1, c2, c3 = st.columns(3)
            c1.selectbox(t("train.lr_monitor"), MONITORS, **field("lr_monitor"),
                         format_func={m: t("train.m_" + m) for m in MONITORS}.get)
            c2.number_input(t("train.lr_factor"), **field("lr_factor"), format="%g", step=0.05)
            c3.number_input(t("train.lr_patience"), **field("lr_patience"), step=1)
        c1, c2 = st.columns(2)
        c1.number_input(t("train.es_patience"), **field("early_stopping_patience"), step=1)
        c2.number_input(t("train.min_delta"), **field("early_stopping_min_delta"), format="%g", step=1e-3)
        st.number_input(t("train.average_from"), **field("average_from"), format="%g", step=0.05)

        heading("train.augment_section")
        st.checkbox(t("train.class_weights"), **field("class_weights"))
        st.checkbox(t("train.augment"), **field("augment"))
        if value("augment"):
            st.checkbox(t("train.aug_flip"), **field("aug_flip"))
            c1, c2, c3 = st.columns(3)
            c1.number_input(t("train.aug_shift"), **field("aug_shift"), format="%g", step=0.05)
            c2.number_input(t("train.aug_rotation"), **field("aug_rotation"), format="%g", step=5.0)
            c3.number_input(t("train.aug_zoom"), **field("aug_zoom"), format="%g", step=0.05)

        heading("train.after_section")
        floors()

        heading("train.devices_section")
        c1, c2 = st.columns(2)
        c1.selectbox(t("train.distribute"), STRATEGIES, **field("distribute"),
                     format_func={s: t("train.dist_" + s.replace("-", "_")) for s in STRATEGIES}.get)
        if value("distribute") == "mirrored":
            c2.number_input(t("train.replicas"), **field("replicas"), step=1)
        c1, c2 = st.columns(2)
        c1.number_input(t("train.seed"), **field("seed"), step=1)
        st.selectbox(t("train.mixed_precision"), list(PRECISIONS), **field("mixed_precision"),
                     format_func={c: t(f"train.precision_{c}") for c in PRECISIONS}.get)
        st.checkbox(t("train.allow_missing"), key="train_allow_missing")
    why_off = t("train.start_disabled") if running else t("train.start_refused") if problems else None
    if st.button(t("train.start"), key="train_start", type="primary", disabled=running or bool(problems),
                 help=why_off) and not running and not problems:
        submit(data, lg)


def submit(data: Path, lg: str) -> None:
    cfg = read_form(data)
    if cfg.init_model not in start_options():  # what the server offered, nothing else (issue 30)
        st.error(t("train.init_not_offered"))
        return
    errors = cfg.validate()
    if errors:
        st.error(t("train.invalid") + "\n\n" + "\n".join(f"- {reason(e)}" for e in errors))
        return
    problem = start_refusal(cfg)
    if problem:
        st.error(problem)
        return
    name, bad_name = run_name()
    if bad_name:
        st.error(bad_name)
        return
    try:
        from fer.data.splits import make_split, missing_classes
        from fer.train.feasibility import data_problems, machine_problems

        ds = load_with_progress(data)
        missing = missing_classes(ds, make_split(ds, cfg))
        infeasible = machine_problems(cfg) + data_problems(cfg, ds)  # what fails in the job otherwise (issue 42)
    except DataError as exc:
        st.error(t("train.data_error", error=data_error_text(exc)))
        return
    if infeasible:
        st.error(t("train.infeasible") + "\n\n" + "\n".join(f"- {infeasible_text(p, lg)}" for p in infeasible))
        return
    if missing:
        parts = "; ".join(f"{t('train.part_' + part)}: {', '.join(display_name(c, lg) for c in names)}"
                          for part, names in missing.items())
        if not st.session_state.get("train_allow_missing"):
            st.error(t("train.missing", parts=parts))
            return
        st.warning(t("train.missing_anyway", parts=parts))
    launch(lambda: jobs.start_job(cfg, name=name))


st.title(t("train.title"))
st.caption(t("train.intro"))

active = jobs.active_job()
if active is not None:  # started here, in another session or on another replica: follow it to its end
    st.session_state["train_run"] = str(active.path)
current = st.session_state.get("train_run")
running = False
if current is not None:
    info = jobs.run_info(Path(current))
    running = info.state == "running"
    if running:
        with st.container():  # alone in its container: see the note in pages/webcam.py
            st.fragment(live, run_every=1.0)(str(info.path))
    else:
        outcome(info)
    st.divider()
if active is None:
    resumable_runs(Path(current) if current is not None else None)

if KEPT not in st.session_state:
    st.session_state.setdefault("train_preset", "demo")
    fill(PRESETS[st.session_state["train_preset"]])
# During a run the settings fold away under its progress (Start pressed at the bottom of a long form
# would otherwise leave the progress above, off screen); Start is off until the run ends.
settings = st.expander(t("train.next_run"), expanded=False) if running else st.container()
with settings:
    if running:
        st.caption(t("train.start_disabled"))
    preset = st.selectbox(t("train.preset"), list(PRESETS), key=worded("train_preset"), on_change=apply_preset,
                          format_func={p: t(f"presets.{p}") for p in PRESETS}.get, help=t("train.preset_help"))
    about = st.container()  # the preset's words, once the dataset they train on is known
    about.caption(t(f"presets.{preset}_help"))
    dataset = choose_dataset("train")
    if not same_data(PRESETS[preset], dataset):  # e.g. the quick demo switched to the full FER2013
        about.caption(t("train.preset_other_data", data=plain(dataset.name)))
    form(dataset, running, split_refusals(dataset))
