"""Train a model from a `TrainConfig` into a run folder; resumable, checkpointed every epoch.

A run folder holds: config.json, history.csv, last.keras + state.json (resume point),
model.keras + model.json (best val_loss, with its card), metrics.json (test scores); with weight
averaging (fer.train.averaging) also average.npz, average.keras and best-epoch.keras.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer.config import TrainConfig
from fer.data.dataset import Dataset, load_dataset
from fer.data.splits import Split, make_split
from fer.labels import LABELS, NUM_CLASSES
from fer.model.modelio import ModelCard, utc_now, write_json
from fer.model.priors import add_offsets, apply_correction, class_floors, prior_correction, recall_offsets
from fer.tfenv import native_bfloat16, onednn_state, precision_for
from fer.train.events import Progress, StopFlag, TrainEvent
from fer.train.pipeline import TrainBatches, eval_batches, soft_targets

if TYPE_CHECKING:
    from fer.train.averaging import Averaged
    from fer.train.distribute import Distribution

log = logging.getLogger(__name__)

BEST_EPOCH = "best-epoch.keras"
"""The best epoch's checkpoint, kept in the run folder when the averaged weights replace it as model.keras."""
BEFORE_AFTER = "before_after.json"
"""A fine-tuning run's (init_model) test photos scored by its start model and by itself
(fer.model.evaluation.BeforeAfter), written at its end; read by fer.jobs.runfiles.read_before_after."""


