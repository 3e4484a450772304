"""Broken datasets (CSV, folder, zip): a clear message naming the row, file or folder, nothing written
outside the target, zip and image bombs refused; the Dataset page lists what was skipped."""

import ast
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.data import dataset as fer_data
from fer.data import photos as fer_photos
from fer.data.dataset import DATA_ERROR_KINDS, SKIPPED, DataError, Skipped, load_dataset
from fer.data.splits import official_split, stratified_split
from fer.i18n import catalog, languages, plural, t
from tests.badfiles import (
    CSV_ROW,
    DAMAGED_ENTRIES,
    bomb_png,
    broken_datasets,
    damaged_zip,
    huge_pixels_zip,
    long_name_zip,
    one_line_csv,
)
from tests.helpers import ROOT, _jpg, synthetic_faces, write_folder, write_zip

ROW = " ".join(["7"] * 2304)
FACE = _jpg(synthetic_faces(1)[0][0])


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize(("text", "message"), [
    ("emotion,pixels\n", "no rows"),
    ("pixels\n" + ROW + "\n", "missing column(s) emotion"),
    ("emotion,pixels,Usage\n1," + ROW + ",Training\n2,1 2 3,Training\n", "row 3: 3 pixels, expected 2304"),
    ("emotion,pixels\n1," + ROW + "\n1," + ROW + "\n-1," + ROW + "\n", "row 4: unknown emotion index -1"),
    ("emotion,pixels\nhappy," + ROW + "\n", "row 2: emotion 'happy' is not a number"),
    ("emotion,pixels\n1," + ROW.replace("7", "300", 1) + "\n", "row 2: pixel values must be 0-255"),
    ("emotion,pixels\n1," + ROW.replace("7", "7.5", 1) + "\n", "row 2: pixels must be space-separated integers"),
    ("emotion,pixels,Usage\n1," + ROW + ",Train\n", "unknown Usage value(s) 'Train'"),
    ("emotion,pixels\n1," + ROW.replace("7", "9" * 30, 1) + "\n", "row 2: pixels must be space-separated integers"),
])
def test_a_bad_csv_names_the_row_and_the_problem(tmp_path, text, message):
    with pytest.raises(DataError) as exc:
        load_dataset(write(tmp_path, "bad.csv", text))
    assert str(exc.value).startswith("bad.csv") and message in str(exc.value)


def test_a_binary_file_named_csv_is_refused(tmp_path):
    p = tmp_path / "photo.csv"
    p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    with pytest.raises(DataError, match="photo.csv"):
        load_dataset(p)


# ------------------------------------------------------------------------------------------ folders
def test_empty_and_missing_class_folders_are_named(tmp_path):
    root = write_folder(tmp_path / "ds", n_per_class=2)
    for f in (root / "train" / "disgust").iterdir():
        f.unlink()  # an empty class folder
    for f in (root / "test" / "fear").iterdir():
        f.unlink()
    (root / "test" / "fear").rmdir()  # a missing one
    ds = load_dataset(root)
    assert ds.counts()["Training"]["disgust"] == 0
    assert [w for w in ds.warnings if w.kind == "empty_class"] == [
        Skipped("test/fear", "empty_class"), Skipped("train/disgust", "empty_class")]
    assert str(ds.warnings[-1]) == f"train/disgust: {SKIPPED['empty_class']}"  # the CLI's and the log's words


