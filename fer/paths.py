"""Where the project's folders are: the repository root holds models/, runs/ and data/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the app and the command line resolve relative paths against it)."""
