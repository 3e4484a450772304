"""`python -m fer`: models, predict, video, stats, train, evaluate, export, predictions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fer.cli.flags import add_config_args, config_from_args, given_fields, number, recall_floor
from fer.data.dataset import USAGES, DataError
from fer.labels import LABELS
from fer.paths import DEFAULT_MODEL
from fer.train.stopping import StopOnInterrupt

if TYPE_CHECKING:
    from fer.config import TrainConfig

log = logging.getLogger(__name__)

EXIT_INPUT = 2


class InputError(Exception):
    """Bad input from the user: reported as one line on stderr, exit code 2."""


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2))


def cmd_models(args: argparse.Namespace) -> int:
    from fer.model.architectures import ARCHITECTURES, count_params

    rows = [{"name": a.name, "params": count_params(a.name), "description": a.description}
            for a in ARCHITECTURES.values()]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['name']:<15} {r['params']:>10,}  {r['description']}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from fer.media.photo import analyse_photo
    from fer.vision.detection import Detector, DetectorConfig
    from fer.vision.preprocessing import ImageError

    detector = Detector(DetectorConfig(cascade=args.cascade, scale_factor=args.scale_factor,
                                       min_neighbors=args.min_neighbors, min_size=args.min_size,
                                       mode=args.detect))
    classifier = _load_classifier(Path(args.model))
    results, failed = [], False
    for name in args.images:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            failed = True
            print(f"error: {name}: cannot read the file ({exc.strerror or exc})", file=sys.stderr)
            results.append({"file": name, "faces": [], "error": f"cannot read the file ({exc.strerror or exc})"})
            continue
        try:  # the images page's path: a large JPEG is decoded reduced, boxes come back in full-size pixels
            faces = analyse_photo(data, Path(name).name, detector, classifier, margin=args.margin).faces
        except ImageError as exc:
            failed = True
            print(f"error: {exc}", file=sys.stderr)
            results.append({"file": name, "faces": [], "error": str(exc)})
            continue
        results.append({"file": name, "faces": [f.to_dict() for f in faces]})
        if not args.json:
            if not faces:
                print(f"{name}: no face found")
            for i, f in enumerate(faces, 1):
                print(f"{name}: face {i} at {list(f.box.xywh)}: {f.label} {f.confidence:.1%}")
    if args.json:
        _print_json(results)
    return EXIT_INPUT if failed else 0


class ProgressBar:
    """A one-line bar on a terminal (stderr), redrawn in place: frames done of the total, share and ETA; nothing
    when stderr is not a terminal (a pipe or a log file gets only the result)."""

    WIDTH = 30

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.drawn = False

    def __call__(self, p: Any) -> None:
        if not self.live:
            return
        share = min(1.0, p.frames_done / p.frames_total) if p.frames_total else 0.0
        filled = round(share * self.WIDTH)
        eta = f" · ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {p.frames_done}/{p.frames_total} "
                          f"frames · {p.analysed} analysed · {share:.0%}{eta}\033[K")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def cmd_video(args: argparse.Namespace) -> int:
    from fer.media.video import VideoError, analyse_video, video_csv, video_json
    from fer.model.modelio import one_view_model
    from fer.vision.detection import Detector, DetectorConfig

    detector = Detector(DetectorConfig(mode=args.detect))
    classifier = _load_classifier(one_view_model(Path(args.model))).single_view()  # one view a face, as the webcam
    bar = ProgressBar()
    try:
        result = analyse_video(Path(args.input), detector, classifier, out=Path(args.out) if args.out else None,
                               progress=bar, every=args.every)
    except VideoError as exc:
        raise InputError(f"{args.input}: {exc}") from None
    finally:
        bar.done()
    if args.csv:
        Path(args.csv).write_text(video_csv(result), encoding="utf-8")
    if args.json:
        print(video_json(result))
        return 0
    info = result.info
    print(f"{args.input}: {info.width}x{info.height}, {info.fps:g} fps, {info.duration_s:.1f} s, "
          f"{result.frames_done} frames, {result.analysed} analysed (one in {result.analysed_every}), "
          f"in {result.elapsed_s:.1f} s")
    for p in result.people:
        top = sorted(((s, k) for k, s in p.seconds.items() if s > 0), reverse=True)[:3]
        times = ", ".join(f"{k} {s:.1f} s" for s, k in top)
        print(f"person {p.person}: {p.dominant} (seen {p.first_s:.1f}-{p.last_s:.1f} s; {times})")
    for key, values in result.notes():  # the CLI stays English and untranslated: the note's name and figures
        print(f"note: {key.rsplit('.', 1)[-1].replace('_', ' ')}" + "".join(f", {k} {v}" for k, v in values.items()))
    if result.annotated:
        print(f"annotated video: {result.annotated}")
    if args.csv:
        print(f"per-frame CSV: {args.csv}")
    return 0


def _load_classifier(path: Path) -> Any:
    from fer.model.inference import Classifier
    from fer.model.modelio import ModelError

    try:
        return Classifier.from_file(path)
    except ModelError as exc:
        raise InputError(str(exc)) from None


def cmd_stats(args: argparse.Namespace) -> int:
    from fer.data.dataset import load_dataset
    from fer.data.stats import describe

    ds = load_dataset(args.data)
    if args.counts:  # data/fer2013_counts.json: the full set's counts, shown by the Dataset page on the sample
        from fer.data.stats import ShippedCounts

        _print_json(ShippedCounts.of(ds, args.name).to_dict())
        return 0
    stats = describe(ds, with_images=False)
    out = stats.to_dict() | {"source": str(args.data)}
    if args.json:
        _print_json(out)
        return 0
    print(f"{'split':<12}" + "".join(f"{c:>9}" for c in LABELS) + f"{'total':>9}")
    for u, c in stats.splits.items():
        print(f"{u:<12}" + "".join(f"{c[k]:>9}" for k in LABELS) + f"{sum(c.values()):>9}")
    print(f"{len(ds):,} images")
    imb = stats.imbalance
    print(f"\nimbalance ({imb.basis}): {imb.largest} / {imb.smallest} = {imb.ratio:.1f}x")
    print(f"{'class':<10}{'share':>8}{'weight':>8}")
    for c in LABELS:
        weight = f"{imb.class_weights[c]:>8.2f}" if c in imb.class_weights else f"{'-':>8}"
        print(f"{c:<10}{imb.shares[c]:>8.1%}{weight}")
    print("\nimage sizes: " + ", ".join(f"{s.height}x{s.width}: {s.count:,}" for s in stats.sizes))
    q = stats.quality
    print(f"\nduplicates: {q.duplicate_groups:,} groups of pixel-identical images ({q.duplicate_images:,} images)")
    print(f"  with conflicting labels: {q.conflicting_groups:,} groups")
    print(f"  spanning splits: {q.cross_split_groups:,} groups ({q.train_test_groups:,} between Training and test)")
    print(f"near-blank images (pixel std < 1): {q.near_blank:,}")
    return 0


def checked_config(args: argparse.Namespace) -> TrainConfig:
    """The run's TrainConfig, refused (InputError) when a setting or the start model is wrong: checked before
    TensorFlow is imported, so a refusal is said in a fraction of a second."""
    from fer.train.trainer import start_problem

    cfg = config_from_args(args)
    errors = cfg.validate()
    if errors:
        raise InputError("invalid training settings: " + "; ".join(map(str, errors)))
    problem = start_problem(cfg)
    if problem is not None:
        raise InputError(str(problem))
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from fer.train.events import TrainEvent
    from fer.train.trainer import train

    cfg = args.cfg if getattr(args, "cfg", None) is not None else checked_config(args)
    from fer.data.dataset import load_dataset
    from fer.train.feasibility import data_problems, machine_problems

    infeasible = machine_problems(cfg)
    dataset = None if infeasible else load_dataset(cfg.data)
    infeasible = infeasible or data_problems(cfg, dataset)
    if infeasible:
        raise InputError("; ".join(map(str, infeasible)))

    last = [0.0]

    def progress(e: TrainEvent) -> None:
        if e.kind == "batch" and args.report_every > 0 and time.monotonic() - last[0] >= args.report_every:
            last[0] = time.monotonic()
            logs = " ".join(f"{k}={e.logs[k]:.4f}" for k in ("loss", "accuracy") if k in e.logs)
            print(f"epoch {e.epoch}/{e.epochs} batch {e.batch}/{e.batches} {logs}", flush=True)
        elif e.kind == "epoch":
            logs = " ".join(f"{k}={v:.4f}" for k, v in e.logs.items())
            print(f"epoch {e.epoch}/{e.epochs} {logs}", flush=True)
        elif e.kind == "cut":
            print(f"epoch {e.epoch}/{e.epochs} stopped after batch {e.batch} of {e.batches}; "
                  f"rerun the same command to finish it and go on", flush=True)
        elif e.kind == "start":
            at = f" from epoch {e.epoch + 1}" if e.epoch or e.batch else ""
            at += f", batch {e.batch + 1}" if e.batch else ""
            print(f"training {cfg.arch}{at}, {e.message}", flush=True)

    from fer.model.modelio import ModelError
    from fer.train.distribute import DistributeError
    from fer.train.runlock import RunBusyError
    from fer.train.teacher import TeacherError

    stop = StopOnInterrupt()
    try:
        with stop:
            result = train(cfg, Path(args.out), dataset=dataset, progress=progress, should_stop=stop.requested)
    except (ModelError, RunBusyError, DistributeError, TeacherError) as exc:  # the start model does not fit;
        raise InputError(str(exc)) from None  # another process trains there; the strategy cannot run here; no teacher
    print(f"model: {result.model_path}")
    _print_json(result.card.metrics)
    return 0


def _device_setup(args: argparse.Namespace) -> Any:
    """For `train`: what lays out the devices of its --distribute strategy before TensorFlow starts (a config
    that cannot be built is left for cmd_train to report)."""
    if args.command != "train":
        return None
    from fer.train.distribute import setup_hook

    try:
        return setup_hook(config_from_args(args))
    except (TypeError, ValueError):
        return None


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from fer.data.dataset import load_dataset
    from fer.model.evaluation import evaluate
    from fer.model.inference import card_views
    from fer.model.modelio import ModelError, load_card, load_model

    try:
        model = load_model(Path(args.model))
    except ModelError as exc:
        raise InputError(str(exc)) from None
    views = card_views(load_card(Path(args.model)), tta_flip=args.tta, zoom=args.zoom, shift=args.shift,
                       prior_correction=() if args.no_prior_correction else None)  # the card's unless given
    ds = load_dataset(args.data)
    if args.split is None:  # FER2013's test part, else every image (a photos dataset is all Training)
        args.split = "PrivateTest" if (ds.usage == "PrivateTest").any() else "all"
    if args.split == "card":  # the test part of the split the model was trained with, as its card says
        from fer.config import TrainConfig
        from fer.data.splits import make_split

        card = load_card(Path(args.model))
        if card is None:
            raise InputError(f"{args.model}: no model card beside it, so no split of its own (--split card)")
        idx = make_split(ds, TrainConfig.from_dict(card.config)).test
    else:
        idx = np.arange(len(ds)) if args.split == "all" else np.flatnonzero(ds.usage == args.split)
        card = load_card(Path(args.model))
        if card is not None and card.config.get("split", "official") != "official":
            print(f"warning: {args.model} was trained on a split of its own ({card.split}): images of {args.split} "
                  "were among its training images, so this score flatters it; --split card scores it on its own "
                  "test part", file=sys.stderr)
    if len(idx) == 0:
        raise InputError(f"{args.data}: no images in split {args.split}")
    try:
        rep = evaluate(model, ds.images[idx], ds.labels[idx], split=args.split, **views)
    except ValueError as exc:  # a zoom or shift out of range
        raise InputError(str(exc)) from None
    if args.json:
        _print_json(rep.to_dict())
        return 0
    print(f"{args.split}: {rep.n} images  accuracy {rep.accuracy:.4f}  loss {rep.loss:.4f}  "
          f"macro F1 {rep.macro_f1:.4f}")
    print(f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for name, s in rep.per_class.items():
        print(f"{name:<10}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>9}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from fer.jobs.export import export_model
    from fer.model.modelio import ModelError

    try:
        card = export_model(Path(args.source), Path(args.dest), tta_flip=args.tta, notes=args.notes, zoom=args.zoom,
                            prior_correction=args.prior_correction, shift=args.shift,
                            recall_floors=dict(args.recall_floor or ()))
    except (ModelError, ValueError) as exc:
        raise InputError(str(exc)) from None
    _print_json({"model": args.dest, "tta_flip": card.tta_flip, "zoom": card.zoom, "shift": card.shift,
                 "prior_correction": list(card.prior_correction), "class_offsets": list(card.class_offsets),
                 "metrics": card.metrics})
    return 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    from fer.jobs.export import export_ensemble
    from fer.model.ensemble import FoldError
    from fer.model.modelio import ModelError

    try:
        card = export_ensemble([Path(m) for m in args.members], Path(args.dest), tta_flip=args.tta, zoom=args.zoom,
                               shift=args.shift, notes=args.notes)
    except (ModelError, FoldError, ValueError) as exc:
        raise InputError(str(exc)) from None
    _print_json({"model": args.dest, "members": list(card.members), "params": card.params, "tta_flip": card.tta_flip,
                 "zoom": card.zoom, "shift": card.shift, "metrics": card.metrics})
    return 0


def cmd_soup(args: argparse.Namespace) -> int:
    from fer.jobs.soup import export_soup
    from fer.model.modelio import ModelError
    from fer.model.soup import SoupError

    try:
        card, choice = export_soup([Path(m) for m in args.members], Path(args.dest), greedy=args.greedy,
                                   zoom=args.zoom, notes=args.notes, report=lambda line: print(line, file=sys.stderr))
    except (ModelError, SoupError, ValueError) as exc:
        raise InputError(str(exc)) from None
    _print_json({"model": args.dest, "soup": list(card.soup), "params": card.params, "zoom": card.zoom,
                 "prior_correction": list(card.prior_correction), "metrics": card.metrics,
                 "steps": [{"members": list(s.members), "validation_accuracy": s.score, "kept": s.kept}
                           for s in choice.steps]})
    return 0


def cmd_teacher(args: argparse.Namespace) -> int:
    import numpy as np

    from fer.data.dataset import load_dataset
    from fer.model.modelio import ModelError
    from fer.train.teacher import compute_targets

    ds = load_dataset(args.data)
    try:
        targets = compute_targets([Path(m) for m in args.models], ds, part=args.part,
                                  progress=lambda done, total: print(f"teacher: {done} of {total} models",
                                                                     file=sys.stderr, flush=True))
    except (ModelError, ValueError) as exc:
        raise InputError(str(exc)) from None
    targets.save(Path(args.dest))
    agree = float((targets.probs.argmax(axis=1) == ds.labels[np.isin(ds.paths, targets.keys)]).mean())
    _print_json({"teacher": args.dest, "members": list(targets.members), "part": targets.part,
                 "images": len(targets.keys), "bytes": Path(args.dest).stat().st_size,
                 "agrees_with_labels": round(agree, 4)})
    return 0


def cmd_predictions(args: argparse.Namespace) -> int:
    from fer.jobs.export import write_predictions
    from fer.jobs.results import predictions_path
    from fer.model.modelio import ModelError

    try:
        preds = write_predictions(Path(args.model))
    except (ModelError, ValueError) as exc:
        raise InputError(str(exc)) from None
    right = int((preds.labels == preds.predicted).sum())
    _print_json({"model": args.model, "predictions": str(predictions_path(Path(args.model))), "n": len(preds.keys),
                 "split": preds.split, "accuracy": round(right / max(len(preds.keys), 1), 4)})
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fer.model.modelio import MAX_SHIFT, MAX_ZOOM, MIN_ZOOM

    p = argparse.ArgumentParser(prog="python -m fer", description="Facial emotion recognition (FER2013).")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("models", help="list the architectures and their parameter counts")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_models)

    s = sub.add_parser("predict", help="find faces in images and name their emotions")
    s.add_argument("images", nargs="+", metavar="IMAGE")
    s.add_argument("--model", default=str(DEFAULT_MODEL))
    from fer.vision.detection import (
        DETECT_MODES,
        FRONTAL_CASCADES,
        MIN_NEIGHBORS_RANGE,
        MIN_SIZE_RANGE,
        SCALE_FACTOR_RANGE,
        DetectorConfig,
    )
    from fer.vision.preprocessing import MARGIN_RANGE

    s.add_argument("--cascade", default="default", choices=FRONTAL_CASCADES, help="the frontal-face model")
    s.add_argument("--scale-factor", type=number(float, *SCALE_FACTOR_RANGE), default=1.1,
                   help="the search step, {}-{}".format(*SCALE_FACTOR_RANGE))
    s.add_argument("--min-neighbors", type=number(int, *MIN_NEIGHBORS_RANGE), default=5,
                   help="detections a face needs, {}-{}".format(*MIN_NEIGHBORS_RANGE))
    s.add_argument("--min-size", type=number(int, *MIN_SIZE_RANGE), default=30,
                   help="the smallest face side in pixels, {}-{}".format(*MIN_SIZE_RANGE))

    s.add_argument("--detect", choices=DETECT_MODES, default=DetectorConfig().mode,
                   help="upright: frontal faces as they are; rotated: also tilted faces; all: also side faces")
    s.add_argument("--margin", type=number(float, *MARGIN_RANGE), default=0.0,
                   help="extra border around each face, fraction of its size, {}-{}".format(*MARGIN_RANGE))
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("video", help="follow every face through a video file: per-person emotions, an annotated copy")
    s.add_argument("input", metavar="IN", help="a video file (mp4, mov, webm, avi, mkv; up to 200 MB and 10 minutes)")
    s.add_argument("--out", metavar="FILE.mp4", help="write the annotated video (H.264 mp4, the audio kept) here")
    s.add_argument("--csv", metavar="FILE.csv", help="write one row per face per analysed frame here")
    s.add_argument("--json", action="store_true", help="print the whole result as JSON")
    s.add_argument("--every", type=number(int, 1, 1000), default=None, metavar="N",
                   help="analyse one frame in N (default: as many as keep up with the video's own speed)")
    s.add_argument("--model", default=str(DEFAULT_MODEL))
    s.add_argument("--detect", choices=DETECT_MODES, default=DetectorConfig().mode,
                   help="upright: frontal faces as they are; rotated: also tilted faces; all: also side faces")
    s.set_defaults(func=cmd_video)

    s = sub.add_parser("stats", help="counts per split and class, imbalance, image sizes, duplicates")
    s.add_argument("--data", required=True, help="folder, zip or CSV")
    s.add_argument("--json", action="store_true")
    s.add_argument("--counts", action="store_true",
                   help="print only the images per split and class as JSON (data/fer2013_counts.json)")
    s.add_argument("--name", default="FER2013", help="the dataset's name in the --counts JSON")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("train", help="train a model; every TrainConfig field is a flag")
    add_config_args(s)
    from fer.train.presets import PRESETS

    s.add_argument("--preset", choices=list(PRESETS), help="start from a named recipe; other flags override it")
    s.add_argument("--out", required=True, help="run folder (resumed when it holds a checkpoint)")
    s.add_argument("--report-every", type=number(float, 0, None), default=30.0, metavar="SECONDS",
                   help="print the batch in progress at most this often (0: only whole epochs)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="score a model on one split of a dataset")
    s.add_argument("--model", default=str(DEFAULT_MODEL))
    s.add_argument("--data", required=True, help="folder, zip or CSV")
    s.add_argument("--split", default=None, choices=[*USAGES, "all", "card"],
                   help="an official part, all images, or card: the test part of the split in the model's card "
                        "(its config's split, fractions and seeds); default PrivateTest, or all images of a "
                        "dataset without one (a photos dataset)")
    s.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="average with the horizontally flipped face (default: as the model card says)")
    s.add_argument("--zoom", type=number(float, MIN_ZOOM, MAX_ZOOM), default=None, metavar="FACTOR",
                   help="enlarge each face by FACTOR and keep its centre, 1.0-1.5 (default: as the model card says)")
    s.add_argument("--shift", type=number(int, 0, MAX_SHIFT), default=None, metavar="PIXELS",
                   help="also classify each face moved PIXELS up, down, left and right and average the views, "
                        "0-8 (default: as the model card says)")
    s.add_argument("--no-prior-correction", action="store_true",
                   help="ignore the model card's prior correction (score the network's own probabilities)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("export", help="save a run's best model (weights only, float32) with its card, as the default")
    s.add_argument("source", help="a run folder or a .keras file with its card")
    s.add_argument("dest", help="the .keras file to write, e.g. models/default.keras")
    s.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="predict with flip averaging (re-scores the card's metrics on the run's data)")
    s.add_argument("--zoom", type=number(float, MIN_ZOOM, MAX_ZOOM), default=None, metavar="FACTOR",
                   help="predict on faces enlarged by FACTOR, centre kept, 1.0-1.5 (re-scores the card's metrics)")
    s.add_argument("--shift", type=number(int, 0, MAX_SHIFT), default=None, metavar="PIXELS",
                   help="predict averaging the face with itself moved PIXELS up, down, left and right, 0-8 "
                        "(re-scores the card's metrics)")
    s.add_argument("--prior-correction", action=argparse.BooleanOptionalAction, default=None,
                   help="compute the prior correction from the run's training labels and targets, or drop it "
                        "(re-scores the card's metrics; default: as the card says)")
    s.add_argument("--recall-floor", type=recall_floor, action="append", metavar="EMOTION=SHARE",
                   help="recall at least SHARE of EMOTION's validation images, e.g. fear=0.45 (repeat for up to "
                        "three emotions): offsets added to their log-probabilities, the most accurate that reach "
                        "every floor on the validation split (stored in the card; re-scores its metrics)")
    s.add_argument("--notes", default=None, help="a note stored in the model card")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("ensemble", help="average several models' probabilities into one model file with its card")
    s.add_argument("dest", help="the .keras file to write")
    s.add_argument("members", nargs="+", help="run folders or .keras files with cards, all on the same split")
    s.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="predict with flip averaging (default: as the first member's card says)")
    s.add_argument("--zoom", type=float, default=None, metavar="FACTOR", help="as for export")
    s.add_argument("--shift", type=int, default=None, metavar="PIXELS", help="as for export")
    s.add_argument("--notes", default=None, help="a note stored in the model card")
    s.set_defaults(func=cmd_ensemble)
    s = sub.add_parser("soup", help="average the weights of networks grown from one start into one network "
                                    "(a model soup) with its card")
    s.add_argument("dest", help="the .keras file to write")
    s.add_argument("members", nargs="+", help="run folders or .keras files with cards: one architecture, one split, "
                                              "one start (warm restarts of the same weights)")
    s.add_argument("--greedy", action="store_true",
                   help="choose the members: each alone scored on the validation split with one view, best first, "
                        "each next kept when the soup with it scores higher")
    s.add_argument("--zoom", type=float, default=None, metavar="FACTOR",
                   help="the one view's zoom, for the choice and the card (default: the first member's)")
    s.add_argument("--notes", default=None, help="a note stored in the model card")
    s.set_defaults(func=cmd_soup)
    s = sub.add_parser("teacher", help="store models' averaged probabilities on a dataset's training images, the "
                                       "targets a student is distilled from (TrainConfig.teacher)")
    s.add_argument("dest", help="the .npz file to write")
    s.add_argument("models", nargs="+", help=".keras files with cards (each predicts as its card says)")
    s.add_argument("--data", required=True, help="the dataset the student trains on")
    s.add_argument("--part", default="Training",
                   help="the images' usage to compute them on (default Training; empty: every image)")
    s.set_defaults(func=cmd_teacher)
    s = sub.add_parser("predictions", help="write a model's test-split predictions beside it (the Results page's "
                                           "most confident mistakes without scoring; export writes them too)")
    s.add_argument("model", help="a .keras file with its card, e.g. models/default.keras")
    s.set_defaults(func=cmd_predictions)
    return p


LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
"""How the command line writes its log lines on stderr."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        args.given = given_fields(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format=LOG_FORMAT)
    try:
        if args.command == "train":
            args.cfg = checked_config(args)  # before TensorFlow (seconds to import): a refusal comes at once
        if args.command != "stats":
            from fer.tfenv import import_tensorflow

            import_tensorflow(training=args.command == "train", setup=_device_setup(args))
        return args.func(args)
    except (InputError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except (MemoryError, RecursionError) as exc:  # an input too large or too deeply nested for this machine
        print(f"error: the input is too large or too deeply nested to process here ({type(exc).__name__})",
              file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # an unwritable output folder, a full disk
        from fer.model.modelio import os_problem

        print(f"error: {os_problem(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
