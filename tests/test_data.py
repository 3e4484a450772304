"""Loaders (folder, zip, CSV), the cache, and both splits."""

import numpy as np
import pytest

from fer.config import TrainConfig
from fer.data.dataset import DataError, load_dataset
from fer.data.splits import make_split, missing_classes, official_split, split_problems, stratified_split
from fer.labels import LABELS
from tests.helpers import FER_ZIP, needs_full_data, write_csv, write_folder, write_zip


def test_folder_layout_keeps_pixels_labels_and_usage(tmp_path):
    root = write_folder(tmp_path / "ds", n_per_class=4)
    ds = load_dataset(root)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (4 * 7 * 3, 48, 48)
    counts = ds.counts()
    assert list(counts) == ["Training", "PublicTest", "PrivateTest"]
    assert all(v == 4 for c in counts.values() for v in c.values())
    # the class is visible in the pixels: row band 4+6c is bright
    for img, y in zip(ds.images[:28], ds.labels[:28], strict=True):
        assert img[5 + 6 * y].mean() > 200
    assert all(p.startswith(("train/", "test/")) for p in ds.paths)


def test_zip_layout_with_a_top_folder(tmp_path):
    ds = load_dataset(write_zip(tmp_path / "d.zip", n_per_class=3))
    assert ds.counts()["Training"] == dict.fromkeys(LABELS, 3)
    assert ds.counts()["PrivateTest"] == dict.fromkeys(LABELS, 3)


def test_csv_with_and_without_usage(tmp_path):
    ds = load_dataset(write_csv(tmp_path / "a.csv", n_per_class=6))
    assert len(ds) == 42
    assert set(ds.usage.tolist()) == {"Training", "PublicTest", "PrivateTest"}
    for img, y in zip(ds.images, ds.labels, strict=True):
        assert img[5 + 6 * y].mean() > 200
    ds2 = load_dataset(write_csv(tmp_path / "b.csv", n_per_class=2, usage=False))
    assert set(ds2.usage.tolist()) == {"Training"}


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("emotion,Usage\n1,Training\n", "missing column"),
    ("emotion,pixels\n1,1 2 3\n", "row 2: 3 pixels"),
    ("emotion,pixels\n9," + " ".join(["1"] * 2304) + "\n", "row 2: unknown emotion index 9"),
    ("emotion,pixels\n1," + " ".join(["x"] * 2304) + "\n", "row 2: pixels must be"),
])
def test_bad_csv_names_the_problem(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=message):
        load_dataset(p)


def test_unknown_class_folder_is_named(tmp_path):
    root = write_folder(tmp_path / "ds", n_per_class=1, with_test=False)
    (root / "train" / "bored").mkdir()
    (root / "train" / "bored" / "x.png").write_bytes((root / "train" / "angry").iterdir().__next__().read_bytes())
    with pytest.raises(DataError, match="bored"):
        load_dataset(root)


def test_second_load_comes_from_cache(tmp_path, monkeypatch):
    src = write_zip(tmp_path / "d.zip", n_per_class=2)
    first = load_dataset(src)
    import fer.data.dataset

    monkeypatch.setattr(fer.data.dataset, "_load_zip", lambda *a, **k: pytest.fail("cache not used"))
    second = load_dataset(src)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.paths, second.paths)


def test_stratified_split_follows_the_course(tmp_path):
    ds = load_dataset(write_folder(tmp_path / "ds", n_per_class=30, with_test=False))
    sp = stratified_split(ds)
    assert len(sp.test) == 21 and len(sp.val) == 19 and len(sp.train) == 170
    assert not set(sp.train) & set(sp.val) and not set(sp.train) & set(sp.test) and not set(sp.val) & set(sp.test)
    for part in (sp.train, sp.val, sp.test):  # stratification: every class in the same share
        counts = np.bincount(ds.labels[part], minlength=7)
        assert counts.max() - counts.min() <= 1
    again = make_split(ds, TrainConfig(split="stratified"))
    np.testing.assert_array_equal(sp.test, again.test)
    other = stratified_split(ds, test_seed=7)
    assert not np.array_equal(sp.test, other.test)


def test_official_split_uses_usage(tmp_path):
    ds = load_dataset(write_folder(tmp_path / "ds", n_per_class=3))
    sp = official_split(ds)
    assert set(ds.usage[sp.train]) == {"Training"}
    assert set(ds.usage[sp.val]) == {"PublicTest"}
    assert set(ds.usage[sp.test]) == {"PrivateTest"}
    assert missing_classes(ds, sp) == {}


def test_split_problems_name_the_parts_the_official_split_needs(tmp_path):
    """Issue 39 (5): the official split on the bundled sample (Training only) trained a run with no test set."""
    sample = load_dataset("data/sample")
    official, stratified = TrainConfig(split="official"), TrainConfig(split="stratified")
    assert [(p.field, p.kind) for p in split_problems(sample.counts(), official)] == [("split", "no_test")]
    assert split_problems(sample.counts(), stratified) == []
    assert split_problems(sample.counts(), official.replace(split="custom")) == []
    full = load_dataset(write_folder(tmp_path / "full", n_per_class=2))
    assert split_problems(full.counts(), official) == []
    no_public = {u: c for u, c in full.counts().items() if u != "PublicTest"}  # validation then comes from Training
    assert split_problems(no_public, official) == []
    test_only = {"PrivateTest": full.counts()["PrivateTest"], "Training": dict.fromkeys(LABELS, 0)}
    assert [p.kind for p in split_problems(test_only, official)] == ["no_training"]
    assert [p.kind for p in split_problems({}, official)] == ["no_training", "no_test"]
    for problem in split_problems({}, official):  # what the page shows when a language has no sentence for it
        assert "official split" in problem.message


@needs_full_data
def test_real_fer2013_counts():
    ds = load_dataset(FER_ZIP)
    counts = ds.counts()
    totals = {u: sum(c.values()) for u, c in counts.items()}
    assert totals == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    assert counts["Training"]["disgust"] == 436 and counts["PrivateTest"]["neutral"] == 626
    assert len(set(ds.paths.tolist())) == len(ds)  # keyed by path: the repeated file names stay distinct
