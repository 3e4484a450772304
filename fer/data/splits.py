"""Train/validation/test splits: the official FER2013 one, the course's stratified one, custom."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from fer.config import ConfigProblem, TrainConfig
from fer.data.dataset import DataError, Dataset


@dataclass(frozen=True)
class Split:
    """Index arrays into a Dataset, plus how they were made (saved in model cards)."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    description: str

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def official_split(ds: Dataset) -> Split:
    """train = Training, validation = PublicTest, test = PrivateTest.

    Where a source has no PublicTest images, validation is 10% of Training (stratified, seed 41).
    """
    idx = np.arange(len(ds))
    train = idx[ds.usage == "Training"]
    val = idx[ds.usage == "PublicTest"]
    test = idx[ds.usage == "PrivateTest"]
    desc = "official: train=Training, validation=PublicTest, test=PrivateTest"
    if len(val) == 0 and len(train) > 0:
        train, val = _stratified(ds, train, 0.1, 41, "validation")
        desc = "official: train=90% of Training, validation=10% of Training (seed 41), test=PrivateTest"
    if len(train) == 0:
        raise DataError("the dataset has no Training images; use the stratified split", "no_training")
    return Split("official", train, val, test, desc)


def stratified_split(ds: Dataset, test_fraction: float = 0.1, val_fraction: float = 0.1,
                     test_seed: int = 42, val_seed: int = 41, name: str = "stratified") -> Split:
    """The course's split: test first (seed 42), then validation from the rest (seed 41)."""
    idx = np.arange(len(ds))
    rest, test = _stratified(ds, idx, test_fraction, test_seed, "test")
    train, val = _stratified(ds, rest, val_fraction, val_seed, "validation")
    desc = (f"{name}: test={test_fraction:g} of all (seed {test_seed}), "
            f"validation={val_fraction:g} of the rest (seed {val_seed}), stratified by class")
    return Split(name, train, val, test, desc)


def per_class_split(ds: Dataset, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """Per class, in a shuffle seeded by `seed`: round(test_fraction x its images) for the test, at least one when
    it has 2 or more; the rest trains, and no image validates: a few photos per emotion (5 give 1 test and 4
    training photos) always split, where a stratified draw needs as many test images as classes, and a handful of
    validation photos would choose the epoch by chance (the run keeps the epoch of lowest training loss)."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for c in np.unique(ds.labels).tolist():
        idx = rng.permutation(np.flatnonzero(ds.labels == c)).tolist()
        n_test = max(1, round(len(idx) * test_fraction)) if len(idx) >= 2 else 0
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    desc = f"per-class: test={test_fraction:g} of each class (seed {seed}), at least one image each; no validation"
    return Split("per-class", np.array(sorted(train), np.int64), np.zeros(0, np.int64),
                 np.array(sorted(test), np.int64), desc)


def make_split(ds: Dataset, cfg: TrainConfig) -> Split:
    """The split a TrainConfig asks for."""
    if cfg.split == "official":
        return official_split(ds)
    if cfg.split == "per-class":
        return per_class_split(ds, cfg.test_fraction, cfg.test_seed)
    if cfg.split == "stratified":
        return stratified_split(ds, 0.1, 0.1, cfg.test_seed, cfg.val_seed)
    return stratified_split(ds, cfg.test_fraction, cfg.val_fraction, cfg.test_seed, cfg.val_seed,
                            name="custom")


def split_problems(counts: dict[str, dict[str, int]], cfg: TrainConfig) -> list[ConfigProblem]:
    """Why the split `cfg` asks for cannot be made from a dataset with these counts ({usage: {class: images}},
    `Dataset.counts()`), before any training starts; empty when it can. The official split needs Training
    images and a PrivateTest part to score on (the bundled sample has only Training images: trained on it, a
    run would end with no test score); PublicTest may be missing (validation then comes from Training). The
    stratified and custom splits draw their parts from every image, whatever its usage."""
    if cfg.split != "official":
        return []
    have = {usage for usage, per_class in counts.items() if sum(per_class.values()) > 0}
    problems = []
    if "Training" not in have:
        problems.append(ConfigProblem("split", "the official split needs Training images; this dataset has none",
                                      "no_training"))
    if "PrivateTest" not in have:
        problems.append(ConfigProblem("split", "the official split scores on PrivateTest images; this dataset has "
                                      "none (use the stratified or custom split)", "no_test"))
    return problems


def _stratified(ds: Dataset, idx: np.ndarray, fraction: float, seed: int,
                what: str) -> tuple[np.ndarray, np.ndarray]:
    """Split `idx` into (rest, `fraction` of it), stratified by class; `what` is "test" or "validation"."""
    y = ds.labels[idx]
    try:
        a, b = train_test_split(idx, test_size=fraction, random_state=seed, stratify=y)
    except ValueError as exc:
        raise DataError(f"cannot make a stratified {what} split: {exc} "
                        "(every class needs at least 2 images; add data or use a larger fraction)",
                        "stratified_test" if what == "test" else "stratified_val",
                        images=len(idx), fraction=fraction) from None
    return np.sort(a), np.sort(b)


def missing_classes(ds: Dataset, split: Split) -> dict[str, list[str]]:
    """Per part of a split, the class names with no image (reported before training)."""
    from fer.labels import LABELS

    out: dict[str, list[str]] = {}
    for part in ("train", "val", "test"):
        idx = getattr(split, part)
        if len(idx) == 0:
            continue
        present = set(np.unique(ds.labels[idx]).tolist())
        gone = [LABELS[i] for i in range(len(LABELS)) if i not in present]
        if gone:
            out[part] = gone
    return out