def test_non_image_files_and_nested_folders(tmp_path):
    root = write_folder(tmp_path / "top" / "fer", n_per_class=1, with_test=False)
    (root / "README.txt").write_text("about this data")
    (root / "train" / "happy" / "notes.docx").write_bytes(b"PK\x03\x04 not really")
    (root / "train" / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    nested = root / "train" / "sad" / "session1" / "day2"
    nested.mkdir(parents=True)
    (nested / "Training_deep.png").write_bytes(FACE)
    ds = load_dataset(tmp_path / "top")  # the train/ folder is two levels down
    assert "fer/train/sad/session1/day2/Training_deep.png" in ds.paths.tolist()
    assert ds.counts()["Training"]["sad"] == 2 and len(ds) == 8
    kinds = {w.where: w.kind for w in ds.warnings}
    assert kinds == {"fer/README.txt": "not_image", "fer/train/happy/notes.docx": "not_image",
                     "fer/train/happy/broken.png": "undecodable"}


def test_an_unknown_class_or_a_wrong_layout_names_the_file(tmp_path):
    root = write_folder(tmp_path / "a", n_per_class=1, with_test=False)
    (root / "train" / "bored").mkdir()
    (root / "train" / "bored" / "b.png").write_bytes(FACE)
    with pytest.raises(DataError, match=r"train/bored/b\.png: unknown class folder 'bored'; expected one of angry"):
        load_dataset(root)
    flat = tmp_path / "flat"
    (flat / "faces").mkdir(parents=True)
    (flat / "faces" / "x.png").write_bytes(FACE)
    with pytest.raises(DataError, match=r"faces/x\.png: expected the layout train/<class>/<image>"):
        load_dataset(flat)
    (flat / "faces").rename(flat / "happy")  # happy/x.png: a photos dataset (fer.data.photos), with no face in it
    with pytest.raises(DataError, match="flat: no face found in any photo"):
        load_dataset(flat)
    empty = tmp_path / "empty"
    (empty / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="empty: no images found"):
        load_dataset(empty)


# ------------------------------------------------------------------------------------------ zips
def test_unsafe_zip_entries_are_never_read_nor_written(tmp_path):
    target = tmp_path / "inside"
    target.mkdir()
    z = write_zip(target / "d.zip", n_per_class=1)
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("../evil.png", FACE)
        zf.writestr("train/happy/../../../evil2.png", FACE)
        zf.writestr(zipfile.ZipInfo("/tmp/abs/evil3.png"), FACE)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    ds = load_dataset(z)
    assert len(ds) == 14
    unsafe = [where for where, kind in ((w.where, w.kind) for w in ds.warnings) if kind == "unsafe"]
    assert unsafe == ["../evil.png", "train/happy/../../../evil2.png", "/tmp/abs/evil3.png"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing unpacked anywhere
    assert not Path("/tmp/abs/evil3.png").exists()


def test_a_zip_bomb_entry_is_refused_by_name(tmp_path):
    z = write_zip(tmp_path / "bomb.zip", n_per_class=1)
    with zipfile.ZipFile(z, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("train/happy/Training_big.png", b"\0" * (8 << 20))  # 8 MB of zeros in about 8 KB
    with pytest.raises(DataError, match=r"bomb\.zip: entry 'train/happy/Training_big\.png' is compressed \d+:1"):
        load_dataset(z)


def test_a_zip_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    z = write_zip(tmp_path / "big.zip", n_per_class=2)
    monkeypatch.setattr(fer_data, "MAX_ZIP_TOTAL", 1000)
    with pytest.raises(DataError, match=r"big\.zip: unpacks to .* over the .* limit \(zip bomb\?\)"):
        load_dataset(z)


def test_image_bombs_inside_a_dataset_are_skipped_without_decoding(tmp_path, monkeypatch):
    z = write_zip(tmp_path / "d.zip", n_per_class=1)
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("train/happy/Training_bomb.png", bomb_png(30_000, 30_000))
        zf.writestr("train/sad/Training_bomb.jpg", _jpeg_header(40_000, 30_000))
    import cv2

    decoded: list[int] = []
    real = cv2.imdecode

    def spy(buf, flags):  # noqa: ANN001, ANN202
        decoded.append(len(buf))
        return real(buf, flags)

    monkeypatch.setattr(cv2, "imdecode", spy)
    ds = load_dataset(z)
    assert len(ds) == 14 and len(decoded) == 14
    bombs = [where for where, kind in ((w.where, w.kind) for w in ds.warnings) if kind == "too_large"]
    assert bombs == ["train/happy/Training_bomb.png", "train/sad/Training_bomb.jpg"]


def _jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG (SOI, APP0, SOF0) claiming width x height, without image data."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0\x00\x0b\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x01\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def test_a_damaged_zip_is_refused(tmp_path):
    good = write_zip(tmp_path / "good.zip", n_per_class=1).read_bytes()
    bad = tmp_path / "cut.zip"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"cut\.zip: not a readable zip file"):
        load_dataset(bad)


# ------------------------------------------------------------------------------------------ issue 30
def test_a_long_entry_name_costs_what_the_data_costs_not_name_x_entries(tmp_path, monkeypatch):
    """Issue 30 (1): 5,000 1x1 PNGs and one 60,000-character name took 1 GB of memory and 1.2 GB of cache,
    every row as wide as the longest name. Now the name is refused and memory and disk follow the data."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    z = long_name_zip(tmp_path / "names.zip")
    assert z.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        ds = load_dataset(z)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(ds) == 5_000
    assert peak < 60 * 2**20, f"{peak / 2**20:.0f} MiB"
    (long,) = [w for w in ds.warnings if w.kind == "long_name"]
    assert long.where.startswith("train/happy/aaa") and "(60,016 characters)" in long.where and len(str(long)) < 200
    assert ds.paths.dtype == object and max(map(len, ds.paths)) < 30
    (npz,) = cache.glob("*.npz")
    assert npz.stat().st_size < 20 * 2**20
    again = load_dataset(z)  # from the cache, the same
    assert again.paths.tolist() == ds.paths.tolist() and again.warnings == ds.warnings


def test_the_cache_stays_under_its_cap_least_recently_used_first(tmp_path, monkeypatch):
    """Issue 30 (1): nothing ever deleted cache files."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FER_CACHE_DIR", str(cache))
    monkeypatch.setenv("FER_CACHE_MAX_MB", "0.08")  # room for two caches of 14 images (about 34 kB each)
    sources = [write_zip(tmp_path / f"d{i}.zip", n_per_class=1) for i in range(4)]
    for i, src in enumerate(sources):
        load_dataset(src)
        if i == 1:
            time.sleep(0.05)
            load_dataset(sources[0])  # used again: now more recent than d1
            time.sleep(0.05)
        if i == 2:
            assert sorted(p.name.split("-")[0] for p in cache.glob("*.npz")) == ["d0", "d2"]
    names = sorted(p.name.split("-")[0] for p in cache.glob("*.npz"))
    assert sum(p.stat().st_size for p in cache.glob("*.npz")) <= 0.08 * 2**20
    assert names == ["d2", "d3"], names
    assert not list(cache.glob(".*tmp*"))


def test_damaged_zip_entries_are_skipped_and_listed(tmp_path):
    """Issue 30 (4): encrypted bit, compression method 99, a flipped CRC byte, a broken local header and a
    corrupt deflate stream raised RuntimeError, NotImplementedError, BadZipFile and zlib.error."""
    good = {f"train/{c}/Training_{i}.png": FACE for i, c in enumerate(("angry", "happy", "sad"))}
    ds = load_dataset(damaged_zip(tmp_path / "damaged.zip", good))
    assert len(ds) == 3
    damaged = [where for where, kind in ((w.where, w.kind) for w in ds.warnings) if kind == "damaged"]
    assert damaged == [f"train/happy/{k}.png" for k in DAMAGED_ENTRIES]


def test_huge_images_are_refused_from_their_headers_before_decoding(tmp_path, monkeypatch):
    """Issue 30 (6): a 5 MB zip of 300 PNGs of 4096x4096 cost 28.5 s of CPU decoding them."""
    import cv2

    z = huge_pixels_zip(tmp_path / "huge.zip")
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("train/sad/Training_ok.png", FACE)
    decoded: list[int] = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded.append(len(buf)) or real(buf, flags))
    cpu = time.process_time()
    ds = load_dataset(z)
    cpu = time.process_time() - cpu
    assert len(ds) == 1 and len(decoded) == 1
    assert sum(w.kind == "too_large" for w in ds.warnings) == 300
    assert cpu < 10, cpu  # decoding them all took 28.5 s; this is reading 300 headers (and hashing 5 MB)


