"""A finished run (or any model file) made into a deployable model: weights only, its card beside it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer.model.evaluation import EvalReport
from fer.model.modelio import ModelCard, ModelError, load_card, load_model, save_model, utc_now, write_json

if TYPE_CHECKING:
    import numpy as np

    from fer.jobs.results import ModelReport, ShippedPredictions

log = logging.getLogger(__name__)


def source_model(src: Path) -> Path:
    """The model file of `src`: a run folder's best checkpoint (model.keras) or the file itself."""
    src = Path(src)
    path = src / "model.keras" if src.is_dir() else src
    if not path.is_file():
        raise ModelError(f"{src}: no model file (a run folder holds model.keras once an epoch has finished)")
    return path


@dataclass
class TrainingData:
    """The dataset and split a card's model was trained on, loaded once when first asked for."""

    card: ModelCard

    @cached_property
    def loaded(self) -> tuple[Any, Any, Any]:
        """(config, dataset, split)."""
        from fer.config import TrainConfig
        from fer.data.dataset import load_dataset
        from fer.data.splits import make_split
        from fer.train.presets import resolve_data

        cfg = resolve_data(TrainConfig.from_dict(self.card.config))
        ds = load_dataset(cfg.data)
        return cfg, ds, make_split(ds, cfg)


def split_scores(model: object, card: ModelCard, data: TrainingData | None = None
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"validation"/"test": (indices into the dataset, probabilities [N, 7])} on the card's own data and
    split, predicting as the card says (flip averaging, zoom, shifted views, prior correction)."""
    from fer.model.evaluation import predict_scores

    _, ds, split = (data or TrainingData(card)).loaded
    return {name: (idx, predict_scores(model, ds.images[idx], tta_flip=card.tta_flip, zoom=card.zoom,
                                       prior_correction=card.prior_correction, shift=card.shift))
            for name, idx in (("validation", split.val), ("test", split.test)) if len(idx)}


def reports_from(scores: dict[str, tuple[np.ndarray, np.ndarray]], data: TrainingData) -> dict[str, EvalReport]:
    """The full report of each split scored by `split_scores`."""
    from fer.model.evaluation import report_from_scores

    ds = data.loaded[1]
    return {name: report_from_scores(ds.labels[idx], s, name) for name, (idx, s) in scores.items()}


def full_reports(model: object, card: ModelCard, data: TrainingData | None = None) -> dict[str, EvalReport]:
    """The card's validation and test reports computed on its own data and split, predicting as
    the card says (flip averaging, zoom, shifted views, prior correction)."""
    data = data or TrainingData(card)
    return reports_from(split_scores(model, card, data), data)


def shipped_predictions(scores: dict[str, tuple[np.ndarray, np.ndarray]], data: TrainingData) -> ShippedPredictions:
    """The test split's predictions as shipped beside a model (fer.jobs.results.ShippedPredictions)."""
    from fer.jobs.results import ShippedPredictions

    _, ds, split = data.loaded
    idx, s = scores["test"]
    return ShippedPredictions.from_scores(ds.paths[idx], ds.labels[idx], s, split.description)


def write_predictions(model_path: Path) -> ShippedPredictions:
    """Score a model with a card on its own test split as the card predicts and write the predictions beside it
    (`fer predictions MODEL`): what the Results page shows as the most confident mistakes without scoring."""
    from fer.jobs.results import predictions_path

    path = Path(model_path)
    card = load_card(path)
    if card is None:
        raise ModelError(f"{path}: no model card beside it; its test split is not known")
    data = TrainingData(card)
    scores = split_scores(load_model(path), card, data)
    if "test" not in scores:
        raise ValueError(f"{path}: its split has no test images")
    preds = shipped_predictions({"test": scores["test"]}, data)
    preds.save(predictions_path(path))
    return preds


def rescore(model: object, card: ModelCard, data: TrainingData | None = None) -> dict[str, dict[str, float]]:
    """The card's validation and test metrics (the headline figures of `full_reports`)."""
    return {name: rep.summary() for name, rep in full_reports(model, card, data).items()}


def write_report(model: object, card: ModelCard, dest: Path, history: tuple[dict[str, float], ...],
                 data: TrainingData | None = None, reports: dict[str, EvalReport] | None = None) -> ModelReport:
    """Write `dest`'s report (fer.jobs.results.ModelReport) beside it: the history and the full validation
    and test reports, so that the results page shows them without the dataset."""
    from fer.jobs.results import ModelReport, report_path

    reports = reports if reports is not None else full_reports(model, card, data)
    report = ModelReport(Path(dest).name, card.split, reports, tuple(history), utc_now())
    write_json(report_path(dest), report.to_dict())
    return report


