"""Classification latency (batch 1 and 3) and throughput (batch 64) per architecture.

    python -m bench.classify [--json] [--arch NAME ...] [--model models/default.keras]

Compares the app's tf.function path (fer.model.inference.Classifier) with `predict_on_batch`.
Untrained weights: speed does not depend on their values. A --model is timed as its card says.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.common import emit, machine, time_ms


def main() -> None:
    from fer.model.architectures import ARCHITECTURES, build_model
    from fer.model.inference import Classifier
    from fer.tfenv import import_tensorflow

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="*", default=list(ARCHITECTURES))
    p.add_argument("--model", help="also time this saved model (e.g. models/default.keras)")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    import_tensorflow()

    classifiers = {name: Classifier(build_model(name)) for name in args.arch}
    if args.model:  # as its card says (flip averaging, zoom)
        classifiers[f"{Path(args.model).name}"] = Classifier.from_file(Path(args.model))
    rng = np.random.default_rng(0)
    rows, out = [], {}
    for name, clf in classifiers.items():
        model = clf.model
        r = {"params": int(model.count_params())}
        for bs in (1, 3):
            x = rng.integers(0, 255, (bs, 48, 48), dtype=np.uint8)
            r[f"tf_function_b{bs}"] = time_ms(lambda x=x, clf=clf: clf.scores(x), args.repeat)
            xf = x.reshape(-1, 48, 48, 1).astype("float32")
            r[f"predict_on_batch_b{bs}"] = time_ms(lambda xf=xf, m=model: m.predict_on_batch(xf), args.repeat)
        x64 = rng.integers(0, 255, (64, 48, 48), dtype=np.uint8)
        t64 = time_ms(lambda x=x64, clf=clf: clf.scores(x), max(5, args.repeat // 5))
        r["throughput_b64_img_per_s"] = round(64 / (t64["median_ms"] / 1000), 1)
        out[name] = r
        rows.append([name, r["params"], r["tf_function_b1"]["median_ms"], r["tf_function_b3"]["median_ms"],
                     r["predict_on_batch_b1"]["median_ms"], r["predict_on_batch_b3"]["median_ms"],
                     r["throughput_b64_img_per_s"]])
    emit({"machine": machine(), "results": out}, args.json, rows,
         ["model", "params", "tf.fn b1 ms", "tf.fn b3 ms", "pob b1 ms", "pob b3 ms", "b64 img/s"])


if __name__ == "__main__":
    main()
