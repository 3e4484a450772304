"""`TrainConfig`: the one description of a training run, built by the form and the CLI alike."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

ARCHS = ("course-cnn", "fer-net", "res-net", "mini-xception", "tiny-cnn")
"""The architectures a config may name; fer.model.architectures builds each (tests/test_core.py checks both agree)."""
SPLITS = ("official", "stratified", "custom", "per-class")
"""per-class: `test_fraction` of each class's images held out for the test, at least one of a class that has a few,
and no validation (fer.data.splits.per_class_split): the split of a photos dataset of a few photos per emotion,
where a stratified draw cannot give every class its share."""
OPTIMIZERS = ("adam", "sgd")
MONITORS = ("val_loss", "val_accuracy")
SCHEDULES = ("plateau", "cosine")
FREEZES = ("none", "early", "features")
"""What a fine-tuning run (init_model) keeps fixed: none; early (the first half of the layers with weights);
features (every layer but the last, the classifier): fer.train.trainer.freeze_layers."""
REPLAY_CLASSES = ("all", "untaught")
STRATEGIES = ("none", "mirrored", "multi-worker")
"""tf.distribute strategies a run can train under (fer.train.distribute)."""
MAX_SEED = 2**32 - 1
"""The largest seed numpy, scikit-learn and Keras accept."""


STEP_MEMORY_BUDGET_MB = 4096
"""Memory one training step may take (the job's process, above the model itself): a batch whose step would take
more is refused. Batch 4096 of course-cnn passed 9 GB on a 24 GB machine."""
STEP_MEMORY_MB = {"course-cnn": (214.0, 5.10), "fer-net": (113.0, 3.76), "res-net": (201.0, 3.69),
                  "mini-xception": (159.0, 1.96), "tiny-cnn": (67.6, 0.41)}
"""(base MB, MB per image) of one training step per architecture, float32: `python -m bench.train_step_memory
--batch 32 128` (2026-12-05; res-net 2026-12-06, docs/security.md)."""
MAX_BATCH_SIZE = 4096


def step_memory_mb(arch: str, batch_size: int) -> float:
    """The memory one training step of `arch` at `batch_size` takes, by the measured line (STEP_MEMORY_MB)."""
    base, per_image = STEP_MEMORY_MB[arch]
    return base + per_image * batch_size


def max_batch_size(arch: str) -> int:
    """The largest power of two (at most MAX_BATCH_SIZE) whose training step of `arch` fits
    STEP_MEMORY_BUDGET_MB."""
    size = MAX_BATCH_SIZE
    while size > 1 and step_memory_mb(arch, size) > STEP_MEMORY_BUDGET_MB:
        size //= 2
    return size


@dataclass(frozen=True)
class ConfigProblem:
    """Why a setting cannot be used: the TrainConfig field it is about and what is wrong, in English (the
    app says it in the user's language from the field, kind and details: `train.bad_<field>_<kind>`, else
    `train.bad_<kind>`, else `train.bad_<field>`, filled in from `details`)."""

    field: str
    message: str
    kind: str = ""
    """One of several reasons about the same field (the app's key: `train.bad_<field>_<kind>` or `train.bad_<kind>`)."""
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a training run. Saved inside each model card.

    Defaults are the course's recipe (course-cnn, Adam 1e-3, batch 64, up to 100 epochs,
    ReduceLROnPlateau(val_loss, 0.9, 3), EarlyStopping(val_loss, 8), stratified 10%/10% split
    with seeds 42/41).
    """

    data: str = "data/sample"
    split: str = "stratified"
    test_fraction: float = 0.1
    val_fraction: float = 0.1
    test_seed: int = 42
    val_seed: int = 41
    arch: str = "course-cnn"
    epochs: int = 100
    time_budget_minutes: float = 0.0
    """Training-time budget (0 = none): no epoch starts that would end past it (judged by the slower of the
    last and the mean epoch), and a cosine schedule decays over this time instead of over `epochs`."""
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    momentum: float = 0.9
    nesterov: bool = True
    l2: float | None = None
    """L2 factor for the layers the architecture regularises; None keeps its own default."""
    dropout: float | None = None
    """Dropout override for every dropout layer; None keeps the architecture's own rates."""
    lr_schedule: str = "plateau"
    """plateau: ReduceLROnPlateau(lr_monitor, lr_factor, lr_patience); cosine: decay from
    learning_rate to zero over `epochs` (one value per epoch, so a resumed run continues it)."""
    lr_monitor: str = "val_loss"
    lr_factor: float = 0.9
    lr_patience: int = 3
    early_stopping_patience: int = 8
    early_stopping_min_delta: float = 0.0
    class_weights: bool = False
    recall_floors: dict[str, float] = field(default_factory=dict)
    """{emotion: share} for one to three emotions (e.g. {"fear": 0.45}): once trained, offsets are added to those
    emotions' log-probabilities, the most accurate on the validation split that name each on at least its share
    of that emotion's validation faces (fer.model.priors.recall_offsets), stored in the card. Empty: none."""
    augment: bool = False
    aug_flip: bool = True
    aug_shift: float = 0.1
    aug_rotation: float = 10.0
    """Maximum rotation in degrees."""
    aug_zoom: float = 0.1
    label_smoothing: float = 0.0
    soft_labels: float = 0.0
    """Weight of the FER+ vote distribution in the training targets (0 = plain one-hot).
    Needs a `ferplus_votes.csv` beside the data; images without votes keep one-hot targets."""
    mixed_precision: bool | None = None
    """Compute in bfloat16 (weights stay float32): True, False, or None for the machine's choice: bfloat16
    where it has native bfloat16 units (a GPU, or a CPU with AMX or AVX512-BF16, fer.tfenv.native_bfloat16),
    float32 elsewhere, where bfloat16 is emulated and slower. The card says which was used (`precision`)."""
    train_fraction: float = 1.0
    average_from: float = 0.0
    """Average the weights of every epoch that ends after this share of the schedule (time budget, else
    epochs), as stochastic weight averaging does; the mean replaces the best checkpoint when its validation
    loss is lower (fer.train.averaging). 0 = off."""
    init_model: str = ""
    """A .keras model of the same architecture whose weights start the run (fine-tuning); empty
    starts from random weights. A relative path is taken from the repository root."""
    freeze: str = "none"
    """One of FREEZES: the layers a fine-tuning run keeps as the start model had them (BatchNormalization layers
    of a frozen part also keep their statistics)."""
    replay: str = ""
    """A dataset (folder, zip or CSV; a relative path from the repository root) whose faces are added to the
    training part only, never to validation or test: e.g. data/sample, so that a model fine-tuned on a few photos
    of some emotions keeps what it knew of the others. Empty: none."""
    replay_per_class: int = 0
    """Faces of each emotion taken from `replay` (the first ones by a seeded shuffle); 0: all of them."""
    replay_classes: str = "all"
    """One of REPLAY_CLASSES: replay faces of every emotion, or only of the emotions the data has none of."""
    teacher: str = ""
    """Distillation: a file of a teacher's probabilities on the training images (`fer teacher`), mixed into the
    training targets by `teacher_weight`; a relative path is taken from the repository root. Empty: none."""
    teacher_weight: float = 1.0
    """Where `teacher` is set: the teacher's share of each training target (0..1); the rest is the label (mixed
    with FER+ votes as `soft_labels` says)."""
    seed: int = 0
    distribute: str = "none"
    """How training spreads over devices (fer.train.distribute): none (the one device TensorFlow picks), mirrored (the
    GPUs of this machine, or `replicas` logical CPU devices without a GPU), multi-worker (the machines TF_CONFIG
    names). `batch_size` stays the global batch."""
    replicas: int = 0
    """Mirrored only: how many GPUs (0 = all), or on a machine without a GPU how many CPU devices (0 or 1 = one)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes (e.g. the preset's name); never read by the trainer."""

    def validate(self) -> list[ConfigProblem]:
        """Reasons this config cannot run, one per field; empty when it is fine."""
        errors: list[ConfigProblem] = []

        def check(ok: bool, name: str, msg: str) -> None:
            if not ok:
                errors.append(ConfigProblem(name, msg))

        check(self.mixed_precision in (None, True, False), "mixed_precision",
              "mixed precision must be true, false or null (the machine's choice)")
        check(self.split in SPLITS, "split", f"split must be one of {', '.join(SPLITS)}")
        check(0.0 < self.test_fraction < 0.5, "test_fraction", "test fraction must be between 0 and 0.5")
        check(0.0 < self.val_fraction < 0.5, "val_fraction", "validation fraction must be between 0 and 0.5")
        check(self.arch in ARCHS, "arch", f"unknown architecture {self.arch!r}")
        check(1 <= self.epochs <= 1000, "epochs", "epochs must be between 1 and 1000")
        check(0.0 <= self.time_budget_minutes <= 100_000, "time_budget_minutes",
              "time budget must be between 0 and 100000 minutes")
        check(1 <= self.batch_size <= MAX_BATCH_SIZE, "batch_size", "batch size must be between 1 and 4096")
        if self.arch in STEP_MEMORY_MB and max_batch_size(self.arch) < self.batch_size <= MAX_BATCH_SIZE:
            limit, gb = max_batch_size(self.arch), round(step_memory_mb(self.arch, self.batch_size) / 1024, 1)
            errors.append(ConfigProblem(
                "batch_size", f"batch size {self.batch_size} is too large for {self.arch}: one training step would "
                f"take about {gb} GB (at most {limit} fits the {STEP_MEMORY_BUDGET_MB // 1024} GB a step may take)",
                "batch_memory", {"batch": self.batch_size, "arch": self.arch, "gb": gb, "limit": limit,
                                 "budget": STEP_MEMORY_BUDGET_MB // 1024}))
        check(self.optimizer in OPTIMIZERS, "optimizer", f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        check(0.0 < self.learning_rate <= 1.0, "learning_rate", "learning rate must be in (0, 1]")
        check(0.0 <= self.beta_1 < 1.0, "beta_1", "beta_1 must be in [0, 1)")
        check(0.0 <= self.beta_2 < 1.0, "beta_2", "beta_2 must be in [0, 1)")
        check(0.0 < self.epsilon <= 1.0, "epsilon", "epsilon must be in (0, 1]")
        check(0.0 <= self.momentum < 1.0, "momentum", "momentum must be in [0, 1)")
        check(self.l2 is None or 0.0 <= self.l2 <= 1.0, "l2", "L2 must be between 0 and 1")
        check(self.dropout is None or 0.0 <= self.dropout < 1.0, "dropout", "dropout must be in [0, 1)")
        check(self.lr_schedule in SCHEDULES, "lr_schedule",
              f"learning-rate schedule must be one of {', '.join(SCHEDULES)}")
        check(self.lr_monitor in MONITORS, "lr_monitor", f"monitor must be one of {', '.join(MONITORS)}")
        check(0.0 < self.lr_factor < 1.0, "lr_factor", "learning-rate factor must be in (0, 1)")
        check(0 <= self.lr_patience <= 100, "lr_patience", "learning-rate patience must be between 0 and 100")
        check(0 <= self.early_stopping_patience <= 1000, "early_stopping_patience",
              "early-stopping patience must be >= 0")
        check(self.early_stopping_min_delta >= 0.0, "early_stopping_min_delta", "early-stopping min_delta must be >= 0")
        errors.extend(self._floor_problems())
        check(0.0 <= self.aug_shift <= 0.5, "aug_shift", "shift must be between 0 and 0.5")
        check(0.0 <= self.aug_rotation <= 180.0, "aug_rotation", "rotation must be between 0 and 180 degrees")
        check(0.0 <= self.aug_zoom <= 0.5, "aug_zoom", "zoom must be between 0 and 0.5")
        check(0.0 <= self.label_smoothing < 1.0, "label_smoothing", "label smoothing must be in [0, 1)")
        check(0.0 <= self.soft_labels <= 1.0, "soft_labels", "FER+ soft-label weight must be between 0 and 1")
        check(0.0 < self.train_fraction <= 1.0, "train_fraction", "training fraction must be in (0, 1]")
        check(0.0 <= self.average_from < 1.0, "average_from", "weight averaging must start in [0, 1) of the schedule")
        for name, label in (("seed", "seed"), ("test_seed", "test seed"), ("val_seed", "validation seed")):
            value = getattr(self, name)
            check(isinstance(value, int) and 0 <= value <= MAX_SEED, name, f"{label} must be between 0 and {MAX_SEED}")
        check(self.freeze in FREEZES, "freeze", f"freeze must be one of {', '.join(FREEZES)}")
        check(0 <= self.replay_per_class <= 100_000, "replay_per_class",
              "replay faces per class must be between 0 and 100000")
        check(self.replay_classes in REPLAY_CLASSES, "replay_classes",
              f"replay classes must be one of {', '.join(REPLAY_CLASSES)}")
        check(0.0 <= self.teacher_weight <= 1.0, "teacher_weight", "the teacher's share must be between 0 and 1")
        check(self.distribute in STRATEGIES, "distribute",
              f"distribution strategy must be one of {', '.join(STRATEGIES)}")
        check(0 <= self.replicas <= 64, "replicas", "replicas must be between 0 and 64")
        return errors

    def _floor_problems(self) -> list[ConfigProblem]:
        """What is wrong with `recall_floors`: an unknown emotion, a share outside (0, 1], more than three
        emotions, or a split without validation images to choose the offsets on."""
        from fer.labels import LABELS

        floors = self.recall_floors
        if not isinstance(floors, dict):
            return [ConfigProblem("recall_floors", "recall floors must be a mapping of emotion to share")]
        unknown = sorted(str(k) for k in floors if k not in LABELS)
        if unknown:
            return [ConfigProblem("recall_floors", f"recall floors: {', '.join(unknown)} not among {', '.join(LABELS)}",
                                  "unknown", {"names": ", ".join(unknown)})]
        if len(floors) > 3:
            return [ConfigProblem("recall_floors", f"recall floors: at most three emotions, not {len(floors)}",
                                  "many", {"count": len(floors)})]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0.0 < v <= 1.0 for v in floors.values()):
            return [ConfigProblem("recall_floors", "a recall floor is a share in (0, 1]", "share")]
        if floors and self.split == "per-class":
            return [ConfigProblem("recall_floors", "recall floors are chosen on the validation images, and the "
                                  "per-class split has none", "no_validation")]
        return []

    @property
    def time_budget_s(self) -> float:
        """The time budget in seconds (0 = none)."""
        return self.time_budget_minutes * 60.0

    def schedule_done(self, epochs_done: int, train_seconds: float) -> float:
        """How much of the run's schedule is behind it (0..1): the time budget's share when it has one,
        else the share of `epochs`. The cosine learning rate and weight averaging both follow it."""
        if self.time_budget_s > 0:
            return min(train_seconds / self.time_budget_s, 1.0)
        return min(epochs_done / self.epochs, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring unknown keys (older or newer model cards)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def labels_kind(self) -> str:
        """What the run learned from, in one word: "teacher" (a teacher's probabilities mixed in), "plain"
        (FER2013's labels alone), "votes" (FER+ votes alone) or "mixed" (the two mixed by `soft_labels`)."""
        if self.teacher:
            return "teacher"
        if self.soft_labels <= 0:
            return "plain"
        return "votes" if self.soft_labels >= 1 else "mixed"

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)



@dataclass(frozen=True)
class CourseFigures:
    """What the course report measured of its CNN, trained with TrainConfig()'s recipe: the reference a model of
    the same recipe and split is read against."""

    test_accuracy: float = 0.618
    epochs_trained: int = 35
    max_epochs: int = 100


COURSE = CourseFigures()


def course_recipe(cfg: TrainConfig) -> bool:
    """True when `cfg` trains the course's CNN on the course's split (stratified, 10 %/10 %, seeds 42/41), so its
    test accuracy is comparable with COURSE.test_accuracy."""
    base = TrainConfig()
    keys = ("arch", "split", "test_fraction", "val_fraction", "test_seed", "val_seed")
    return all(getattr(cfg, k) == getattr(base, k) for k in keys)
