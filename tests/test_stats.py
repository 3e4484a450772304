"""fer.data.stats on datasets with known answers, on the real FER2013 zip, and through `python -m fer stats`."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer.data.dataset import Dataset, load_dataset
from fer.data.stats import describe, duplicate_groups, imbalance
from fer.labels import LABELS
from tests.helpers import FER_ZIP, ROOT, CliRun, needs_full_data, run_fer, write_folder

A, D, F, H, S, U, N = range(7)  # angry disgust fear happy sad surprise neutral


def planted() -> tuple[Dataset, dict[str, object]]:
    """Random (distinct) faces plus planted duplicates, a conflicting pair, leaks and blank images."""
    rng = np.random.default_rng(7)
    images, labels, usage = [], [], []

    def add(img: np.ndarray, y: int, u: str = "Training") -> int:
        images.append(img)
        labels.append(y)
        usage.append(u)
        return len(images) - 1

    def noise() -> np.ndarray:
        return rng.integers(0, 256, (48, 48), dtype=np.uint8)

    # Training counts before the planted extras: angry 10, fear 6, happy 20, sad 5, surprise 4, neutral 8
    for y, k in ((A, 10), (F, 6), (H, 20), (S, 5), (U, 4), (N, 8)):
        for _ in range(k):
            add(noise(), y)
    x = noise()
    triple = tuple(add(x, H) for _ in range(3))  # duplicate, same label, one split
    y_img = noise()
    conflict = (add(y_img, A), add(y_img, S))  # same pixels, two labels
    z = noise()
    leak = (add(z, N), add(z, N, "PrivateTest"))  # train/test leak
    w = noise()
    public_private = (add(w, F, "PublicTest"), add(w, F, "PrivateTest"))  # across the two test splits
    flat = add(np.full((48, 48), 128, np.uint8), N)  # std 0
    faint = np.full((48, 48), 90, np.uint8)
    faint[::8, ::8] = 91  # 36 of 2304 pixels differ by 1: std ~0.12
    faint_i = add(faint, N)
    low = np.full((48, 48), 90, np.uint8)
    low[:, :24] = 93  # std 1.5: low contrast, not blank
    add(low, N)
    # two disgust images whose mean is known exactly
    d1 = np.zeros((48, 48), np.uint8)
    d1[:24] = 200
    d2 = np.full((48, 48), 100, np.uint8)
    d2[:, :24] = 50
    add(d1, D, "PublicTest")
    add(d2, D, "PublicTest")
    n = len(images)
    sizes = np.full((n, 2), 48, np.int32)
    sizes[:5] = (64, 64)
    sizes[5:7] = (350, 350)
    ds = Dataset(np.stack(images), np.array(labels, np.int64), np.array(usage), np.array([f"k{i}" for i in range(n)]),
                 sizes, "planted")
    return ds, {"triple": triple, "conflict": conflict, "leak": leak, "public_private": public_private,
                "blank": (flat, faint_i), "d": (d1, d2)}


def test_counts_and_imbalance_of_the_planted_dataset():
    ds, _ = planted()
    st = describe(ds)
    assert st.total == len(ds) == 67
    # Training: angry 10+1, fear 6, happy 20+3, sad 5+1, surprise 4, neutral 8+1+3 (leak, flat, faint, low)
    train = {"angry": 11, "disgust": 0, "fear": 6, "happy": 23, "sad": 6, "surprise": 4, "neutral": 12}
    assert st.splits["Training"] == train
    assert st.splits["PublicTest"] == {**dict.fromkeys(LABELS, 0), "fear": 1, "disgust": 2}
    assert st.splits["PrivateTest"] == {**dict.fromkeys(LABELS, 0), "fear": 1, "neutral": 1}
    imb = st.imbalance
    assert imb.basis == "Training" and imb.largest == "happy" and imb.smallest == "surprise"
    assert imb.ratio == pytest.approx(23 / 4)
    assert imb.missing == ("disgust",)
    assert imb.shares["happy"] == pytest.approx(23 / 62) and imb.shares["disgust"] == 0
    assert sum(imb.shares.values()) == pytest.approx(1)
    # balanced weights: n / (classes present * count)
    assert set(imb.class_weights) == set(LABELS) - {"disgust"}
    for c, w in imb.class_weights.items():
        assert w == pytest.approx(62 / (6 * train[c]))


def test_imbalance_without_a_training_split_uses_every_label():
    imb = imbalance(np.array([A, A, A, H]), basis="all")
    assert (imb.largest, imb.smallest, imb.ratio) == ("angry", "happy", 3.0)
    assert imb.class_weights == pytest.approx({"angry": 4 / 6, "happy": 2.0})
    with pytest.raises(ValueError):
        imbalance(np.array([], np.int64))


def test_quality_finds_every_planted_flaw():
    ds, p = planted()
    q = describe(ds).quality
    assert q.duplicate_groups == 4 and q.duplicate_images == 9
    assert q.conflicting_groups == 1 and q.conflicting_examples == (p["conflict"],)
    assert q.cross_split_groups == 2 and set(q.cross_split_examples) == {p["leak"], p["public_private"]}
    assert q.train_test_groups == 1
    assert q.near_blank == 2 and q.near_blank_examples == p["blank"]
    assert q.duplicate_examples[0] == p["triple"]  # largest group first
    assert set(duplicate_groups(ds.images)) == {p["triple"], p["conflict"], p["leak"], p["public_private"]}


def test_sizes_histograms_and_mean_faces():
    ds, p = planted()
    st = describe(ds)
    assert [(s.height, s.width, s.count) for s in st.sizes] == [(48, 48, 60), (64, 64, 5), (350, 350, 2)]
    assert set(st.histograms) == set(LABELS)
    for h in st.histograms.values():
        assert h.shape == (256,) and h.sum() == pytest.approx(1)
    d = st.histograms["disgust"]  # d1: half 200, half 0; d2: half 100, half 50
    assert {v: d[v] for v in np.flatnonzero(d)} == pytest.approx({0: 0.25, 50: 0.25, 100: 0.25, 200: 0.25})
    d1, d2 = p["d"]
    np.testing.assert_allclose(st.mean_faces["disgust"], (d1.astype(float) + d2) / 2)
    assert st.mean_faces["happy"].shape == (48, 48) and st.mean_faces["happy"].dtype == np.float32
    light = describe(ds, with_images=False)
    assert light.histograms == {} and light.mean_faces == {} and light.quality == st.quality


def test_a_clean_balanced_dataset_reports_nothing_wrong():
    ds = load_dataset(ROOT / "data" / "sample")
    st = describe(ds)
    assert st.imbalance.ratio == 1 and st.imbalance.class_weights == pytest.approx(dict.fromkeys(LABELS, 1.0))
    q = st.quality
    assert (q.duplicate_groups, q.conflicting_groups, q.cross_split_groups, q.near_blank) == (0, 0, 0, 0)


# ----------------------------------------------------------------------------- the real FER2013
@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One .npz cache for this module, so the zip is decoded once."""
    return tmp_path_factory.mktemp("fer-cache")


