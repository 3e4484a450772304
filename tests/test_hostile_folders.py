"""Issue 42 (13): operator folders that broke pages. A read-only dataset cache, a folder 1,200 levels deep under
the data folders, dangling links, link loops, FIFOs and device links in a folder dataset: each is skipped (and
listed) or worked around, never a crash and never a hang."""

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.data.dataset import Skipped, load_dataset
from fer.files import MAX_DEPTH, walk
from tests.helpers import ROOT, write_folder
from tests.test_hostile_runs import finishes

DEEP: list[Path] = []


@pytest.fixture(autouse=True)
def _remove_deep_folders():
    """shutil.rmtree (pytest's clean-up) recurses: the deep chains are taken apart here, one level at a time."""
    yield
    while DEEP:
        top = DEEP.pop()
        base, i = top.parent, 0
        while (top / "d").is_dir() and not (top / "d").is_symlink():
            flat = base / f".flat-{i}"
            (top / "d").rename(flat)
            shutil.rmtree(top)
            top, i = flat, i + 1
        shutil.rmtree(top, ignore_errors=True)


def deep(root: Path, levels: int) -> Path:
    """A folder `levels` levels under `root` (made one level at a time: no path too long for one call)."""
    d = root
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.close(os.open("x.png", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    finally:
        os.close(fd)
    DEEP.append(root)
    return d


def hostile_folder(tmp_path: Path) -> Path:
    data = write_folder(tmp_path / "ds", n_per_class=3)
    happy = data / "train" / "happy"
    (happy / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (happy / "loop.png").symlink_to(happy / "loop.png")
    (happy / "zero.png").symlink_to("/dev/zero")
    (happy / "passwd.png").symlink_to("/etc/passwd")
    os.mkfifo(happy / "fifo.png")
    (data / "train" / "sad" / "linked-folder").symlink_to(data / "train" / "happy")
    deep(data / "train" / "fear", 1200)
    return data


def test_walk_goes_any_depth_without_recursion_and_never_follows_a_link(tmp_path):
    deep(tmp_path / "root", 1200)
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root")
    found = list(walk(tmp_path / "root"))
    assert [f.kind for f in found].count("too_deep") == 1 and found[-1].kind == "link"
    assert max(f.path.count("/") for f in found) == MAX_DEPTH - 1


def test_a_folder_dataset_with_links_fifos_and_a_deep_folder_loads_and_lists_them(tmp_path):
    data = hostile_folder(tmp_path)
    ds = finishes(lambda: load_dataset(data, cache_dir=tmp_path / "cache"), timeout=120)
    clean = load_dataset(write_folder(tmp_path / "clean", n_per_class=3), use_cache=False)
    assert len(ds) == len(clean)  # nothing read through a link, from a FIFO or too deep
    skipped = {w.where: w.kind for w in ds.warnings}
    for name in ("dangling.png", "loop.png", "zero.png", "passwd.png", "fifo.png"):
        assert skipped[f"train/happy/{name}"] == "not_regular", name
    assert skipped["train/sad/linked-folder"] == "not_regular"
    assert skipped["train/fear/" + "/".join(["d"] * (MAX_DEPTH - 2))] == "too_deep"  # MAX_DEPTH parts
    again = load_dataset(data, cache_dir=tmp_path / "cache")  # from the cache, the same
    assert len(again) == len(ds) and Skipped("train/happy/fifo.png", "not_regular") in again.warnings


def test_a_read_only_cache_folder_does_not_break_a_load(tmp_path, monkeypatch):
    """On a read-only file system the cache write fails and so does removing its temporary file (EROFS)."""
    data = write_folder(tmp_path / "ds", n_per_class=2)

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "cache"))

    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if "cache" in self.parts:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        real_unlink(self, missing_ok)

    monkeypatch.setattr(np, "savez", read_only)
    monkeypatch.setattr(Path, "unlink", unlink)
    assert len(load_dataset(data, cache_dir=tmp_path / "cache")) == len(load_dataset(data, use_cache=False))
    assert not list((tmp_path / "cache").glob("*.npz"))


@pytest.mark.parametrize("page", ["dataset", "train"])
def test_the_dataset_and_train_pages_with_a_deep_folder_and_links_in_the_data_folders(tmp_path, monkeypatch, page):
    data_dir = tmp_path / "data"
    hostile_folder(data_dir)
    deep(data_dir / "deep", 1200)
    (data_dir / "loop").symlink_to(data_dir / "loop")
    (data_dir / "dangling.zip").symlink_to(tmp_path / "nowhere.zip")
    os.mkfifo(data_dir / "fifo.csv")
    monkeypatch.setenv("FER_DATA_DIRS", str(data_dir))
    monkeypatch.setenv("FER_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=180)
    at.session_state["lang"] = "en"
    finishes(at.run, timeout=240)
    assert not at.exception, at.exception
    source = at.selectbox(key=f"{page}_source")
    assert "data/ds" in source.options and not [o for o in source.options if "fifo" in o or "dangling" in o]
    source.set_value("data/ds")
    finishes(at.run, timeout=240)
    assert not at.exception, at.exception


def test_a_data_folder_of_too_many_entries_offers_what_was_found_before_the_limit(tmp_path, monkeypatch, caplog):
    from ui import data_source

    data_dir = tmp_path / "data"
    write_folder(data_dir / "a", n_per_class=1)  # sorts before the crowd: found within the limit
    crowd = data_dir / "crowd"
    crowd.mkdir()
    for i in range(60):
        (crowd / f"{i:03d}.png").write_bytes(b"")
    write_folder(data_dir / "z", n_per_class=1)  # past the limit: not walked
    monkeypatch.setenv("FER_DATA_DIRS", str(data_dir))
    monkeypatch.setattr(data_source, "MAX_DATA_ENTRIES", len(list((data_dir / "a").rglob("*"))) + 30)
    found = data_source.server_datasets()
    assert "data/a" in found and "data/z" not in found
    assert "only the datasets found before the limit" in caplog.text
    monkeypatch.setattr(data_source, "MAX_DATA_ENTRIES", 10_000)
    assert {"data/a", "data/z"} <= set(data_source.server_datasets())
