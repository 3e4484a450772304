"""Choose an ensemble's members on PublicTest only (issue 38): each candidate scored alone, then members added
greedily while the averaged probabilities gain (fer.model.ensemble.choose_greedily). PrivateTest is not read.

    python -m scripts.choose_ensemble --data "$FER_DATA" A.keras B.keras runs/C ...

Every candidate is scored as it would predict inside an ensemble: its own prior correction (folded into its
weights by `fer ensemble`) and the views of one card for all (`--views`, the shipped model's by default: an
ensemble predicts with one set of views). Then build the chosen one with `python -m fer ensemble DEST M1 M2 ...`
and read its PrivateTest once with `python -m fer evaluate --model DEST --data "$FER_DATA" --split PrivateTest`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fer.paths import ROOT


def member_file(path: Path) -> Path:
    """A candidate as a model file: a run folder's model.keras, else the file itself."""
    return path / "model.keras" if path.is_dir() else path


def main(argv: list[str] | None = None) -> int:
    from fer.data.dataset import load_dataset
    from fer.model.ensemble import choose_greedily
    from fer.model.evaluation import predict_scores
    from fer.model.inference import card_views
    from fer.model.modelio import load_card, load_model
    from fer.tfenv import import_tensorflow

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("candidates", nargs="+", type=Path, help="model files or run folders")
    p.add_argument("--data", type=Path, required=True, help="FER2013 (its PublicTest part is used)")
    p.add_argument("--views", type=Path, default=ROOT / "models" / "default.keras",
                   help="the model whose card's views (mirror, zoom, shift) every candidate is scored with")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    import_tensorflow()
    shared = card_views(load_card(args.views))  # one set of views for every member, as an ensemble predicts
    ds = load_dataset(args.data)
    idx = np.flatnonzero(ds.usage == "PublicTest")
    if len(idx) == 0:
        p.error(f"{args.data}: no PublicTest images")
    x, y = ds.images[idx], ds.labels[idx]
    scores, alone = {}, {}
    for path in args.candidates:
        f = member_file(path)
        t0 = time.perf_counter()
        own = card_views(load_card(f))["prior_correction"]  # folded into the member's weights by `fer ensemble`
        scores[str(path)] = predict_scores(load_model(f), x, **{**shared, "prior_correction": own})
        alone[str(path)] = float((scores[str(path)].argmax(axis=1) == y).mean())
        if not args.json:
            print(f"{path}: PublicTest {alone[str(path)]:.2%} alone ({time.perf_counter() - t0:.0f} s)", flush=True)
    picks = choose_greedily(scores, y)
    result = {"split": "PublicTest", "n": int(len(idx)),
              "views": {k: v for k, v in shared.items() if k != "prior_correction"},
              "alone": alone, "chosen": [{"member": pk.member, "accuracy": pk.accuracy} for pk in picks]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("chosen, in order (PublicTest accuracy of the average so far):")
    for i, pk in enumerate(picks, start=1):
        print(f"  {i}. {pk.member}: {pk.accuracy:.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
