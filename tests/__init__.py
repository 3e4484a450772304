"""The test suite. Every test process keeps the app's import order (ui.warmup): aiortc's native libraries
before TensorFlow, since pylibsrtp imported after TensorFlow crashes the process."""

from ui.warmup import import_webrtc_before_tensorflow

import_webrtc_before_tensorflow()
