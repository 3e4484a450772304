"""Peak memory of one training step per architecture and batch size, each in a fresh process: the figures
behind fer.config.MAX_BATCH (docs/security.md).

    python -m bench.train_step_memory [--arch course-cnn fer-net ...] [--batch 32 128 512] [--json]

Each process builds and compiles the model as the trainer does (fer.train.trainer), notes its resident
memory, then trains two steps at the batch size: `step_mb` is the peak (VmHWM) minus that memory, the graph
built for the batch included. Memory grows linearly with the batch; `mb_per_image` is the slope of a least-squares line
through the sizes measured, `base_mb` its intercept.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

from bench.common import emit, machine
from fer.config import ARCHS
from fer.paths import ROOT

STEP = """
import json, sys, time
import numpy as np
from fer.config import TrainConfig
from fer.tfenv import import_tensorflow
import_tensorflow()
from fer.train.trainer import _compiled

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
cfg = TrainConfig(arch=sys.argv[1], batch_size=int(sys.argv[2]))
model = _compiled(cfg)
def step(n):
    x = np.random.default_rng(0).integers(0, 256, (n, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[np.arange(n) % 7]
    model.fit(x, y, batch_size=n, epochs=1, verbose=0)
before = status("VmRSS")
t0 = time.perf_counter()
step(cfg.batch_size)
step(cfg.batch_size)
print(json.dumps({"step_mb": round(status("VmHWM") - before, 1), "rss_before_mb": round(before, 1),
                  "seconds": round(time.perf_counter() - t0, 2)}))
"""


def measure(arch: str, batch: int) -> dict:
    r = subprocess.run([sys.executable, "-c", STEP, arch, str(batch)], capture_output=True, text=True, cwd=ROOT,
                       check=True, env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""})
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.add_argument("--batch", nargs="+", type=int, default=[32, 128, 512])
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    out: dict[str, dict] = {}
    rows = []
    for arch in args.arch:
        steps = {}
        for b in args.batch:
            steps[b] = measure(arch, b)
            print(arch, b, steps[b], file=sys.stderr, flush=True)
        slope, base = np.polyfit(args.batch, [steps[b]["step_mb"] for b in args.batch], 1)
        out[arch] = {"steps": steps, "mb_per_image": round(float(slope), 3), "base_mb": round(float(base), 1)}
        rows += [[arch, b, s["step_mb"], s["seconds"]] for b, s in steps.items()]
        rows.append([arch, "slope", f"{slope:.3f} MB/image", f"base {base:.0f} MB"])
    emit({"machine": machine(), "results": out}, args.json, rows, ["arch", "batch", "step peak MB", "seconds"])


if __name__ == "__main__":
    main()
