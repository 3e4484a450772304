"""Statistics of a loaded dataset: counts, class imbalance, image sizes, pixel intensities, mean
faces and data quality (exact duplicates, conflicting labels, leaks across splits, near-blank images).

Shared by the dataset page and `python -m fer stats`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer.data.dataset import Dataset
from fer.labels import LABELS

log = logging.getLogger(__name__)

TRAIN = "Training"
TEST_SPLITS = ("PublicTest", "PrivateTest")
BLANK_STD = 1.0
"""An image whose pixel standard deviation is below this is near-blank (one flat grey)."""
_CHUNK = 4096


@dataclass(frozen=True)
class Imbalance:
    """How uneven the classes are in one split (`basis`): shares, extremes and balanced weights."""

    basis: str
    counts: dict[str, int]
    shares: dict[str, float]
    largest: str
    smallest: str
    ratio: float
    """Images in the largest class per image in the smallest present class."""
    class_weights: dict[str, float]
    """sklearn's 'balanced' weights, n / (k * count), for the classes present."""
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"basis": self.basis, "largest": self.largest, "smallest": self.smallest,
                "ratio": round(self.ratio, 4), "shares": {k: round(v, 6) for k, v in self.shares.items()},
                "class_weights": {k: round(v, 6) for k, v in self.class_weights.items()},
                "missing": list(self.missing)}


@dataclass(frozen=True)
class SizeCount:
    """How many images had this original (height, width) before resizing."""

    height: int
    width: int
    count: int


@dataclass(frozen=True)
class Quality:
    """Exact duplicates (identical 48x48 pixels) and near-blank images, with example indices."""

    duplicate_groups: int
    duplicate_images: int
    conflicting_groups: int
    """Duplicate groups whose images carry more than one label."""
    cross_split_groups: int
    """Duplicate groups spread over more than one split (Training, PublicTest, PrivateTest)."""
    train_test_groups: int
    """Duplicate groups holding both a Training image and a PublicTest/PrivateTest image."""
    near_blank: int
    duplicate_examples: tuple[tuple[int, ...], ...] = ()
    conflicting_examples: tuple[tuple[int, ...], ...] = ()
    cross_split_examples: tuple[tuple[int, ...], ...] = ()
    near_blank_examples: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"duplicate_groups": self.duplicate_groups, "duplicate_images": self.duplicate_images,
                "conflicting_groups": self.conflicting_groups, "cross_split_groups": self.cross_split_groups,
                "train_test_groups": self.train_test_groups, "near_blank": self.near_blank}


@dataclass(frozen=True, eq=False)
class DatasetStats:
    """Everything the dataset page shows; `to_dict()` is what `python -m fer stats --json` prints."""

    source: str
    total: int
    splits: dict[str, dict[str, int]]
    imbalance: Imbalance
    sizes: tuple[SizeCount, ...]
    quality: Quality
    histograms: dict[str, np.ndarray] = field(default_factory=dict)
    """Per class: the fraction of its pixels at each intensity 0..255 (256 values summing to 1)."""
    mean_faces: dict[str, np.ndarray] = field(default_factory=dict)
    """Per class present: the pixel-wise mean image, float32 [48, 48]."""

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "total": self.total,
                "splits": {u: {"total": sum(c.values()), "classes": c} for u, c in self.splits.items()},
                "imbalance": self.imbalance.to_dict(),
                "sizes": [{"height": s.height, "width": s.width, "count": s.count} for s in self.sizes],
                "quality": self.quality.to_dict()}


def describe(ds: Dataset, *, examples: int = 8, with_images: bool = True) -> DatasetStats:
    """All statistics of `ds`; `with_images=False` skips the histograms and mean faces."""
    return DatasetStats(
        source=ds.source, total=len(ds), splits=ds.counts(),
        imbalance=imbalance(ds.labels[ds.usage == TRAIN] if (ds.usage == TRAIN).any() else ds.labels,
                            TRAIN if (ds.usage == TRAIN).any() else "all"),
        sizes=image_sizes(ds), quality=quality(ds, examples=examples),
        histograms=pixel_histograms(ds) if with_images else {},
        mean_faces=mean_faces(ds) if with_images else {},
    )


def imbalance(labels: np.ndarray, basis: str = TRAIN) -> Imbalance:
    """Shares, largest/smallest ratio and balanced class weights of a label vector."""
    return imbalance_of_counts({name: int((labels == i).sum()) for i, name in enumerate(LABELS)}, basis)


def imbalance_of_counts(counts: dict[str, int], basis: str = TRAIN) -> Imbalance:
    """`imbalance` from images per class: sklearn's 'balanced' class weights, n / (k * count)."""
    counts = {c: int(counts.get(c, 0)) for c in LABELS}
    n = sum(counts.values())
    present = [c for c in LABELS if counts[c] > 0]
    if not present:
        raise ValueError("no labels to describe")
    largest = max(present, key=lambda c: counts[c])
    smallest = min(present, key=lambda c: counts[c])
    return Imbalance(basis=basis, counts=counts, shares={c: counts[c] / n for c in LABELS},
                     largest=largest, smallest=smallest, ratio=counts[largest] / counts[smallest],
                     class_weights={c: n / (len(present) * counts[c]) for c in present},
                     missing=tuple(c for c in LABELS if counts[c] == 0))


