"""Ctrl-C (or SIGTERM) during training: the first stops after the current batch, a second aborts."""

from __future__ import annotations

import signal
import sys
from typing import Any


class StopOnInterrupt:
    """While training: the first Ctrl-C (or SIGTERM) stops after the current batch and keeps the work.

    A second one aborts at once.
    """

    def __init__(self) -> None:
        self.asked = False
        self._saved: dict[int, Any] = {}

    def requested(self) -> bool:
        return self.asked

    def _handle(self, signum: int, frame: Any) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        print("stopping after the current batch (press Ctrl-C again to abort)", file=sys.stderr, flush=True)

    def __enter__(self) -> StopOnInterrupt:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
