"""Where the project's folders are: the repository root holds models/, runs/ and data/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the app and the command line resolve relative paths against it)."""

MODELS_DIR = ROOT / "models"
"""The shipped models, each a .keras file with its card."""
DEFAULT_MODEL = MODELS_DIR / "default.keras"
"""The shipped model: what photos, the command line and a new session use."""
WEBCAM_MODEL = MODELS_DIR / "webcam.keras"
"""When shipped, the single network that looks once at each face for the shipped model wherever one view is
used (the webcam, videos): one fer-net, the candidate with the best one view on PublicTest
(fer.model.modelio.one_view_model)."""
