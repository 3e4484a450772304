"""What a training run reports while it runs (TrainEvent), and the two callables that carry it: shared by
the trainer (fer.train.trainer), its Keras callbacks (fer.train.callbacks) and the job runner, without a cycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrainEvent:
    """One progress report: kind is 'start', 'batch', 'epoch', 'cut' or 'done'.

    'start' carries the epochs already done (and in `batch` those done of the next one, of `batches` an epoch);
    'cut' is an epoch a stop ended after `batch` of `batches`: not recorded, resuming finishes it.
    """

    kind: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    logs: dict[str, float] = field(default_factory=dict)
    message: str = ""


Progress = Callable[[TrainEvent], None]
StopFlag = Callable[[], bool]
