"""Results: curves, test scores, confusion matrix and worst mistakes of runs and the shipped model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from fer.config import COURSE, TrainConfig, course_recipe
from fer.data.dataset import DataError
from fer.files import MAX_MODEL_BYTES, MAX_TEXT_BYTES, is_regular, read_bytes
from fer.i18n import fmt_count, fmt_duration, fmt_list, fmt_number, fmt_percent
from fer.jobs import launcher as jobs
from fer.jobs.results import (
    ModelReport,
    ShippedPredictions,
    TestPredictions,
    best_epoch,
    confused_pairs,
    curve_figure,
    early_stopped,
    load_predictions,
    load_reports,
    member_epochs,
    member_histories,
    read_model_report,
    test_predictions,
)
from fer.labels import LABELS, display_name
from fer.model.evaluation import EvalReport, most_confident_mistakes, report_from_scores
from fer.model.modelio import ModelCard, load_card, read_card
from fer.paths import ROOT
from fer.train.presets import resolve_data
from ui.charts import show_chart, show_table
from ui.common import (
    DEFAULT_MODEL,
    MODELS_DIR,
    data_error_text,
    emotions_sentence,
    get_classifier,
    is_active_model,
    lang,
    model_label,
    set_active_model,
    t,
    worded,
)
from ui.data_source import KeyedStore, load_with_progress
from ui.text import plain, plot_text

DEFAULT = "default"


@dataclass(frozen=True)
class Entry:
    """One pickable model: the shipped default or a run folder."""

    key: str
    model: Path
    run: jobs.RunInfo | None

    @property
    def card(self) -> ModelCard | None:
        return read_card(self.model)[0]

    @property
    def report(self) -> ModelReport | None:
        """The report `export` wrote beside the model (the shipped model's scores without the dataset)."""
        return read_model_report(self.model)[0]

    def problems(self) -> list[str]:
        """Why its card or report, which are there, cannot be used (well typed but invalid, a FIFO, a link, ...)."""
        return [p for p in (read_card(self.model)[1], read_model_report(self.model)[1]) if p]

    @property
    def predictions(self) -> ShippedPredictions | None:
        """The test-split predictions shipped beside the model (its most confident mistakes without scoring)."""
        return load_predictions(self.model)

    def history(self) -> list[dict[str, float]]:
        if self.run:
            return self.run.history()
        report = self.report
        return list(report.history) if report else []

    def config(self) -> TrainConfig | None:
        card = self.card
        if card and card.config:
            return TrainConfig.from_dict(card.config)
        return self.run.config if self.run else None


def shipped_key(model: Path) -> str:
    return DEFAULT if model == DEFAULT_MODEL else f"models/{model.stem}"


def entries() -> dict[str, Entry]:
    """The shipped models first (models/default.keras, then every other models/*.keras with a card), then the
    runs, newest first."""
    shipped = sorted((p for p in MODELS_DIR.glob("*.keras") if p == DEFAULT_MODEL or load_card(p) is not None),
                     key=lambda p: (p != DEFAULT_MODEL, p.name))
    found = {shipped_key(p): Entry(shipped_key(p), p, None) for p in shipped}
    for run in jobs.list_runs():
        if run.state != "running" and run.has_model:
            found[run.name] = Entry(run.name, run.model_path, run)
    return found


def label(e: Entry, markdown: bool = False) -> str:
    """The entry's name as plain text (options, tables; plotly through plot_text) or, with `markdown`, for a
    place that renders Markdown (a tab): the run's folder name through plain() (issue 42: `www.site` as a link)."""
    if e.run is None:
        return t("results.default_model", name=f"models/{e.model.name}")
    shown = model_label(e.run.path / "model.keras")
    if markdown:  # a tab renders Markdown: the name escaped (issue 42)
        shown = plain(shown)
    return t("results.run_label", name=shown, state=t(f"results.state_{e.run.state}"))


@st.cache_resource(show_spinner=False)
def _scored() -> KeyedStore:
    """Test-split scores of the last few models, shared by all sessions."""
    return KeyedStore(4)


def get_predictions(e: Entry) -> TestPredictions | None:
    """The model's scores on its test split: from memory, else the dataset loaded and the split scored,
    each with a progress bar (minutes on 2 cores for the full FER2013)."""
    cfg = e.config()
    if cfg is None:
        st.warning(t("results.no_config"))
        return None
    cfg = resolve_data(cfg)
    key = (str(e.model), e.model.stat().st_mtime, cfg.to_json())
    store = _scored()
    with store.key_lock(key):
        found = store.get(key)
        if found is not None:
            return found
        try:
            ds = load_with_progress(Path(cfg.data))
            clf = get_classifier(e.model)
            bar = st.progress(0.0, text=t("results.computing"))

            def progress(fraction: float) -> None:
                bar.progress(fraction, text=t("results.scoring", percent=fmt_percent(fraction, lang(), 0)))

            found = test_predictions(clf, cfg, dataset=ds, progress=progress)
            bar.empty()
        except DataError as exc:
            st.error(t("results.predict_error", error=data_error_text(exc)))
            return None
        except (OSError, ValueError) as exc:
            st.error(t("results.predict_error", error=plain(exc)))
            return None
        store.put(key, found)
        return found


def test_report(e: Entry) -> EvalReport | None:
    if e.run is not None:
        rep = load_reports(e.run.path).get("test")
        if rep is not None:
            return rep
    shipped = e.report
    if shipped is not None and "test" in shipped.reports:
        return shipped.reports["test"]
    if st.session_state.get(f"res_eval_{e.key}"):
        p = get_predictions(e)
        return report_from_scores(p.labels, p.scores, "test") if p is not None else None
    st.info(t("results.not_scored"))
    if st.button(t("results.compute"), key=f"res_compute_{e.key}"):
        st.session_state[f"res_eval_{e.key}"] = True
        st.rerun()
    return None


def show_curves(e: Entry) -> None:
    history = e.history()
    if history:
        draw_curves(e, history, e.key, e.run is not None and e.run.state == "finished")
        return
    card = e.card
    members = member_histories(card.members, ROOT) if card is not None and card.members else []
    if members:  # an ensemble trained no epochs itself: its members' curves are its own
        for i, (name, member_history) in enumerate(members):
            st.markdown(t("results.member_curves", name=plain(name), n=i + 1, of=len(card.members)))
            draw_curves(e, list(member_history), f"{e.key}_m{i}", False)
    elif e.run is None and card is not None and card.epochs_trained:
        st.info(t("results.history_gone", epochs=card.epochs_trained, best=card.best_epoch))
    else:
        st.info(t("results.no_history"))


def draw_curves(e: Entry, history: list[dict[str, float]], key: str, finished: bool) -> None:
    """Loss and accuracy by epoch, the best epoch and an early stop marked, and a line saying which."""
    best = best_epoch(history)
    stop = len(history) if early_stopped(history, e.config(), finished) else 0
    names = {"train": t("results.train"), "val": t("results.val"), "epoch": t("results.epoch"),
             "best": t("results.best_epoch_mark"), "stop": t("results.early_stop_mark")}
    cols = st.columns(2)
    for col, metric in zip(cols, ("loss", "accuracy"), strict=True):
        fig = curve_figure(history, metric, names | {"title": t(f"results.{metric}")}, best=best, stop=stop)
        show_chart(fig, key=f"res_curve_{key}_{metric}", where=col)
    note = t("results.best_epoch", epoch=best)
    if stop:
        note += " " + t("results.early_stopped", epoch=stop, planned=e.config().epochs)
    st.caption(note)


def show_report(e: Entry, rep: EvalReport) -> None:
    lg = lang()
    cols = st.columns(4)
    cols[0].metric(t("results.accuracy"), fmt_percent(rep.accuracy, lg))
    cols[1].metric(t("results.loss"), fmt_number(rep.loss, lg, 3))
    cols[2].metric(t("results.macro_f1"), fmt_number(rep.macro_f1, lg, 3))
    cols[3].metric(t("results.n"), fmt_count(rep.n, lg))
    cfg = e.config()
    if cfg is not None and course_recipe(cfg):  # the course report's figure beside this model's
        st.caption(t("results.course_reference", acc=fmt_percent(COURSE.test_accuracy, lg),
                     epochs=COURSE.epochs_trained, ours=fmt_percent(rep.accuracy, lg),
                     diff=("+" if rep.accuracy >= COURSE.test_accuracy else "−")
                     + fmt_number(100 * abs(rep.accuracy - COURSE.test_accuracy), lg, 1)))
    table = pd.DataFrame({
        t("results.class"): [display_name(c, lg) for c in LABELS],
        t("results.precision"): [fmt_percent(rep.per_class[c].precision, lg) for c in LABELS],
        t("results.recall"): [fmt_percent(rep.per_class[c].recall, lg) for c in LABELS],
        t("results.f1"): [fmt_number(rep.per_class[c].f1, lg, 3) for c in LABELS],
        t("results.support"): [rep.per_class[c].support for c in LABELS],
    })
    show_table(table, hide_index=True)
    cm = np.array(rep.confusion, dtype=float)
    norm = st.radio(t("results.cm_view"), ("counts", "normalised"), horizontal=True, key=worded(f"res_cm_{e.key}"),
                    format_func={v: t(f"results.cm_{v}") for v in ("counts", "normalised")}.get)
    if norm == "normalised":
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [display_name(c, lg) for c in LABELS]
    # aspect "auto": a square matrix fills the chart's width and height (a forced square left a blank band
    # above it on a phone)
    fig = px.imshow(cm, x=names, y=names, color_continuous_scale="Blues", text_auto=".1%" if norm != "counts" else "d",
                    aspect="auto",
                    labels={"x": t("results.predicted"), "y": t("results.true"), "color": t(f"results.cm_{norm}")})
    fig.update_layout(title=t("results.confusion"), height=480, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_coloraxes(showscale=False)  # every cell writes its number; the scale only took a phone's width
    show_chart(fig, key=f"res_cmfig_{e.key}")
    st.markdown(f"**{t('results.confused_pairs')}**")
    pairs = confused_pairs(rep, 5)
    show_table(pd.DataFrame({
        t("results.true"): [display_name(a, lg) for a, _, _, _ in pairs],
        t("results.predicted"): [display_name(b, lg) for _, b, _, _ in pairs],
        t("results.images"): [n for _, _, n, _ in pairs],
        t("results.share_of_true"): [fmt_percent(share, lg) for _, _, _, share in pairs],
    }), hide_index=True)


def show_mistakes(e: Entry, rep: EvalReport) -> None:
    st.subheader(t("results.mistakes"))
    lg = lang()
    cm = np.array(rep.confusion)
    off = cm - np.diag(np.diag(cm))
    worst = np.unravel_index(int(off.argmax()), off.shape) if off.any() else (1, 0)
    c1, c2 = st.columns(2)
    true = c1.selectbox(t("results.true"), range(len(LABELS)), index=int(worst[0]), key=worded(f"res_true_{e.key}"),
                        format_func=lambda i: display_name(LABELS[i], lg))
    pred = c2.selectbox(t("results.predicted"), range(len(LABELS)), index=int(worst[1]),
                        key=worded(f"res_pred_{e.key}"), format_func=lambda i: display_name(LABELS[i], lg))
    if true == pred:  # the diagonal: right answers, not mistakes
        st.info(t("results.pick_two"))
        return
    cfg = e.config()
    data = Path(resolve_data(cfg).data) if cfg is not None else None
    shipped = e.predictions
    if shipped is not None:  # scored when the model was exported: no scoring here
        shipped_mistakes(shipped, true, pred, data)
        return
    if data is not None and not data.exists():  # the pictures themselves are not in the report
        st.info(t("results.mistakes_need_data", data=data.name))
        return
    if not st.session_state.get(f"res_mist_{e.key}"):
        if st.button(t("results.find_mistakes"), key=f"res_find_{e.key}"):
            st.session_state[f"res_mist_{e.key}"] = True
            st.rerun()
        return
    p = get_predictions(e)
    if p is None:
        return
    idx = most_confident_mistakes(p.labels, p.scores, true, pred, k=12)
    if len(idx) == 0:
        st.info(t("results.no_mistakes", true=display_name(LABELS[true], lg), pred=display_name(LABELS[pred], lg)))
        return
    st.image([p.images[i] for i in idx], width=96,
             caption=[fmt_percent(float(p.scores[i, pred]), lg) for i in idx])


def faces_by_key(data: Path, keys: list[str]) -> list[np.ndarray] | None:
    """The dataset's images for `keys` (its paths), or None when one of them is not in it."""
    try:
        ds = load_with_progress(data)
    except DataError as exc:
        st.warning(t("results.predict_error", error=data_error_text(exc)))
        return None
    where = {str(k): i for i, k in enumerate(ds.paths)}
    if any(k not in where for k in keys):
        return None
    return [ds.images[where[k]] for k in keys]


def shipped_mistakes(p: ShippedPredictions, true: int, pred: int, data: Path | None) -> None:
    """The most confident mistakes from the predictions shipped with the model: the faces where this server has
    the dataset, always the table (the faces themselves are not shipped: FER2013 has no open licence)."""
    lg = lang()
    idx = p.mistakes(true, pred, k=12)
    if len(idx) == 0:
        st.info(t("results.no_mistakes", true=display_name(LABELS[true], lg), pred=display_name(LABELS[pred], lg)))
        return
    keys = [p.keys[i] for i in idx]
    conf = [fmt_percent(float(p.scores[i, pred]), lg) for i in idx]
    if data is None or not data.exists():
        st.info(t("results.mistakes_no_faces", data=plain(data.name if data is not None else "?")))
    else:
        faces = faces_by_key(data, keys)
        if faces is None:
            st.info(t("results.mistakes_other_data", data=plain(data.name)))
        else:
            st.image(faces, width=96, caption=conf)
    show_table(pd.DataFrame({
        t("results.col_rank"): range(1, len(idx) + 1),
        t("results.col_key"): keys,
        t("results.col_pred_prob", pred=display_name(LABELS[pred], lg)): conf,
        t("results.col_true_prob", true=display_name(LABELS[true], lg)):
            [fmt_percent(float(p.scores[i, true]), lg) for i in idx],
    }), hide_index=True)


def show_actions(e: Entry) -> None:
    if is_active_model(e.model):
        st.success(t("results.is_active"))
    elif st.button(t("results.make_active"), key=f"res_active_{e.key}", help=t("results.make_active_help"),
                   type="primary"):
        set_active_model(e.model)
        st.rerun()
    c2, c3 = st.columns(2)
    # the files themselves, never a link out of the runs folder (fer.files; issue 42: /etc/passwd offered)
    c2.download_button(t("results.download_model"), data=lambda: read_bytes(e.model, MAX_MODEL_BYTES),
                       file_name=f"{e.key}.keras", mime="application/octet-stream", key=f"res_dl_model_{e.key}",
                       on_click="ignore")
    card = e.model.with_suffix(".json")
    if is_regular(card):
        c3.download_button(t("results.download_card"), data=lambda: read_bytes(card, MAX_TEXT_BYTES),
                           file_name=f"{e.key}.json", mime="application/json", key=f"res_dl_card_{e.key}",
                           on_click="ignore")


def split_text(e: Entry, card: ModelCard) -> str:
    """How the model's data was split, in the session's language (the card's English words without settings)."""
    cfg = e.config()
    if cfg is None or cfg.split not in ("official", "stratified", "custom"):
        return card.split
    lg = lang()
    return t(f"results.split_{cfg.split}", test=fmt_percent(cfg.test_fraction, lg, 0),
             val=fmt_percent(cfg.val_fraction, lg, 0), test_seed=cfg.test_seed, val_seed=cfg.val_seed)


def test_set(e: Entry) -> tuple[str, str]:
    """(key, words) of the images a model's test figures come from: its dataset, split and size.
    Figures are only comparable between models with the same key."""
    card = e.card
    cfg = e.config()
    n = int(((card.metrics.get("test") or {}).get("n", 0)) if card else 0)
    if cfg is None or card is None or not n:
        return f"unknown:{e.key}", t("results.test_set_unknown")
    data = Path(resolve_data(cfg).data)
    key = json.dumps([str(data.resolve()), cfg.split, cfg.test_fraction, cfg.test_seed, n])
    name = data.name if data.name else str(data)
    return key, t("results.test_set", data=plain(name), split=split_text(e, card), n=fmt_count(n, lang()))


def show_unlifted_floors(card: ModelCard) -> None:
    """A run asked to name some emotions more often (TrainConfig.recall_floors) that got no boost: either it
    already named them often enough on its validation images, or no boost reached the share asked (it says so in
    its card's notes, which the page does not show)."""
    cfg = TrainConfig.from_dict(card.config)  # the card in hand, not read from disk again
    if not cfg.recall_floors or card.lifted or not isinstance(cfg.recall_floors, dict):
        return
    from fer.model.priors import missed_floors

    lg = lang()
    missed = missed_floors(cfg.recall_floors, (card.metrics.get("validation") or {}).get("recall") or {})
    if missed:
        st.warning(t("results.floors_unmet", emotions=fmt_list([display_name(k, lg) for k in missed], lg)))
    else:
        asked = [display_name(k, lg) for k in LABELS if k in cfg.recall_floors]
        st.caption(t("results.floors_met", emotions=fmt_list(asked, lg)))


def epochs_text(card: ModelCard) -> str:
    """The epochs a model trained: an ensemble trained none itself, so its members' ("30 + 34"), or "—"
    where a member's card is gone."""
    if not card.members:
        return str(card.epochs_trained)
    epochs = member_epochs(card.members, ROOT)
    return " + ".join(map(str, epochs)) if epochs else "—"


def show_entry(e: Entry) -> None:
    card = e.card
    lg = lang()
    if card is not None:
        st.caption(t("results.card", arch=card.arch, params=fmt_count(card.params, lg), split=split_text(e, card),
                     epochs=epochs_text(card), time=fmt_duration(card.train_seconds, lg)))
        if card.lifted:
            st.caption(emotions_sentence("results.lifted", card.lifted))
        show_unlifted_floors(card)
    if e.run is not None and e.run.state in ("failed", "broken"):
        st.error(t("results.failed", error=t("train.died") if e.run.error == jobs.DIED else plain(e.run.error)))
    for problem in e.problems():
        st.warning(t("results.file_unreadable", error=plain(problem)))
    show_actions(e)
    st.subheader(t("results.curves"))
    show_curves(e)
    st.subheader(t("results.evaluation"))
    st.caption(test_set(e)[1])
    rep = test_report(e)
    if rep is not None:
        show_report(e, rep)
        show_mistakes(e, rep)


def compare(chosen: list[Entry]) -> None:
    """A table (and validation curves) per test set: figures side by side only when they are on the same images."""
    st.subheader(t("results.compare"))
    lg = lang()
    groups: dict[str, list[Entry]] = {}
    words: dict[str, str] = {}
    for e in chosen:
        key, text = test_set(e)
        groups.setdefault(key, []).append(e)
        words[key] = text
    if len(groups) > 1:
        st.info(t("results.different_sets"))
    for g, (key, members) in enumerate(groups.items()):
        st.markdown(f"**{words[key]}**")
        rows = []
        for e in members:
            card = e.card
            test = (card.metrics.get("test", {}) if card else {}) or {}
            rows.append({
                t("results.model"): label(e), t("results.arch"): card.arch if card else "—",
                t("results.epochs"): epochs_text(card) if card else "—",
                t("results.best"): str(card.best_epoch) if card and not card.members else "—",
                t("results.accuracy"): fmt_percent(test["accuracy"], lg) if "accuracy" in test else "—",
                t("results.macro_f1"): fmt_number(test["macro_f1"], lg, 3) if "macro_f1" in test else "—",
                t("results.loss"): fmt_number(test["loss"], lg, 3) if "loss" in test else "—",
                t("results.minutes"): fmt_duration(card.train_seconds, lg) if card else "—",
            })
        show_table(pd.DataFrame(rows), hide_index=True)
        with_history = [e for e in members if e.history()]
        if len(with_history) < 2:
            continue
        cols = st.columns(2)
        for col, metric in zip(cols, ("val_loss", "val_accuracy"), strict=True):
            fig = go.Figure()
            for e in with_history:
                h = e.history()
                fig.add_trace(go.Scatter(x=[r["epoch"] for r in h], y=[r.get(metric) for r in h],
                                         name=plot_text(label(e)),
                                         hovertemplate="%{y:.1%}" if metric == "val_accuracy" else "%{y:.3f}"))
            if metric == "val_accuracy":
                fig.update_yaxes(tickformat=".0%")
            fig.update_layout(title=t(f"results.cmp_{metric}"), xaxis_title=t("results.epoch"), height=380,
                              margin={"l": 10, "r": 10, "t": 40, "b": 10})
            show_chart(fig, key=f"res_cmp_{metric}_{g}", where=col)


def default_pick(options: dict[str, Entry]) -> list[str]:
    """What the page opens on: the shipped models, and beside them the run this session trained last (if any)."""
    picked = [k for k, e in options.items() if e.run is None]
    mine = st.session_state.get("train_run")
    if mine is not None:
        picked += [k for k, e in options.items() if e.run is not None and e.run.path.resolve() == Path(mine).resolve()]
    return picked or list(options)[:1]


st.title(t("results.title"))
options = entries()
if not options:
    st.info(t("results.none"))
    st.stop()
try:  # a crafted message can pick what is not offered (a name, a path): only offered models stay picked
    sent = list(st.session_state["res_pick"]) if "res_pick" in st.session_state else None
except Exception:  # noqa: BLE001 - a crafted wire value may not even deserialise
    sent = []
if sent is not None and [k for k in sent if k in options] != sent:
    del st.session_state["res_pick"]
    st.session_state["res_pick"] = [k for k in sent if isinstance(k, str) and k in options]
picked = st.multiselect(t("results.pick"), list(options), key=worded("res_pick"), select_all=False,
                        default=None if "res_pick" in st.session_state else default_pick(options),
                        format_func={k: label(e) for k, e in options.items()}.get)
chosen = [options[k] for k in picked if k in options]
if not chosen:
    st.info(t("results.pick_hint"))
    st.stop()
if len(chosen) > 1:
    compare(chosen)
tabs = st.tabs([label(e, markdown=True) for e in chosen])
for tab, e in zip(tabs, chosen, strict=True):
    with tab:
        show_entry(e)
