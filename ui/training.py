"""A training job's progress as the pages show it (Train, Teach): the bar with its words, the figures of the
last batch and epoch, the loss and accuracy curves. The pages add their own buttons (Stop, Resume)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fer.config import TrainConfig
from fer.i18n import fmt_number, fmt_percent, fmt_rate
from fer.jobs import launcher as jobs
from fer.jobs.results import curve_figure
from ui.charts import show_chart
from ui.common import lang, t


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def time_left(p: jobs.JobProgress, cfg: TrainConfig | None) -> str:
    """'about 1:20 left'; 'at most ...' when early stopping or a time budget may end the run sooner;
    'measuring' until batches after the first (which also builds the graph) give a speed."""
    if p.eta is None:
        return t("train.eta_measuring")
    sooner = cfg is not None and (cfg.early_stopping_patience < cfg.epochs or cfg.time_budget_minutes > 0)
    return t("train.eta_at_most" if sooner else "train.eta_about", eta=duration(p.eta))


def curves(info: jobs.RunInfo, key: str) -> None:
    """The run's loss and accuracy per epoch, side by side (nothing before its first epoch ends)."""
    history = info.history()
    if not history:
        return
    names = {"train": t("train.curve_train"), "val": t("train.curve_val"), "epoch": t("train.epoch"),
             "best": "", "stop": ""}
    cols = st.columns(2)
    for col, metric in zip(cols, ("loss", "accuracy"), strict=True):
        fig = curve_figure(history, metric, names | {"title": t(f"train.{metric}")})
        show_chart(fig, key=f"{key}_{metric}", where=col)


def progress_bar(info: jobs.RunInfo) -> None:
    """The running job's progress bar: loading, epoch and batch with the time left, or evaluating."""
    p = info.progress or jobs.JobProgress("loading")
    if p.phase == "loading" or not p.batches:
        if p.resumed:  # where it continues and what it did before, not the last session's final batch
            st.progress(p.fraction, text=t("train.loading_resumed", epoch=p.epoch, epochs=p.epochs,
                                           elapsed=duration(p.elapsed)))
        elif p.loaded > 0:  # the share of the dataset read (a photos dataset: faces found one photo at a time)
            st.progress(p.loaded, text=t("train.loading_share", share=fmt_percent(p.loaded, lang(), 0)))
        else:
            st.progress(0.0, text=t("train.loading"))
    elif p.phase == "evaluating":
        st.progress(1.0 if not p.stopping else p.fraction,
                    text=t("train.evaluating_stopped" if p.stopping else "train.evaluating",
                           elapsed=duration(p.elapsed)))
    else:
        counts = dict(epoch=p.epoch, epochs=p.epochs, batch=p.batch, batches=p.batches,
                      left=time_left(p, info.config), elapsed=duration(p.elapsed))
        if p.budget_s:  # it usually stops well before its maximum epochs: the maximum is named as such
            text = t("train.progress_budgeted", **counts) + t(
                "train.progress_budget", used=duration(p.budget_used_s), budget=duration(p.budget_s))
        else:
            text = t("train.progress", **counts)
        st.progress(p.fraction, text=text)


def progress_figures(info: jobs.RunInfo) -> None:
    """The last batch's loss and accuracy, the last epoch's validation figures and the learning rate."""
    p = info.progress or jobs.JobProgress("loading")
    cols = st.columns(5)
    # a resumed job shows its last epoch's figures until its first batch, never blanks
    shown = [("loss", p.last_logs), ("accuracy", p.last_logs), ("val_loss", p.epoch_logs),
             ("val_accuracy", p.epoch_logs)]
    for col, (name, logs) in zip(cols, shown, strict=False):
        v = logs.get(name)
        text = "—" if v is None else fmt_percent(v, lang()) if "accuracy" in name else fmt_number(v, lang(), 3)
        col.metric(t(f"train.m_{name}"), text)
    lr = p.learning_rate
    cols[4].metric(t("train.m_lr"), "—" if lr is None else fmt_rate(lr, lang()))


def progress_view(info: jobs.RunInfo, key: str = "live") -> None:
    """Everything a running job shows: its bar, its figures, its curves so far."""
    progress_bar(info)
    progress_figures(info)
    curves(info, key)


def start_run(start: Callable[[], jobs.RunInfo], key: str) -> None:
    """Start or resume a job with `start`, keep its folder in st.session_state[key] and rerun to follow it; say
    why when it cannot start (another run holds the machine, or the job would not launch). Train and Teach."""
    from ui.text import plain

    try:
        info = start()
    except jobs.BusyError as exc:
        st.error(t("train.busy", run=plain(exc.run)))
        return
    except jobs.JobError as exc:
        st.error(t("train.start_error", error=plain(exc)))
        return
    st.session_state[key] = str(info.path)
    st.rerun()