def test_a_dataset_asking_to_decode_too_many_pixels_in_all_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fer_data, "MAX_DECODE_PIXELS", 10 * 48 * 48)
    with pytest.raises(DataError, match=r"d\.zip: its images hold over 0 megapixels in all"):
        load_dataset(write_zip(tmp_path / "d.zip", n_per_class=1))


def test_a_csv_line_over_the_limit_is_refused_before_it_is_parsed(tmp_path):
    """Issue 30 (6): an 80 MB one-line CSV peaked at 1.93 GB (pix.split() before the length check)."""
    p = one_line_csv(tmp_path / "long.csv", mb=80)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"long\.csv, row 2: a line longer than 16,384 bytes"):
            load_dataset(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20, f"{peak / 2**20:.1f} MiB"
    wide = write(tmp_path / "", "wide.csv", ",".join(f"c{i}" for i in range(2000)) + "\n")
    with pytest.raises(DataError, match=r"wide\.csv: 2,000 columns in the header"):
        load_dataset(wide)
    usage = write(tmp_path, "usage.csv", "emotion,pixels,Usage\n1," + ROW + "," + "x" * 5000 + "\n")
    with pytest.raises(DataError, match=r"unknown Usage value\(s\) 'xxxxxxxxxxxxxxxxxxxx… \(5,000 characters\)'"):
        load_dataset(usage)
    p.unlink()


# ------------------------------------------------------------------------------------------ error kinds
LIMITED = {"zip_too_big": ("MAX_ZIP_TOTAL", 1000), "too_many_files": ("MAX_ENTRIES", 5),
           "too_many_pixels": ("MAX_DECODE_PIXELS", 10 * 48 * 48)}
"""Kinds a small good zip causes once a limit is lowered: {kind: (limit in fer.data.dataset, lowered value)}."""


def split_failures(folder: Path) -> dict[str, Callable[[], object]]:
    """{kind: a split that fails so} for the kinds fer.data.splits raises."""
    def rows(name: str, per_class: int, usage: str) -> Path:
        lines = [f"{y},{CSV_ROW},{usage}" for y in range(7) for _ in range(per_class)]
        return write(folder, name, "emotion,pixels,Usage\n" + "\n".join(lines) + "\n")

    return {
        "no_training": lambda: official_split(load_dataset(rows("test_only.csv", 2, "PrivateTest"), use_cache=False)),
        "stratified_test": lambda: stratified_split(load_dataset(rows("one_each.csv", 1, "Training"),
                                                                 use_cache=False)),
        # half for the test leaves one image per class: too few to take a validation part from
        "stratified_val": lambda: stratified_split(load_dataset(rows("two_each.csv", 2, "Training"),
                                                                use_cache=False), test_fraction=0.5),
    }


def data_errors(folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, DataError]:
    """{the kind each broken dataset should give: the DataError fer raised for it}."""
    folder.mkdir()
    found: dict[str, DataError] = {}
    causes: dict[str, Callable[[], object]] = {
        kind: (lambda p=path: load_dataset(p, use_cache=False)) for kind, path in broken_datasets(folder / "f").items()}
    causes |= split_failures(folder)
    good = write_zip(folder / "good.zip", n_per_class=1)
    for kind, (limit, value) in LIMITED.items():
        def lowered(limit: str = limit, value: int = value) -> object:
            with monkeypatch.context() as m:
                m.setattr(fer_data, limit, value)
                return load_dataset(good, use_cache=False)
        causes[kind] = lowered
    rows = write(folder, "rows.csv", "emotion,pixels\n" + f"1,{CSV_ROW}\n" * 6)

    def too_many_rows() -> object:
        with monkeypatch.context() as m:
            m.setattr(fer_data, "MAX_ENTRIES", 5)
            return load_dataset(rows, use_cache=False)
    causes["csv_too_many_rows"] = too_many_rows
    photos = folder / "photos"  # a photos dataset (fer.data.photos) of more photos than it may hold
    (photos / "happy").mkdir(parents=True)
    for i in range(2):
        write(photos / "happy", f"{i}.jpg", "never read")

    def too_many_photos() -> object:
        with monkeypatch.context() as m:
            m.setattr(fer_photos, "MAX_PHOTOS", 1)
            return load_dataset(photos, use_cache=False)
    causes["too_many_photos"] = too_many_photos
    for kind, cause in causes.items():
        with pytest.raises(DataError) as exc:
            cause()
        found[kind] = exc.value
    return found


def test_every_refused_dataset_says_which_kind_of_problem_it_is(tmp_path, monkeypatch):
    errors = data_errors(tmp_path / "bad", monkeypatch)
    assert {kind: e.kind for kind, e in errors.items()} == {kind: kind for kind in errors}
    assert set(errors) == set(DATA_ERROR_KINDS)  # every kind is driven by a real bad dataset
    # the details are the values of the message, numbers as numbers; the message stays the CLI's English
    five = errors["pixel_count"]
    assert five.details == {"name": "five.csv", "row": 3, "count": 5, "expected": 2304}
    assert str(five) == "five.csv, row 3: 5 pixels, expected 2304"
    assert errors["zip_bomb"].details["entry"] == "train/happy/Training_big.png"
    assert errors["zip_bomb"].details["ratio"] > 200
    assert errors["unknown_class"].details["folder"] == "bored"
    assert errors["unknown_usage"].details["values"] == "Train"
    assert errors["stratified_val"].details["images"] == 7
    for lang in languages():  # each sentence can be filled in from the details fer gave
        for kind, e in errors.items():
            text = t(f"data_error.{kind}", lang, **e.details)
            if "row" in e.details:
                assert str(e.details["row"]) in text, (lang, kind, text)
            if "name" in e.details:
                assert e.details["name"] in text, (lang, kind, text)


def test_every_data_error_kind_has_a_sentence_in_every_language():
    for lang in languages():
        sentences = {k.split(".", 1)[1] for k in catalog(lang) if k.startswith("data_error.")}
        assert sentences == set(DATA_ERROR_KINDS), lang
    assert catalog("pt")["data_error.pixel_count"] != catalog("en")["data_error.pixel_count"]


def test_every_raise_site_names_a_known_kind():
    """Read fer/'s source: each DataError(...) passes a literal kind from DATA_ERROR_KINDS, and each kind is
    raised somewhere."""
    raised: set[str] = set()
    sites = 0
    for path in sorted((ROOT / "fer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "DataError":
                sites += 1
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                assert len(node.args) >= 2, f"{where}: DataError without a kind"
                kind = node.args[1]
                options = [kind.body, kind.orelse] if isinstance(kind, ast.IfExp) else [kind]
                for o in options:
                    assert isinstance(o, ast.Constant) and o.value in DATA_ERROR_KINDS, f"{where}: {ast.unparse(o)}"
                    raised.add(o.value)
    assert sites >= 25 and raised == set(DATA_ERROR_KINDS)


# ------------------------------------------------------------------------------------------ the page
def test_the_dataset_page_lists_what_was_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_UPLOAD_DIR", str(tmp_path / "uploads"))
    z = write_zip(tmp_path / "d.zip", n_per_class=1)
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("../../evil.png", FACE)
        zf.writestr("train/happy/readme.txt", "hello")
    at = AppTest.from_file(str(ROOT / "pages" / "dataset.py"), default_timeout=120)
    at.session_state["lang"] = "pt"
    at.run()
    at.selectbox(key="dataset_source").select("upload").run()
    at.file_uploader(key="dataset_upload").upload("d.zip", z.read_bytes(), "application/zip").run()
    assert not at.exception, at.exception
    problems = plural("dataset.n_problems", 2, "pt")
    assert [w.value for w in at.warning][0] == t("dataset.skipped", "pt", problems=problems)
    table = next(d.value for d in at.dataframe if t("dataset.col_where", "pt") in d.value.columns)
    assert dict(zip(table[t("dataset.col_where", "pt")], table[t("dataset.col_problem", "pt")], strict=True)) == {
        "../../evil.png": t("dataset.skip_unsafe", "pt"), "train/happy/readme.txt": t("dataset.skip_not_image", "pt")}
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()


def test_every_skip_reason_is_translated():
    for lang in ("en", "pt"):
        for kind in SKIPPED:
            assert t(f"dataset.skip_{kind}", lang) != f"dataset.skip_{kind}"
