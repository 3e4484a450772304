"""Import TensorFlow once, without its C++ start-up chatter on stderr (CUDA probes, oneDNN notes)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""/proc/cpuinfo flags of CPUs that compute bfloat16 natively (Intel AMX, AVX512-BF16 on Intel and AMD Zen 4+)."""
NATIVE_BF16_ENV = "FER_NATIVE_BF16"
"""Set to 1 or 0, it overrides what the machine says of bfloat16 (an operator's choice; the tests set 0 so that a
run computes alike on every machine)."""


def import_tensorflow(training: bool = False, setup: Callable[[Any], None] | None = None) -> Any:
    """`import tensorflow` with file descriptor 2 silenced while TF initialises its devices.

    `training`: the process is going to train, so ask for TensorFlow's oneDNN kernels. TensorFlow turns
    them on by itself only on CPUs with AVX-512 or AMX; on an AVX2-only CPU they make a fer-net
    training step about 1.5x faster but classifying one face slower (docs/experiments.md, bench/onednn.py), so the
    trainers ask for them and the app does not. TF_ENABLE_ONEDNN_OPTS in the environment still
    decides, and nothing changes once TensorFlow is imported.

    `setup(tf)` runs after the import and before TensorFlow initialises its devices (the last moment to lay
    them out, fer.train.distribute); not at all when TensorFlow was imported before.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if training:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
        if setup is not None:
            setup(tf)
        tf.constant(0.0) + 1.0  # the CUDA probe happens on the first op
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return tf


def onednn_state() -> str:
    """'on' or 'off': whether this process's TensorFlow runs oneDNN kernels ('unknown' if it does not say)."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # TensorFlow's own answer; not public API
    except ImportError:
        return "unknown"
    enabled = getattr(_pywrap_util_port, "IsMklEnabled", None)
    return "unknown" if enabled is None else ("on" if enabled() else "off")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as Linux lists them (empty where /proc/cpuinfo cannot be read)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.partition(":")[2].split()}


def native_bfloat16(flags: set[str] | None = None, gpus: int | None = None) -> bool:
    """Whether bfloat16 arithmetic is native here (a GPU, or a CPU with one of BF16_CPU_FLAGS), so that mixed
    precision makes training faster instead of several times slower (docs/training.md); $FER_NATIVE_BF16 (1 or 0)
    overrides it. `gpus`: how many GPUs TensorFlow sees (asked of TensorFlow when None)."""
    forced = os.environ.get(NATIVE_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if gpus is None:
        gpus = len(import_tensorflow().config.list_physical_devices("GPU"))
    flags = cpu_flags() if flags is None else flags
    return gpus > 0 or any(f in flags for f in BF16_CPU_FLAGS)


def precision_for(mixed_precision: bool | None, native: Callable[[], bool] = native_bfloat16) -> str:
    """'bfloat16' or 'float32': what a run computes in, from TrainConfig.mixed_precision (None: the machine's
    choice, bfloat16 where it is native)."""
    use = native() if mixed_precision is None else mixed_precision
    return "bfloat16" if use else "float32"
