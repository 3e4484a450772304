"""bfloat16 where the machine computes it natively: the trainer's choice when the config leaves it open, and the
card says which precision a run used."""

from __future__ import annotations

import argparse
import json

import pytest

from fer.cli.flags import add_config_args, config_from_args, given_fields
from fer.config import TrainConfig
from fer.tfenv import cpu_flags, native_bfloat16, precision_for
from fer.train.trainer import train
from tests.helpers import write_folder

AMX = {"fpu", "avx2", "avx512f", "amx_bf16", "amx_tile"}
ZEN4 = {"fpu", "avx2", "avx512f", "avx512_bf16"}
AVX2 = {"fpu", "avx2", "fma"}


def test_native_bfloat16_on_amx_avx512_bf16_or_a_gpu_only(monkeypatch):
    monkeypatch.delenv("FER_NATIVE_BF16")
    assert native_bfloat16(AMX, gpus=0) and native_bfloat16(ZEN4, gpus=0)
    assert not native_bfloat16(AVX2, gpus=0)
    assert native_bfloat16(AVX2, gpus=1)


def test_the_environment_overrides_the_machine(monkeypatch):
    monkeypatch.setenv("FER_NATIVE_BF16", "1")
    assert native_bfloat16(AVX2, gpus=0)
    monkeypatch.setenv("FER_NATIVE_BF16", "0")
    assert not native_bfloat16(AMX, gpus=1)


def test_the_config_decides_when_it_says_and_the_machine_when_it_does_not():
    assert precision_for(True, native=lambda: False) == "bfloat16"
    assert precision_for(False, native=lambda: True) == "float32"
    assert precision_for(None, native=lambda: True) == "bfloat16"
    assert precision_for(None, native=lambda: False) == "float32"


def test_cpu_flags_reads_the_flags_lines(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu avx2 amx_bf16\n")
    assert cpu_flags(info) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_the_course_recipe_leaves_precision_to_the_machine_and_the_flags_can_set_it():
    assert TrainConfig().mixed_precision is None and not TrainConfig().validate()
    assert TrainConfig(mixed_precision="yes").validate()[0].field == "mixed_precision"
    p = argparse.ArgumentParser()
    add_config_args(p)
    for argv, want in (([], None), (["--mixed-precision"], True), (["--no-mixed-precision"], False)):
        args = p.parse_args(argv)
        args.given = given_fields(argv)
        assert config_from_args(args).mixed_precision is want


@pytest.mark.slow
@pytest.mark.parametrize("mixed", [True, False])
def test_the_card_says_which_precision_the_run_computed_in(tmp_path, mixed):
    data = write_folder(tmp_path / "ds", n_per_class=4)
    cfg = TrainConfig(data=str(data), split="official", arch="tiny-cnn", epochs=1, batch_size=8,
                      mixed_precision=mixed)
    result = train(cfg, tmp_path / "run")
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["precision"] == ("bfloat16" if mixed else "float32") == result.card.precision
    assert card["config"]["mixed_precision"] is mixed
    assert "bf16=" in card["machine"]
    import keras

    assert keras.mixed_precision.global_policy().name == "float32"  # the run's policy does not outlive it
