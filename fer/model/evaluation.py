"""Scores of a model on a labelled set: accuracy, loss, macro F1, per-class report, confusion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fer.labels import LABELS
from fer.schema import MAX_COUNT, bounds, checked, number_problem


def per_class_problem(value: dict[str, Any]) -> str | None:
    """Why per-class scores do not name exactly the seven classes, or None."""
    return None if set(value) == set(LABELS) else f"names {sorted(value)}, not the {len(LABELS)} classes"


def confusion_problem(value: Any) -> str | None:
    """Why a confusion matrix is not 7x7 counts, or None."""
    k = len(LABELS)
    if len(value) != k or any(len(row) != k for row in value):
        return f"is not {k}x{k}"
    return next((f"has {why}" for row in value for v in row if (why := number_problem(v, 0, MAX_COUNT))), None)


@dataclass(frozen=True)
class ClassScores:
    precision: float = field(metadata=bounds(0, 1))
    recall: float = field(metadata=bounds(0, 1))
    f1: float = field(metadata=bounds(0, 1))
    support: int = field(metadata=bounds(0, MAX_COUNT))


@dataclass(frozen=True)
class EvalReport:
    """Scores on one split; `confusion[i][j]` counts true class i predicted as j. The metadata of each field
    says what a file may hold (fer.schema): seven classes, a 7x7 matrix, finite numbers in their ranges."""

    split: str
    n: int = field(metadata=bounds(0, MAX_COUNT))
    accuracy: float = field(metadata=bounds(0, 1))
    loss: float = field(metadata=bounds(0, None))
    macro_f1: float = field(metadata=bounds(0, 1))
    per_class: dict[str, ClassScores] = field(metadata=checked(per_class_problem))
    confusion: tuple[tuple[int, ...], ...] = field(metadata=checked(confusion_problem))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["confusion"] = [list(r) for r in self.confusion]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalReport:
        return cls(d["split"], d["n"], d["accuracy"], d["loss"], d["macro_f1"],
                   {k: ClassScores(**v) for k, v in d["per_class"].items()},
                   tuple(tuple(r) for r in d["confusion"]))

    def summary(self) -> dict[str, float]:
        """The headline figures stored in a model card."""
        return {"n": self.n, "accuracy": round(self.accuracy, 4), "loss": round(self.loss, 4),
                "macro_f1": round(self.macro_f1, 4),
                "recall": {k: round(v.recall, 4) for k, v in self.per_class.items()}}


def report_from_scores(y_true: np.ndarray, scores: np.ndarray, split: str = "") -> EvalReport:
    """Build the report from true indices and predicted probabilities [N, 7]."""
    from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

    labels = list(range(len(LABELS)))
    y_pred = scores.argmax(axis=1)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_class = {name: ClassScores(float(p[i]), float(r[i]), float(f[i]), int(s[i]))
                 for i, name in enumerate(LABELS)}
    probs = np.clip(scores.astype(np.float64), 1e-7, 1.0)
    probs /= probs.sum(axis=1, keepdims=True)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    present = s > 0
    return EvalReport(
        split=split,
        n=int(len(y_true)),
        accuracy=float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        loss=float(log_loss(y_true, probs, labels=labels)) if len(y_true) else 0.0,
        macro_f1=float(f[present].mean()) if present.any() else 0.0,
        per_class=per_class,
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
    )


def predict_scores(model: Any, images: np.ndarray, batch_size: int = 256, tta_flip: bool = False,
                   zoom: float = 1.0, prior_correction: Sequence[float] = (), shift: int = 0) -> np.ndarray:
    """Class probabilities [N, 7] for uint8 images [N, 48, 48], batch by batch."""
    from fer.model.inference import Classifier

    clf = Classifier(model, tta_flip=tta_flip, zoom=zoom, prior_correction=prior_correction, shift=shift)
    out = [clf.scores(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), np.float32)


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray, split: str = "",
             tta_flip: bool = False, zoom: float = 1.0, prior_correction: Sequence[float] = (),
             shift: int = 0) -> EvalReport:
    scores = predict_scores(model, images, tta_flip=tta_flip, zoom=zoom, prior_correction=prior_correction,
                            shift=shift)
    return report_from_scores(labels, scores, split)


def most_confident_mistakes(y_true: np.ndarray, scores: np.ndarray, true_class: int,
                            pred_class: int, k: int = 8, y_pred: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k images of `true_class` predicted as `pred_class` with the highest score
    (`y_pred`: the predicted classes when given, else the argmax of `scores`)."""
    y_pred = scores.argmax(axis=1) if y_pred is None else y_pred
    idx = np.flatnonzero((y_true == true_class) & (y_pred == pred_class))
    return idx[np.argsort(-scores[idx, pred_class], kind="stable")][:k]  # ties (float16 scores) in file order


