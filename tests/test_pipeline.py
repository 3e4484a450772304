"""The trainer's batches: one fixed order per (seed, epoch), so a resumed epoch sees exactly the rest."""

import numpy as np
import pytest

from fer.config import TrainConfig
from fer.train.pipeline import TrainBatches, eval_batches

N = 50


def numbered(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """Images whose pixels all hold their own index, and one-hot targets of index % 7."""
    images = np.repeat(np.arange(n, dtype=np.uint8), 48 * 48).reshape(n, 48, 48)
    return images, np.eye(7, dtype=np.float32)[np.arange(n) % 7]


def seen(data) -> list[int]:
    """The image indices a tf.data epoch yields, in order."""
    return [int(v) for batch in data for v in batch[0].numpy()[:, 0, 0, 0]]


def test_each_epoch_has_its_own_order_and_the_same_one_every_time():
    images, targets = numbered()
    batches = TrainBatches(images, targets, TrainConfig(batch_size=8, seed=3, augment=False))
    assert batches.steps == N // 8
    first = seen(batches.epoch(0))
    assert len(first) == 8 * (N // 8) and len(set(first)) == len(first)  # the remainder (2 images) dropped
    assert first == seen(TrainBatches(images, targets, TrainConfig(batch_size=8, seed=3, augment=False)).epoch(0))
    assert first != seen(batches.epoch(1))
    assert first != seen(TrainBatches(images, targets, TrainConfig(batch_size=8, seed=4, augment=False)).epoch(0))
    assert sorted(batches.order(0)) == list(range(N))


@pytest.mark.parametrize("skip", [1, 4])
def test_a_resumed_epoch_yields_exactly_the_batches_not_reached_yet(skip):
    images, targets = numbered()
    batches = TrainBatches(images, targets, TrainConfig(batch_size=8, seed=0, augment=False))
    whole = seen(batches.epoch(2))
    rest = batches.epoch(2, skip=skip)
    assert int(rest.cardinality()) == batches.steps - skip
    assert seen(rest) == whole[skip * 8:]


def test_several_epochs_stream_one_after_another_each_in_its_own_order():
    images, targets = numbered()
    batches = TrainBatches(images, targets, TrainConfig(batch_size=8, seed=1, augment=False))
    used = batches.steps * 8
    assert seen(batches.epoch(1)) == list(batches.order(1)[:used])
    stream = batches.epochs(1, 4, skip=3)
    assert int(stream.cardinality()) == 3 * batches.steps - 3
    assert seen(stream) == seen(batches.epoch(1))[3 * 8:] + seen(batches.epoch(2)) + seen(batches.epoch(3))


def test_targets_and_sample_weights_stay_with_their_images():
    images, targets = numbered()
    weights = np.arange(N, dtype=np.float32) / 10
    batches = TrainBatches(images, targets, TrainConfig(batch_size=8, augment=False), weights)
    for x, y, w in batches.epoch(1, skip=2):
        idx = x.numpy()[:, 0, 0, 0]
        assert (y.numpy().argmax(axis=1) == idx % 7).all()
        assert np.allclose(w.numpy(), idx / 10)


def test_fewer_images_than_a_batch_make_one_batch_of_all_of_them():
    images, targets = numbered(5)
    batches = TrainBatches(images, targets, TrainConfig(batch_size=8, augment=False))
    assert batches.steps == 1 and sorted(seen(batches.epoch(0))) == list(range(5))


def test_augmentation_changes_pixels_and_keeps_the_batch_shape():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (16, 48, 48), dtype=np.uint8)
    cfg = TrainConfig(batch_size=8, augment=True, aug_flip=True, aug_shift=0.1, aug_rotation=10.0, aug_zoom=0.1)
    out = np.concatenate([x.numpy() for x, _ in TrainBatches(images, numbered(16)[1], cfg).epoch(0)])
    assert out.shape == (16, 48, 48, 1) and out.dtype == np.float32
    assert not np.allclose(np.sort(out.ravel()), np.sort(images.astype(np.float32).ravel()))


def test_validation_batches_keep_every_image_in_order():
    images, targets = numbered(21)
    data = eval_batches(images, targets, TrainConfig(batch_size=8))
    assert seen(data) == list(range(21))
