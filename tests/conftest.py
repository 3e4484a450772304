"""Shared fixtures (the import order the app needs is kept by tests/__init__.py, imported first)."""

from pathlib import Path

import pytest

from tests.helpers import PHOTOS


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own dataset cache folder, and runs compute in float32 on every machine (a config that
    leaves the precision to the machine would take bfloat16 where the CPU has it: fer.tfenv.native_bfloat16)."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("FER_NATIVE_BF16", "0")


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny-cnn saved as .keras (for shapes, not accuracy)."""
    from fer.model.architectures import build_model
    from fer.model.modelio import ModelCard, save_model

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model = build_model("tiny-cnn")
    save_model(model, path, ModelCard(arch="tiny-cnn", params=int(model.count_params())))
    return path


@pytest.fixture(scope="session")
def face_photo() -> Path:
    path = PHOTOS / "obama.jpg"
    assert path.exists(), f"missing test photo {path}"
    return path