def seven_problem(value: Any) -> str | None:
    """Why a per-emotion tuple does not hold one value per class (LABELS order), or None."""
    return None if len(value) == len(LABELS) else f"has {len(value)} values, not {len(LABELS)}"


def taught_problem(value: Any) -> str | None:
    """Why a list of emotion names names something that is not one of the seven, or None."""
    bad = [v for v in value if v not in LABELS]
    return f"names {bad[:3]}, not emotions" if bad else None


@dataclass(frozen=True)
class BeforeAfter:
    """Two models scored on the same held-out photos: the start (shipped) model and the one fine-tuned from it.

    Per emotion, in LABELS order: `n` held-out photos, and how many of them each model named right (its recall,
    the emotion's accuracy). `taught`: the emotions the fine-tuning set had photos of (the others were kept, not
    taught). Written by the trainer at the end of a fine-tuning run as before_after.json
    (fer.jobs.runfiles.read_before_after); the metadata says what a file may hold (fer.schema)."""

    n: tuple[int, ...] = field(metadata=bounds(0, MAX_COUNT) | checked(seven_problem))
    before_correct: tuple[int, ...] = field(metadata=bounds(0, MAX_COUNT) | checked(seven_problem))
    after_correct: tuple[int, ...] = field(metadata=bounds(0, MAX_COUNT) | checked(seven_problem))
    taught: tuple[str, ...] = field(default=(), metadata=checked(taught_problem))
    before_model: str = ""
    """The start model's file, as the run's config names it (TrainConfig.init_model)."""
    after_model: str = ""
    """The fine-tuned model's file (the run's model.keras)."""

    def __post_init__(self) -> None:
        for name in ("n", "before_correct", "after_correct"):
            if (why := seven_problem(getattr(self, name))) is not None:
                raise ValueError(f"{name} {why}")
        if any(b > n or a > n for n, b, a in zip(self.n, self.before_correct, self.after_correct, strict=True)):
            raise ValueError("more photos named right than held out")

    @property
    def total(self) -> int:
        return sum(self.n)

    def recall(self, which: str) -> tuple[float | None, ...]:
        """Per emotion, the share of its held-out photos `which` ('before' or 'after') named right; None for an
        emotion with no held-out photo."""
        correct = self.before_correct if which == "before" else self.after_correct
        return tuple(c / n if n else None for c, n in zip(correct, self.n, strict=True))

    def accuracy(self, which: str) -> float | None:
        """The share of every held-out photo `which` ('before' or 'after') named right; None with none."""
        correct = self.before_correct if which == "before" else self.after_correct
        return sum(correct) / self.total if self.total else None

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BeforeAfter:
        return cls(tuple(d["n"]), tuple(d["before_correct"]), tuple(d["after_correct"]), tuple(d.get("taught", ())),
                   d.get("before_model", ""), d.get("after_model", ""))


def before_after(shipped: Any, personal: Any, images: np.ndarray, labels: np.ndarray,
                 taught: Sequence[str] = (), names: tuple[str, str] = ("", "")) -> BeforeAfter:
    """Score the held-out `images` (uint8 [N, 48, 48], true `labels`) with both models: `shipped` and `personal`
    are fer.model.inference.Classifier (anything with `.scores(images) -> [N, 7]`), each predicting as its card
    says. `names`: the two model files, as stored."""
    labels = np.asarray(labels, np.int64)
    k = len(LABELS)
    n = np.bincount(labels, minlength=k)

    def correct(model: Any) -> tuple[int, ...]:
        scores = np.concatenate([model.scores(images[i:i + 256]) for i in range(0, len(images), 256)]) \
            if len(images) else np.zeros((0, k))
        hit = labels[scores.argmax(axis=1) == labels] if len(images) else labels[:0]
        return tuple(int(v) for v in np.bincount(hit, minlength=k))

    return BeforeAfter(tuple(int(v) for v in n), correct(shipped), correct(personal),
                       tuple(c for c in LABELS if c in set(taught)), names[0], names[1])