def training_prior_correction(data: TrainingData) -> tuple[float, ...]:
    """The prior correction of the card's run, computed from its training labels and targets as
    `train` does (empty for a run without soft labels)."""
    from fer.model.priors import prior_correction
    from fer.train.trainer import training_targets

    cfg, ds, split = data.loaded
    train_idx, targets = training_targets(ds, split, cfg)
    return prior_correction(ds.labels[train_idx], targets[train_idx])


def as_float32(model: object, card: ModelCard) -> object | None:
    """A float32 copy of a model trained with mixed precision (faster on CPUs without bfloat16
    units), or None when it already computes in float32."""
    from fer.config import TrainConfig
    from fer.model.architectures import ARCHITECTURES, build_model

    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return None
    if card.arch not in ARCHITECTURES:
        log.warning("%s is not a known architecture: kept in its mixed precision", card.arch)
        return None
    import keras

    cfg = TrainConfig.from_dict(card.config)
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        f32 = build_model(card.arch, l2=cfg.l2, dropout=cfg.dropout)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    f32.set_weights(model.get_weights())
    return f32


def export_model(src: Path, dest: Path, tta_flip: bool | None = None, notes: str | None = None,
                 zoom: float | None = None, prior_correction: bool | None = None,
                 shift: int | None = None, recall_floors: Mapping[str, float] | None = None) -> ModelCard:
    """Save `src`'s model without optimizer state to `dest` (.keras) with its card, and its report
    (history, full validation and test reports: fer.jobs.results.ModelReport) and its test predictions
    (fer.jobs.results.ShippedPredictions) beside them.

    `prior_correction`: True computes it from the run's training data (fer.model.priors), False drops it,
    None keeps the card's. `recall_floors` ({"fear": 0.45, ...}): offsets added to those classes'
    log-probabilities, chosen on the validation split (fer.model.priors.recall_offsets), so that each is recalled
    on at least that share of its validation images; stored as the card's `class_offsets`, added into its prior
    correction (a recomputed or dropped correction drops the old offsets). A mixed-precision model is saved
    computing in float32. Changing the precision, `tta_flip`, `zoom`, `shift` or the prior correction re-scores
    the card's metrics the new way (this loads the run's dataset), so the card always describes how the model
    predicts.
    """
    from fer.jobs.results import source_history
    from fer.model.inference import card_views

    path = source_model(src)
    card = load_card(path)
    if card is None:
        raise ModelError(f"{path}: no model card beside it; export needs to know how the model was made")
    model = load_model(path)  # compile=False: the optimizer state is left behind
    changes: dict[str, object] = {}
    f32 = as_float32(model, card)
    data = TrainingData(card)
    views = card_views(card, tta_flip=tta_flip, zoom=zoom, shift=shift)
    offsets = card.class_offsets
    if prior_correction is not None:
        views["prior_correction"] = training_prior_correction(data) if prior_correction else ()
        offsets = ()
    model = f32 if f32 is not None else model
    scores = None  # the report's and the predictions'
    if recall_floors:
        from fer.model.priors import add_offsets, apply_correction

        base = card.learned_correction if offsets else views["prior_correction"]  # without its old offsets
        scores = split_scores(model, dataclasses.replace(card, **{**views, "prior_correction": base}), data)
        offsets = floor_offsets(scores, data, recall_floors)
        # the offsets on top, as the classifier will add them: no second pass of the network
        scores = {name: (idx, apply_correction(s, offsets)) for name, (idx, s) in scores.items()}
        views["prior_correction"] = add_offsets(base, offsets)
        log.info("recall floors %s: offsets %s", dict(recall_floors), offsets)
    history = source_history(src)  # read before `dest` may overwrite the source's report
    rescored = f32 is not None or views != {k: getattr(card, k) for k in views}
    if offsets != card.class_offsets:
        changes["class_offsets"] = offsets
    if rescored:
        log.info("re-scoring %s (float32, %s)", path, views)
    if scores is None:
        scores = split_scores(model, dataclasses.replace(card, **views), data)
    reports = reports_from(scores, data)
    if rescored:
        changes.update(views, metrics={name: rep.summary() for name, rep in reports.items()})
    if notes is not None:
        changes["notes"] = notes
    card = dataclasses.replace(card, **changes)
    save_model(model, Path(dest), card)
    log.info("writing the report and the test predictions beside %s", dest)
    write_report(model, card, Path(dest), history, data, reports)
    if "test" in scores:
        from fer.jobs.results import predictions_path

        shipped_predictions(scores, data).save(predictions_path(Path(dest)))
    return card


