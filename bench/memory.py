"""Peak memory (RSS) of loading the full FER2013 and of a short training run, each in a fresh process.

    python -m bench.memory [--data PATH (default: $FER_DATA)] [--steps 50] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from bench.common import FER_ZIP, emit, machine
from fer.paths import ROOT

LOAD = """
import json, resource, sys, time
from fer.data.dataset import load_dataset
t0 = time.perf_counter()
ds = load_dataset(sys.argv[1], use_cache=sys.argv[2] == "cache")
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "images": len(ds),
                  "images_mb": round(ds.images.nbytes / 1e6, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""

TRAIN = """
import json, resource, sys, tempfile, time
from fer.config import TrainConfig
from fer.data.dataset import load_dataset
from fer.tfenv import import_tensorflow
from fer.train.trainer import train
from fer.paths import ROOT
import_tensorflow()
ds = load_dataset(sys.argv[1])
cfg = TrainConfig(data=sys.argv[1], split="official", arch=sys.argv[3], epochs=1, batch_size=64,
                  augment=True, mixed_precision=True, train_fraction=int(sys.argv[2]) * 64 / 28709)
t0 = time.perf_counter()
train(cfg, tempfile.mkdtemp(), dataset=ds)
print(json.dumps({"seconds": round(time.perf_counter() - t0, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def run(code: str, *args: str, cache_dir: str) -> dict:
    env = {"FER_CACHE_DIR": cache_dir, "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                       env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(FER_ZIP))
    p.add_argument("--steps", type=int, default=50, help="training batches (of 64) in the training measure")
    p.add_argument("--arch", default="fer-net")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        out = {
            "load_parse": run(LOAD, args.data, "nocache", cache_dir=cache),
            "load_first_with_cache_write": run(LOAD, args.data, "cache", cache_dir=cache),
            "load_from_cache": run(LOAD, args.data, "cache", cache_dir=cache),
            "train": run(TRAIN, args.data, str(args.steps), args.arch, cache_dir=cache),
        }
    rows = [[k, v.get("seconds"), v["peak_rss_mb"]] for k, v in out.items()]
    emit({"machine": machine(), "results": out, "train_steps": args.steps, "arch": args.arch}, args.json, rows,
         ["what", "seconds", "peak RSS MB"])


if __name__ == "__main__":
    main()
