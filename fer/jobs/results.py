"""What the results page reads about a model: history, test reports, test-split predictions, curves."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer.config import TrainConfig
from fer.model.evaluation import EvalReport
from fer.train.presets import from_root

if TYPE_CHECKING:
    from fer.data.dataset import Dataset

log = logging.getLogger(__name__)


REPORT_SUFFIX = ".report.json"
PREDICTIONS_SUFFIX = ".predictions.npz"


def report_path(model_path: Path) -> Path:
    """The report file `export` writes beside a model and its card: models/default.report.json."""
    return Path(model_path).with_suffix(REPORT_SUFFIX)


def predictions_path(model_path: Path) -> Path:
    """The test-split predictions `export` (or `fer predictions`) writes beside a model:
    models/default.predictions.npz."""
    return Path(model_path).with_suffix(PREDICTIONS_SUFFIX)


@dataclass(frozen=True)
class ShippedPredictions:
    """A model's scores on its own test split, shipped beside it without the faces (FER2013 has no open
    licence): each image's key in the dataset (its path, fer.data.dataset.Dataset.paths), true label,
    predicted label (the argmax of the full-precision scores, so its confusion matrix is the report's) and
    the seven probabilities as float16 (3,589 faces: about 50 kB)."""

    keys: tuple[str, ...]
    labels: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray
    split: str

    @classmethod
    def from_scores(cls, keys: Any, labels: np.ndarray, scores: np.ndarray, split: str) -> ShippedPredictions:
        scores = np.asarray(scores)
        return cls(tuple(str(k) for k in keys), np.asarray(labels, np.uint8), scores.argmax(axis=1).astype(np.uint8),
                   scores.astype(np.float16), split)

    def save(self, path: Path) -> None:
        """Write a compressed .npz atomically (fer.model.modelio.atomic_write_bytes)."""
        import io

        from fer.model.modelio import atomic_write_bytes

        buf = io.BytesIO()
        np.savez_compressed(buf, keys=np.array(self.keys), labels=self.labels, predicted=self.predicted,
                            scores=self.scores, split=np.array(self.split))
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> ShippedPredictions:
        """Read a file written by `save`; ValueError when its arrays do not fit together."""
        with np.load(Path(path), allow_pickle=False) as z:
            keys, labels, predicted = z["keys"], z["labels"], z["predicted"]
            scores, split = z["scores"], str(z["split"])
        n = len(keys)
        if labels.shape != (n,) or predicted.shape != (n,) or scores.shape != (n, 7):
            raise ValueError(f"{path}: keys, labels, predicted and scores disagree in shape")
        return cls(tuple(str(k) for k in keys), labels, predicted, scores, split)

    def mistakes(self, true_class: int, pred_class: int, k: int = 12) -> np.ndarray:
        """Indices of the k images of `true_class` predicted as `pred_class`, most confident first."""
        from fer.model.evaluation import most_confident_mistakes

        return most_confident_mistakes(self.labels, self.scores, true_class, pred_class, k, y_pred=self.predicted)


def load_predictions(model_path: Path) -> ShippedPredictions | None:
    """The predictions beside a model file, or None when there are none (or they are unreadable)."""
    p = predictions_path(model_path)
    if not p.is_file():
        return None
    try:
        return ShippedPredictions.load(p)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("unreadable predictions %s: %s", p, exc)
        return None


@dataclass(frozen=True)
class ModelReport:
    """What a shipped model carries so that its results page needs no dataset: its per-epoch history
    (empty when the run's history is gone), the full reports by split name ("validation", "test") on
    the card's own split and views, and in words which images each split holds."""

    model: str
    split: str
    reports: dict[str, EvalReport]
    history: tuple[dict[str, float], ...] = ()
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "split": self.split, "created": self.created,
                "history": [dict(r) for r in self.history],
                "reports": {k: v.to_dict() for k, v in self.reports.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelReport:
        return cls(d["model"], d.get("split", ""), {k: EvalReport.from_dict(v) for k, v in d["reports"].items()},
                   tuple(d.get("history") or ()), d.get("created", ""))


def report_problems(d: Any, where: str) -> list[str]:
    """Why parsed JSON is not a model report: not an object, no reports, a report that is not a valid EvalReport
    (fer.schema: seven classes, a 7x7 matrix, finite numbers in range), a history row that cannot be drawn."""
    from fer.jobs.runfiles import row_problem
    from fer.schema import field_problems

    if not isinstance(d, dict) or not isinstance(d.get("model"), str) or not isinstance(d.get("reports"), dict):
        return [f"{where}: not a model report (an object with model and reports)"]
    problems = [p for split, rep in d["reports"].items() for p in field_problems(EvalReport, rep, f"{where} {split}")]
    problems += [f"{where} {split}: incomplete report" for split, rep in d["reports"].items()
                 if not problems and not set(EvalReport.__dataclass_fields__) <= set(rep)]
    history = d.get("history") or []
    if not isinstance(history, list):
        return [*problems, f"{where}: history is not a list"]
    for i, row in enumerate(history, start=1):
        why = row_problem(row) if isinstance(row, dict) else "not an object"
        if why is not None:
            problems.append(f"{where} history row {i}: {why}")
            break
    return problems


def read_model_report(model_path: Path) -> tuple[ModelReport | None, str]:
    """(the report beside a model file, '') or (None, '') when there is none, or (None, why) when it cannot be
    used (not a regular file or over 4 MB, fer.files; not JSON; report_problems). The problem is logged."""
    from fer.files import FileRefused, read_text

    p = report_path(model_path)
    try:
        data = json.loads(read_text(p))
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError, FileRefused) as exc:
        problems = [f"{p.name}: {exc}"]
    else:
        problems = report_problems(data, p.name)
        if not problems:
            return ModelReport.from_dict(data), ""
    log.warning("unreadable model report %s: %s", p, "; ".join(problems))
    return None, "; ".join(problems)


def load_model_report(model_path: Path) -> ModelReport | None:
    """The report beside a model file, or None when there is none or it cannot be used (read_model_report)."""
    return read_model_report(model_path)[0]


def source_history(src: Path) -> tuple[dict[str, float], ...]:
    """The per-epoch history of what is exported: a run folder's history.csv, or the history in the
    report beside a model file (empty when neither exists)."""
    from fer.train.trainer import read_history

    src = Path(src)
    if src.is_dir():
        return tuple(read_history(src))
    report = load_model_report(src)
    return report.history if report is not None else ()


def member_epochs(members: tuple[str, ...], root: Path) -> tuple[int, ...] | None:
    """The epochs each of an ensemble's members trained (its card's `members`, relative to `root`: a run
    folder's card is its model.json), in the card's order; None when a member or its card is gone."""
    from fer.model.modelio import load_card

    epochs = []
    for member in members:
        path = from_root(member, root)
        card = load_card(path / "model.keras" if path.is_dir() else path) if path.exists() else None
        if card is None:
            return None
        epochs.append(card.epochs_trained)
    return tuple(epochs)


def member_histories(members: tuple[str, ...], root: Path) -> list[tuple[str, tuple[dict[str, float], ...]]]:
    """An ensemble's members (its card's `members`: run folders or model files, relative to `root`) with the
    per-epoch history each one carries, in the card's order; a member that is gone or has no history is left out.
    An ensemble trained no epochs itself: these are its learning curves."""
    found = []
    for member in members:
        path = from_root(member, root)
        history = source_history(path) if path.exists() else ()
        if history:
            found.append((Path(member).stem if path.suffix == ".keras" else Path(member).name, history))
    return found


def confused_pairs(rep: EvalReport, k: int = 5) -> list[tuple[str, str, int, float]]:
    """The k most frequent mistakes: (true label, predicted label, count, share of the true class)."""
    from fer.labels import LABELS

    cm = np.array(rep.confusion)
    rows = np.maximum(cm.sum(axis=1), 1)
    pairs = [(LABELS[i], LABELS[j], int(cm[i, j]), float(cm[i, j] / rows[i]))
             for i in range(len(LABELS)) for j in range(len(LABELS)) if i != j and cm[i, j] > 0]
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))[:k]