def freeze_layers(model: Any, how: str) -> int:
    """Keep layers of `model` as they are (trainable False; BatchNormalization then also keeps its statistics) per
    TrainConfig.freeze: 'none', 'early' (the first half of the layers with weights), 'features' (every layer with
    weights but the last). Returns how many layers were frozen."""
    weighted = [layer for layer in model.layers if layer.weights]
    count = {"none": 0, "early": len(weighted) // 2, "features": len(weighted) - 1}[how]
    for layer in weighted[:count]:
        layer.trainable = False
    return count


def replay_faces(cfg: TrainConfig, taught: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faces (uint8 [N, 48, 48]) and labels of `cfg.replay` that a run adds to its training part: per emotion
    (every one, or with replay_classes 'untaught' those not in `taught`, the label indices the data has),
    `replay_per_class` of them (0: all) in a shuffle seeded by cfg.seed."""
    from fer.train.presets import from_root

    ds = load_dataset(from_root(cfg.replay))
    rng = np.random.default_rng(cfg.seed)
    keep = set(range(NUM_CLASSES)) - (set(np.unique(taught).tolist()) if cfg.replay_classes == "untaught" else set())
    idx = []
    for c in sorted(keep):
        mine = rng.permutation(np.flatnonzero(ds.labels == c))
        idx.append(mine[:cfg.replay_per_class] if cfg.replay_per_class else mine)
    chosen = np.sort(np.concatenate(idx)) if idx else np.zeros(0, np.int64)
    return ds.images[chosen], ds.labels[chosen]


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model_path: Path
    history: list[dict[str, float]]
    card: ModelCard
    stopped_early: bool


def _optimizer(cfg: TrainConfig) -> Any:
    import keras

    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon)


def _subsample(ds: Dataset, idx: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    if fraction >= 1.0:
        return idx
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(idx, train_size=fraction, random_state=seed, stratify=ds.labels[idx])
    return np.sort(keep)


def training_targets(ds: Dataset, split: Split, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the images trained on (split.train, cut to cfg.train_fraction) and the targets
    [N, 7] of every image: one-hot, mixed with the FER+ votes beside the data where cfg asks, and the images
    trained on mixed with a teacher's probabilities where cfg names one (distillation)."""
    train_idx = _subsample(ds, split.train, cfg.train_fraction, cfg.seed)
    targets = soft_targets(ds, Path(cfg.data).parent / "ferplus_votes.csv", cfg.soft_labels)
    if cfg.teacher:
        from fer.train.presets import from_root
        from fer.train.teacher import load_targets, mix_teacher

        targets = mix_teacher(targets, ds.paths, train_idx, load_targets(from_root(cfg.teacher)), cfg.teacher_weight)
    return train_idx, targets


def train(cfg: TrainConfig, run_dir: Path, *, dataset: Dataset | None = None,
          progress: Progress | None = None, should_stop: StopFlag | None = None) -> TrainResult:
    """Train (or resume) the run in `run_dir`; returns when done, stopped or early-stopped."""
    from fer.train.distribute import start
    from fer.train.runlock import claim

    errors = cfg.validate()
    if errors:
        raise ValueError("; ".join(map(str, errors)))
    run_dir = Path(run_dir)
    dist = start(cfg)  # DistributeError when the strategy cannot run here
    import keras

    policy = keras.mixed_precision.global_policy()
    try:
        with dist.folder(run_dir) as folder:  # only the chief writes the run folder
            folder.mkdir(parents=True, exist_ok=True)
            with claim(folder):  # RunBusyError while another process trains into this folder
                result = _train(cfg, folder, dataset, progress, should_stop, dist)
    finally:  # models built after the run (by the app, by tests) compute as before it
        keras.mixed_precision.set_global_policy(policy)
    dist.barrier()  # the workers leave together
    return result if folder == run_dir else TrainResult(run_dir, run_dir / "model.keras", result.history,
                                                        result.card, result.stopped_early)


def _train(cfg: TrainConfig, run_dir: Path, dataset: Dataset | None, progress: Progress | None,
           should_stop: StopFlag | None, dist: Distribution) -> TrainResult:
    import keras

    from fer.train.averaging import WeightAverage
    from fer.train.callbacks import ProgressCallback, ResumeCheckpoint, TimeBudget

    write_json(run_dir / "config.json", cfg.to_dict())
    ds = dataset if dataset is not None else load_dataset(cfg.data)
    split = make_split(ds, cfg)
    train_idx, targets = training_targets(ds, split, cfg)
    keras.utils.set_random_seed(cfg.seed)
    precision = precision_for(cfg.mixed_precision)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    log.info("computing in %s (mixed_precision=%s)", precision, cfg.mixed_precision)

    weights = None
    if cfg.class_weights:
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(ds.labels[train_idx])
        cw = compute_class_weight("balanced", classes=present, y=ds.labels[train_idx])
        table = np.ones(NUM_CLASSES, np.float32)
        table[present] = cw
        weights = table[ds.labels[train_idx]]
    train_images, train_targets = ds.images[train_idx], targets[train_idx]
    if cfg.replay:  # faces the run keeps seeing, never validated or tested on
        more, more_labels = replay_faces(cfg, ds.labels)
        log.info("replaying %d faces of %s", len(more), cfg.replay)
        train_images = np.concatenate([train_images, more])
        train_targets = np.concatenate([train_targets, np.eye(NUM_CLASSES, dtype=train_targets.dtype)[more_labels]])
        if weights is not None:
            weights = np.concatenate([weights, np.ones(len(more), weights.dtype)])
    train_data = TrainBatches(train_images, train_targets, cfg, weights)
    val_data = None
    if len(split.val):
        val_data = dist.dataset(eval_batches(ds.images[split.val], targets[split.val], cfg, dist.replicas))

    resume = ResumeCheckpoint(run_dir, dist.chief_value)
    dist.check_resume_point(resume.epoch, resume.skip)
    with dist.scope():  # the model's variables live on every replica
        model, initial_epoch = resume.load_or_build(cfg, lambda: _compiled(cfg))
    monitor = cfg.lr_monitor if val_data is not None else cfg.lr_monitor.removeprefix("val_")
    es_monitor = "val_loss" if val_data is not None else "loss"
    if cfg.lr_schedule == "cosine":
        schedule = keras.callbacks.LearningRateScheduler(lambda epoch: cosine_lr(cfg, epoch, resume.train_seconds))
    else:
        schedule = keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=cfg.lr_factor,
                                                     patience=cfg.lr_patience, verbose=0)
    progress_cb = ProgressCallback(progress, dist.stop_flag(should_stop), cfg.epochs)
    callbacks = [
        schedule,
        keras.callbacks.EarlyStopping(monitor=es_monitor, patience=cfg.early_stopping_patience,
                                      min_delta=cfg.early_stopping_min_delta, restore_best_weights=False),
        progress_cb,
    ]
    resume.attach(list(callbacks), es_monitor)
    callbacks.append(resume)
    average = WeightAverage(cfg, run_dir, resume)
    callbacks.append(average)  # after resume: it averages only the epochs resume recorded
    budget = TimeBudget(resume, cfg.time_budget_s)
    callbacks.append(budget)  # after resume: it reads the training seconds resume has just counted
    t0 = time.time()
    steps = train_data.steps
    if progress:
        progress(TrainEvent("start", initial_epoch, cfg.epochs, batch=resume.skip, batches=steps,
                            message=split.description))
    if 0 < resume.skip < steps:  # first the rest of the epoch a stop cut short
        log.info("resuming epoch %d at batch %d of %d", initial_epoch + 1, resume.skip + 1, steps)
        progress_cb.skip = resume.skip
        model.fit(dist.dataset(train_data.epoch(initial_epoch, resume.skip)), steps_per_epoch=steps - resume.skip,
                  validation_data=val_data, epochs=initial_epoch + 1, initial_epoch=initial_epoch,
                  callbacks=callbacks, shuffle=False, verbose=0)
        progress_cb.skip = 0
        initial_epoch = resume.epoch
    if not model.stop_training and initial_epoch < cfg.epochs and not budget.spent():  # each epoch in its own order
        model.fit(dist.dataset(train_data.epochs(initial_epoch, cfg.epochs)), steps_per_epoch=steps,
                  validation_data=val_data, epochs=cfg.epochs, initial_epoch=initial_epoch, callbacks=callbacks,
                  shuffle=False, verbose=0)
    notes = ""
    if not progress_cb.stopped:
        resume.mark_complete()
        notes = _use_average(average.finish(model, train_data.epoch(resume.epoch), val_data), resume.best, run_dir)
    history = read_history(run_dir)
    correction = prior_correction(ds.labels[train_idx], targets[train_idx])
    card = finish_run(run_dir, cfg, ds, split, history, resume.train_seconds, time.time() - t0, correction,
                      notes, dist.describe(), precision)
    if cfg.init_model and len(split.test):
        write_before_after(run_dir, cfg, ds, split)
    stopped_early = bool(callbacks[1].stopped_epoch) if hasattr(callbacks[1], "stopped_epoch") else False
    if progress:
        progress(TrainEvent("done", len(history), cfg.epochs, message="finished"))
    return TrainResult(run_dir, run_dir / "model.keras", history, card, stopped_early)


def _use_average(avg: Averaged | None, best_loss: float, run_dir: Path) -> str:
    """Make the averaged model the run's model (the best epoch's kept as best-epoch.keras) when its validation
    loss beats the best epoch's; the card's note."""
    if avg is None:
        return ""
    what = f"the average of the weights of epochs {avg.first_epoch}-{avg.last_epoch} ({avg.count})"
    if avg.val_loss is None or avg.val_loss >= best_loss:
        scored = "no validation loss" if avg.val_loss is None else f"val_loss {avg.val_loss:.4f}"
        return f"weights: the best epoch (val_loss {best_loss:.4f}); {what} had {scored}"
    if not (run_dir / BEST_EPOCH).exists():  # kept once: a second finish finds model.keras already replaced
        shutil.copyfile(run_dir / "model.keras", run_dir / BEST_EPOCH)
    shutil.copyfile(avg.path, run_dir / "model.keras")
    return f"weights: {what}, val_loss {avg.val_loss:.4f} < the best epoch's {best_loss:.4f}"


def cosine_lr(cfg: TrainConfig, epoch: int, elapsed_s: float = 0.0) -> float:
    """Learning rate of 0-based `epoch` under the cosine schedule: learning_rate down to near 0, over
    `cfg.epochs`, or with a time budget over that time (`elapsed_s`: training seconds before this epoch)."""
    return float(cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * cfg.schedule_done(epoch, elapsed_s))))


