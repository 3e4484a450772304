"""Whether a valid TrainConfig can run here and on its dataset: what TrainConfig.validate cannot know.

`TrainConfig.validate` judges each setting alone. Some pass it and still fail inside the job with a raw library
message (issue 42): a training fraction that leaves fewer images than classes (`train_fraction` 0.02 of the
350-image sample: scikit-learn's ValueError), multi-worker training without `TF_CONFIG`, a mirrored strategy
over more devices than the machine has (64 replicas on 2 cores). `machine_problems` checks what needs the
machine (before a job starts, no dataset needed), `data_problems` what needs the dataset's counts (once it is
loaded, before training); each problem is typed, so a page says it in its own language.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer.config import TrainConfig

if TYPE_CHECKING:
    from fer.data.dataset import Dataset

KINDS = ("train_fraction", "tf_config", "replicas")
"""What a problem is about (`Infeasible.kind`): too few images kept by train_fraction, multi-worker without a
usable TF_CONFIG, more mirrored replicas than devices."""


@dataclass(frozen=True)
class Infeasible:
    """Why a valid config cannot run here: `kind` (one of KINDS), the English `message` (CLI, logs, job) and the
    numbers it names (`details`), for a page to say it in its own language."""

    kind: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def gpu_count() -> int:
    """NVIDIA GPUs the driver lists, without starting TensorFlow (0 on a machine without one)."""
    try:
        return sum(1 for _ in Path("/proc/driver/nvidia/gpus").iterdir())
    except OSError:
        return 0


def machine_problems(cfg: TrainConfig, environ: dict[str, str] | None = None) -> list[Infeasible]:
    """What stops `cfg`'s distribution strategy on this machine: multi-worker without a usable TF_CONFIG;
    mirrored over more replicas than GPUs, or without a GPU more than the CPU cores."""
    from fer.train.distribute import DistributeError, read_tf_config

    problems = []
    if cfg.distribute == "multi-worker":
        try:
            read_tf_config(environ)
        except DistributeError as exc:
            problems.append(Infeasible("tf_config", str(exc)))
    if cfg.distribute == "mirrored" and cfg.replicas > 1:
        gpus = gpu_count()
        devices = gpus or os.cpu_count() or 1
        if cfg.replicas > devices:
            what = f"{gpus} GPUs" if gpus else f"no GPU and {devices} CPU cores"
            problems.append(Infeasible("replicas", f"{cfg.replicas} mirrored replicas asked for, but this machine "
                                                   f"has {what}", {"replicas": cfg.replicas, "devices": devices,
                                                                   "gpus": gpus}))
    return problems


def data_problems(cfg: TrainConfig, ds: Dataset) -> list[Infeasible]:
    """What stops `cfg` on the dataset `ds`: a training fraction that keeps too few images of each class for its
    stratified cut. A split that cannot be made raises its DataError
    (fer.data.splits), as training would."""
    from fer.data.splits import make_split
    from fer.train.trainer import _subsample

    train = make_split(ds, cfg).train
    n, classes = len(train), len(set(ds.labels[train].tolist()))
    kept = int(cfg.train_fraction * n)
    try:
        _subsample(ds, train, cfg.train_fraction, cfg.seed)  # the very cut training makes
    except ValueError:
        return [Infeasible("train_fraction", f"a training fraction of {cfg.train_fraction:g} keeps {kept} of the "
                                             f"{n} training images, too few for {classes} classes (each needs at "
                                             "least one image on both sides of the cut); use a larger fraction",
                           {"fraction": cfg.train_fraction, "kept": kept, "images": n, "classes": classes})]
    return []
