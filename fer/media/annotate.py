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
from fer.vision.boxes import FaceBox

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


Rect = tuple[int, int, int, int]
"""(x0, y0, x1, y1): left, top, right and bottom edges in pixels, the right and bottom ones excluded."""


def place_label(size: tuple[int, int], box: Rect, image: tuple[int, int], faces: Sequence[Rect] = (),
                taken: Sequence[Rect] = ()) -> Rect:
    """Where a label of `size` (width, height) for the face in `box` goes on an image of `image` (width,
    height): above the box, else below it, else inside its top edge, each first at the box's left edge and
    then shifted sideways, else anywhere beside the obstacles; always inside the image. It covers no other
    face's box (`faces`, the face's own box excluded) and no label placed before (`taken`) wherever such a
    place exists; failing that it keeps off the other faces only, and failing that it goes above the box."""
    lw, lh = size
    iw, ih = image
    x0, y0, x1, y1 = box
    obstacles = np.array([*faces, *taken], np.int64).reshape(-1, 4)
    face_rects = np.array(faces, np.int64).reshape(-1, 4)

    def clip(v: np.ndarray, hi: int) -> np.ndarray:
        return np.clip(v, 0, max(0, hi))

    # above and below only where the label fits there whole; inside the top edge always
    rows = [y for y, fits in ((y0 - lh, y0 - lh >= 0), (y1, y1 + lh <= ih), (y0, True)) if fits]
    xs = np.concatenate([[x0, x1 - lw, 0, iw - lw], obstacles[:, 2], obstacles[:, 0] - lw])
    xs = np.unique(clip(xs, iw - lw))
    xs = xs[np.argsort(np.abs(xs - x0), kind="stable")]  # nearest the box first
    ys_more = np.unique(clip(np.concatenate([obstacles[:, 3], obstacles[:, 1] - lh, [0, ih - lh]]), ih - lh))
    ys_more = ys_more[np.argsort(np.abs(ys_more - y0), kind="stable")]
    cand = [(int(clip(np.array(x0), iw - lw)), int(clip(np.array(y), ih - lh))) for y in rows]
    cand += [(int(x), int(clip(np.array(y), ih - lh))) for y in rows for x in xs]
    cand += [(int(x), int(y)) for y in ys_more for x in xs]
    c = np.array(cand, np.int64)
    rects = np.stack([c[:, 0], c[:, 1], c[:, 0] + lw, c[:, 1] + lh], axis=1)

    def free(against: np.ndarray) -> np.ndarray:
        if not len(against):
            return np.ones(len(rects), bool)
        hit = ((rects[:, None, 0] < against[None, :, 2]) & (against[None, :, 0] < rects[:, None, 2])
               & (rects[:, None, 1] < against[None, :, 3]) & (against[None, :, 1] < rects[:, None, 3]))
        return ~hit.any(axis=1)

    for ok in (free(obstacles), free(face_rects)):
        if ok.any():
            return tuple(int(v) for v in rects[int(np.argmax(ok))])
    return tuple(int(v) for v in rects[0])


def _rect(box: FaceBox) -> Rect:
    """The upright rectangle around a face's box (a turned box's corners included)."""
    if box.angle:
        pts = box.corners()
        return (int(np.floor(pts[:, 0].min())), int(np.floor(pts[:, 1].min())), int(np.ceil(pts[:, 0].max())) + 1,
                int(np.ceil(pts[:, 1].max())) + 1)
    return box.x, box.y, box.x + box.w, box.y + box.h


EDGE = (20, 20, 20)
"""A thin dark line around every box and label: the colour stays visible on light backgrounds."""


