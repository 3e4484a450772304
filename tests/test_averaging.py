"""Weight averaging over the tail of a run (fer.train.averaging) and its place in the trainer."""

import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from fer.config import TrainConfig
from fer.train.averaging import AVERAGE_FILE, Averaged, WeightAverage, refresh_batchnorm
from fer.train.trainer import _use_average, train
from tests.helpers import write_folder


def _net() -> keras.Model:
    inp = keras.Input((3,))
    return keras.Model(inp, keras.layers.Dense(2)(inp))


def _resume(epoch: int = 0, seconds: float = 0.0) -> SimpleNamespace:
    return SimpleNamespace(state={"epoch": epoch} if epoch else {}, epoch=epoch, train_seconds=seconds)


def _end_epoch(cb: WeightAverage, resume: SimpleNamespace, epoch: int, value: float, seconds: float) -> None:
    """Epoch `epoch` (0-based) ends with every weight equal to `value`, recorded by resume."""
    cb.model.set_weights([np.full(w.shape, value, np.float32) for w in cb.model.get_weights()])
    resume.epoch, resume.state, resume.train_seconds = epoch + 1, {"epoch": epoch + 1}, seconds
    cb.on_epoch_end(epoch, {})


def test_the_schedule_is_counted_in_budget_time_or_in_epochs():
    assert TrainConfig(epochs=8).schedule_done(6, 999.0) == 0.75
    budget = TrainConfig(epochs=100, time_budget_minutes=10.0)
    assert budget.schedule_done(3, 450.0) == 0.75
    assert budget.schedule_done(3, 900.0) == 1.0


def test_the_mean_covers_the_epochs_past_the_start_and_a_resumed_run_continues_it(tmp_path):
    cfg = TrainConfig(epochs=4, average_from=0.5)
    resume = _resume()
    cb = WeightAverage(cfg, tmp_path, resume)
    cb.set_model(_net())
    _end_epoch(cb, resume, 0, 100.0, 1.0)  # 1/4 of the schedule: not averaged
    assert cb.count == 0 and not (tmp_path / AVERAGE_FILE).exists()
    _end_epoch(cb, resume, 1, 1.0, 2.0)
    _end_epoch(cb, resume, 2, 2.0, 3.0)
    assert (cb.count, cb.first_epoch, cb.last_epoch) == (2, 2, 3)

    again = WeightAverage(cfg, tmp_path, resume)  # a new session of the run reads average.npz
    again.set_model(_net())
    assert (again.count, again.first_epoch, again.last_epoch) == (2, 2, 3)
    again.on_epoch_end(2, {})  # an epoch already in the mean is not added twice
    assert again.count == 2
    _end_epoch(again, resume, 3, 6.0, 4.0)
    assert (again.count, again.first_epoch, again.last_epoch) == (3, 2, 4)
    for m in again.mean:
        np.testing.assert_allclose(m, 3.0)  # (1 + 2 + 6) / 3

    fresh = WeightAverage(cfg, tmp_path, _resume())  # a new run in the folder does not inherit it
    assert fresh.count == 0 and fresh.mean is None


def test_an_epoch_cut_short_is_not_averaged_and_off_means_off(tmp_path):
    resume = _resume(epoch=2, seconds=5.0)
    cb = WeightAverage(TrainConfig(epochs=4, average_from=0.25), tmp_path, resume)
    cb.set_model(_net())
    cb.on_epoch_end(2, {})  # resume recorded 2 epochs: epoch 3 was cut short
    assert cb.count == 0
    off = WeightAverage(TrainConfig(epochs=4), tmp_path, resume)
    off.set_model(_net())
    _end_epoch(off, resume, 3, 1.0, 9.0)
    assert off.count == 0 and not (tmp_path / AVERAGE_FILE).exists()


def test_finish_sets_the_mean_saves_it_and_scores_it(tmp_path):
    import tensorflow as tf

    cfg = TrainConfig(epochs=2, average_from=0.5)
    resume = _resume()
    cb = WeightAverage(cfg, tmp_path, resume)
    model = _net()
    model.compile(optimizer="adam", loss="mse")
    cb.set_model(model)
    assert cb.finish(model, [], None) is None  # nothing averaged yet
    _end_epoch(cb, resume, 0, 1.0, 1.0)
    _end_epoch(cb, resume, 1, 3.0, 2.0)
    val = tf.data.Dataset.from_tensor_slices((np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32))).batch(2)
    avg = cb.finish(model, [], val)
    assert avg == Averaged(tmp_path / "average.keras", 1, 2, 2, pytest.approx(64.0))  # each output 3*2+2 = 8
    for w in keras.saving.load_model(avg.path, compile=False).get_weights():
        np.testing.assert_allclose(w, 2.0)


