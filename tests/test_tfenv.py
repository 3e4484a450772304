"""TensorFlow's set-up by fer.tfenv: oneDNN kernels for processes that train, TensorFlow's own
choice elsewhere, and the environment's TF_ENABLE_ONEDNN_OPTS above both."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT

PROBE = """
import os, sys
from fer.tfenv import import_tensorflow, onednn_state
import_tensorflow(training=sys.argv[1] == "train")
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"), onednn_state())
"""


def _probe(mode: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], env={**base, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_a_training_process_runs_onednn_kernels():
    # TensorFlow turns them on by itself only on CPUs with AVX-512 or AMX; a trainer asks everywhere.
    assert _probe("train") == "1 on"


def test_other_processes_leave_the_choice_to_tensorflow():
    assert _probe("app").startswith("unset ")


def test_the_environment_overrides_the_trainer():
    assert _probe("train", TF_ENABLE_ONEDNN_OPTS="0") == "0 off"