@dataclass(frozen=True)
class TestPredictions:
    """A model's scores on the test split of its own config: images, true labels, scores [N, 7]."""

    images: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    split: str


def load_reports(run_dir: Path) -> dict[str, EvalReport]:
    """{split name: full report} from a run's metrics.json ({} when there is none)."""
    from fer.jobs.runfiles import read_reports

    return read_reports(run_dir)[0]  # a damaged file reads as none (and marks the run broken, fer.jobs.runs)


def best_epoch(history: list[dict[str, float]]) -> int:
    """The epoch (1-based) with the lowest val_loss (loss when there is no validation); 0 if none."""
    if not history:
        return 0
    key = "val_loss" if any("val_loss" in r for r in history) else "loss"
    row = min(history, key=lambda r: r.get(key, np.inf))
    return int(row.get("epoch", 0))


def early_stopped(history: list[dict[str, float]], cfg: TrainConfig | None, finished: bool) -> bool:
    """True when a finished run ended before its planned number of epochs."""
    return bool(finished and cfg is not None and history and len(history) < cfg.epochs)


def test_predictions(model: Any, cfg: TrainConfig, batch_size: int = 256, dataset: Dataset | None = None,
                     progress: Callable[[float], None] | None = None) -> TestPredictions:
    """Scores of `model` (a fer.model.inference.Classifier) on the test split that `cfg` makes of its data
    (`dataset`, else loaded from cfg.data); `progress` hears the share of test images scored (0..1)."""
    from fer.data.dataset import load_dataset
    from fer.data.splits import make_split

    ds = dataset if dataset is not None else load_dataset(cfg.data)
    split = make_split(ds, cfg)
    images = ds.images[split.test]
    parts = []
    for i in range(0, len(images), batch_size):
        parts.append(model.scores(images[i:i + batch_size]))
        if progress is not None:
            progress(min(1.0, (i + batch_size) / len(images)))
    scores = np.concatenate(parts) if parts else np.zeros((0, 7), np.float32)
    return TestPredictions(images, ds.labels[split.test], scores, split.description)


