"""Time the dataset page on the full FER2013 zip, the way a user gets it (AppTest, page path).

    python -m bench.dataset_load [--json] [--data PATH (default: $FER_DATA)]

first: empty .npz cache (every JPEG decoded); second: a new session on the same server (the parsed
dataset and its statistics are in memory); restart: caches in memory cleared (server restart), .npz kept.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import FER_ZIP, emit, machine
from fer.paths import ROOT


def page_run(data: Path) -> float:
    """Seconds for the page run after picking `data` in the source box."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "dataset.py"), default_timeout=900)
    at.run()
    box = at.selectbox(key="dataset_source")
    option = next(o for o in box.options if o.endswith(data.name))
    t0 = time.perf_counter()
    box.select(option).run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(at.exception[0].message)
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=FER_ZIP)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    data = args.data.resolve()
    os.environ["FER_DATA_DIRS"] = str(data.parent)
    import streamlit as st

    with tempfile.TemporaryDirectory() as cache:
        os.environ["FER_CACHE_DIR"] = cache
        first = page_run(data)
        second = page_run(data)
        st.cache_resource.clear()
        restart = page_run(data)
    res = {"data": str(data), "first_s": round(first, 2), "second_s": round(second, 2),
           "restart_s": round(restart, 2), "machine": machine()}
    emit(res, args.json, [[f"{first:.1f}", f"{second:.1f}", f"{restart:.1f}"]],
         ["first load (s)", "second load (s)", "after restart, .npz (s)"])


if __name__ == "__main__":
    main()
