"""Make the Videos page's example clip (data/examples/clip.mp4) from the committed public-domain photos.

Three heads cut from tests/fixtures/photos (obama.jpg, biden.jpg, obama2.jpg: works of the US federal
government, public domain in the US; see that folder's README) move over a plain background: two from the
start, the third slides in after a second, so the page numbers people in order of appearance and follows
them while they move. H.264 in mp4 (yuv420p, +faststart): every browser plays it.

    python -m scripts.make_example_clip [--out data/examples/clip.mp4] [--seconds 5] [--fps 25]
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import av
import cv2
import numpy as np

from fer.paths import ROOT
from fer.vision.detection import Detector

log = logging.getLogger(__name__)

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
OUT = ROOT / "data" / "examples" / "clip.mp4"
SIZE = (640, 360)
"""Width, height of the clip."""
HEAD_H = 200
"""Height of each head cut (pixels): faces of about 90 pixels, as in a webcam call."""


def head(photo: Path, height: int = HEAD_H) -> np.ndarray:
    """The photo's largest face with room around it (RGB), scaled to `height` pixels high."""
    bgr = cv2.imread(str(photo))
    if bgr is None:
        raise SystemExit(f"cannot read {photo}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    faces = Detector().detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    if not faces:
        raise SystemExit(f"no face found in {photo}")
    x, y, w, h = max(faces, key=lambda b: b.w * b.h).xywh
    cx, cy, side = x + w / 2, y + h / 2, 2.2 * max(w, h)
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(rgb.shape[1], cx + side / 2)), int(min(rgb.shape[0], cy + side / 2))
    crop = rgb[y0:y1, x0:x1]
    return cv2.resize(crop, (round(crop.shape[1] * height / crop.shape[0]), height), interpolation=cv2.INTER_AREA)


def paste(frame: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
    """Copy `img` onto `frame` with its top left corner at (x, y), cut at the frame's edges."""
    h, w = img.shape[:2]
    fx0, fy0 = max(0, x), max(0, y)
    fx1, fy1 = min(frame.shape[1], x + w), min(frame.shape[0], y + h)
    if fx1 > fx0 and fy1 > fy0:
        frame[fy0:fy1, fx0:fx1] = img[fy0 - y:fy1 - y, fx0 - x:fx1 - x]


def frames(seconds: float, fps: int) -> list[np.ndarray]:
    """The clip's RGB frames."""
    heads = [head(PHOTOS / n) for n in ("obama.jpg", "biden.jpg", "obama2.jpg")]
    width, height = SIZE
    background = np.linspace(70, 110, width, dtype=np.float32)[None, :, None].repeat(height, 0).repeat(3, 2)
    out = []
    n = round(seconds * fps)
    for i in range(n):
        s = i / fps
        frame = background.astype(np.uint8)
        top = (height - HEAD_H) // 2
        paste(frame, heads[0], round(20 + 30 * math.sin(s * 1.3)), top + round(12 * math.sin(s * 2.1)))
        paste(frame, heads[1], round(230 + 15 * math.sin(s * 1.7 + 1)), top + round(10 * math.cos(s * 1.9)))
        enter = min(1.0, max(0.0, (s - 1.0) / 1.2))  # slides in from the right between 1.0 and 2.2 s
        paste(frame, heads[2], round(width - enter * (width - 440)), top + round(8 * math.sin(s * 2.5)))
        out.append(frame)
    return out


def write(path: Path, rgb_frames: list[np.ndarray], fps: int, crf: int = 30) -> None:
    """H.264 (yuv420p) in mp4 with the index first, so a browser starts playing before the whole file arrives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for rgb in rgb_frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args(argv)
    write(args.out, frames(args.seconds, args.fps), args.fps)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB, {args.seconds:g} s at {args.fps} fps")


if __name__ == "__main__":
    main()
