"""The dataset explorer page (AppTest): the sample in en and pt, the class grid, uploads, server datasets."""

import base64
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer.data.dataset import DataError, load_dataset
from fer.i18n import t
from fer.labels import LABELS, display_name
from tests.helpers import ROOT, shown, write_folder, write_zip
from ui.text import plain

PAGE = str(ROOT / "pages" / "dataset.py")
FULL_COUNTS = json.loads((ROOT / "data" / "fer2013_counts.json").read_text())


@pytest.fixture(autouse=True)
def no_full_dataset(monkeypatch):
    """The page opens on the full FER2013 where FER_DATA names one: these tests start on the sample unless they
    set FER_DATA themselves."""
    monkeypatch.delenv("FER_DATA", raising=False)
CHART_KEYS = ("chart_counts", "chart_splits", "chart_shares", "chart_sizes", "chart_hist")


def page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """{title: plotly spec} of every chart on the page."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"]["title"]["text"]: s for s in specs}


def values(v: object) -> list:
    """A plotly array, plain or binary-encoded ({'dtype', 'bdata'})."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def all_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success",
                                  "warning", "error") for e in at.get(kind)]
    return "\n".join(map(str, parts))


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_sample_in_each_language(lang):
    at = page(lang)
    assert at.title[0].value == t("dataset.title", lang)
    m = metrics(at)
    assert m[t("dataset.total", lang)] == "350"
    assert m[t("dataset.classes", lang)] == "7" and m[t("dataset.splits", lang)] == "1"
    # the sample is drawn evenly: the ratio shown is the full set's, counted from the real data
    assert m[t("dataset.ratio_full", lang, name="FER2013")] == ("16.5×" if lang == "en" else "16,5×")
    for key in ("q_duplicates", "q_conflicting", "q_cross", "q_blank"):
        assert m[t(f"dataset.{key}", lang)] == "0"
    specs = charts(at)
    assert set(specs) == {t(f"dataset.{k}", lang) for k in CHART_KEYS}
    counts = specs[t("dataset.chart_counts", lang)]["data"]
    assert [d["name"] for d in counts] == [t("dataset.split_Training", lang)]
    assert counts[0]["x"] == [display_name(c, lang) for c in LABELS] and values(counts[0]["y"]) == [50] * 7
    assert specs[t("dataset.chart_counts", lang)]["layout"]["xaxis"]["title"]["text"] == t("dataset.col_class", lang)
    hist = specs[t("dataset.chart_hist", lang)]["data"]
    assert sorted(d["name"] for d in hist) == sorted(display_name(c, lang) for c in LABELS)
    table = at.dataframe[0].value
    assert list(table.columns) == [t(f"dataset.col_{k}", lang) for k in ("class", "count", "share", "weight")]
    train = FULL_COUNTS["splits"]["Training"]  # the imbalance table: the full set's Training counts
    sep = "," if lang == "en" else "."
    assert table.iloc[:, 1].tolist() == [f"{train[c]:,}".replace(",", sep) for c in LABELS]
    assert table.iloc[0, 2] == ("13.9%" if lang == "en" else "13,9%")  # angry: 3,995 of 28,709
    shares = specs[t("dataset.chart_shares", lang)]["data"]
    assert [values(d["y"])[0] for d in shares] == pytest.approx([train[c] / sum(train.values()) for c in LABELS])
    text = all_text(at)
    assert t("dataset.sample_note", lang, total="350", per_class="50", name="FER2013",
             full_total="35,887" if lang == "en" else "35.887") in text
    assert t("dataset.imbalance_ratio", lang, largest=display_name("happy", lang), n_largest=f"7{sep}215",
             smallest=display_name("disgust", lang), n_smallest="436", ratio="16.5" if lang == "en" else "16,5") in text
    assert t("dataset.q_clean", lang) in text
    assert t("dataset.balanced", lang) not in text  # never "no class weights needed" on a sample drawn evenly
    assert not re.search(r"\b(dataset|data)\.[a-z_]+\b", text), "an untranslated key is shown"
    grid, *faces = at.get("image")
    assert len(grid.value) == 24 and len(faces) == 7
    assert [f.captions[0] for f in faces] == [display_name(c, lang) for c in LABELS]
    assert at.selectbox(key="dataset_class").options == [display_name(c, lang) for c in LABELS]