@dataclass(frozen=True)
class StartProblem:
    """Why a run cannot start from `cfg.init_model`: kind 'missing' (no such file), 'ensemble' (it averages
    several networks) or 'arch' (its card names another architecture)."""

    kind: str
    path: str
    arch: str = ""
    want: str = ""

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"cannot start from {self.path}: there is no such file"
        if self.kind == "ensemble":
            return (f"cannot start from {self.path}: it averages several networks, and a run starts from one "
                    "(models/webcam.keras is the shipped model's single network)")
        return (f"cannot start from {self.path}: it is a {self.arch} model; "
                f"its layers do not match the {self.want} architecture")


def start_problem(cfg: TrainConfig) -> StartProblem | None:
    """The start model's problem found without loading it (file, card), or None; checked before a run starts."""
    from fer.model.ensemble import ENSEMBLE_ARCH
    from fer.model.modelio import load_card
    from fer.train.presets import from_root

    if not cfg.init_model:
        return None
    path = from_root(cfg.init_model)
    if not path.is_file():
        return StartProblem("missing", cfg.init_model)
    card = load_card(path)
    if card is not None and card.arch == ENSEMBLE_ARCH:
        return StartProblem("ensemble", cfg.init_model, card.arch, cfg.arch)
    if card is not None and card.arch != cfg.arch:
        return StartProblem("arch", cfg.init_model, card.arch, cfg.arch)
    return None


