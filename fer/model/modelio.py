"""Saved models: a `.keras` file plus a JSON model card beside it, both written atomically."""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer.files import FileRefused, is_regular, read_text
from fer.labels import LABELS, NUM_CLASSES
from fer.model.priors import check_prior_correction
from fer.paths import DEFAULT_MODEL, WEBCAM_MODEL
from fer.schema import MAX_COUNT, bounds, checked, number_problem

log = logging.getLogger(__name__)


MIN_ZOOM, MAX_ZOOM = 1.0, 1.5
"""The zoom a model may ask for: 1.0 classifies faces as cropped, 1.5 keeps the centre two thirds."""


class ModelError(ValueError):
    """A file is not a usable emotion model; the message says why."""


def check_zoom(zoom: float) -> None:
    """ValueError unless MIN_ZOOM <= zoom <= MAX_ZOOM."""
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise ValueError(f"zoom must be between {MIN_ZOOM} and {MAX_ZOOM}, not {zoom}")


MAX_SHIFT = 8
"""The most pixels (of the 48) a model may ask its shifted views to move the face."""


def check_shift(shift: int) -> None:
    """ValueError unless `shift` is a whole number of pixels, 0..MAX_SHIFT."""
    if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= MAX_SHIFT:
        raise ValueError(f"shift must be a whole number of pixels from 0 to {MAX_SHIFT}, not {shift}")


METRIC_BOUNDS: dict[str, tuple[float, float | None]] = {"n": (0, MAX_COUNT), "accuracy": (0, 1), "macro_f1": (0, 1),
                                                       "loss": (0, None)}
"""What each headline figure of a card's metrics may be (EvalReport.summary writes them)."""


def metrics_problem(metrics: dict[str, Any]) -> str | None:
    """Why a card's metrics are not {split: {figure: value}} with the figures in their ranges, or None."""
    for split, m in metrics.items():
        if not isinstance(m, dict):
            return f"{split!r} is not an object"
        for name, (lo, hi) in METRIC_BOUNDS.items():
            if name in m and (why := number_problem(m[name], lo, hi)) is not None:
                return f"{split} {name}: {why}"
        if "n" in m and m["n"] != int(m["n"]):
            return f"{split} n: {m['n']!r} is not a whole number"
        recall = m.get("recall", {})
        if not isinstance(recall, dict):
            return f"{split} recall is not an object"
        if (why := next((f"{split} recall {k}: {w}" for k, v in recall.items()
                         if (w := number_problem(v, 0, 1)) is not None), None)) is not None:
            return why
    return None


def utc_now() -> str:
    """Now, UTC, to the second (ISO 8601): when a card, report or job was made."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ModelCard:
    """Everything a model file says about itself. The metadata of a field says what a file may hold there
    (fer.schema): a card is read from a file anyone with access to the folder can edit."""

    arch: str
    params: int = field(metadata=bounds(0, MAX_COUNT))
    labels: tuple[str, ...] = LABELS
    input_shape: tuple[int, ...] = (48, 48, 1)
    config: dict[str, Any] = field(default_factory=dict)
    split: str = ""
    """How the data was split (TrainConfig.split plus seeds / fractions), in words."""
    metrics: dict[str, Any] = field(default_factory=dict, metadata=checked(metrics_problem))
    """Scores by split name, e.g. {"PrivateTest": {"accuracy": .., "macro_f1": ..}}."""
    epochs_trained: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    best_epoch: int = field(default=0, metadata=bounds(0, MAX_COUNT))
    train_seconds: float = field(default=0.0, metadata=bounds(0, None))
    created: str = ""
    machine: str = ""
    notes: str = ""
    tta_flip: bool = False
    """Predict with test-time flip averaging (the face and its mirror image) unless told otherwise."""
    zoom: float = 1.0
    """Classify each 48x48 face enlarged by this factor, its centre 48x48 kept (1.0: as cropped)."""
    shift: int = 0
    """Also classify the face moved by this many pixels up, down, left and right, and average the five
    views (ten with tta_flip); 0: the centre view only."""
    members: tuple[str, ...] = ()
    """An ensemble's members (fer.model.ensemble): the model files it averages, as given when it was made."""
    soup: tuple[str, ...] = ()
    """A soup's networks (fer.model.soup): the model files whose weights it averages, as given when it was made;
    empty for a network trained as it is."""
    precision: str = ""
    """What training computed in: 'bfloat16' (mixed precision) or 'float32'; empty on older cards."""
    prior_correction: tuple[float, ...] = ()
    """Added to the log-probabilities, which are then normalised again: per class, log(share of the
    training labels) - log(share of the training targets). It undoes the class prior that FER+ soft
    labels shift (more neutral, less fear). Plus `class_offsets` where the card has them. Empty: none."""
    class_offsets: tuple[float, ...] = ()
    """The part of `prior_correction` chosen on the validation split to raise some classes' recall to a floor
    (`fer export --recall-floor`, the training config's `recall_floors`: fer.model.priors.recall_offsets); empty:
    none."""

    def __post_init__(self) -> None:
        check_zoom(self.zoom)
        check_shift(self.shift)
        check_prior_correction(self.prior_correction)
        check_prior_correction(self.class_offsets, "class_offsets")

    @property
    def lifted(self) -> tuple[str, ...]:
        """The emotions (LABELS names) whose scores `class_offsets` raise, in LABELS order."""
        return tuple(k for k, v in zip(LABELS, self.class_offsets, strict=False) if v > 0)

    @property
    def learned_correction(self) -> tuple[float, ...]:
        """`prior_correction` without its `class_offsets`: the part that comes from the training targets
        (FER+ votes); all zeros, or empty, for a model trained on FER2013's own labels."""
        if not self.class_offsets:
            return self.prior_correction
        return tuple(round(p - o, 4) for p, o in zip(self.prior_correction, self.class_offsets, strict=True))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["input_shape"] = list(self.input_shape)
        d["prior_correction"] = list(self.prior_correction)
        d["class_offsets"] = list(self.class_offsets)
        d["members"] = list(self.members)
        d["soup"] = list(self.soup)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        """The card a parsed model.json describes; ValueError naming every field of the wrong type."""
        problems = card_problems(d)
        if problems:
            raise ValueError("; ".join(problems))
        names = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in names}
        kw["labels"] = tuple(kw.get("labels", LABELS))
        kw["input_shape"] = tuple(kw.get("input_shape", (48, 48, 1)))
        kw["prior_correction"] = tuple(kw.get("prior_correction", ()))
        kw["class_offsets"] = tuple(kw.get("class_offsets", ()))
        kw["members"] = tuple(kw.get("members", ()))
        kw["soup"] = tuple(kw.get("soup", ()))
        return cls(**kw)