def test_without_the_shipped_counts_the_sample_still_never_says_training_needs_no_class_weights(monkeypatch):
    import ui.data_source as data_source

    monkeypatch.setattr(data_source, "FULL_COUNTS", ROOT / "nowhere.json")
    text = all_text(page())
    assert t("dataset.sample_balanced") in text and t("dataset.balanced") not in text


def test_pick_a_class_and_reshuffle_the_grid():
    at = page()
    at.selectbox(key="dataset_class").select("happy").run()
    first = at.get("image")[0].value
    assert t("dataset.samples_caption", n="24", total="50", cls="Happy") in [c.value for c in at.caption]
    at.button(key="dataset_reshuffle").click().run()
    assert not at.exception
    second = at.get("image")[0].value
    assert len(second) == 24 and second != first


def test_an_uploaded_zip_is_saved_under_a_generated_name(tmp_path, monkeypatch):
    uploads = tmp_path / "uploads"
    monkeypatch.setenv("FER_UPLOAD_DIR", str(uploads))
    data = write_zip(tmp_path / "d.zip", n_per_class=3).read_bytes()  # the test images copy the training ones
    at = page()
    at.selectbox(key="dataset_source").select("upload").run()
    assert not at.exception and t("data.upload_wait") in all_text(at) and not at.get("plotly_chart")
    at.file_uploader(key="dataset_upload").upload("../../../etc/evil name.zip", data, "application/zip").run()
    assert not at.exception, at.exception
    m = metrics(at)
    assert m[t("dataset.total")] == "42" and m[t("dataset.splits")] == "2"
    assert m[t("dataset.q_duplicates")] == "21" and m[t("dataset.q_cross")] == "21"
    assert m[t("dataset.q_conflicting")] == "0"
    saved = [p for p in uploads.rglob("*") if p.is_file()]
    assert len(saved) == 1 and re.fullmatch(r"[0-9a-f]{32}\.zip", saved[0].name)
    assert saved[0].read_bytes() == data
    assert not (tmp_path / "etc").exists()
    assert len(at.get("image")) > 8  # grid, mean faces, then duplicate examples


def upload_error(tmp_path, name: str, data: bytes, lang: str = "pt") -> str:
    """Upload `data` as `name` on the Dataset page; the one error it shows (Markdown source)."""
    at = page(lang)
    at.selectbox(key="dataset_source").select("upload").run()
    at.file_uploader(key="dataset_upload").upload(name, data, "text/csv").run()
    assert not at.exception, at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    return at.error[0].value


def test_an_unreadable_upload_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_UPLOAD_DIR", str(tmp_path / "uploads"))
    shown_error = upload_error(tmp_path, "bad.csv", b"emotion,Usage\n1,Training\n")
    assert shown_error == t("dataset.load_error", "pt", error=t("data_error.csv_missing_columns", "pt",
                                                               name=plain("bad.csv"), columns="pixels"))


def test_a_broken_csv_row_is_reported_in_portuguese_with_its_row(tmp_path, monkeypatch):
    """Row 3 has 5 pixels: the page says so in Portuguese (the row, 2.304 with the Portuguese thousands
    separator, the name the file was uploaded as), not fer's English message nor the upload's saved name."""
    monkeypatch.setenv("FER_UPLOAD_DIR", str(tmp_path / "uploads"))
    text = "emotion,pixels\n1," + " ".join(["7"] * 2304) + "\n2,1 2 3 4 5\n"
    shown_error = upload_error(tmp_path, "minhas faces.csv", text.encode())
    assert shown_error == t("dataset.load_error", "pt", error=t("data_error.pixel_count", "pt",
                                                               name=plain("minhas faces.csv"), row="3", count="5",
                                                               expected="2.304"))
    words = shown(shown_error)
    assert "minhas faces.csv, linha 3: 5 pixels; esperavam-se 2.304" in words
    [saved] = (tmp_path / "uploads").glob("*.csv")
    with pytest.raises(DataError) as exc:
        load_dataset(saved, use_cache=False)
    assert str(exc.value) not in words and str(exc.value).split(": ", 1)[1] not in words  # fer's English
    assert not re.search(r"\b(row|expected|pixels,)\b", words) and saved.name not in words