def curve_figure(history: list[dict[str, float]], metric: str, names: dict[str, str],
                 best: int = 0, stop: int = 0) -> Any:
    """Plotly figure of `metric` and `val_<metric>` per epoch; `names` holds the translated
    'train', 'val', 'epoch', 'title', 'best' and 'stop' labels. Marks the best and the last epoch. Accuracies
    are percents on the axis and in the hover text (plotly formats; the page gives the separators)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    epochs = [int(r["epoch"]) for r in history]  # whole numbers: fer.jobs.runfiles.row_problem
    value = ".1%" if "accuracy" in metric else ".3f"  # accuracies as percents, as the pages write them
    for key, label in ((metric, names["train"]), (f"val_{metric}", names["val"])):
        ys = [r.get(key) for r in history]
        if any(y is not None for y in ys):
            fig.add_trace(go.Scatter(x=epochs, y=ys, mode="lines+markers", name=label, hovertemplate=(
                f"{label}, {names['epoch']} %{{x}}: %{{y:{value}}}<extra></extra>")))
    if best:
        fig.add_vline(x=best, line_dash="dash", line_color="#2ca02c", annotation_text=names["best"])
    if stop:
        fig.add_vline(x=stop, line_dash="dot", line_color="#d62728", annotation_text=names["stop"],
                      annotation_position="bottom right")
    fig.update_layout(title=names["title"], xaxis_title=names["epoch"], yaxis_title=names["title"],
                      height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    if "accuracy" in metric:
        fig.update_yaxes(tickformat=".0%")  # 20%, not 0.2 (the page sets the language's separators)
    return fig
