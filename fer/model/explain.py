"""What a CNN sees: its filters, feature maps, pooling, flat vector, dense head and Grad-CAM heatmaps.

Layers are found by type (convolution, max pooling, flatten / global pooling, dense), never by
name, so every architecture in `fer.model.architectures` and every saved model works. Keras is imported lazily.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)

CAM_MIN_SIDE = 12
"""The map reads the deepest convolution whose maps are at least this many cells a side (12 x 12 on a
48 x 48 face: eyes, nose and mouth in different cells; the last convolution is 6 x 6). There, with Grad-CAM,
the maps of two emotions of one face were nearly the same picture (Happy and Neutral of obama.jpg: correlation
0.97 on 6 x 6, 0.31 on 12 x 12), a few central cells carrying most of the activation whatever the emotion; the
app's HiResCAM keeps them apart on both, and the finer grid for its detail: `python -m tests.test_explain`
prints these figures."""


CAM_METHODS = ("hirescam", "gradcam")
"""How `Explainer.grad_cam` weighs the maps: the app's first."""


@dataclass(frozen=True)
class Filters:
    """The first convolution's filters, each scaled to 0..1 on its own: [N, kh, kw]."""

    layer_name: str
    kernels: np.ndarray


@dataclass(frozen=True)
class FeatureMaps:
    """One layer's output for one face: maps [H, W, C] (raw values) and their shape."""

    layer_name: str
    shape: tuple[int, int, int]
    maps: np.ndarray


@dataclass(frozen=True)
class PoolingStep:
    """A max-pooling layer's input and output maps for one face."""

    layer_name: str
    pool_size: tuple[int, int]
    before: FeatureMaps
    after: FeatureMaps


@dataclass(frozen=True)
class DenseLayer:
    layer_name: str
    units: int
    activation: str


@dataclass(frozen=True)
class Walkthrough:
    """Everything the network computes for one face, step by step."""

    model_input: np.ndarray
    """[48, 48] float32: the pixels as the network sees them (after its Rescaling layer, 0..1)."""
    first_maps: FeatureMaps
    """The first convolution's maps (after its batch norm / activation when it has them)."""
    blocks: tuple[FeatureMaps, ...]
    """One per convolution block: the maps that enter each pooling layer, then the last maps."""
    pooling: tuple[PoolingStep, ...]
    vector_kind: str
    """'flatten', 'global_average' or 'global_max': how the maps become one vector."""
    vector_from: tuple[int, ...]
    """Shape (h, w, c) of the maps that became the vector."""
    vector: np.ndarray
    dense: tuple[DenseLayer, ...]
    scores: np.ndarray
    """The softmax output [7]."""


@dataclass(frozen=True)
class GradCam:
    """Where the network looked for one emotion (a class activation map, `Explainer.grad_cam`): heatmap [48, 48]
    in 0..1 (1 = most important)."""

    heatmap: np.ndarray
    target_index: int
    layer_name: str
    score: float
    """The network's probability for the target class."""
    grid: tuple[int, int] = (0, 0)
    """Cells (rows, columns) of the layer the map was computed on: its real resolution."""

    @property
    def empty(self) -> bool:
        """True when no region pushes the probability of the target class up (the heatmap is all zero)."""
        return not bool(self.heatmap.any())


def _kind(layer: Any) -> str:
    """A layer's role, from its type."""
    from keras import layers as L

    if isinstance(layer, L.SeparableConv2D | L.DepthwiseConv2D | L.Conv2D):
        return "conv"
    if isinstance(layer, L.MaxPooling2D):
        return "pool"
    if isinstance(layer, L.Flatten):
        return "flatten"
    if isinstance(layer, L.GlobalAveragePooling2D):
        return "global_average"
    if isinstance(layer, L.GlobalMaxPooling2D):
        return "global_max"
    if isinstance(layer, L.Dense):
        return "dense"
    if isinstance(layer, L.Rescaling):
        return "rescaling"
    if isinstance(layer, L.BatchNormalization | L.Activation | L.ReLU):
        return "post"
    return "other"


def _shape(tensor: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.shape[1:])


