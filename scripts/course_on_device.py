"""The course CNN trained with the course's exact recipe on a machine without TensorFlow (issue #33).

    python -m scripts.course_on_device pack --data $FER_DATA [--out .device]        # here, with TensorFlow
    KERAS_BACKEND=torch python -m scripts.course_on_device train --pack .device --out OUTDIR   # the GPU machine
    python -m scripts.course_on_device import --from OUTDIR --out models/course-cnn.keras  # here again

`pack` loads the dataset (fer.data.dataset), makes the course's stratified split (fer.data.splits:
10 % test with seed 42, then 10 % of the rest for validation with seed 41) and writes the six arrays
(x_/y_ train, val, test) into ONE lzma-compressed .npz, `course-split.npz.xz`, plus `course-split.json`
(the split's description, counts, sha256 of the file and of each array). The full FER2013 as raw pixels
is 79 MiB and lzma brings it only to 58.5 MiB (its pixels are decoded JPEGs: noise that no pixel coder
squeezes below ~52 MiB), over the ~48 MiB a device call can carry beside the repository. So when the
raw arrays are over `--max-mib`, the images are kept as the dataset's own image files (the JPEG bytes
of fer2013.zip, ~40 MiB once lzma has removed their repeated headers), each checked here to decode to
exactly the pixels load_dataset gave, with a CRC-32 of those pixels that `train` checks again after
decoding: still lossless, but decoding needs OpenCV or Pillow (both are on the GPU machine's image).

`train` needs only keras, numpy and scikit-learn (for the scores; all on the GPU machine), OpenCV or
Pillow only for a pack of image files, never TensorFlow: it runs under any Keras 3 backend
(`KERAS_BACKEND=torch` on the GPU machine). The recipe is TrainConfig()'s defaults: course-cnn, Adam
1e-3, categorical cross-entropy on one-hot labels, batch 64, up to 100 epochs, ReduceLROnPlateau(val_loss,
0.9, 3), EarlyStopping(val_loss, 8), no augmentation; the weights of the best val_loss epoch are kept and
scored on validation and test. OUTDIR gets history.json (one row per epoch, the fields of a run's
history.csv), report.json (the validation and test reports in EvalReport.to_dict()'s shape, epochs,
best epoch, seconds, backend and device) and the best weights as float32 chunks weights-NN.npz (each
under 15 MiB, model.get_weights() order); these are rewritten after every epoch, so a run cut short
still leaves its best epoch. `--state` (default OUTDIR/state) holds the last epoch's weights, optimizer
variables (the learning rate too) and callback counters, so `--resume` continues where a run stopped;
what it cannot restore is the random generators (dropout masks and the shuffling order differ from an
uninterrupted run). `--time-budget SECONDS` starts no epoch that would end past it, so one device
command (10 minutes at most) always ends with its report.

`import` rebuilds course-cnn here, sets the chunks' weights and saves models/course-cnn.keras with its
card (fer.model.modelio) and its report beside it (fer.jobs.results.ModelReport: history, validation
and test reports), so the Results page shows curves and the confusion matrix without the dataset;
`python -m fer evaluate --model models/course-cnn.keras --data $FER_DATA --split card` scores the card's
own test split again.

On the GPU machine only the working tree travels: `.device/` (the pack) and `.whl/` (keras and the two
packages it needs that the machine lacks) are git-ignored, so the device call must name both in `carry`;
docs/training.md ("The course CNN on a GPU machine") has the exact command.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import lzma
import os
import platform
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

# no TensorFlow here: keras is imported where a model is saved
from fer.model.modelio import atomic_write_bytes, utc_now, write_json

log = logging.getLogger("scripts.course_on_device")

PACK_FILE = "course-split.npz.xz"
PACK_JSON = "course-split.json"
PARTS = ("train", "val", "test")
MAX_PACK_MIB = 48.0
"""What the pack may weigh: a device call carries 64 MiB, the tracked files and the wheels take the rest."""
CHUNK_BYTES = 15 * 1024**2
"""Each weights file stays under this (a device call brings back files of at most 16 MiB)."""
HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")
"""A history row, as fer.train.callbacks writes a run's history.csv (the Results page reads these)."""
ARCH = "course-cnn"
TRAIN_EPOCHS = 100


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def array_sha256(a: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- pack


def decode_image(raw: bytes) -> np.ndarray | None:
    """A grayscale uint8 image from encoded bytes, as fer.data.dataset decodes it (OpenCV), else Pillow."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)
    try:
        from PIL import Image
    except ImportError:
        raise RuntimeError("this pack keeps the images as image files: decoding them needs OpenCV or Pillow") from None
    try:
        return np.asarray(Image.open(io.BytesIO(raw)).convert("L"))
    except (OSError, ValueError):
        return None


def pixels_crc(img: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(img, np.uint8).tobytes())


def original_files(source: str, paths: np.ndarray) -> list[bytes] | None:
    """The bytes of each image file of a zip or folder dataset, by its path in it; None for a CSV."""
    import zipfile

    src = Path(source)
    if src.is_file() and zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            return [zf.read(str(p)) for p in paths]
    if src.is_dir():
        return [(src / str(p)).read_bytes() for p in paths]
    return None


def raw_arrays(x: np.ndarray, y: np.ndarray, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """The six arrays as they are."""
    out: dict[str, np.ndarray] = {"codec": np.array("raw")}
    start = 0
    for part in PARTS:
        stop = start + sizes[part]
        out[f"x_{part}"], out[f"y_{part}"] = x[start:stop], y[start:stop]
        start = stop
    return out


def encoded_arrays(x: np.ndarray, y: np.ndarray, sizes: dict[str, int], files: list[bytes]) -> dict[str, np.ndarray]:
    """The labels as they are and the images as their own files, where a file decodes to exactly its pixels
    (the others, e.g. resized on loading, as raw pixels), with each image's pixel CRC-32."""
    coded = np.zeros(len(x), bool)
    blobs: list[bytes] = []
    for i, raw in enumerate(files):
        img = decode_image(raw)
        if img is not None and img.shape == x[i].shape and np.array_equal(img, x[i]):
            coded[i] = True
            blobs.append(raw)
    out: dict[str, np.ndarray] = {"codec": np.array("encoded"), "coded": coded,
                                  "blob": np.frombuffer(b"".join(blobs), np.uint8),
                                  "ends": np.cumsum([len(b) for b in blobs], dtype=np.int64),
                                  "raw": x[~coded], "crc": np.array([pixels_crc(img) for img in x], np.uint32)}
    start = 0
    for part in PARTS:
        out[f"y_{part}"] = y[start:start + sizes[part]]
        start += sizes[part]
    log.info("%d of %d images kept as their files, %d as pixels", coded.sum(), len(x), (~coded).sum())
    return out


def cmd_pack(args: argparse.Namespace) -> int:
    from fer.data.dataset import load_dataset
    from fer.data.splits import stratified_split

    ds = load_dataset(args.data)
    split = stratified_split(ds)
    order = np.concatenate([split.train, split.val, split.test])
    x, y = ds.images[order].astype(np.uint8), ds.labels[order].astype(np.int64)
    sizes = split.sizes()
    arrays = raw_arrays(x, y, sizes)
    expected = {k: array_sha256(v) for k, v in arrays.items() if k[:2] in ("x_", "y_")}
    limit = int(args.max_mib * 1024**2)
    data, codec = b"", ""
    if args.codec in ("auto", "raw"):
        log.info("compressing the raw arrays (lzma preset 9)")
        data, codec = lzma.compress(npz_bytes(arrays), preset=9), "raw"
        log.info("raw: %.1f MiB", len(data) / 1024**2)
    if args.codec == "encoded" or (args.codec == "auto" and len(data) > limit):
        files = original_files(ds.source, ds.paths[order])
        if files is None:
            log.warning("%s is not a zip or folder of image files: only the raw arrays can be packed", args.data)
        else:
            log.info("compressing the images as their own files (lzma preset 9)")
            enc = lzma.compress(npz_bytes(encoded_arrays(x, y, sizes, files)), preset=9)
            log.info("image files: %.1f MiB", len(enc) / 1024**2)
            if not data or len(enc) < len(data):
                data, codec = enc, "encoded"
    if len(data) > limit:
        log.warning("the pack is %.1f MiB, over the %.0f MiB a device call can carry", len(data) / 1024**2,
                    args.max_mib)
    out = Path(args.out)
    atomic_write_bytes(out / PACK_FILE, data)
    desc = {"file": PACK_FILE, "codec": codec, "bytes": len(data), "mib": round(len(data) / 1024**2, 2),
            "sha256": sha256_bytes(data), "data": str(args.data), "split": split.description,
            "counts": sizes, "class_counts": {p: np.bincount(y_, minlength=7).tolist()
                                              for p, y_ in ((p, arrays[f"y_{p}"]) for p in PARTS)},
            "arrays_sha256": expected}
    write_json(out / PACK_JSON, desc)
    print(f"{out / PACK_FILE}: {desc['mib']} MiB ({codec}), {sizes}", flush=True)
    return 0


def load_pack(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The six arrays of a pack and its description; ValueError when the file or an array is not what
    pack wrote."""
    desc = json.loads((folder / PACK_JSON).read_text())
    data = (folder / PACK_FILE).read_bytes()
    if sha256_bytes(data) != desc["sha256"]:
        raise ValueError(f"{folder / PACK_FILE}: sha256 differs from {PACK_JSON}'s (damaged or replaced)")
    with np.load(io.BytesIO(lzma.decompress(data)), allow_pickle=False) as z:
        npz = {k: z[k] for k in z.files}
    codec = str(npz["codec"])
    if codec == "raw":
        arrays = {k: v for k, v in npz.items() if k[:2] in ("x_", "y_")}
    else:
        arrays = {k: v for k, v in npz.items() if k.startswith("y_")}
        n = int(npz["coded"].size)
        x = np.empty((n, 48, 48), np.uint8)
        x[~npz["coded"]] = npz["raw"]
        blob, ends = npz["blob"].tobytes(), npz["ends"]
        starts = np.concatenate([[0], ends[:-1]])
        for i, a, b in zip(np.flatnonzero(npz["coded"]), starts, ends, strict=True):
            img = decode_image(blob[a:b])
            if img is None or img.shape != (48, 48):
                raise ValueError(f"image {i} of the pack could not be decoded here")
            x[i] = img
        bad = int(sum(pixels_crc(img) != c for img, c in zip(x, npz["crc"], strict=True)))
        if bad:
            raise ValueError(f"{bad} images decode to other pixels here than where the pack was made "
                             "(another JPEG decoder): the data would not be the course's")
        start = 0
        for part in PARTS:
            m = len(arrays[f"y_{part}"])
            arrays[f"x_{part}"] = x[start:start + m]
            start += m
    for key, digest in desc["arrays_sha256"].items():
        if array_sha256(arrays[key]) != digest:
            raise ValueError(f"{key} of the pack is not the array pack wrote")
    return arrays, desc


# --------------------------------------------------------------------------------------------- train


def machine() -> str:
    """The Keras backend and the device it computes on, in words."""
    import keras

    backend = keras.backend.backend()
    device = "CPU"
    try:
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                device = torch.cuda.get_device_name(0)
            backend += f" {torch.__version__}"
        elif backend == "jax":
            import jax

            d = jax.devices()[0]
            device = getattr(d, "device_kind", str(d))
            backend += f" {jax.__version__}"
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            device = gpus[0].name if gpus else "CPU"
            backend += f" {tf.__version__}"
    except (ImportError, RuntimeError, IndexError) as exc:
        log.warning("could not name the device: %s", exc)
    return (f"keras {keras.__version__} backend {backend} on {device}; {platform.machine()} "
            f"cpus={os.cpu_count()} python {platform.python_version()}")


def scores_report(y_true: np.ndarray, scores: np.ndarray, split: str) -> dict[str, Any]:
    """fer.model.evaluation.EvalReport.to_dict() of predictions (scikit-learn's metrics; the GPU machine has it)."""
    from fer.model.evaluation import report_from_scores

    return report_from_scores(y_true, scores, split).to_dict()


def write_chunks(folder: Path, weights: list[np.ndarray], prefix: str = "weights") -> list[str]:
    """`weights` as float32 .npz files of under CHUNK_BYTES each, in order (keys w0000.. across files)."""
    groups: list[list[int]] = [[]]
    size = 0
    for i, w in enumerate(weights):
        n = w.size * 4
        if n + 1024 > CHUNK_BYTES:
            raise ValueError(f"weight {i} alone ({n / 1024**2:.1f} MiB) is over a chunk's size")
        if groups[-1] and size + n + 1024 * (len(groups[-1]) + 1) > CHUNK_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += n
    names = []
    for j, idx in enumerate(groups):
        name = f"{prefix}-{j:02d}.npz"
        atomic_write_bytes(folder / name, npz_bytes({f"w{i:04d}": np.asarray(weights[i], np.float32) for i in idx}))
        names.append(name)
    for old in folder.glob(f"{prefix}-*.npz"):  # a smaller set than an earlier write left
        if old.name not in names:
            old.unlink()
    return names


def read_chunks(folder: Path, prefix: str = "weights") -> list[np.ndarray]:
    found: dict[int, np.ndarray] = {}
    for path in sorted(folder.glob(f"{prefix}-*.npz")):
        with np.load(path, allow_pickle=False) as z:
            found.update({int(k[1:]): z[k] for k in z.files})
    if not found or sorted(found) != list(range(len(found))):
        raise FileNotFoundError(f"{folder}: no complete set of {prefix}-NN.npz files")
    return [found[i] for i in range(len(found))]


def keeper_callback(args: argparse.Namespace, out: Path, state: Path, plateau: Any, early: Any,
                    history: list[dict[str, float]], resumed: dict[str, Any] | None, t_spent: float) -> Any:
    """A Keras callback, placed after `plateau` and `early`, that times each epoch, prints it, writes the
    history and (when val_loss is the lowest yet) the best weights, saves the resumable state, gives the two
    other callbacks back their counters on resume and honours the time budget."""
    import keras

    class _Keeper(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history = history
            self.best_loss = resumed["best_loss"] if resumed else float("inf")
            self.best_epoch = resumed["best_epoch"] if resumed else 0
            self.train_seconds = t_spent
            self.stopped_by = ""
            self.this_run: list[float] = []
            self._t0 = 0.0

        def on_train_begin(self, logs: dict | None = None) -> None:
            if resumed:  # after the plateau and early-stopping callbacks reset themselves
                for cb, key in ((plateau, "plateau"), (early, "early")):
                    for attr, value in resumed[key].items():
                        setattr(cb, attr, value)

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = dict(logs or {})
            secs = time.perf_counter() - self._t0
            self.train_seconds += secs
            self.this_run.append(secs)
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row = {"epoch": epoch + 1, **{k: float(logs[k]) for k in HISTORY_FIELDS[1:5] if k in logs},
                   "learning_rate": float(logs.get("learning_rate", lr)), "seconds": round(secs, 3)}
            self.history.append(row)
            if row["val_loss"] < self.best_loss:
                self.best_loss, self.best_epoch = row["val_loss"], epoch + 1
                weights = self.model.get_weights()
                write_chunks(out, weights)
                write_chunks(state, weights, prefix="best")  # for a resumed run whose OUT starts empty
            write_json(out / "history.json", self.history)
            print(f"epoch {epoch + 1}/{args.epochs} {secs:.1f}s loss {row['loss']:.4f} "
                  f"acc {row['accuracy']:.4f} val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f} "
                  f"lr {row['learning_rate']:.3g} best {self.best_epoch}", flush=True)
            spent, budget = sum(self.this_run), args.time_budget
            if budget and spent + max(secs, spent / len(self.this_run)) > budget:
                self.stopped_by = "time_budget"
                self.model.stop_training = True
            self.save_state(epoch + 1)

        def save_state(self, epochs_done: int) -> None:
            opt = self.model.optimizer
            arrays = {f"m{i:04d}": w for i, w in enumerate(self.model.get_weights())}
            arrays |= {f"o{i:04d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(opt.variables)}
            meta = {"epochs_done": epochs_done, "best_loss": self.best_loss, "best_epoch": self.best_epoch,
                    "train_seconds": self.train_seconds, "history": self.history,
                    "plateau": {"best": _num(plateau.best), "wait": int(plateau.wait),
                                "cooldown_counter": int(plateau.cooldown_counter)},
                    "early": {"best": _num(early.best), "wait": int(early.wait), "best_epoch": int(early.best_epoch)},
                    "early_stopped": bool(early.stopped_epoch)}
            atomic_write_bytes(state / "last.npz", npz_bytes(arrays))
            write_json(state / "last.json", meta)

    return _Keeper()


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def restore_state(model: Any, state: Path) -> dict[str, Any]:
    """Set the model's weights and its optimizer's variables from `state`; its meta (counters, history)."""
    meta = json.loads((state / "last.json").read_text())
    with np.load(state / "last.npz", allow_pickle=False) as z:
        weights = [z[k] for k in sorted(k for k in z.files if k[0] == "m")]
        opt_vars = [z[k] for k in sorted(k for k in z.files if k[0] == "o")]
    model.set_weights(weights)
    opt = model.optimizer
    opt.build(model.trainable_variables)
    if len(opt.variables) != len(opt_vars):
        raise ValueError(f"{state}: {len(opt_vars)} optimizer variables saved, the optimizer has {len(opt.variables)}")
    for var, value in zip(opt.variables, opt_vars, strict=True):
        var.assign(value)
    return meta


def cmd_train(args: argparse.Namespace) -> int:
    import keras

    from fer.config import TrainConfig
    from fer.model.architectures import build_model

    cfg = TrainConfig()
    out, state = Path(args.out), Path(args.state) if args.state else Path(args.out) / "state"
    out.mkdir(parents=True, exist_ok=True)
    arrays, desc = load_pack(Path(args.pack))
    if args.limit:  # a seeded sample of each part (a pack's parts are in dataset order: by class, mostly)
        for part in PARTS:
            n = len(arrays[f"y_{part}"])
            keep = np.sort(np.random.default_rng(0).permutation(n)[:args.limit])
            arrays[f"x_{part}"], arrays[f"y_{part}"] = arrays[f"x_{part}"][keep], arrays[f"y_{part}"][keep]

    def xs(part: str) -> np.ndarray:
        return arrays[f"x_{part}"].astype(np.float32)[..., None]

    def ys(part: str) -> np.ndarray:
        return np.eye(7, dtype=np.float32)[arrays[f"y_{part}"]]

    keras.utils.set_random_seed(cfg.seed)
    if args.precision != "float32":
        keras.mixed_precision.set_global_policy(args.precision)
    model = build_model(ARCH, l2=cfg.l2, dropout=cfg.dropout)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2,
                                                  epsilon=cfg.epsilon),
                  loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    resumed = None
    if args.resume and (state / "last.json").exists():
        resumed = restore_state(model, state)
        print(f"resuming after epoch {resumed['epochs_done']} (best {resumed['best_epoch']})", flush=True)
    history = list(resumed["history"]) if resumed else []
    start = resumed["epochs_done"] if resumed else 0
    if resumed:  # OUT may be a fresh folder (a device call empties it): the best weights and history again
        write_chunks(out, read_chunks(state, prefix="best"))
        write_json(out / "history.json", history)
        if resumed.get("early_stopped"):
            start = args.epochs  # early stopping ended that run: nothing is left to train
    plateau = keras.callbacks.ReduceLROnPlateau(monitor=cfg.lr_monitor, factor=cfg.lr_factor,
                                                patience=cfg.lr_patience)
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.early_stopping_patience,
                                          min_delta=cfg.early_stopping_min_delta, restore_best_weights=False)
    keeper = keeper_callback(args, out, state, plateau, early, history, resumed,
                             resumed["train_seconds"] if resumed else 0.0)
    x_train, y_train, val = xs("train"), ys("train"), (xs("val"), ys("val"))
    print(f"train {len(x_train)} val {len(val[0])} test {len(arrays['x_test'])}; {machine()}; "
          f"precision {args.precision}", flush=True)
    if start < args.epochs:
        model.fit(x_train, y_train, batch_size=cfg.batch_size, epochs=args.epochs, initial_epoch=start,
                  validation_data=val, shuffle=True, verbose=0, callbacks=[plateau, early, keeper])
    early_stopped = bool(early.stopped_epoch) or bool(resumed and resumed.get("early_stopped"))
    stopped_by = keeper.stopped_by or ("early_stopping" if early_stopped else "epochs")
    model.set_weights(read_chunks(out))
    reports = {}
    for name, part in (("validation", "val"), ("test", "test")):
        scores = np.asarray(model.predict(xs(part), batch_size=256, verbose=0), np.float64)
        reports[name] = scores_report(arrays[f"y_{part}"], scores, name)
    report = {"arch": ARCH, "params": int(model.count_params()), "config": cfg.to_dict(),
              "precision": args.precision, "limit": args.limit, "split": desc["split"], "counts":
              {p: len(arrays[f"y_{p}"]) for p in PARTS}, "pack_sha256": desc["sha256"],
              "epochs_run": len(history), "max_epochs": args.epochs, "best_epoch": keeper.best_epoch,
              "stopped_by": stopped_by, "train_seconds": round(keeper.train_seconds, 1),
              "machine": machine(), "reports": reports,
              "weights": sorted(p.name for p in out.glob("weights-*.npz"))}
    write_json(out / "report.json", report)
    test = reports["test"]
    print(f"done: {len(history)} epochs ({stopped_by}), best {keeper.best_epoch}, "
          f"{keeper.train_seconds:.0f}s; test accuracy {test['accuracy']:.4f} macro F1 {test['macro_f1']:.4f}",
          flush=True)
    return 0


# -------------------------------------------------------------------------------------------- import


def cmd_import(args: argparse.Namespace) -> int:
    from fer.config import TrainConfig
    from fer.jobs.export import write_report
    from fer.model.architectures import build_model
    from fer.model.evaluation import EvalReport
    from fer.model.modelio import ModelCard, save_model
    from fer.paths import ROOT
    from fer.train.presets import full_data

    src = Path(getattr(args, "from"))
    report = json.loads((src / "report.json").read_text())
    history = json.loads((src / "history.json").read_text())
    model = build_model(ARCH)
    model.set_weights(read_chunks(src))
    data = Path(args.data or full_data())
    rel = Path(os.path.relpath(data.resolve(), ROOT))
    if rel.parts[:2] != ("..", ".."):  # in the repository or beside it (shared/): relative, as the shipped card
        data = rel
    reports = {k: EvalReport.from_dict(v) for k, v in report["reports"].items()}
    card = ModelCard(arch=ARCH, params=int(model.count_params()),
                     config=TrainConfig(data=str(data), extra={"preset": "course"}).to_dict(),
                     split=report["split"], metrics={k: r.summary() for k, r in reports.items()},
                     epochs_trained=int(report["epochs_run"]), best_epoch=int(report["best_epoch"]),
                     train_seconds=float(report["train_seconds"]), machine=report["machine"],
                     created=utc_now(),
                     notes=f"the course's recipe trained with scripts.course_on_device ({report['stopped_by']}, "
                           f"precision {report['precision']}"
                           + (f", limited to {report['limit']} images per part" if report.get("limit") else "")
                           + ")")
    dest = Path(args.out)
    save_model(model, dest, card)
    write_report(model, card, dest, tuple(history), reports=reports)
    print(f"{dest}: test accuracy {reports['test'].accuracy:.4f}, {card.epochs_trained} epochs, "
          f"best {card.best_epoch}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scripts.course_on_device", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("pack", help="the course split of a dataset in one file that travels (needs fer.data)")
    s.add_argument("--data", required=True, help="the dataset: folder, zip or CSV (e.g. $FER_DATA)")
    s.add_argument("--out", default=".device", help="folder of the pack (default .device, git-ignored)")
    s.add_argument("--codec", choices=("auto", "raw", "encoded"), default="auto",
                   help="raw pixels, the images' own files, or raw unless that is over --max-mib")
    s.add_argument("--max-mib", type=float, default=MAX_PACK_MIB)
    s.set_defaults(func=cmd_pack)
    s = sub.add_parser("train", help="train course-cnn on a pack with keras and numpy alone")
    s.add_argument("--pack", required=True, help="the folder pack wrote")
    s.add_argument("--out", required=True, help="history, report and best weights go here")
    s.add_argument("--state", default="", help="the resumable state (default OUT/state)")
    s.add_argument("--epochs", type=int, default=TRAIN_EPOCHS)
    s.add_argument("--limit", type=int, default=0,
                   help="use a seeded sample of at most N images of each part, for a quick check (0: all)")
    s.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    s.add_argument("--resume", action="store_true", help="continue from the state's last epoch")
    s.add_argument("--time-budget", type=float, default=0.0, metavar="SECONDS",
                   help="start no epoch that would end past this much training time (0: none)")
    s.set_defaults(func=cmd_train)
    s = sub.add_parser("import", help="a train folder made into a model file with its card and report")
    s.add_argument("--from", required=True, help="the folder train wrote")
    s.add_argument("--out", default="models/course-cnn.keras")
    s.add_argument("--data", default="", help="the dataset the card names (default: $FER_DATA)")
    s.set_defaults(func=cmd_import)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
