"""Named training recipes that fill the train form (and `python -m fer train --preset NAME`)."""

from __future__ import annotations

import os
from pathlib import Path

from fer.config import TrainConfig
from fer.paths import ROOT

DATA_ENV = "FER_DATA"
"""The one setting that says where the full FER2013 is (a zip, a folder or the challenge CSV)."""
DEFAULT_DATA = "data/fer2013.zip"
"""Where the full FER2013 is looked for when FER_DATA is not set (relative to the repository root)."""


def full_data() -> str:
    """The full FER2013: $FER_DATA, else data/fer2013.zip in the repository (it need not exist)."""
    return os.environ.get(DATA_ENV) or DEFAULT_DATA


FER_ZIP = full_data()
"""The full FER2013 the presets train on, as FER_DATA said when this process started."""
SAMPLE = "data/sample"
SHIPPED = "models/webcam.keras"
"""The shipped single network (the webcam's, fer-net): where the personal preset starts. The shipped default
(models/default.keras) is an ensemble since 2026-12-07, whose layers a fer-net cannot start from; this file is one
fer-net (one of the ensemble's members since 2026-12-07 13:40), so a personal model starts from a fer-net and is
used, like it, one view a face."""
STAGE1 = "runs/default-stage1/model.keras"
"""Where `python -m fer train --preset default-stage1 --out runs/default-stage1` leaves its best model."""

PRESETS: dict[str, TrainConfig] = {
    # The course report, exactly: TrainConfig's defaults are its recipe.
    "course": TrainConfig(data=FER_ZIP, extra={"preset": "course"}),
    # A quick look at the whole loop: about a minute on the bundled sample with 2 CPU cores.
    "demo": TrainConfig(data=SAMPLE, split="stratified", arch="tiny-cnn", epochs=30, batch_size=32,
                        learning_rate=3e-3, lr_factor=0.5, lr_patience=3, early_stopping_patience=10,
                        augment=True, aug_flip=True, aug_shift=0.1, aug_rotation=0.0, aug_zoom=0.0,
                        extra={"preset": "demo"}),
    # Stage 1 of the shipped models/default.keras: from scratch (trained on a CPU with bfloat16 units;
    # add --no-mixed-precision elsewhere, where bfloat16 is emulated and several times slower).
    "default-stage1": TrainConfig(data=FER_ZIP, split="official", arch="fer-net", epochs=40, batch_size=64,
                                  learning_rate=1e-3, lr_factor=0.5, lr_patience=3, early_stopping_patience=10,
                                  augment=True, aug_flip=True, aug_shift=0.1, aug_rotation=10.0, aug_zoom=0.1,
                                  soft_labels=0.5, mixed_precision=True, seed=0, extra={"preset": "default-stage1"}),
    # One stage within the 2.5 h budget on 2 float32 AVX2 CPU cores: stage 1's data, augmentation and soft
    # labels, with a cosine learning rate from 1e-3 to 0 over 145 minutes of training (as many epochs as fit:
    # 180-280 s each with oneDNN, which the trainers ask for, fer.tfenv), leaving time to load and score.
    "one-stage": TrainConfig(data=FER_ZIP, split="official", arch="fer-net", epochs=100, time_budget_minutes=145.0,
                             batch_size=64, learning_rate=1e-3, lr_schedule="cosine", early_stopping_patience=100,
                             augment=True, aug_flip=True, aug_shift=0.1, aug_rotation=10.0, aug_zoom=0.1,
                             soft_labels=0.5, mixed_precision=False, seed=2, extra={"preset": "one-stage"}),
    # Stage 2, the shipped model: stage 1's best checkpoint fine-tuned with a cosine warm restart.
    "default": TrainConfig(data=FER_ZIP, split="official", arch="fer-net", epochs=16, batch_size=64,
                           learning_rate=3e-4, lr_schedule="cosine", early_stopping_patience=16,
                           augment=True, aug_flip=True, aug_shift=0.1, aug_rotation=10.0, aug_zoom=0.1,
                           soft_labels=0.5, mixed_precision=False, seed=1, init_model=STAGE1,
                           extra={"preset": "default"}),
    # A personal model from a few photos per emotion (the Teach page; `--data` a photos dataset): the shipped
    # single network fine-tuned in about a minute on 2 cores, FER2013 sample faces replayed for the emotions not taught,
    # 20 % of each emotion's photos held out for the before/after. Choices measured: docs/experiments.md.
    "personal": TrainConfig(data=SAMPLE, split="per-class", test_fraction=0.2, arch="fer-net",
                            epochs=8, batch_size=32, learning_rate=3e-4, lr_schedule="cosine",
                            early_stopping_patience=8, augment=True, aug_flip=True, aug_shift=0.1,
                            aug_rotation=10.0, aug_zoom=0.1, mixed_precision=False, seed=0, init_model=SHIPPED,
                            freeze="early", replay=SAMPLE, replay_per_class=8, replay_classes="untaught",
                            extra={"preset": "personal"}),
}


def preset_starts() -> list[str]:
    """The models the presets start from (TrainConfig.init_model), as written in them."""
    return sorted({p.init_model for p in PRESETS.values() if p.init_model})


def preset(name: str) -> TrainConfig:
    """The preset `name`; ValueError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def from_root(path: str, root: Path = ROOT) -> Path:
    """A config path (data, init_model) as a path: a relative one is taken from the repository root."""
    p = Path(path)
    return p if p.is_absolute() else (root / p).resolve()


def resolve_data(cfg: TrainConfig, root: Path = ROOT) -> TrainConfig:
    """The config with a relative data path made absolute against the repository root."""
    return cfg if Path(cfg.data).is_absolute() else cfg.replace(data=str(from_root(cfg.data, root)))