class Explainer:
    """Built once per model (a few sub-models over the functional graph); then cheap per face."""

    def __init__(self, model: Any, cam_min_side: int = CAM_MIN_SIDE, member: int = 0) -> None:
        import keras

        from fer.model.ensemble import member_models

        members = member_models(model)
        self.members = len(members)
        """How many networks the model averages (fer.model.ensemble); 0 for a single network. An ensemble is
        explained through one member, `member` (0-based): each member has its own filters, maps and Grad-CAM."""
        if members:
            if not 0 <= member < len(members):
                raise ValueError(f"member {member}: the ensemble has {len(members)} members")
            model = members[member]
        self.model = model
        layers = list(model.layers)
        kinds = [_kind(layer) for layer in layers]
        convs = [i for i, k in enumerate(kinds) if k == "conv"]
        if not convs:
            raise ValueError(f"model {model.name!r} has no convolution layer to explain")
        vec = [i for i, k in enumerate(kinds) if k in ("flatten", "global_average", "global_max")]
        if not vec:
            raise ValueError(f"model {model.name!r} has no Flatten or global pooling layer")
        self._vector_layer = layers[vec[0]]
        self.vector_kind = kinds[vec[0]]
        self.pools = [layers[i] for i, k in enumerate(kinds) if k == "pool"]
        self.dense = tuple(DenseLayer(layer.name, int(layer.units), _activation_name(layer))
                           for layer, k in zip(layers, kinds, strict=True) if k == "dense")
        rescale = [layer for layer, k in zip(layers, kinds, strict=True) if k == "rescaling"]
        first_out = _activated(layers, kinds, convs[0])
        last_pool = max((i for i, k in enumerate(kinds) if k == "pool"), default=-1)
        block_tensors = [p.input for p in self.pools]
        block_names = [_producer_name(layers, p.input) for p in self.pools]
        if convs[-1] > last_pool:  # convolutions after the last pooling form one more block
            block_tensors.append(self._vector_layer.input)
            block_names.append(_producer_name(layers, self._vector_layer.input))
        self._block_names = block_names
        self._first_name = first_out[0]
        outputs = [rescale[0].output if rescale else model.inputs[0], first_out[1], *block_tensors,
                   *[p.output for p in self.pools], self._vector_layer.output, model.outputs[0]]
        self._sub = keras.Model(model.inputs, outputs, name="explain")
        head = layers[-1]
        self._head = head
        # Grad-CAM runs two halves: up to the chosen convolution, then (taped) from it to the softmax. Only
        # the top half is differentiated: TF 2.21's oneDNN input gradient of a strided 1x1 convolution
        # on a small batch corrupts memory, and mini-xception's shortcuts are such convolutions (so a
        # layer with a strided convolution after it is never chosen). A residual block's maps are its sum (Add)
        # after the activation: a convolution inside the block has a shortcut around it, so the block's output
        # is where Grad-CAM can cut the network in two.
        points = [i for i, (layer, k) in enumerate(zip(layers, kinds, strict=True))
                  if k == "conv" or isinstance(layer, keras.layers.Add)]
        for i in _cam_candidates(layers, kinds, points, cam_min_side):
            self._cam_name, cam_tensor = _activated(layers, kinds, i)
            try:
                self._top = keras.Model(cam_tensor, [head.input, model.outputs[0]], name="gradcam_top")
            except ValueError:  # a shortcut skips this layer: the top half needs more than its maps
                continue
            self._bottom = keras.Model(model.inputs, cam_tensor, name="gradcam_bottom")
            break

    def filters(self) -> Filters:
        return first_layer_filters(self.model)

    def walk(self, face: np.ndarray) -> Walkthrough:
        """Run one 48x48 face (uint8 or 0..255 floats) and keep every intermediate step."""
        outs = [np.asarray(o)[0] for o in self._sub([_batch(face)], training=False)]
        n_blocks, n_pools = len(self._block_names), len(self.pools)
        model_input, first = outs[0], outs[1]
        blocks = outs[2:2 + n_blocks]
        pooled = outs[2 + n_blocks:2 + n_blocks + n_pools]
        vector, scores = outs[-2], outs[-1]
        pool_steps = []
        for layer, name, before, after in zip(self.pools, self._block_names, blocks, pooled, strict=False):
            size = tuple(int(s) for s in np.atleast_1d(layer.pool_size))  # block i feeds pool i
            pool_steps.append(PoolingStep(layer.name, (size[0], size[-1]), _maps(name, before),
                                          _maps(layer.name, after)))
        return Walkthrough(
            model_input=model_input[..., 0].astype(np.float32),
            first_maps=_maps(self._first_name, first),
            blocks=tuple(_maps(n, b) for n, b in zip(self._block_names, blocks, strict=True)),
            pooling=tuple(pool_steps), vector_kind=self.vector_kind, vector=vector.astype(np.float32),
            vector_from=_shape(self._vector_layer.input),
            dense=self.dense, scores=scores.astype(np.float32),
        )

    def grad_cam(self, face: np.ndarray, target_index: int, method: str = "hirescam") -> GradCam:
        """Where the face raises the probability of class `target_index`. `hirescam` (the app's): HiResCAM (Draelos
        and Carin, 2020), the gradient of the log-probability times the maps cell by cell, summed over channels.
        `gradcam`: Grad-CAM (Selvaraju et al., 2017), each channel's gradient of the logit averaged over the grid,
        then the maps weighted by it. Grad-CAM's sum came out below zero in every cell, the top emotion's map blank,
        for 6 and 31 of 157 faces (the sample photos' and 150 of PublicTest) with the default's two networks;
        HiResCAM's for none: `python -m bench.cam_blank --data "$FER_DATA"` counts both."""
        import tensorflow as tf

        if method not in CAM_METHODS:
            raise ValueError(f"method {method!r}: one of {', '.join(CAM_METHODS)}")
        conv = tf.cast(self._bottom([_batch(face)], training=False), tf.float32)  # mixed-precision models
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(conv)
            head_in, probs = self._top(conv, training=False)
            logits = _logit(self._head, head_in, probs)
            target = (tf.nn.log_softmax(logits) if method == "hirescam" else logits)[:, target_index]
        grads = tape.gradient(target, conv)
        if grads is None:
            raise RuntimeError(f"no gradient from class {target_index} to layer {self._cam_name}")
        if method == "hirescam":
            cam = tf.nn.relu(tf.reduce_sum(grads * conv, axis=-1))[0].numpy()
        else:
            weights = tf.reduce_mean(grads, axis=(1, 2))  # one importance per channel
            cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", conv, weights))[0].numpy()
        return GradCam(_to_heatmap(cam), int(target_index), self._cam_name, float(probs[0, target_index]),
                       (int(cam.shape[0]), int(cam.shape[1])))

    @property
    def cam_layer(self) -> str:
        """The name of the layer Grad-CAM reads."""
        return self._cam_name


