"""Choose an ensemble's members on PublicTest only (issue 38): each candidate scored alone, then every subset of
at most --max-members candidates averaged, the best kept (fer.model.ensemble.subset_accuracies; ties go to
fewer members). PrivateTest is not read. It also prints, for each candidate, the faces where it and the best alone
disagree: how many each and their average get right there, and how sure each was when right and when wrong
(fer.model.ensemble.disagreement): an average can only gain where the one that is right is also the surer one.

    python -m scripts.choose_ensemble --data "$FER_DATA" --cache ~/fer-runs/scores A.keras B.keras runs/C ...

Every candidate is scored as it would predict inside an ensemble: its own prior correction (folded into its
weights by `fer ensemble`) and the views of one card for all (`--views`, the shipped model's by default: an
ensemble predicts with one set of views). `--cache DIR` keeps each candidate's PublicTest probabilities (named
by the file, its size and time and the views), so adding a candidate later scores only the new one. Then build
the chosen one with `python -m fer ensemble DEST M1 M2 ...` and read its PrivateTest once with
`python -m fer evaluate --model DEST --data "$FER_DATA" --split PrivateTest`.

With `--recall-floor EMOTION=SHARE` (as `fer export` takes it) the best subsets are also scored as they would
ship: each average with the smallest offsets that bring those recalls to their floors on PublicTest
(fer.model.priors.recall_offsets, the offsets `fer export --recall-floor` stores), and the choice is the most
accurate of them so floored (ties: the higher macro F1).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fer.paths import DEFAULT_MODEL


def member_file(path: Path) -> Path:
    """A candidate as a model file: a run folder's model.keras, else the file itself."""
    return path / "model.keras" if path.is_dir() else path


