"""TensorFlow's oneDNN kernels on and off: a fer-net training step (batch 64) and the default model's
classification of 1 and 3 faces (one view, as on the webcam). Each setting runs in a fresh process,
since TF_ENABLE_ONEDNN_OPTS is read when TensorFlow is imported; the settings alternate, so the
machine's drift hits both alike. (The trainers ask for oneDNN, the app does not: fer.tfenv.)

    python bench/onednn.py [--rounds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit_webrtc  # noqa: F401, E402, I001  (before tensorflow)

from bench.common import ROOT, emit, machine  # noqa: E402


def child() -> dict[str, float]:
    """Median ms of a training step and of classifying 1 and 3 faces, in this process."""
    import numpy as np

    from fer.config import TrainConfig
    from fer.inference import Classifier
    from fer.tfenv import import_tensorflow
    from fer.training import _compiled

    import_tensorflow()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (64, 48, 48, 1)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 64)]
    model = _compiled(TrainConfig(arch="fer-net", batch_size=64))
    for _ in range(3):
        model.train_on_batch(x, y)
    steps = []
    for _ in range(30):
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        steps.append((time.perf_counter() - t0) * 1000)
    out = {"train_step_ms": round(statistics.median(steps), 1)}
    clf = Classifier.from_file(ROOT / "models" / "default.keras").single_view()
    for batch in (1, 3):
        faces = rng.integers(0, 255, (batch, 48, 48), dtype=np.uint8)
        for _ in range(10):
            clf.scores(faces)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            clf.scores(faces)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"classify_b{batch}_ms"] = round(statistics.median(times), 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child()))
        return
    runs: dict[str, list[dict[str, float]]] = {"0": [], "1": []}
    for _ in range(args.rounds):
        for flag in runs:
            env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": flag}
            done = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True,
                                  text=True, check=True)
            runs[flag].append(json.loads(done.stdout.strip().splitlines()[-1]))
    keys = ("train_step_ms", "classify_b1_ms", "classify_b3_ms")
    result: dict = {"onednn_" + ("on" if f == "1" else "off"):
                    {k: round(statistics.median(r[k] for r in rs), 2) for k in keys} for f, rs in runs.items()}
    result["training_speedup"] = round(result["onednn_off"]["train_step_ms"] / result["onednn_on"]["train_step_ms"], 2)
    result["machine"] = machine()
    emit(result, args.json, [[name, *(v[k] for k in keys)] for name, v in result.items() if name.startswith("onednn")],
         ["setting", *keys])
    if not args.json:
        print(f"training speed-up with oneDNN: {result['training_speedup']}x")


if __name__ == "__main__":
    main()