def card_problems(d: Any, where: str = "model card") -> list[str]:
    """Why parsed JSON is not a model card: not an object, a field of the wrong type, metrics that are not
    {split: {name: value}}, a config that is not a TrainConfig's."""
    from fer.config import TrainConfig
    from fer.schema import field_problems

    problems = field_problems(ModelCard, d, where)
    if problems or not isinstance(d, dict):
        return problems
    problems = field_problems(TrainConfig, d.get("config", {}), f"{where} config")
    if not problems and d.get("config"):  # well typed, in range: the Results page reads it as a TrainConfig
        problems = [f"{where} config: {p}" for p in TrainConfig.from_dict(d["config"]).validate()]
    return problems


def os_problem(exc: OSError) -> str:
    """One plain line for a failed file operation: the file, then disk full, permission, read-only, ..."""
    where = f"{exc.filename}: " if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}the disk is full (no space left to write)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}permission denied (the app may not write there)"
    if exc.errno == errno.EROFS:
        return f"{where}the file system is read-only"
    if exc.errno == errno.ENOTDIR:
        return f"{where}a part of this path is a file, not a folder"
    return f"{where}{exc.strerror or exc}"


def card_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def atomic_write_bytes(path: Path, data: bytes, parents: bool = True) -> None:
    """Write to a temporary file in the same folder, then rename over `path`. `parents=False`: a missing
    folder is a FileNotFoundError, not created (a job must not bring back the run folder a user deleted)."""
    path = Path(path)
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any, parents: bool = True) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=False, default=str).encode(), parents)


def save_model(model: Any, path: Path, card: ModelCard | None = None, parents: bool = True) -> None:
    """Save `model` to `path` (.keras) and its card to the .json beside it, atomically; `parents` as for
    atomic_write_bytes."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files end in .keras, not {path.suffix!r}")
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if card is not None:
        write_json(card_path(path), card.to_dict(), parents)


def read_card(model_path: Path) -> tuple[ModelCard | None, str]:
    """(the card beside a model file, '') or (None, '') when there is none, or (None, why) when it cannot be
    used: not a regular file, over 4 MB (fer.files), not JSON, not a card (see card_problems: a list, a field of
    the wrong type or out of range, a prior correction out of range). The problem is logged."""
    p = card_path(model_path)
    try:
        return ModelCard.from_dict(json.loads(read_text(p))), ""
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError, TypeError, FileRefused) as exc:  # FileRefused, JSON and card errors: ValueErrors
        log.warning("unreadable model card %s: %s", p, exc)
        return None, f"{p.name}: {exc}"


def load_card(model_path: Path) -> ModelCard | None:
    """The card beside a model file, or None when there is none or it cannot be used (read_card, with a
    warning naming the problem): the model then predicts without the card's settings."""
    return read_card(model_path)[0]


def one_view_model(path: Path) -> Path:
    """The model file that looks once at each face for the model `path` (the webcam, videos): the shipped
    webcam network (models/webcam.keras, when shipped) for the shipped model, else `path` itself."""
    path = Path(path)
    try:
        shipped = path.resolve() == DEFAULT_MODEL.resolve()
    except (OSError, RuntimeError):  # a link loop
        return path
    return WEBCAM_MODEL if shipped and is_regular(WEBCAM_MODEL) else path


def load_model(path: Path) -> Any:
    """Load a `.keras` model in Keras safe mode and check it maps 48x48x1 to 7 scores."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"{path.name}: only .keras model files are accepted")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - keras raises many types for a bad file
        raise ModelError(f"{path.name}: not a readable Keras model ({type(exc).__name__}: {exc})") from None
    in_shape = tuple(model.input_shape[1:]) if hasattr(model, "input_shape") else None
    out_shape = tuple(model.output_shape[1:]) if hasattr(model, "output_shape") else None
    if in_shape != (48, 48, 1) or out_shape != (NUM_CLASSES,):
        raise ModelError(f"{path.name}: expects input {in_shape} and outputs {out_shape}; "
                         f"an emotion model takes (48, 48, 1) and outputs ({NUM_CLASSES},)")
    return model
