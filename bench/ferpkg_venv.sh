#!/usr/bin/env bash
# A separate virtual environment with the PyPI `fer` package (justinshenk/fer), for
# `python -m bench.video_file --ferpkg VENV/bin/python`. Its import name `fer` is this project's too, so it
# cannot live in the project's environment; this script never touches that one.
#
#     bash bench/ferpkg_venv.sh [VENV]      # default /root/venv-ferpkg; about 2 GB, 3-4 minutes
#
# `pip install fer` alone pulls facenet-pytorch, hence torch with its CUDA libraries (gigabytes), and moviepy.
# Neither is needed for what the benchmark runs: fer 25.10.3 imports facenet_pytorch (and torch) only for
# FER(mtcnn=True), and moviepy inside a try, for Video.analyze(include_audio=True) alone; matplotlib is not
# imported at all. So fer goes in with --no-deps and only what `FER(mtcnn=False)` and `Video.analyze` import:
# TensorFlow (CPU build, the project's version: fer's quantized TFLite model runs in tf.lite.Interpreter, and its
# Keras .hdf5 loads under Keras 3 too), OpenCV with its GUI module (fer calls cv2.waitKey on every frame, which
# the headless build refuses; the same OpenCV release as the project's, so that both use the same Haar cascade
# code), pandas, tqdm, requests, Pillow.
set -euo pipefail

VENV="${1:-/root/venv-ferpkg}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python

"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/pip" install --disable-pip-version-check)
"${PIP[@]}" tensorflow-cpu==2.21.0
"${PIP[@]}" opencv-contrib-python==4.14.0.94 pandas tqdm requests Pillow
"${PIP[@]}" --no-deps fer==25.10.3

# fer imports pkg_resources (setuptools < 81): Python 3.11's venv brings setuptools 65, a 3.12 venv none.
"$VENV/bin/python" -c "import pkg_resources" 2>/dev/null || "${PIP[@]}" "setuptools<81"
"$VENV/bin/python" -I - <<'EOF'
import importlib.metadata as md

from fer.classes import Video  # noqa: F401  (fer 25.10.3's __init__ does not export FER and Video)
from fer.fer import FER

FER(mtcnn=False)
print({name: md.version(name) for name in ("fer", "tensorflow-cpu", "opencv-contrib-python", "keras", "numpy")})
EOF
