"""Drawing the results on an image: a box per face in its emotion's colour, with its name and confidence."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fer.i18n import fmt_percent
from fer.labels import COLORS, display_name
from fer.model.inference import FacePrediction

log = logging.getLogger(__name__)

FONT_FILES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)
"""Preferred fonts (full Latin coverage); Pillow's own scalable font otherwise (also covers accents)."""


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of `size` pixels that renders accented letters (e.g. 'Surpresa', 'Nojo', 'Raiva')."""
    for path in FONT_FILES:
        if path.exists():
            try:
                return ImageFont.truetype(str(path), size)
            except OSError as exc:
                log.warning("could not load font %s: %s", path, exc)
    return ImageFont.load_default(size=size)


def fit(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image downscaled so its longer side is at most `max_side`, and the factor applied (<= 1)."""
    h, w = rgb.shape[:2]
    factor = min(1.0, max_side / max(h, w))
    if factor == 1.0:
        return rgb, 1.0
    small = cv2.resize(rgb, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    return small, factor


LABEL_PX = 18
"""Label height in pixels on an image shown at DISPLAY_BOX size (the images page shows photos so)."""
DISPLAY_BOX = (560, 480)
"""(width, height) the images page fits photos into; labels are sized for it."""


def label_size(width: int, height: int) -> int:
    """Font size for labels on a `width` x `height` image shown fitted into DISPLAY_BOX: LABEL_PX
    screen pixels whatever the photo's own size (a 2000 px group photo and a close-up alike)."""
    return max(10, round(LABEL_PX * max(width / DISPLAY_BOX[0], height / DISPLAY_BOX[1])))


def display_width(width: int, height: int) -> int:
    """Screen pixels wide a `width` x `height` image is shown at, fitted into DISPLAY_BOX (a tall
    portrait stays DISPLAY_BOX[1] high instead of filling the column)."""
    shown = max(1, round(width * min(DISPLAY_BOX[0] / width, DISPLAY_BOX[1] / height)))
    return max(shown, min(width, math.ceil(width / height)))  # a 3000x1 strip keeps a pixel of height


def label_text(face: FacePrediction, lang: str = "en", show_confidence: bool = True, number: int | None = None) -> str:
    """'Happy 87.5%' (en) or 'Feliz 87,5%' (pt); the name alone without confidence; '2 · Happy 87.5%'
    with the face's number (as in the page's charts and table)."""
    name = display_name(face.label, lang)
    text = f"{name} {fmt_percent(face.confidence, lang)}" if show_confidence else name
    return f"{number} · {text}" if number is not None else text


def _text_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


EDGE = (20, 20, 20)
"""A thin dark line around every box and label: the colour stays visible on light backgrounds."""


def annotate(rgb: np.ndarray, faces: Sequence[FacePrediction], lang: str = "en", show_confidence: bool = True,
             scale: float = 1.0, numbers: Sequence[int] | None = None) -> np.ndarray:
    """A copy of an RGB uint8 image with every face boxed and labelled in its emotion's colour.

    `scale` maps the faces' boxes onto this image (e.g. the factor from `fit` when drawing on a
    downscaled copy). Faces found rotated (`box.angle != 0`) get a turned box. `numbers`: the
    number written before each face's label (as in the page's table); none by default. Labels are
    `label_size` tall, whatever the size of the face.
    """
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    img = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]))
    draw = ImageDraw.Draw(img)
    h, w = rgb.shape[:2]
    size = label_size(w, h)
    fnt = font(size)
    taken: list[tuple[int, int, int, int]] = []  # labels drawn so far: the next one goes where none is
    for k, face in enumerate(faces):
        colour = COLORS[face.label]
        box = face.box.scaled(scale) if scale != 1.0 else face.box
        thickness = max(2, round(size / 8))
        if box.angle:
            pts = [tuple(p) for p in box.corners().tolist()]
            draw.polygon(pts, outline=EDGE, width=thickness + 2)
            draw.polygon(pts, outline=colour, width=thickness)
            anchor_x, anchor_y = min(pts, key=lambda p: (p[1], p[0]))
        else:
            x1, y1 = box.x + box.w - 1, box.y + box.h - 1
            draw.rectangle([box.x - 1, box.y - 1, x1 + 1, y1 + 1], outline=EDGE, width=thickness + 2)
            draw.rectangle([box.x, box.y, x1, y1], outline=colour, width=thickness)
            anchor_x, anchor_y = box.x, box.y
        text = label_text(face, lang, show_confidence, numbers[k] if numbers is not None else None)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=fnt)
        tw, th = right - left, bottom - top
        pad = max(2, size // 6)
        lw, lh = tw + 2 * pad, th + 2 * pad
        x0 = int(np.clip(anchor_x, 0, max(0, w - lw)))
        bottom_y = max(p[1] for p in box.corners().tolist()) if box.angle else box.y + box.h
        # above the box, else inside its top edge, else below it; the first place no other label covers
        places = [anchor_y - lh, anchor_y, bottom_y + 1]
        spots = [int(np.clip(y, 0, max(0, h - lh))) for y in places]
        y0 = next((y for y in spots if not any(_overlap((x0, y, x0 + lw, y + lh), r) for r in taken)), spots[0])
        taken.append((x0, y0, x0 + lw, y0 + lh))
        draw.rectangle([x0, y0, x0 + lw, y0 + lh], fill=colour, outline=EDGE)
        draw.text((x0 + pad - left, y0 + pad - top), text, font=fnt, fill=_text_colour(colour))
    return np.asarray(img)


PREVIEW_MAX_SIDE = 2048
"""The longest side of a picture shown as it is (not analysed): JPEG, which st.image sends, cannot encode a side
over 65,535 pixels, and a 1 x 59,999,999 PNG is 117 kB (issue 42)."""


def preview(rgb: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """`rgb` shrunk (never enlarged) so that neither side passes `max_side`; each side keeps at least one pixel."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
