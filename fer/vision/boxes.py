"""A face's box in image pixels (FaceBox): what detection finds and rotation, tracking, drawing and the
results use. Its own module, so that rotation geometry needs no detector (and no cycle)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceBox:
    """A face in image pixels: top-left corner, size, and the in-plane angle it was found at."""

    x: int
    y: int
    w: int
    h: int
    angle: float = 0.0
    """Degrees the face is rotated in the image (0 = upright)."""

    @property
    def xywh(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def corners(self) -> np.ndarray:
        """The four corners [4, 2] (float) of the box turned by `angle` around its centre,
        clockwise from top-left: draw these for a face found rotated."""
        cx, cy = self.center
        half = np.array([[-self.w, -self.h], [self.w, -self.h], [self.w, self.h], [-self.w, self.h]]) / 2
        a = np.deg2rad(self.angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        return half @ rot.T + [cx, cy]

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(round(self.x * factor), round(self.y * factor), round(self.w * factor),
                       round(self.h * factor), self.angle)

    def clipped(self, width: int, height: int) -> FaceBox:
        """The box cut to an image of the given size."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.x + self.w), min(height, self.y + self.h)
        return FaceBox(x0, y0, max(0, x1 - x0), max(0, y1 - y0), self.angle)
