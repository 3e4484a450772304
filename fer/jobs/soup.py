"""A model soup made into a deployable model: networks of one start averaged weight by weight, with its card.

`export_soup` averages the networks it is given, or, with `greedy`, chooses them as Wortsman et al. do: each
network alone scored on the card's validation split with one view, best first, each next one kept when the soup
with it scores higher (fer.model.soup.greedy_soup). Every soup scored has its BatchNorm statistics measured again
over one epoch of the first network's training batches (its augmentation), as a run's weight average has
(fer.train.averaging).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fer.jobs.export import TrainingData, full_reports, load_members, write_report
from fer.model.modelio import ModelCard, ModelError, save_model, utc_now
from fer.model.soup import SoupChoice, average_corrections, average_weights, greedy_soup

log = logging.getLogger(__name__)


def _loaded(members: Sequence[Path]) -> tuple[list[Any], list[ModelCard]]:
    """Each member's float32 network and card (fer.jobs.export.load_members); refused when one is an ensemble
    or the architectures differ."""
    models, cards = load_members(list(members), "a soup")
    for src, card in zip(members, cards, strict=True):
        if card.members:
            raise ModelError(f"{src}: an ensemble; a soup averages the weights of single networks")
        if card.arch != cards[0].arch:
            raise ModelError(f"{src}: a {card.arch}, not a {cards[0].arch} like {members[0]}; only one architecture "
                             "averages")
    return models, cards


def training_batches(data: TrainingData) -> Any:
    """One epoch of the card's training images as its run saw them (shuffled, augmented as its config says),
    for measuring BatchNorm statistics: the targets are not used."""
    from fer.labels import NUM_CLASSES
    from fer.train.pipeline import TrainBatches

    cfg, ds, split = data.loaded
    images = ds.images[split.train]
    return TrainBatches(images, np.zeros((len(images), NUM_CLASSES), np.float32), cfg).epoch(0)


def export_soup(members: list[Path], dest: Path, greedy: bool = False, zoom: float | None = None,
                notes: str | None = None, report: Callable[[str], None] | None = None) -> tuple[ModelCard, SoupChoice]:
    """Average `members` (run folders or model files with cards: one architecture, one split) into one network
    saved at `dest` with its card (`soup` naming the files averaged; the first member's config and split; one
    view at `zoom`, default the first member's; the members' prior corrections averaged) and its report.
    `greedy` chooses the members by their one view on the validation split. `report` hears each score."""
    if not members:
        raise ModelError("a soup needs at least one network")
    from fer.model.evaluation import evaluate
    from fer.train.averaging import refresh_batchnorm

    names = [str(m) for m in members]
    models, cards = _loaded(members)
    card_by = dict(zip(names, cards, strict=True))
    weights_of = {n: m.get_weights() for n, m in zip(names, models, strict=True)}
    base = dataclasses.replace(cards[0], zoom=cards[0].zoom if zoom is None else zoom, tta_flip=False, shift=0,
                               class_offsets=(), notes=notes or "")
    data = TrainingData(base)
    _, ds, split = data.loaded
    if greedy and not len(split.val):
        raise ModelError(f"{members[0]}: its split has no validation part to choose a soup on")
    val_images, val_labels = ds.images[split.val], ds.labels[split.val]
    soup = models[0]  # the vessel: every soup's weights are set into it, the members' are kept in weights_of
    made: dict[tuple[str, ...], list[np.ndarray]] = {}

    def card_of(chosen: tuple[str, ...]) -> ModelCard:  # recall-floor offsets left out: floors come after
        return dataclasses.replace(base, prior_correction=average_corrections([card_by[n].learned_correction
                                                                                 for n in chosen]))

    def make(chosen: tuple[str, ...]) -> None:
        if chosen not in made:
            if len(chosen) == 1:
                made[chosen] = weights_of[chosen[0]]
            else:
                soup.set_weights(average_weights([weights_of[n] for n in chosen]))
                refresh_batchnorm(soup, training_batches(data))  # augmented alike for every soup
                made[chosen] = soup.get_weights()
        soup.set_weights(made[chosen])

    def score(chosen: tuple[str, ...]) -> float:
        make(chosen)
        card = card_of(chosen)
        acc = evaluate(soup, val_images, val_labels, zoom=card.zoom, prior_correction=card.prior_correction).accuracy
        if report is not None:
            report(f"{acc:.4f}  {' + '.join(chosen)}")
        return acc

    choice = greedy_soup(names, score) if greedy else SoupChoice(tuple(names), float("nan"), ())
    make(choice.members)
    card = dataclasses.replace(card_of(choice.members), soup=choice.members, params=int(soup.count_params()),
                               created=utc_now(),
                               train_seconds=round(sum(card_by[n].train_seconds for n in choice.members), 1))
    reports = full_reports(soup, card, data)
    card = dataclasses.replace(card, metrics={name: rep.summary() for name, rep in reports.items()})
    save_model(soup, Path(dest), card)
    write_report(soup, card, Path(dest), (), data, reports)
    return card, choice