def test_an_imbalanced_server_dataset_explains_the_imbalance(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    counts = {0: 12, 1: 2, 3: 6}  # angry, disgust, happy
    rows = ["emotion,pixels,Usage"]
    for y, k in counts.items():
        rows += [f"{y},{' '.join(map(str, rng.integers(0, 256, 2304)))},Training" for _ in range(k)]
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "small.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("FER_DATA_DIRS", str(folder))
    monkeypatch.delenv("FER_DATA", raising=False)  # no full FER2013 on this server
    at = page()
    box = at.selectbox(key="dataset_source")
    assert box.options == [t("data.sample"), "datasets/small.csv", t("data.upload")]
    box.select("datasets/small.csv").run()
    assert not at.exception, at.exception
    m = metrics(at)
    assert m[t("dataset.total")] == "20" and m[t("dataset.classes")] == "3" and m[t("dataset.ratio")] == "6.0×"
    text = all_text(at)
    assert "Angry, has 12 images; the smallest, Disgust, has 2: 6.0 times fewer" in text
    advice = at.info[0].value
    assert "Disgust" in advice and "10.0%" in advice and "3.33×" in advice  # 20 / (3 * 2)
    assert "Fear" in at.warning[0].value  # classes with no images are named
    weights = at.dataframe[0].value.iloc[:, 3].tolist()
    assert weights == ["0.56", "3.33", "–", "1.11", "–", "–", "–"]
    assert at.selectbox(key="dataset_class").options == ["Angry", "Disgust", "Happy"]


def test_a_dataset_is_parsed_once_for_every_session(tmp_path, monkeypatch):
    import ui.data_source as data_source

    write_folder(tmp_path / "datasets" / "mine", n_per_class=2)
    monkeypatch.setenv("FER_DATA_DIRS", str(tmp_path / "datasets"))
    calls = []
    real = data_source.load_dataset

    def counting(path, **kwargs):
        calls.append((str(path), kwargs.get("progress") is not None))
        return real(path, **kwargs)

    monkeypatch.setattr(data_source, "load_dataset", counting)
    for _ in range(2):  # two sessions (two browser tabs) on one server
        at = page()
        at.selectbox(key="dataset_source").select("datasets/mine").run()
        assert not at.exception, at.exception
        assert metrics(at)[t("dataset.total")] == "42"
    mine = [c for c in calls if c[0] == str(tmp_path / "datasets" / "mine")]
    assert mine == [(str(tmp_path / "datasets" / "mine"), True)]  # parsed once, with a progress callback


def test_the_full_dataset_is_offered_from_fer_data(tmp_path, monkeypatch):
    """FER_DATA, the one setting for the full FER2013, puts it among the server's datasets."""
    full = write_folder(tmp_path / "elsewhere" / "fer2013", n_per_class=2)
    monkeypatch.setenv("FER_DATA", str(full))
    monkeypatch.setenv("FER_DATA_DIRS", str(tmp_path / "empty"))
    at = page()
    box = at.selectbox(key="dataset_source")
    assert box.options == [t("data.sample"), "fer2013 (FER_DATA)", t("data.upload")]
    box.select("fer2013 (FER_DATA)").run()
    assert not at.exception, at.exception
    assert metrics(at)[t("dataset.total")] == "42"
    monkeypatch.setenv("FER_DATA", str(tmp_path / "missing.zip"))  # set but not there: not offered
    assert page().selectbox(key="dataset_source").options == [t("data.sample"), t("data.upload")]


@pytest.mark.parametrize("lang", ["en", "pt"])
def test_the_page_opens_on_the_full_dataset_when_the_server_has_one(tmp_path, monkeypatch, lang):
    full = write_folder(tmp_path / "elsewhere" / "fer2013", n_per_class=2)
    monkeypatch.setenv("FER_DATA", str(full))
    monkeypatch.setenv("FER_DATA_DIRS", str(tmp_path / "empty"))
    at = page(lang)
    assert at.selectbox(key="dataset_source").value == "fer2013 (FER_DATA)"
    m = metrics(at)
    assert m[t("dataset.total", lang)] == "42" and m[t("dataset.ratio", lang)] == ("1.0×" if lang == "en" else "1,0×")
    text = all_text(at)
    assert t("dataset.imbalance_header", lang, split=t("dataset.split_Training", lang)) in text
    assert "FER2013" not in text.split(t("dataset.intro", lang))[-1]  # no shipped figures: its own counts
    at.selectbox(key="dataset_source").select(t("data.sample", lang)).run()  # the sample is still one pick away
    assert metrics(at)[t("dataset.total", lang)] == "350"