@pytest.fixture(scope="module")
def real_stats(real_cache):
    return describe(load_dataset(FER_ZIP, cache_dir=real_cache))


@needs_full_data
def test_real_zip_quirks_match_its_readme(real_stats):
    q = real_stats.quality
    assert (q.duplicate_groups, q.duplicate_images) == (1516, 3369)
    assert q.conflicting_groups == 57
    assert q.cross_split_groups == 557
    assert q.train_test_groups == 531  # the rest (26) span PublicTest and PrivateTest only
    assert q.near_blank == 13
    assert [(s.height, s.width, s.count) for s in real_stats.sizes] == [(48, 48, 35887)]
    imb = real_stats.imbalance
    assert (imb.largest, imb.smallest) == ("happy", "disgust") and imb.ratio == pytest.approx(7215 / 436)
    assert imb.class_weights["disgust"] == pytest.approx(28709 / (7 * 436))


def run_cli(*args: str, cache: Path) -> CliRun:
    return run_fer("stats", *args, env={"FER_CACHE_DIR": str(cache)})


@needs_full_data
def test_cli_json_on_the_real_zip(real_stats, real_cache):
    r = run_cli("--data", str(FER_ZIP), "--json", cache=real_cache)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["source"] == str(FER_ZIP) and out["total"] == 35887
    assert {k: v["total"] for k, v in out["splits"].items()} == {"Training": 28709, "PublicTest": 3589,
                                                                 "PrivateTest": 3589}
    assert out["splits"]["PublicTest"]["classes"]["disgust"] == 56
    assert out["imbalance"]["largest"] == "happy" and out["imbalance"]["smallest"] == "disgust"
    assert out["imbalance"]["ratio"] == pytest.approx(7215 / 436, abs=1e-4)
    assert out["quality"] == {"duplicate_groups": 1516, "duplicate_images": 3369, "conflicting_groups": 57,
                              "cross_split_groups": 557, "train_test_groups": 531, "near_blank": 13}
    assert out["sizes"] == [{"height": 48, "width": 48, "count": 35887}]


def test_cli_text_on_a_folder_whose_test_images_copy_the_training_ones(tmp_path):
    data = write_folder(tmp_path / "ds", n_per_class=2)  # each image in Training, PublicTest and PrivateTest
    r = run_cli("--data", str(data), cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert "42 images" in r.stdout
    assert "duplicates: 14 groups of pixel-identical images (42 images)" in r.stdout
    assert "spanning splits: 14 groups (14 between Training and test)" in r.stdout
    assert "with conflicting labels: 0 groups" in r.stdout and "near-blank images (pixel std < 1): 0" in r.stdout
    assert "imbalance (Training): angry / angry = 1.0x" in r.stdout
    r = run_cli("--data", str(data), "--json", cache=tmp_path / "cache")
    out = json.loads(r.stdout)
    assert out["quality"]["cross_split_groups"] == 14 and out["imbalance"]["class_weights"]["fear"] == 1.0
