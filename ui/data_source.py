"""The dataset chooser shared by the dataset and train pages: bundled sample, server folder, upload.

Users never type a path: server datasets are listed from configured data folders only.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from ui.common import ROOT, t

SAMPLE = ROOT / "data" / "sample"


def data_dirs() -> list[Path]:
    """Folders whose datasets the server offers: $FER_DATA_DIRS (os.pathsep-separated), else
    the repository's data/ and ../shared/datasets/ where present."""
    env = os.environ.get("FER_DATA_DIRS")
    dirs = [Path(p) for p in env.split(os.pathsep)] if env else [ROOT / "data", ROOT.parent / "shared" / "datasets"]
    return [d for d in dirs if d.is_dir()]


def server_datasets() -> dict[str, Path]:
    """{display name: path} of the zips, CSVs and train/ folders found in the data folders."""
    found: dict[str, Path] = {}
    for d in data_dirs():
        for p in sorted(d.rglob("*")):
            if p == SAMPLE or "cache" in p.parts:
                continue
            if (p.is_file() and p.suffix.lower() in (".zip", ".csv") and p.name != "ferplus_votes.csv") or (
                p.is_dir() and (p / "train").is_dir()
            ):
                found[str(p.relative_to(d.parent))] = p
    return found


def choose_dataset(key: str) -> Path:
    """A selectbox over the sample and the server datasets; returns the chosen path."""
    options = {t("data.sample"): SAMPLE} | server_datasets()
    name = st.selectbox(t("data.source"), list(options), key=f"{key}_source")
    return options[name]
