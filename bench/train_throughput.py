"""Training throughput (images/s) of the app's input pipeline vs a plain `model.fit` on arrays.

    python -m bench.train_throughput [--arch fer-net] [--images 3840] [--json]

Both fit the same architecture on the same in-memory FER2013-shaped tensors for one timed
epoch (after a warm-up epoch). The app path is fer.train.pipeline.TrainBatches (uint8 tf.data,
per-epoch order, batch, prefetch); "+aug" adds its augmentation layers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import emit, machine


def main() -> None:
    from fer.config import TrainConfig
    from fer.tfenv import import_tensorflow
    from fer.train.pipeline import TrainBatches
    from fer.train.trainer import _compiled

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="fer-net")
    p.add_argument("--images", type=int, default=3840)
    p.add_argument("--mixed-precision", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    import_tensorflow()
    import keras

    cfg = TrainConfig(arch=args.arch, batch_size=64, mixed_precision=args.mixed_precision)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if args.mixed_precision else "float32")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (args.images, 48, 48), dtype=np.uint8)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, args.images)]

    def timed(fit) -> float:
        fit()  # warm-up epoch (tracing)
        t0 = time.perf_counter()
        fit()
        return round(args.images / (time.perf_counter() - t0), 1)

    results = {}
    plain_model = _compiled(cfg)
    xf = x[..., None].astype(np.float32)
    results["plain_fit"] = timed(lambda: plain_model.fit(xf, y, batch_size=64, epochs=1, verbose=0, shuffle=True))
    app_model = _compiled(cfg)
    data = TrainBatches(x, y, cfg).epoch(0)
    results["app_pipeline"] = timed(lambda: app_model.fit(data, epochs=1, verbose=0))
    aug_model = _compiled(cfg)
    aug = TrainBatches(x, y, cfg.replace(augment=True)).epoch(0)
    results["app_pipeline_aug"] = timed(lambda: aug_model.fit(aug, epochs=1, verbose=0))
    overhead = round(100 * (1 - results["app_pipeline"] / results["plain_fit"]), 1)
    out = {"machine": machine(), "arch": args.arch, "images": args.images, "images_per_s": results,
           "app_overhead_percent": overhead, "mixed_precision": args.mixed_precision}
    rows = [[k, v] for k, v in results.items()] + [["app overhead %", overhead]]
    emit(out, args.json, rows, ["path", "images/s"])


if __name__ == "__main__":
    main()
