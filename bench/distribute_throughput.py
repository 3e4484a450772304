"""Training throughput (images/s) on 1 and 2 replicas of tf.distribute's mirrored strategy, and on one device.

    python -m bench.distribute_throughput [--arch fer-net] [--images 1536] [--batch-size 64] [--json]

Each setting runs in a fresh process (devices are laid out before TensorFlow starts, fer.train.distribute): the
app's trainer input (fer.train.pipeline.TrainBatches) and model (fer.train.trainer._compiled) under the strategy, one
warm-up epoch, then one timed epoch on random FER2013-shaped images. The batch is the global batch, as in
training. Replicas are GPUs on a machine with as many, else logical CPU devices (which share the same cores:
on a CPU this measures the cost of the strategy, not a speed-up).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import ROOT, emit, machine

SETTINGS = (("none", 0), ("mirrored", 1), ("mirrored", 2))


def child(arch: str, images: int, batch_size: int, distribute: str, replicas: int) -> dict[str, object]:
    """One setting, measured in this process."""
    import numpy as np

    from fer.config import TrainConfig
    from fer.tfenv import import_tensorflow
    from fer.train.distribute import setup_hook, start
    from fer.train.pipeline import TrainBatches
    from fer.train.trainer import _compiled

    cfg = TrainConfig(arch=arch, batch_size=batch_size, distribute=distribute, replicas=replicas)
    import_tensorflow(training=True, setup=setup_hook(cfg))
    dist = start(cfg)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (images, 48, 48), dtype=np.uint8)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, images)]
    batches = TrainBatches(x, y, cfg)
    with dist.scope():
        model = _compiled(cfg)
    model.fit(dist.dataset(batches.epoch(0)), steps_per_epoch=batches.steps, verbose=0)  # warm-up (tracing)
    t0 = time.perf_counter()
    model.fit(dist.dataset(batches.epoch(1)), steps_per_epoch=batches.steps, verbose=0)
    seconds = time.perf_counter() - t0
    devices = [d.rsplit("/", 1)[-1] for d in dist.devices]
    return {"distribute": distribute, "replicas": dist.replicas, "devices": devices,
            "images_per_s": round(batches.steps * batch_size / seconds, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="fer-net")
    p.add_argument("--images", type=int, default=1536)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("DISTRIBUTE", "REPLICAS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.arch, args.images, args.batch_size, args.child[0], int(args.child[1]))))
        return
    results = []
    for distribute, replicas in SETTINGS:
        cmd = [sys.executable, __file__, "--arch", args.arch, "--images", str(args.images), "--batch-size",
               str(args.batch_size), "--child", distribute, str(replicas)]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    out = {"machine": machine(), "arch": args.arch, "images": args.images, "batch_size": args.batch_size,
           "results": results}
    rows = [[r["distribute"], r["replicas"], " ".join(r["devices"]) or "default", r["images_per_s"]] for r in results]
    emit(out, args.json, rows, ["strategy", "replicas", "devices", "images/s"])


if __name__ == "__main__":
    main()