def start_from(model: Any, cfg: TrainConfig) -> None:
    """Copy the weights of `cfg.init_model` into `model`; ModelError when they cannot."""
    from fer.model.modelio import ModelError, load_model
    from fer.train.presets import from_root

    path = from_root(cfg.init_model)
    try:
        source = load_model(path)
    except ModelError as exc:
        raise ModelError(f"cannot start from {cfg.init_model}: {exc}") from None
    want = [tuple(w.shape) for w in model.weights]
    got = [tuple(w.shape) for w in source.weights]
    if want != got:
        raise ModelError(f"cannot start from {cfg.init_model}: its layers do not match the {cfg.arch} architecture")
    model.set_weights(source.get_weights())
    log.info("weights initialised from %s", path)


def _compiled(cfg: TrainConfig) -> Any:
    import keras

    from fer.model.architectures import build_model

    model = build_model(cfg.arch, l2=cfg.l2, dropout=cfg.dropout)
    if cfg.init_model:
        start_from(model, cfg)
        freeze_layers(model, cfg.freeze)
    model.compile(optimizer=_optimizer(cfg),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                  metrics=["accuracy"])
    return model


def read_history(run_dir: Path) -> list[dict[str, float]]:
    """Per-epoch rows of history.csv (empty when none yet)."""
    p = Path(run_dir) / "history.csv"
    if not p.exists():
        return []
    with p.open() as fh:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(fh)]


