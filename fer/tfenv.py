"""Import TensorFlow once, without its C++ start-up chatter on stderr (CUDA probes, oneDNN notes)."""

from __future__ import annotations

import os
import sys
from typing import Any


def import_tensorflow() -> Any:
    """`import tensorflow` with file descriptor 2 silenced while TF initialises its devices."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
        tf.constant(0.0) + 1.0  # the CUDA probe happens on the first op
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return tf
