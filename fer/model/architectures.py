"""Architectures by name. Every model takes 48x48x1 pixels in 0..255 and outputs 7 softmax scores.

Keras is imported inside the builders so that importing this module (e.g. to list names or
validate a config) stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fer.labels import NUM_CLASSES

INPUT_SHAPE = (48, 48, 1)


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    build: Callable[..., Any]


def _head(x: Any, layers: Any, units: tuple[int, ...], rates: tuple[float, ...],
          dropout: float | None) -> Any:
    for u, r in zip(units, rates, strict=True):
        x = layers.Dense(u, activation="relu")(x)
        x = layers.Dropout(dropout if dropout is not None else r)(x)
    return layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="scores")(x)


def build_course_cnn(l2: float | None = None, dropout: float | None = None) -> Any:
    """The course report's CNN, exactly: 5,905,863 parameters."""
    import keras
    from keras import layers, regularizers

    def drop(rate: float) -> Any:
        return layers.Dropout(dropout if dropout is not None else rate)

    inp = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    x = layers.Conv2D(64, 3, padding="valid", activation="relu",
                      kernel_regularizer=regularizers.l2(0.01 if l2 is None else l2))(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(2)(x)
    x = drop(0.5)(x)
    for filters in (128, 256, 512):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
            x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(2)(x)
        x = drop(0.5)(x)
    x = layers.Flatten()(x)
    out = _head(x, layers, (512, 256, 128), (0.4, 0.4, 0.5), dropout)
    return keras.Model(inp, out, name="course_cnn")


def _weight_decay(l2: float | None) -> Any:
    """The convolutions' L2 regulariser of fer-net and res-net: 1e-4 unless `l2` says otherwise, none at 0."""
    from keras import regularizers

    return regularizers.l2(1e-4 if l2 is None else l2) if (l2 is None or l2 > 0) else None


def _conv_bn(x: Any, layers: Any, filters: int, reg: Any) -> Any:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_fer_net(l2: float | None = None, dropout: float | None = None,
                  widths: tuple[int, ...] = (32, 64, 128, 256)) -> Any:
    """A compact VGG-style net for 2-core CPUs: two conv-BN-ReLU per stage, global pooling.

    About 1.2 M parameters and 0.12 GMAC per face (the course CNN needs 0.39 GMAC).
    """
    import keras
    from keras import layers

    reg = _weight_decay(l2)
    inp = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    for i, w in enumerate(widths):
        x = _conv_bn(x, layers, w, reg)
        x = _conv_bn(x, layers, w, reg)
        if i < len(widths) - 1:
            x = layers.MaxPooling2D(2)(x)
            x = layers.Dropout(dropout if dropout is not None else 0.1 * (i + 1))(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout if dropout is not None else 0.4)(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="scores")(x)
    return keras.Model(inp, out, name="fer_net")


def _basic_block(x: Any, layers: Any, filters: int, reg: Any) -> Any:
    """He et al.'s basic residual block: two conv-BN, the input added back (through a 1x1 conv-BN where the
    width changes), then ReLU."""
    short = x
    if x.shape[-1] != filters:
        short = layers.Conv2D(filters, 1, use_bias=False, kernel_regularizer=reg)(x)
        short = layers.BatchNormalization()(short)
    x = _conv_bn(x, layers, filters, reg)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Add()([x, short])
    return layers.Activation("relu")(x)


def build_res_net(l2: float | None = None, dropout: float | None = None,
                  widths: tuple[int, ...] = (64, 128, 256), blocks: int = 2) -> Any:
    """A small ResNet for 48x48 faces: a 32-map stem at full size, then `blocks` basic residual blocks per
    stage at 24, 12 and 6 pixels (max pooling between stages, so each stage's input is a pooled map),
    global pooling. About 2.8 M parameters and 0.23 GMAC per face: an ensemble member that differs from
    fer-net by its shortcuts and depth (13 convolutions against 8).
    """
    import keras
    from keras import layers

    reg = _weight_decay(l2)
    inp = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    x = _conv_bn(x, layers, 32, reg)
    for i, w in enumerate(widths):
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(dropout if dropout is not None else 0.1 * (i + 1))(x)
        for _ in range(blocks):
            x = _basic_block(x, layers, w, reg)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout if dropout is not None else 0.4)(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="scores")(x)
    return keras.Model(inp, out, name="res_net")


def build_mini_xception(l2: float | None = None, dropout: float | None = None) -> Any:
    """Arriaga et al. (2017) mini-Xception: depthwise-separable residual blocks, ~60k parameters."""
    import keras
    from keras import layers, regularizers

    reg = regularizers.l2(0.01 if l2 is None else l2)
    inp = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    for _ in range(2):
        x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=reg)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    for filters in (16, 32, 64, 128):
        res = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
        res = layers.BatchNormalization()(res)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                   depthwise_regularizer=reg, pointwise_regularizer=reg)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False,
                                   depthwise_regularizer=reg, pointwise_regularizer=reg)(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.Add()([x, res])
    if dropout:
        x = layers.Dropout(dropout)(x)
    x = layers.Conv2D(NUM_CLASSES, 3, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Activation("softmax", dtype="float32", name="scores")(x)
    return keras.Model(inp, out, name="mini_xception")


def build_tiny_cnn(l2: float | None = None, dropout: float | None = None) -> Any:
    """A very small net (~25k parameters) for quick demos and tests; trains in seconds."""
    import keras
    from keras import layers, regularizers

    reg = regularizers.l2(l2) if l2 else None
    inp = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    for w in (8, 16, 32):
        x = _conv_bn(x, layers, w, reg)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout if dropout is not None else 0.2)(x)
    out = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="scores")(x)
    return keras.Model(inp, out, name="tiny_cnn")


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("course-cnn", "The course report's CNN (5.9 M parameters)", build_course_cnn),
        Architecture("fer-net", "Compact VGG-style CNN with global pooling, fast on CPUs (1.2 M)",
                     build_fer_net),
        Architecture("res-net", "Small ResNet: basic residual blocks, global pooling (2.8 M)", build_res_net),
        Architecture("mini-xception", "Arriaga et al. mini-Xception, separable convolutions (60 k)",
                     build_mini_xception),
        Architecture("tiny-cnn", "A very small CNN for quick demos and tests (25 k)", build_tiny_cnn),
    )
}


def build_model(name: str, l2: float | None = None, dropout: float | None = None) -> Any:
    """Build an untrained (uncompiled) Keras model by architecture name."""
    try:
        arch = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}") from None
    return arch.build(l2=l2, dropout=dropout)


def count_params(name: str) -> int:
    return int(build_model(name).count_params())