def finish_run(run_dir: Path, cfg: TrainConfig, ds: Dataset, split: Split,
               history: list[dict[str, float]], total_seconds: float, session_seconds: float,
               correction: tuple[float, ...] = (), notes: str = "", devices: str = "",
               precision: str = "") -> ModelCard:
    """Score the best checkpoint on validation and test (with the prior `correction`, see
    fer.model.priors, plus the offsets of `cfg.recall_floors` chosen on validation: `floored_offsets`), write
    model.json and metrics.json. `devices`: the distribution it trained under, if any;
    `precision`: what it computed in ('bfloat16' or 'float32')."""
    from fer.model.evaluation import predict_scores, report_from_scores
    from fer.model.modelio import load_model

    best_path = run_dir / "model.keras"
    if not best_path.exists():  # no epoch completed with a validation score: keep the last one
        if (run_dir / "last.keras").exists():  # a copy: last.keras stays the resume point
            shutil.copyfile(run_dir / "last.keras", best_path)
    model = load_model(best_path)
    parts = {name: idx for name, idx in (("validation", split.val), ("test", split.test)) if len(idx)}
    scores = {name: predict_scores(model, ds.images[idx], prior_correction=correction) for name, idx in parts.items()}
    offsets: tuple[float, ...] = ()
    if cfg.recall_floors:
        offsets, why = floored_offsets(scores.get("validation"), ds.labels[split.val], cfg.recall_floors)
        if why:
            log.warning("%s", why)
            notes = f"{notes}; {why}" if notes else why
        scores = {name: apply_correction(s, offsets) for name, s in scores.items()}
        correction = add_offsets(correction, offsets)
    metrics: dict[str, Any] = {}
    reports = {}
    for name, idx in parts.items():
        rep = report_from_scores(ds.labels[idx], scores[name], name)
        reports[name] = rep.to_dict()
        metrics[name] = rep.summary()
    write_json(run_dir / "metrics.json", reports)
    best = min(history, key=lambda r: r.get("val_loss", r.get("loss", np.inf))) if history else {}
    card = ModelCard(
        arch=cfg.arch, params=int(model.count_params()), labels=LABELS, config=cfg.to_dict(),
        split=split.description, metrics=metrics, epochs_trained=len(history),
        best_epoch=int(best.get("epoch", 0)), train_seconds=round(total_seconds, 1),
        created=utc_now(),
        machine=f"{platform.machine()} {platform.processor() or ''} cpus={_cpus()} onednn={onednn_state()}"
        f" bf16={'native' if native_bfloat16() else 'emulated'}".strip()
        + (f" {devices}" if devices else ""),
        prior_correction=correction, class_offsets=offsets, notes=notes, precision=precision,
    )
    write_json(run_dir / "model.json", card.to_dict())
    log.info("run %s: %s (this session %.0f s)", run_dir, json.dumps(metrics.get("test", {})), session_seconds)
    return card


def floored_offsets(val_scores: np.ndarray | None, val_labels: np.ndarray, floors: dict[str, float]
                    ) -> tuple[tuple[float, ...], str]:
    """(offsets that bring each emotion of `floors` to its recall on the validation scores, fer.model.priors
    .recall_offsets; why there are none, for the card's notes). A run is never failed for its floors: without
    validation images, or when no offsets up to the limit reach them, it keeps its plain scores and says so."""
    if val_scores is None:
        return (), "recall floors not applied: no validation images to choose the offsets on"
    try:
        offsets = recall_offsets(val_scores, val_labels, class_floors(floors))
    except ValueError as exc:
        return (), f"recall floors not applied: {exc}"
    log.info("recall floors %s: offsets %s", floors, offsets)
    return offsets, ""


def write_before_after(run_dir: Path, cfg: TrainConfig, ds: Dataset, split: Split) -> None:
    """Score the test part with the start model (cfg.init_model) and the run's model, each as its card says, and
    write before_after.json (fer.model.evaluation.BeforeAfter)."""
    from fer.model.evaluation import before_after
    from fer.model.inference import Classifier
    from fer.train.presets import from_root

    start, mine = Classifier.from_file(from_root(cfg.init_model)), Classifier.from_file(run_dir / "model.keras")
    result = before_after(start, mine, ds.images[split.test], ds.labels[split.test],
                          taught=[LABELS[c] for c in np.unique(ds.labels[split.train]).tolist()],
                          names=(cfg.init_model, str(run_dir / "model.keras")))
    write_json(run_dir / BEFORE_AFTER, result.to_dict())
    log.info("before/after on %d test images: %s -> %s", result.total, result.accuracy("before"),
             result.accuracy("after"))


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
