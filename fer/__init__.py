"""Facial emotion recognition on FER2013: data, detection, models, training, evaluation.

Never imports streamlit; TensorFlow is imported only where a model is built or run.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