def annotate(rgb: np.ndarray, faces: Sequence[FacePrediction], lang: str = "en", show_confidence: bool = True,
             scale: float = 1.0, numbers: Sequence[int | None] | None = None) -> np.ndarray:
    """A copy of an RGB uint8 image with every face boxed and labelled in its emotion's colour.

    `scale` maps the faces' boxes onto this image (e.g. the factor from `fit` when drawing on a
    downscaled copy). Faces found rotated (`box.angle != 0`) get a turned box. `numbers`: the
    number written before each face's label (as in the page's table; None: none for that face); none by
    default. Labels are
    `label_size` tall, whatever the size of the face.
    """
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    img = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]))
    draw = ImageDraw.Draw(img)
    h, w = rgb.shape[:2]
    size = label_size(w, h)
    fnt = font(size)
    boxes = [face.box.scaled(scale) if scale != 1.0 else face.box for face in faces]
    texts = [label_text(face, lang, show_confidence, numbers[k] if numbers is not None else None)
             for k, face in enumerate(faces)]
    _draw(draw, boxes, [COLORS[face.label] for face in faces], texts, fnt, size, (w, h))
    return np.asarray(img)


def _draw(draw: ImageDraw.ImageDraw, boxes: Sequence[FaceBox], colours: Sequence[tuple[int, int, int]],
          texts: Sequence[str], fnt: ImageFont.FreeTypeFont | ImageFont.ImageFont, size: int,
          image: tuple[int, int], widths: Sequence[int] | None = None) -> None:
    """Every box, outlined, then every label where `place_label` puts it (on top of all boxes)."""
    rects = [_rect(b) for b in boxes]
    for k, (box, colour) in enumerate(zip(boxes, colours, strict=True)):
        thickness = widths[k] if widths is not None else max(2, round(size / 8))
        if box.angle:
            pts = [tuple(p) for p in box.corners().tolist()]
            draw.polygon(pts, outline=EDGE, width=thickness + 2)
            draw.polygon(pts, outline=colour, width=thickness)
        else:
            x1, y1 = box.x + box.w - 1, box.y + box.h - 1
            draw.rectangle([box.x - 1, box.y - 1, x1 + 1, y1 + 1], outline=EDGE, width=thickness + 2)
            draw.rectangle([box.x, box.y, x1, y1], outline=colour, width=thickness)
    taken: list[Rect] = []  # labels drawn so far: the next one goes where none is
    pad = max(2, size // 6)
    for k, (text, colour) in enumerate(zip(texts, colours, strict=True)):
        left, top, right, bottom = draw.textbbox((0, 0), text, font=fnt)
        lw, lh = right - left + 2 * pad, bottom - top + 2 * pad
        others = rects[:k] + rects[k + 1:]
        x0, y0, x1, y1 = place_label((lw, lh), rects[k], image, others, taken)
        taken.append((x0, y0, x1, y1))
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=colour, outline=EDGE)
        draw.text((x0 + pad - left, y0 + pad - top), text, font=fnt, fill=_text_colour(colour))


PREVIEW_COLOURS = ((255, 200, 0), (200, 200, 200))
"""A numbered preview's boxes: the chosen face's (yellow), the others' (light grey)."""


def numbered_boxes(rgb: np.ndarray, boxes: Sequence[FaceBox], chosen: int | None = None,
                   scale: float = 1.0, shown_width: int | None = None) -> np.ndarray:
    """A copy of an RGB image with every face boxed and numbered from 1 in the boxes' order (the Images
    page's numbers); the `chosen` face's box thick and yellow, the others thin and grey. Numbers are
    LABEL_PX screen pixels tall on an image shown `shown_width` pixels wide (else fitted into DISPLAY_BOX)."""
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    img = Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]))
    h, w = rgb.shape[:2]
    size = max(10, round(LABEL_PX * w / shown_width)) if shown_width else label_size(w, h)
    shown = [b.scaled(scale) if scale != 1.0 else b for b in boxes]
    colours = [PREVIEW_COLOURS[0] if i == chosen else PREVIEW_COLOURS[1] for i in range(len(boxes))]
    widths = [max(3, round(size / 6)) if i == chosen else max(1, round(size / 12)) for i in range(len(boxes))]
    _draw(ImageDraw.Draw(img), shown, colours, [str(i) for i in range(1, len(boxes) + 1)], font(size), size, (w, h),
          widths)
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
