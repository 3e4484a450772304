"""Short synthetic video clips for tests, benchmarks and the Videos page's example: faces from the public-domain
photos of tests/fixtures/photos pasted side by side on a plain background, each moving a little.

`make_clip(path, seconds=1, size=(320, 240), faces=2)` writes one with PyAV; the container follows the path's
suffix (.mp4, .mov, .mkv, .webm, .avi). Keep test clips tiny (1-2 s, 160-320 px): they encode in well under a
second.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from fer.paths import ROOT

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
FACES = (("obama.jpg", (342, 95, 300, 300)), ("biden.jpg", (430, 210, 315, 315)),
         ("obama2.jpg", (139, 243, 343, 343)))
"""(photo, the Haar box of its face): the faces pasted, left to right."""
MARGIN = 0.3
"""Each face is pasted with this share of its size around it (the cascade needs some forehead and chin)."""
CODECS = {"h264": "libx264", "mpeg4": "mpeg4", "vp9": "libvpx-vp9", "vp8": "libvpx", "mjpeg": "mjpeg"}


@cache
def face_tile(index: int) -> np.ndarray:
    """The RGB crop of face `index` (0..2) with its margin."""
    name, (x, y, w, h) = FACES[index]
    bgr = cv2.imread(str(PHOTOS / name))
    m = round(MARGIN * w)
    crop = bgr[max(0, y - m):y + h + m, max(0, x - m):x + w + m]
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


def face_boxes(size: tuple[int, int], faces: int, t: float, move: int = 6) -> list[tuple[int, int, int]]:
    """(x, y, side) of each pasted tile at time `t` in an upright frame of `size` (width, height)."""
    w, h = size
    if not faces:
        return []
    side = int(min(w / faces, h) * 0.8)
    out = []
    for i in range(faces):
        cx = (i + 0.5) * w / faces + move * math.sin(2 * math.pi * (t / 2 + i / 3))
        cy = h / 2 + move * math.cos(2 * math.pi * (t / 2 + i / 5))
        out.append((int(round(cx - side / 2)), int(round(cy - side / 2)), side))
    return out


def draw_frame(size: tuple[int, int], faces: int, t: float, move: int = 6) -> np.ndarray:
    """One upright RGB frame: a soft gradient and `faces` faces moving `move` pixels around their places."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.empty((h, w, 3), np.uint8)
    frame[..., 0] = 90 + (60 * xx / max(1, w - 1)).astype(np.uint8)
    frame[..., 1] = 110
    frame[..., 2] = 130 + (50 * yy / max(1, h - 1)).astype(np.uint8)
    for i, (x, y, side) in enumerate(face_boxes(size, faces, t, move)):
        tile = cv2.resize(face_tile(i % len(FACES)), (side, side), interpolation=cv2.INTER_AREA)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(w, x + side), min(h, y + side)
        frame[y0:y1, x0:x1] = tile[y0 - y:y1 - y, x0 - x:x1 - x]
    return frame


def make_clip(path: Path, *, seconds: float = 1.0, fps: float = 30, size: tuple[int, int] = (320, 240),
              faces: int = 1, rotation: int = 0, audio: bool = False, codec: str = "h264", move: int = 6,
              vfr: bool = False) -> Path:
    """Write a clip of `seconds` at `fps` whose frames, shown upright, are `size` (width, height) with `faces`
    (0..3) faces. `rotation` (0, 90, 180, 270): the frames are stored turned and the container's display matrix
    says how to turn them back (as phones record portrait video). `audio`: a 440 Hz AAC tone beside it.
    `vfr`: frame timestamps spaced unevenly (a variable frame rate). Returns `path`."""
    import av

    if rotation not in (0, 90, 180, 270):
        raise ValueError("rotation must be 0, 90, 180 or 270")
    if not 0 <= faces <= len(FACES):
        raise ValueError(f"faces must be 0..{len(FACES)}")
    path = Path(path)
    n = max(0, round(seconds * fps))
    rate = Fraction(fps).limit_denominator(1001)
    stored = size if rotation in (0, 180) else (size[1], size[0])
    with av.open(str(path), "w") as out:
        vs = out.add_stream(CODECS.get(codec, codec), rate=rate)
        vs.width, vs.height = stored
        vs.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        tick = Fraction(1, 1000) if vfr else 1 / rate
        vs.codec_context.time_base = tick
        if rotation:
            vs.set_display_rotation(rotation)
        aus = None
        if audio:
            aus = out.add_stream("aac", rate=44100)
            aus.layout = "mono"
        for i in range(n):
            t = i / fps
            rgb = np.ascontiguousarray(np.rot90(draw_frame(size, faces, t, move), k=-rotation // 90))
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            # vfr: intervals alternately a quarter longer and a quarter shorter than the nominal one
            pts = round(1000 * (i + (0.25 if i % 2 else 0)) / fps) if vfr else i
            frame.pts, frame.time_base = pts, tick
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if n == 0:  # no frame: the header alone (a zero-length clip)
            out.start_encoding()
        if aus is not None:
            samples = int(seconds * 44100)
            done = 0
            while done < samples:
                k = min(1024, samples - done)
                tone = (0.2 * np.sin(2 * np.pi * 440 * (done + np.arange(k)) / 44100)).astype(np.float32)
                af = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 44100, done, Fraction(1, 44100)
                for packet in aus.encode(af):
                    out.mux(packet)
                done += k
            for packet in aus.encode():
                out.mux(packet)
    return path