@dataclass(frozen=True)
class ShippedCounts:
    """Images per split and class of a dataset the server may not have (data/fer2013_counts.json, written by
    `python -m fer stats --data FER2013 --counts`): what the Dataset page says of the full set on the sample."""

    name: str
    total: int
    splits: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "total": self.total, "splits": self.splits}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ShippedCounts:
        splits = {str(u): {c: int(per[c]) for c in LABELS} for u, per in d["splits"].items()}
        return cls(str(d["name"]), int(d["total"]), splits)

    @classmethod
    def of(cls, ds: Dataset, name: str) -> ShippedCounts:
        return cls(name, len(ds), ds.counts())

    @property
    def imbalance(self) -> Imbalance:
        """As `describe` measures it: over the Training split when there is one, else over all images."""
        if TRAIN in self.splits:
            return imbalance_of_counts(self.splits[TRAIN], TRAIN)
        return imbalance_of_counts({c: sum(per[c] for per in self.splits.values()) for c in LABELS}, "all")


def load_counts(path: Any) -> ShippedCounts | None:
    """The counts in a file written by `fer stats --counts`, or None when it is missing or unreadable."""
    import json
    from pathlib import Path

    try:
        return ShippedCounts.from_dict(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("unreadable dataset counts %s: %s", path, exc)
        return None


def image_sizes(ds: Dataset) -> tuple[SizeCount, ...]:
    """Original (height, width) counts, most common first."""
    sizes = np.asarray(ds.sizes).reshape(-1, 2)
    if not len(sizes):
        return ()
    uniq, cnt = np.unique(sizes, axis=0, return_counts=True)
    order = np.argsort(-cnt, kind="stable")
    return tuple(SizeCount(int(uniq[i][0]), int(uniq[i][1]), int(cnt[i])) for i in order)


def pixel_histograms(ds: Dataset) -> dict[str, np.ndarray]:
    """Per class present: the share of its pixels at each of the 256 intensities."""
    out = {}
    for i, name in enumerate(LABELS):
        imgs = ds.images[ds.labels == i]
        if len(imgs):
            counts = np.bincount(imgs.ravel(), minlength=256).astype(np.float64)
            out[name] = counts / counts.sum()
    return out


def mean_faces(ds: Dataset) -> dict[str, np.ndarray]:
    """Per class present: the average image (float32 [48, 48])."""
    out = {}
    for i, name in enumerate(LABELS):
        idx = np.flatnonzero(ds.labels == i)
        if len(idx):
            total = np.zeros(ds.images.shape[1:], np.float64)
            for s in range(0, len(idx), _CHUNK):
                total += ds.images[idx[s:s + _CHUNK]].sum(axis=0, dtype=np.float64)
            out[name] = (total / len(idx)).astype(np.float32)
    return out


def pixel_std(images: np.ndarray) -> np.ndarray:
    """Standard deviation of each image's pixels (computed in chunks to bound memory)."""
    flat = images.reshape(len(images), -1)
    return np.concatenate([flat[s:s + _CHUNK].astype(np.float32).std(axis=1)
                           for s in range(0, len(flat), _CHUNK)]) if len(flat) else np.zeros(0, np.float32)


def duplicate_groups(images: np.ndarray) -> list[tuple[int, ...]]:
    """Groups (indices, ascending) of two or more pixel-identical images, in order of first occurrence."""
    groups: dict[bytes, list[int]] = defaultdict(list)
    for i, img in enumerate(images):
        groups[hashlib.blake2b(np.ascontiguousarray(img).tobytes(), digest_size=16).digest()].append(i)
    return [tuple(g) for g in groups.values() if len(g) > 1]


def quality(ds: Dataset, *, examples: int = 8, blank_std: float = BLANK_STD) -> Quality:
    """Duplicate, conflicting, cross-split and near-blank counts with a few example indices each."""
    groups = duplicate_groups(ds.images)
    conflicting = [g for g in groups if len(set(ds.labels[list(g)].tolist())) > 1]
    splits = [set(ds.usage[list(g)].tolist()) for g in groups]
    cross = [g for g, s in zip(groups, splits, strict=True) if len(s) > 1]
    train_test = sum(1 for s in splits if TRAIN in s and s & set(TEST_SPLITS))
    blank = np.flatnonzero(pixel_std(ds.images) < blank_std)
    blank_set = set(blank.tolist())

    def faces_first(gs: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return sorted(gs, key=lambda g: g[0] in blank_set)  # copies of a blank image show less

    log.info("%d duplicate groups, %d conflicting, %d cross-split, %d near-blank",
             len(groups), len(conflicting), len(cross), len(blank))
    return Quality(
        duplicate_groups=len(groups), duplicate_images=sum(len(g) for g in groups),
        conflicting_groups=len(conflicting), cross_split_groups=len(cross), train_test_groups=train_test,
        near_blank=len(blank),
        duplicate_examples=tuple(sorted(groups, key=len, reverse=True)[:examples]),
        conflicting_examples=tuple(faces_first(conflicting)[:examples]),
        cross_split_examples=tuple(faces_first(cross)[:examples]),
        near_blank_examples=tuple(int(i) for i in blank[:examples]),
    )
