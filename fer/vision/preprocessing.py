"""Decoding uploads (EXIF orientation, any colour mode) and cutting faces to the model's input."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from fer.vision.boxes import FaceBox

MODEL_SIZE = 48
MAX_PIXELS = 60_000_000
"""Images with more pixels than this are refused (a 12 MP photo is fine; a bomb is not)."""
MAX_DECODED_BYTES = 192 * 1024**2
"""Images whose decoded pixels (as Pillow holds them, after a JPEG's reduced decoding: 1 byte a pixel for grey
and palette, 2 for 16-bit grey, 4 for RGB, RGBA, LA, 32-bit grey and the rest) take more than this are refused
before decoding: 60 MP of grey, palette or 16-bit grey, 48 MP of colour or alpha."""
BAND_PIXELS = 1 << 20
"""Pixels converted to RGB at a time (`_to_rgb`): the conversion's temporaries stay a few MB whatever the image."""


IMAGE_ERROR_KINDS = ("empty", "not_image", "too_large", "too_large_decoded", "bomb", "damaged")
"""`ImageError.kind` values: the app shows a translated message per kind (images.error_<kind>)."""


class ImageError(ValueError):
    """An upload is not a usable image; the message says why in plain words.

    `kind` (one of IMAGE_ERROR_KINDS) and `details` (e.g. width, height) let a user interface say
    the same in its own language.
    """

    def __init__(self, message: str, kind: str = "damaged", **details: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details

    def detached(self) -> ImageError:
        """This error fit to be kept after it was caught (the Images page keeps a refused photo's error): without
        its traceback, nor the exception it replaced (`raise ... from None` only hides that one: it stays as
        `__context__`, with its traceback). Those frames hold the photo's bytes and the names of the page run
        that read it, the run's whole namespace included, for as long as the error is kept."""
        self.__context__ = self.__cause__ = None
        return self.with_traceback(None)


@dataclass(frozen=True, eq=False)
class Decoded:
    """An upright RGB image, possibly decoded reduced, and the full upright size of the file's image."""

    rgb: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> float:
        """Full-size pixels per pixel of `rgb` (1.0: decoded at full size)."""
        return self.width / self.rgb.shape[1]


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Bytes of an image file -> RGB uint8 array [H, W, 3], upright per its EXIF orientation."""
    return decode_reduced(data, name).rgb


def decode_reduced(data: bytes, name: str = "image", min_side: int = 0) -> Decoded:
    """Like `decode_image`, but a JPEG whose longer side is at least twice `min_side` is decoded at 1/2,
    1/4 or 1/8 of its size (libjpeg's DCT scaling, Pillow's draft mode): the smallest of these whose
    longer side is still at least `min_side`. Several times faster than a full decode of a 12 MP photo.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageError(f"{name}: the file is empty (0 bytes)", "empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{name}: {w}x{h} pixels is too large (limit {MAX_PIXELS // 1_000_000} megapixels)",
                                 "too_large", width=w, height=h, limit=MAX_PIXELS // 1_000_000)
            img.seek(0)  # first frame of an animation
            if min_side and img.format == "JPEG" and max(w, h) >= 2 * min_side:
                f = min_side / max(w, h)
                img.draft("RGB", (math.ceil(w * f), math.ceil(h * f)))
            decoded = decoded_bytes(img.mode, *img.size)
            if decoded > MAX_DECODED_BYTES:
                mb = MAX_DECODED_BYTES // 1024**2
                raise ImageError(f"{name}: {w}x{h} pixels of {img.mode} take {decoded / 1024**2:,.0f} MB decoded "
                                 f"(limit {mb} MB)", "too_large_decoded", width=w, height=h, mode=img.mode,
                                 mb=round(decoded / 1024**2), limit=mb)
            img.load()
            before = img.size
            ImageOps.exif_transpose(img, in_place=True)
            turned = img.size != before  # a quarter turn (EXIF orientation 5 to 8)
            factor = max(img.size) // min_side if min_side and img.format != "JPEG" else 1
            return Decoded(_to_rgb(img, factor), h if turned else w, w if turned else h)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file (or a format this app cannot read)", "not_image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: too many pixels (a decompression bomb?)", "bomb") from None
    except Exception as exc:  # noqa: BLE001 - whatever a decoder raises (KeyError from EXIF, struct.error,
        # NotImplementedError for a DDS pixel format, RuntimeError from libavif...), the file is at fault
        raise ImageError(f"{name}: the image data is damaged or truncated ({type(exc).__name__}: {exc})",
                         "damaged") from None


def decoded_bytes(mode: str, width: int, height: int) -> int:
    """Bytes Pillow holds for a decoded image of this mode and size (1, 2 or 4 a pixel)."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return per_pixel * width * height


def _to_rgb(img: object, factor: int = 1) -> np.ndarray:
    """RGB uint8 of any Pillow mode, shrunk `factor` times (box filter, sides rounded up) when `factor` > 1.

    Converted a band of rows at a time (BAND_PIXELS): a 60 MP 16-bit grey PNG took 1.5 GB more as float64 at
    full size, RGBA, LA and palette with transparency 1.3-1.6 GB as full-size composites. 16-bit and 32-bit grey
    are scaled to 0..255 by the image's maximum (65535 when over 255); transparent pixels are put on white."""
    from PIL import Image

    w, h = img.size  # type: ignore[attr-defined]
    mode = img.mode  # type: ignore[attr-defined]
    if factor <= 1 and mode == "RGB":
        return np.asarray(img)
    factor = max(factor, 1)
    wide = mode in ("I;16", "I;16B", "I;16L", "I")
    alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info)  # type: ignore[attr-defined]
    hi = (img.getextrema()[1] or 1) if wide else 0  # type: ignore[attr-defined]
    out = np.empty((-(-h // factor), -(-w // factor), 3), np.uint8)
    rows = max(factor, BAND_PIXELS // max(w, 1) // factor * factor)
    for y0 in range(0, h, rows):
        band = img.crop((0, y0, w, min(h, y0 + rows)))  # type: ignore[attr-defined]
        if wide:
            arr = np.asarray(band)
            gray = arr.clip(0, 255) if hi <= 255 else (arr * (255.0 / 65535.0)).clip(0, 255)
            band = Image.fromarray(gray.astype(np.uint8), "L").convert("RGB")
        elif alpha:
            rgba = band.convert("RGBA")
            band = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        elif band.mode != "RGB":
            band = band.convert("RGB")
        if factor > 1:
            band = band.reduce(factor)
        out[y0 // factor:y0 // factor + band.size[1]] = np.asarray(band)
    return out


def to_gray(img: np.ndarray) -> np.ndarray:
    """RGB, RGBA or gray uint8 -> gray uint8 [H, W]."""
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_RGBA2GRAY)
    if img.shape[2] == 1:
        return img[:, :, 0]
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


MARGIN_RANGE = (0.0, 1.0)
"""The border around a face a crop may add, as a fraction of its size (the app offers up to 0.4)."""


def expand_box(box: FaceBox, margin: float, width: int, height: int) -> FaceBox:
    """Grow a box by `margin` (fraction of its size) on every side, cut to the image."""
    dx, dy = round(box.w * margin), round(box.h * margin)
    return FaceBox(box.x - dx, box.y - dy, box.w + 2 * dx, box.h + 2 * dy, box.angle).clipped(width, height)


def crop_face(gray: np.ndarray, box: FaceBox, margin: float = 0.0) -> np.ndarray:
    """The face under `box` as the model's 48x48 uint8 input, turned upright when `box.angle` != 0."""
    if box.angle != 0:
        from fer.vision.rotation import upright_crop

        return upright_crop(gray, box, margin, MODEL_SIZE)
    h, w = gray.shape[:2]
    b = expand_box(box, margin, w, h)
    if b.w == 0 or b.h == 0:
        return np.zeros((MODEL_SIZE, MODEL_SIZE), np.uint8)
    crop = gray[b.y:b.y + b.h, b.x:b.x + b.w]
    interp = cv2.INTER_AREA if min(b.w, b.h) >= MODEL_SIZE else cv2.INTER_LINEAR
    return cv2.resize(crop, (MODEL_SIZE, MODEL_SIZE), interpolation=interp)


def crop_faces(gray: np.ndarray, boxes: list[FaceBox], margin: float = 0.0) -> np.ndarray:
    """Stack of 48x48 crops [N, 48, 48] for one batched classification."""
    if not boxes:
        return np.zeros((0, MODEL_SIZE, MODEL_SIZE), np.uint8)
    return np.stack([crop_face(gray, b, margin) for b in boxes])