def _cam_candidates(layers: list[Any], kinds: list[str], points: list[int], min_side: int) -> list[int]:
    """Layer indices (convolutions, residual sums) to try for Grad-CAM, best first: those whose maps are at
    least `min_side` a side and after which no strided convolution comes, deepest first, then the last one."""
    def strided(layer: Any) -> bool:
        return any(int(s) > 1 for s in np.atleast_1d(getattr(layer, "strides", 1)))

    after_last_strided = max((i for i, k in enumerate(kinds) if k == "conv" and strided(layers[i])), default=-1)
    fine = [i for i in points if i > after_last_strided and min(_shape(layers[i].output)[:2]) >= min_side]
    return [*fine[::-1], points[-1]]


def _batch(face: np.ndarray) -> np.ndarray:
    return np.asarray(face, np.float32).reshape(1, 48, 48, 1)


def _maps(name: str, arr: np.ndarray) -> FeatureMaps:
    arr = np.asarray(arr, np.float32)
    return FeatureMaps(name, (int(arr.shape[0]), int(arr.shape[1]), int(arr.shape[2])), arr)


def _activation_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", str(act)) if act is not None else "linear"


def _activated(layers: list[Any], kinds: list[str], i: int) -> tuple[str, Any]:
    """The conv at index i followed through the batch norm / activation layers that consume it."""
    tensor, name = layers[i].output, layers[i].name
    for layer, kind in zip(layers[i + 1:], kinds[i + 1:], strict=True):
        if kind != "post" or layer.input is not tensor:
            break
        tensor, name = layer.output, layer.name
    return name, tensor