def floor_offsets(scores: dict[str, tuple[np.ndarray, np.ndarray]], data: TrainingData,
                  floors: Mapping[str, float]) -> tuple[float, ...]:
    """fer.model.priors.recall_offsets for `floors` (class name: share) on the validation part of `scores`
    (`split_scores`)."""
    from fer.model.priors import class_floors, recall_offsets

    by_class = class_floors(floors)
    if "validation" not in scores:
        raise ValueError(f"recall floors are chosen on the validation split, and {data.card.split or 'this split'} "
                         "has none")
    idx, s = scores["validation"]
    return recall_offsets(s, data.loaded[1].labels[idx], by_class)


SPLIT_FIELDS = ("data", "split", "test_fraction", "val_fraction", "test_seed", "val_seed")
"""The TrainConfig fields that decide which images a model was chosen and scored on."""


def split_settings(card: ModelCard) -> dict[str, Any]:
    """The card's SPLIT_FIELDS as its images are loaded (`TrainingData.loaded`): a relative data path is taken
    from the repository root, where training runs, so two cards naming one file the two ways agree."""
    from fer.config import TrainConfig
    from fer.train.presets import resolve_data

    cfg = resolve_data(TrainConfig.from_dict(card.config))
    return {f: getattr(cfg, f) for f in SPLIT_FIELDS}


def load_members(members: list[Path], what: str) -> tuple[list[Any], list[ModelCard]]:
    """Each member's network (computing in float32) and card, for `what` ("an ensemble", "a soup") made of them;
    refused when a card is missing or a member was trained on another split than the first."""
    models, cards = [], []
    for src in members:
        path = source_model(src)
        card = load_card(path)
        if card is None:
            raise ModelError(f"{path}: no model card beside it; {what} needs to know how each member was made")
        model = load_model(path)
        models.append(as_float32(model, card) or model)
        cards.append(card)
    settings = split_settings(cards[0])
    for src, card in zip(members[1:], cards[1:], strict=True):
        differs = [f for f, v in split_settings(card).items() if v != settings[f]]
        if differs:
            raise ModelError(f"{src}: trained on another split than {members[0]} ({', '.join(differs)} differ); "
                             f"{what}'s members must share the images it is chosen and scored on")
    return models, cards


def export_ensemble(members: list[Path], dest: Path, tta_flip: bool | None = None, zoom: float | None = None,
                    shift: int | None = None, notes: str | None = None) -> ModelCard:
    """Average `members` (run folders or model files with cards, all trained on the same split) into one model
    file `dest` with its card (arch 'ensemble', `members`) and report. Each member computes in float32 with its
    prior correction folded into its weights; the views (mirror, zoom, shifts) default to the first member's
    and apply to the whole. Scored on the members' validation and test splits (this loads their dataset)."""
    from fer.model.ensemble import ENSEMBLE_ARCH, build_ensemble, fold_prior_correction
    from fer.model.inference import card_views

    if not members:
        raise ModelError("an ensemble needs at least one member")
    models, cards = load_members(members, "an ensemble")
    for model, card in zip(models, cards, strict=True):
        fold_prior_correction(model, card.prior_correction)
    first = cards[0]
    model = build_ensemble(models)
    views = card_views(first, tta_flip=tta_flip, zoom=zoom, shift=shift)
    views["prior_correction"] = ()
    card = ModelCard(arch=ENSEMBLE_ARCH, params=int(model.count_params()), config=first.config, split=first.split,
                     members=tuple(str(m) for m in members), notes=notes or "", created=utc_now(),
                     machine=first.machine, **views)
    data = TrainingData(card)
    reports = full_reports(model, card, data)
    card = dataclasses.replace(card, metrics={name: rep.summary() for name, rep in reports.items()},
                               train_seconds=round(sum(c.train_seconds for c in cards), 1))
    save_model(model, Path(dest), card)
    write_report(model, card, Path(dest), (), data, reports)
    return card

