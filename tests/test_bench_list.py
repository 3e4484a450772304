"""bench/ holds lasting benchmarks only, and bench/run_all.sh runs every one of them."""

import re

from fer.paths import ROOT


def test_run_all_runs_every_benchmark() -> None:
    script = (ROOT / "bench" / "run_all.sh").read_text()
    run = set(re.findall(r"^(?:BENCH_NAME=\S+ )?run (\w+)", script, flags=re.M))
    benchmarks = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"__init__", "common"}
    assert run == benchmarks
