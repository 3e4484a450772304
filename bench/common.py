"""Helpers shared by the benchmark scripts: timing, machine description, JSON/table output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:  # noqa: PTH123
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "python": platform.python_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2)}


def time_ms(fn: Callable[[], Any], repeat: int = 50, warmup: int = 5) -> dict[str, float]:
    """Median and 90th percentile of `fn` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 3),
            "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 3)}


def emit(result: dict[str, Any], as_json: bool, table: list[list[Any]] | None = None,
         header: list[str] | None = None) -> None:
    """Print JSON, or a plain table plus the machine line."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    if table and header:
        widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header))]
        for row in [header, *table]:
            print("  ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)))
    print(f"machine: {result.get('machine')}")
