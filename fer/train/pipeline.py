"""The trainer's input: targets (FER2013 labels mixed with FER+ votes) and tf.data batches.

Training batches follow one fixed order per (seed, epoch), so a run resumed inside an epoch
continues with exactly the images that epoch had not reached yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fer.config import TrainConfig
from fer.data.dataset import Dataset
from fer.labels import NUM_CLASSES

FERPLUS_COLUMNS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
"""The FER+ vote columns in FER2013 label order (contempt, unknown and not-a-face are left out)."""


def soft_targets(ds: Dataset, votes_csv: Path | None, weight: float) -> np.ndarray:
    """One-hot targets [N, 7], mixed with FER+ vote distributions where votes exist."""
    y = np.eye(NUM_CLASSES, dtype=np.float32)[ds.labels]
    if weight <= 0 or votes_csv is None or not votes_csv.exists():
        return y
    import pandas as pd

    votes = pd.read_csv(votes_csv).set_index("file")
    v = votes.reindex(ds.paths)[list(FERPLUS_COLUMNS)].to_numpy(np.float32)
    total = np.nan_to_num(v).sum(axis=1, keepdims=True)
    ok = (total[:, 0] > 0)
    y[ok] = (1 - weight) * y[ok] + weight * (v[ok] / total[ok])
    return y


def eval_batches(images: np.ndarray, targets: np.ndarray, cfg: TrainConfig, min_last: int = 1) -> Any:
    """Validation batches: in order, every image, no augmentation. A last batch of fewer than `min_last` images
    joins the one before (split over several replicas, each must get an image)."""
    import tensorflow as tf

    n, size = len(images), cfg.batch_size
    cut = n - n % size - size if 0 < n % size < min_last and n > size else n
    data = tf.data.Dataset.from_tensor_slices((images[:cut, ..., None], targets[:cut])).batch(size)
    if cut < n:
        tail = tf.data.Dataset.from_tensor_slices((images[cut:, ..., None], targets[cut:]))
        data = data.concatenate(tail.batch(n - cut))
    return data.prefetch(tf.data.AUTOTUNE)


class TrainBatches:
    """The training batches of each epoch: shuffled in an order fixed by (cfg.seed, epoch), augmented.

    A last partial batch is dropped: it adds noise to BatchNorm, and TF 2.21 crashes (double free)
    back-propagating strided 1x1 convolutions on batches of one or two images.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, cfg: TrainConfig,
                 sample_weight: np.ndarray | None = None) -> None:
        self.cfg = cfg
        self.size = len(images)
        self._arrays = (images[..., None], targets) + ((sample_weight,) if sample_weight is not None else ())
        self._augment = _augmenter(cfg)  # one for all epochs: its random state moves on

    @property
    def steps(self) -> int:
        """Batches per epoch."""
        return self.size // self.cfg.batch_size if self.size > self.cfg.batch_size else 1

    def _order(self, epoch: Any) -> Any:
        import tensorflow as tf

        seed = tf.stack([tf.constant(self.cfg.seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.random.experimental.stateless_shuffle(tf.range(self.size), seed=seed)

    def order(self, epoch: int) -> np.ndarray:
        """The image indices of 0-based `epoch`, in training order (the dropped remainder included)."""
        return self._order(epoch).numpy()

    def epochs(self, first: int, last: int, skip: int = 0) -> Any:
        """tf.data batches of epochs first..last-1 in one stream (fit it with `steps_per_epoch`), the
        first epoch starting after its first `skip` batches."""
        import tensorflow as tf

        size, used = self.cfg.batch_size, self.steps * self.cfg.batch_size
        tensors = tuple(tf.constant(a) for a in self._arrays)

        def one_epoch(epoch: Any) -> Any:
            start = tf.where(epoch == first, skip * size, 0)
            idx = tf.data.Dataset.from_tensor_slices(self._order(epoch)[start:used]).batch(size)
            return idx.map(lambda i: tuple(tf.gather(t, i) for t in tensors))

        data = tf.data.Dataset.range(first, last).flat_map(one_epoch)
        data = data.apply(tf.data.experimental.assert_cardinality((last - first) * self.steps - skip))
        if self._augment is not None:
            pipe = self._augment

            def _aug(xb: Any, *rest: Any) -> tuple[Any, ...]:
                return (pipe(tf.cast(xb, tf.float32), training=True), *rest)

            data = data.map(_aug, num_parallel_calls=tf.data.AUTOTUNE)
        return data.prefetch(tf.data.AUTOTUNE)

    def epoch(self, epoch: int, skip: int = 0) -> Any:
        """tf.data batches of one epoch, starting after its first `skip` batches."""
        return self.epochs(epoch, epoch + 1, skip)


def _augmenter(cfg: TrainConfig) -> Any:
    """The augmentation layers the config asks for, or None (the model rescales; pixels stay 0..255)."""
    if not cfg.augment:
        return None
    import keras

    aug = [keras.layers.RandomFlip("horizontal", seed=cfg.seed)] if cfg.aug_flip else []
    if cfg.aug_rotation > 0:
        aug.append(keras.layers.RandomRotation(cfg.aug_rotation / 360.0, fill_mode="nearest", seed=cfg.seed))
    if cfg.aug_shift > 0:
        aug.append(keras.layers.RandomTranslation(cfg.aug_shift, cfg.aug_shift, fill_mode="nearest", seed=cfg.seed))
    if cfg.aug_zoom > 0:
        aug.append(keras.layers.RandomZoom(cfg.aug_zoom, fill_mode="nearest", seed=cfg.seed))
    return keras.Sequential(aug) if aug else None