def cached_scores(cache: Path | None, f: Path, views: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """`compute()`, or what it returned before for the same file (path, size, time) and views, kept in `cache`."""
    if cache is None:
        return compute()
    st = f.resolve().stat()
    key = json.dumps([str(f.resolve()), st.st_size, st.st_mtime_ns, views], sort_keys=True, default=str)
    path = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"
    if path.is_file():
        return np.load(path)
    out = compute()
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def floored(average: np.ndarray, labels: np.ndarray, floors: dict[str, float]) -> tuple[np.ndarray, tuple]:
    """`average` [N, 7] as it would ship with recall floors: the offsets `fer export --recall-floor` would store
    (fer.model.priors.recall_offsets) added to its log-probabilities as the classifier adds them
    (fer.model.priors.apply_correction); and the offsets."""
    from fer.model.priors import apply_correction, class_floors, recall_offsets

    offsets = recall_offsets(average, labels, class_floors(floors))
    return (apply_correction(average, offsets) if offsets else average), offsets


def main(argv: list[str] | None = None) -> int:
    from fer.cli.flags import recall_floor
    from fer.data.dataset import load_dataset
    from fer.model.ensemble import disagreement, subset_accuracies
    from fer.model.evaluation import predict_scores, report_from_scores
    from fer.model.inference import card_views
    from fer.model.modelio import load_card, load_model
    from fer.tfenv import import_tensorflow

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("candidates", nargs="+", type=Path, help="model files or run folders")
    p.add_argument("--data", type=Path, required=True, help="FER2013 (its PublicTest part is used)")
    p.add_argument("--views", type=Path, default=DEFAULT_MODEL,
                   help="the model whose card's views (mirror, zoom, shift) every candidate is scored with")
    p.add_argument("--max-members", type=int, default=3,
                   help="the most members an ensemble may have (3: fer-net with the shipped card's ten views takes "
                        "15-17 ms a face, and the ensemble must stay within 60 ms)")
    p.add_argument("--cache", type=Path, help="a folder that keeps each candidate's PublicTest probabilities")
    p.add_argument("--recall-floor", type=recall_floor, action="append", default=[], metavar="EMOTION=SHARE",
                   help="also score the best subsets as they would ship with these recall floors, and choose by that")
    p.add_argument("--floored", type=int, default=30, help="how many of the best subsets to score with the floors")
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
        views = {**shared, "prior_correction": card_views(load_card(f))["prior_correction"]}  # its own correction,
        # folded into the member's weights by `fer ensemble`
        scores[str(path)] = cached_scores(args.cache, f, views, lambda f=f, views=views: predict_scores(
            load_model(f), x, **views))
        alone[str(path)] = float((scores[str(path)].argmax(axis=1) == y).mean())
        if not args.json:
            print(f"{path}: PublicTest {alone[str(path)]:.2%} alone ({time.perf_counter() - t0:.0f} s)", flush=True)
    ranked = subset_accuracies(scores, y, args.max_members)
    best = ranked[0]
    floors = dict(args.recall_floor)
    shipped: list[dict] = []  # the best subsets as they would ship with the floors, best first
    unreachable: list[dict] = []  # those whose floors no offsets reach
    for c in ranked[:args.floored] if floors else ():
        try:
            probs, offsets = floored(np.mean([scores[m] for m in c.members], axis=0), y, floors)
        except ValueError as e:  # no offsets within the limit reach every floor: it cannot ship with them
            unreachable.append({"members": list(c.members), "why": str(e)})
            continue
        rep = report_from_scores(y, probs, "PublicTest")
        shipped.append({"members": list(c.members), "before_floors": c.accuracy, "accuracy": rep.accuracy,
                        "macro_f1": rep.macro_f1, "offsets": list(offsets), "recall": {
                            k: v.recall for k, v in rep.per_class.items()}})
    shipped.sort(key=lambda f: (-f["accuracy"], -f["macro_f1"]))
    if shipped:
        best = next(c for c in ranked if list(c.members) == shipped[0]["members"])
    lead = max(alone, key=alone.get)  # the best candidate alone
    agree = {k: float((v.argmax(axis=1) == scores[lead].argmax(axis=1)).mean()) for k, v in scores.items()}
    differ = {k: disagreement(scores[lead], v, y) for k, v in scores.items() if k != lead}
    chosen = report_from_scores(y, np.mean([scores[m] for m in best.members], axis=0), "PublicTest")
    recall = {k: v.recall for k, v in chosen.per_class.items()}
    macro_f1 = chosen.macro_f1
    result = {"split": "PublicTest", "n": int(len(idx)),
              "views": {k: v for k, v in shared.items() if k != "prior_correction"},
              "alone": alone, "agreement_with_best_alone": agree,
              "disagreements_with_best_alone": {k: dataclasses.asdict(v) for k, v in differ.items()},
              "chosen": {"members": list(best.members), "accuracy": best.accuracy, "macro_f1": macro_f1,
                         "recall": recall},
              "subsets": [{"members": list(c.members), "accuracy": c.accuracy} for c in ranked[:10]],
              "with_floors": {"floors": floors, "subsets": shipped[:10], "unreachable": unreachable}}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"answers shared with {lead}:")
    for k, v in agree.items():
        print(f"  {k}: {v:.1%}")
    print(f"where a candidate and {lead} disagree: faces, right (the best alone / it / their average), mean top "
          "probability where right / wrong (the best alone; it)")
    for k, d in differ.items():
        print(f"  {k}: {d.faces}, right {d.first_right} / {d.second_right} / {d.average_right}, confidence "
              f"{d.first_confidence[0]:.2f}/{d.first_confidence[1]:.2f}; {d.second_confidence[0]:.2f}/"
              f"{d.second_confidence[1]:.2f}")
    print(f"best subsets of at most {args.max_members} (PublicTest accuracy of the average):")
    for c in ranked[:10]:
        print(f"  {c.accuracy:.2%}  " + " + ".join(c.members))
    if shipped:
        print(f"the best {len(shipped)} as they would ship, with the floors {floors} (PublicTest accuracy before -> "
              "after, macro F1 after, offsets):")
        for f in shipped[:10]:
            print(f"  {f['before_floors']:.2%} -> {f['accuracy']:.2%}, macro F1 {f['macro_f1']:.4f}, "
                  f"{[round(o, 1) for o in f['offsets']]}  " + " + ".join(f["members"]))
    for u in unreachable:
        print(f"  cannot reach the floors: {' + '.join(u['members'])} ({u['why']})")
    print(f"chosen: {' + '.join(best.members)} ({best.accuracy:.2%} before floors, macro F1 {macro_f1:.3f})")
    print("  recall: " + ", ".join(f"{k} {v:.2f}" for k, v in recall.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
