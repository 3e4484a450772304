"""Image -> faces -> one batched classification -> typed predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer.labels import LABELS
from fer.model.modelio import ModelCard, check_shift, check_zoom
from fer.model.priors import check_prior_correction
from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector
from fer.vision.preprocessing import crop_faces, to_gray


@dataclass(frozen=True)
class FacePrediction:
    """One face: where it is, the winning class and the probability of every class."""

    box: FaceBox
    scores: tuple[float, ...]

    @property
    def index(self) -> int:
        return int(np.argmax(self.scores))

    @property
    def label(self) -> str:
        return LABELS[self.index]

    @property
    def confidence(self) -> float:
        return float(self.scores[self.index])

    def score_dict(self) -> dict[str, float]:
        return {name: float(s) for name, s in zip(LABELS, self.scores, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box.xywh), "angle": float(self.box.angle), "label": self.label,
                "scores": self.score_dict()}


def card_views(card: ModelCard | None, tta_flip: bool | None = None, zoom: float | None = None,
               prior_correction: Sequence[float] | None = None, shift: int | None = None) -> dict[str, Any]:
    """How a model predicts, as `Classifier`'s keywords: flip averaging, zoom, shifted views and prior
    correction as its card says (none of them without a card), each one replaced where given."""
    return {"tta_flip": bool(card and card.tta_flip) if tta_flip is None else tta_flip,
            "zoom": (card.zoom if card else 1.0) if zoom is None else zoom,
            "prior_correction": (card.prior_correction if card else ()) if prior_correction is None
            else prior_correction,
            "shift": (card.shift if card else 0) if shift is None else shift}


FACES_PER_CALL = 32
"""Faces classified per call of the network (`Classifier.scores`): with ten views (flip x five shifts) that is
320 images; 1,024 faces of one photo in one call took the server from 0.8 to 6.8 GB."""


class Classifier:
    """Wraps a Keras model in a `tf.function` for fast small batches (never `model.predict`).

    Thread-safe: TensorFlow functions may be called from several threads.
    """

    def __init__(self, model: Any, tta_flip: bool = False, zoom: float = 1.0,
                 prior_correction: Sequence[float] = (), shift: int = 0) -> None:
        import tensorflow as tf

        check_zoom(zoom)
        check_shift(shift)
        check_prior_correction(prior_correction)
        self.model = model
        self.tta_flip = tta_flip
        self.zoom = zoom
        self.shift = shift
        self.prior_correction = tuple(float(v) for v in prior_correction)
        correction = tf.constant(self.prior_correction, tf.float32) if self.prior_correction else None
        side = round(48 * zoom)
        off = (side - 48) // 2 + shift  # the centre view's corner in the zoomed, padded face
        moves = [(0, 0)] + ([(-shift, 0), (shift, 0), (0, -shift), (0, shift)] if shift else [])
        spec = [tf.TensorSpec([None, 48, 48, 1], tf.float32)]

        def _zoomed(x: Any) -> Any:  # enlarged; edges mirrored by `shift` pixels for the moved views
            if side != 48:
                x = tf.image.resize(x, (side, side), method="bilinear")
            if shift:
                x = tf.pad(x, [[0, 0], [shift, shift], [shift, shift], [0, 0]], mode="SYMMETRIC")
            return x

        @tf.function(input_signature=spec, reduce_retracing=True)
        def _view(x: Any) -> Any:
            return _zoomed(x)[:, off:off + 48, off:off + 48, :]

        @tf.function(input_signature=spec, reduce_retracing=True)
        def _run(x: Any) -> Any:
            z = _zoomed(x)
            v = tf.concat([z[:, off + dy:off + dy + 48, off + dx:off + dx + 48, :] for dy, dx in moves], axis=0)
            y = model(v, training=False)
            if tta_flip:
                y = (y + model(tf.reverse(v, axis=[2]), training=False)) / 2.0
            y = tf.reduce_mean(tf.reshape(tf.cast(y, tf.float32), [len(moves), -1, len(LABELS)]), axis=0)
            if correction is not None:  # back to the labels' class prior
                y = tf.nn.softmax(tf.math.log(tf.maximum(y, 1e-12)) + correction)
            return y

        self._run = _run
        self._view = _view

    @classmethod
    def from_file(cls, path: str | Path, tta_flip: bool | None = None, zoom: float | None = None,
                  prior_correction: Sequence[float] | None = None, shift: int | None = None) -> Classifier:
        """Load a model file; flip averaging, zoom, shifted views and prior correction as its card says
        unless given."""
        from fer.model.modelio import load_card, load_model

        model = load_model(Path(path))
        views = card_views(load_card(Path(path)), tta_flip=tta_flip, zoom=zoom,
                           prior_correction=prior_correction, shift=shift)
        return cls(model, **views)

    def single_view(self) -> Classifier:
        """The same model, zoom and prior correction looking once at each face (no flip averaging, no
        shifted views): what the webcam uses, where more views would cost frame rate. Itself when it has
        one view."""
        if not self.tta_flip and not self.shift:
            return self
        return Classifier(self.model, zoom=self.zoom, prior_correction=self.prior_correction)

    def scores(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities [N, 7] for uint8 or float faces [N, 48, 48] (0..255), FACES_PER_CALL at a time (the
        network's memory stays that of one such batch, whatever N)."""
        if len(faces) == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        out = np.empty((len(faces), len(LABELS)), np.float32)
        for i in range(0, len(faces), FACES_PER_CALL):
            x = np.asarray(faces[i:i + FACES_PER_CALL], np.float32).reshape(-1, 48, 48, 1)
            out[i:i + len(x)] = self._run(x).numpy()
        return out

    def network_input(self, faces: np.ndarray) -> np.ndarray:
        """What the network sees of faces [N, 48, 48] in the centre view: float32 0..255, zoomed as the
        card says."""
        return np.concatenate([self._view(np.asarray(faces[i:i + FACES_PER_CALL], np.float32).reshape(-1, 48, 48, 1))
                               .numpy()[..., 0] for i in range(0, max(len(faces), 1), FACES_PER_CALL)])

    @property
    def trace_count(self) -> int:
        """How many times TensorFlow has traced the scoring function: 1 after the first call, and it stays
        1 while the process keeps TensorFlow's state (ui.server: Streamlit's reruns must not reset it)."""
        return int(self._run.experimental_get_tracing_count())

    def warm_up(self) -> None:
        """Trace the function once so the first real call is fast."""
        self.scores(np.zeros((1, 48, 48), np.uint8))


def predict_faces(rgb: np.ndarray, detector: Detector, classifier: Classifier,
                  margin: float = 0.0) -> list[FacePrediction]:
    """Detect every face in an RGB (or gray) image and classify all of them in one batch."""
    gray = to_gray(rgb)
    boxes = detector.detect(gray)
    if not boxes:
        return []
    scores = classifier.scores(crop_faces(gray, boxes, margin))
    return [FacePrediction(b, tuple(float(v) for v in s)) for b, s in zip(boxes, scores, strict=True)]