def _producer_name(layers: list[Any], tensor: Any) -> str:
    for layer in layers:
        if layer.output is tensor:
            return layer.name
    return ""


def _logit(head: Any, head_in: Any, probs: Any) -> Any:
    """Scores before the softmax when the last layer is a softmax (Dense or Activation), else log p."""
    import keras
    import tensorflow as tf

    act = getattr(head, "activation", None)
    if getattr(act, "__name__", "") == "softmax":
        if isinstance(head, keras.layers.Dense):
            z = tf.matmul(tf.cast(head_in, tf.float32), tf.cast(head.kernel, tf.float32))
            return z + tf.cast(head.bias, tf.float32) if head.use_bias else z
        if isinstance(head, keras.layers.Activation):
            return tf.cast(head_in, tf.float32)
    return tf.math.log(tf.maximum(tf.cast(probs, tf.float32), 1e-12))


def _to_heatmap(cam: np.ndarray, size: int = 48) -> np.ndarray:
    """Upsample a small map to size x size and scale to 0..1 (all zeros when nothing is positive): each
    map on its own scale (Grad-CAM's sizes are not comparable between classes on an inner layer)."""
    big = cv2.resize(np.asarray(cam, np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    big = np.maximum(big, 0.0)
    top = float(big.max())
    return (big / top).astype(np.float32) if top > 0 else np.zeros((size, size), np.float32)


def first_layer_filters(model: Any) -> Filters:
    """The first convolution's kernels as [N, kh, kw], each normalised to 0..1."""
    layer = next(layer for layer in model.layers if _kind(layer) == "conv")
    k = np.asarray(layer.get_weights()[0], np.float32)  # [kh, kw, in, out] (depthwise: [kh, kw, in, mult])
    k = k.mean(axis=2) if k.shape[2] > 1 else k[:, :, 0]  # [kh, kw, N]
    k = np.moveaxis(k, -1, 0)
    lo = k.min(axis=(1, 2), keepdims=True)
    span = k.max(axis=(1, 2), keepdims=True) - lo
    return Filters(layer.name, np.where(span > 0, (k - lo) / np.where(span > 0, span, 1), 0.5).astype(np.float32))


def model_anatomy(model: Any) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, role, output shape) of every layer that matters for the story, in order."""
    out = []
    for layer in model.layers:
        kind = _kind(layer)
        if kind not in ("other", "post"):
            out.append((layer.name, kind, _shape(layer.output)))
    return out


def normalise(img: np.ndarray) -> np.ndarray:
    """Any 2-D array -> uint8 0..255 (min-max; a flat map is mid-grey)."""
    img = np.asarray(img, np.float32)
    lo, hi = float(img.min()), float(img.max())
    if hi - lo <= 1e-12:
        return np.full(img.shape, 128 if hi > 0 else 0, np.uint8)
    return ((img - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def enlarge(img: np.ndarray, size: int) -> np.ndarray:
    """Blow a small uint8 image up to size x size with visible pixels (nearest neighbour)."""
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)


def tile(maps: np.ndarray, n: int = 16, cols: int = 8, cell: int = 48, pad: int = 2) -> np.ndarray:
    """The first n channels of maps [H, W, C] as one uint8 grid image (white gaps), each map
    normalised on its own and enlarged to cell x cell pixels."""
    maps = np.asarray(maps)
    chans = [maps[..., c] for c in range(min(n, maps.shape[-1]))]
    if not chans:
        return np.zeros((cell, cell), np.uint8)
    cols = max(1, min(cols, len(chans)))
    rows = -(-len(chans) // cols)
    grid = np.full((rows * (cell + pad) - pad, cols * (cell + pad) - pad), 255, np.uint8)
    for i, ch in enumerate(chans):
        r, c = divmod(i, cols)
        grid[r * (cell + pad):r * (cell + pad) + cell, c * (cell + pad):c * (cell + pad) + cell] = \
            enlarge(normalise(ch), cell)
    return grid


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """A heatmap (0..1, any size) laid over an RGB or grey uint8 image as RGB (red = important)."""
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image[..., :3]
    h, w = rgb.shape[:2]
    heat = cv2.resize(np.asarray(heatmap, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb.astype(np.uint8), 1 - alpha, colour, alpha, 0)