def test_finishing_again_loads_the_saved_average_until_another_epoch_joins_it(tmp_path, monkeypatch):
    import fer.train.averaging

    resume = _resume()
    cb = WeightAverage(TrainConfig(epochs=4, average_from=0.25), tmp_path, resume)
    model = _net()
    model.compile(optimizer="adam", loss="mse")
    cb.set_model(model)
    _end_epoch(cb, resume, 0, 2.0, 1.0)
    calls = []
    monkeypatch.setattr(fer.train.averaging, "refresh_batchnorm", lambda m, b: calls.append(b))
    first = cb.finish(model, ["epoch"], None)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    second = cb.finish(model, ["epoch"], None)  # a finished run trained again: nothing new to average
    assert first == second and len(calls) == 1
    for w in model.get_weights():
        np.testing.assert_allclose(w, 2.0)  # the saved average, loaded
    _end_epoch(cb, resume, 1, 5.0, 2.0)  # a new epoch joins the mean: made again
    third = cb.finish(model, ["epoch"], None)
    assert len(calls) == 2 and (third.count, third.last_epoch) == (2, 2)
    for w in model.get_weights():
        np.testing.assert_allclose(w, 3.5)


def test_batchnorm_statistics_are_measured_again_on_the_batches():
    inp = keras.Input((4,))
    bn = keras.layers.BatchNormalization(momentum=0.5)
    model = keras.Model(inp, bn(inp))
    rng = np.random.default_rng(0)
    batches = [(rng.normal(5.0, 2.0, (64, 4)).astype(np.float32), None) for _ in range(30)]
    refresh_batchnorm(model, batches)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 5.0, atol=0.5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 4.0, atol=1.0)
    outer_in = keras.Input((4,))
    inner_bn = keras.layers.BatchNormalization(momentum=0.5)
    outer = keras.Model(outer_in, keras.Model(inp, inner_bn(inp))(outer_in))  # BatchNorm in a nested model
    refresh_batchnorm(outer, batches)
    np.testing.assert_allclose(inner_bn.moving_mean.numpy(), 5.0, atol=0.5)
    kernel = keras.Model(inp, keras.layers.Dense(2)(inp))
    before = [w.copy() for w in kernel.get_weights()]
    refresh_batchnorm(kernel, batches)  # no BatchNorm: nothing to do, nothing changed
    for a, b in zip(before, kernel.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_average_replaces_the_best_epoch_only_when_its_validation_loss_is_lower(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"best")
    (tmp_path / "average.keras").write_bytes(b"mean")
    worse = Averaged(tmp_path / "average.keras", 3, 5, 3, 0.9)
    note = _use_average(worse, 0.8, tmp_path)
    assert (tmp_path / "model.keras").read_bytes() == b"best"
    assert note == ("weights: the best epoch (val_loss 0.8000); "
                    "the average of the weights of epochs 3-5 (3) had val_loss 0.9000")
    assert not (tmp_path / "best-epoch.keras").exists()
    better = Averaged(tmp_path / "average.keras", 3, 5, 3, 0.7)
    note = _use_average(better, 0.8, tmp_path)
    assert (tmp_path / "model.keras").read_bytes() == b"mean"
    assert (tmp_path / "best-epoch.keras").read_bytes() == b"best"  # kept beside it
    _use_average(better, 0.8, tmp_path)  # finishing again keeps the best epoch, not the mean
    assert (tmp_path / "best-epoch.keras").read_bytes() == b"best"
    assert note == "weights: the average of the weights of epochs 3-5 (3), val_loss 0.7000 < the best epoch's 0.8000"
    assert _use_average(None, 0.8, tmp_path) == ""


def test_config_refuses_averaging_from_the_end_of_the_schedule():
    assert any("weight averaging" in str(e) for e in TrainConfig(average_from=1.0).validate())
    assert not TrainConfig(average_from=0.75).validate()


@pytest.mark.slow
def test_a_run_with_averaging_keeps_the_model_its_card_names(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=12)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=4, batch_size=8,
                      learning_rate=0.01, early_stopping_patience=100, augment=False, average_from=0.5)
    run = tmp_path / "run"
    result = train(cfg, run)
    with np.load(run / AVERAGE_FILE) as z:
        assert (int(z["count"]), int(z["first"]), int(z["last"])) == (3, 2, 4)
        conv = z["w0"]
    assert "epochs 2-4 (3)" in result.card.notes
    assert json.loads((run / "model.json").read_text())["notes"] == result.card.notes
    kept = keras.saving.load_model(run / "model.keras", compile=False).get_weights()[0]
    average_kept = result.card.notes.startswith("weights: the average")
    assert np.allclose(kept, conv, atol=1e-6) == average_kept
    assert (run / "average.keras").exists() and (run / "best-epoch.keras").exists() == average_kept
