"""One ordinary photo (a phone photo, a screenshot, a webcam snapshot) to the 48x48 face a dataset holds.

The photo is decoded as the Images page decodes it (fer.vision.preprocessing.decode_reduced: EXIF orientation,
any colour mode, the same limits and the same ImageError for a bad file), its faces found by the app's own
detector (the frontal cascade upright first and, when it finds none, turned by ±20 and ±40 degrees: tilted heads
too) and the largest face cropped as the Images page crops it (fer.vision.preprocessing.crop_face, de-rotated).
A dataset of such photos (`<emotion>/*`, any size) is loaded by fer.data.dataset.load_dataset, which calls
`face_crop` for each photo (docs/data.md).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector, DetectorConfig

log = logging.getLogger(__name__)

MAX_PHOTOS = 2000
"""Photos one photos dataset may hold: each costs a detection (0.05-0.5 s on 2 cores), so 2,000 take minutes
at worst. A dataset with more is refused (DataError too_many_photos); FER2013's 48x48 crops have no such cost."""

_DETECTORS: dict[str, Detector] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """The face a photo gives a dataset: the largest face found, as the model's 48x48 gray input.

    `crop` and `box` are None when no face was found (`faces_found` 0): a photos dataset lists such a photo as
    skipped (kind 'no_face')."""

    name: str
    width: int
    height: int
    """The photo's full upright size (after its EXIF orientation)."""
    faces_found: int
    box: FaceBox | None
    """The largest face, in the photo's full-size upright pixels (`angle` != 0: a tilted face)."""
    crop: np.ndarray | None = field(repr=False)
    """uint8 [48, 48], the face as the Images page crops it (upright)."""

    @property
    def found(self) -> bool:
        return self.crop is not None


def photo_detector(mode: str = "upright") -> Detector:
    """The app's default detector (DetectorConfig() with `mode`), one per mode, shared by threads."""
    with _LOCK:
        if mode not in _DETECTORS:
            _DETECTORS[mode] = Detector(DetectorConfig(mode=mode))
        return _DETECTORS[mode]


def face_crop(data: bytes, name: str, detector: Detector | None = None, margin: float = 0.0) -> FaceCrop:
    """The largest face of the photo `data` cropped to 48x48 gray as the Images page crops it.

    `detector`: None for the default (upright, then rotated when upright finds no face); a given detector is
    used alone. `margin`: the border around the face (the Images page's default 0).
    Raises fer.vision.preprocessing.ImageError (kind and details) for a file that is not a usable image, as the
    Images page does.
    """
    from fer.vision.preprocessing import crop_face, decode_reduced, to_gray

    first = detector or photo_detector("upright")
    img = decode_reduced(data, name, first.config.max_side)
    gray = to_gray(img.rgb)
    boxes = first.detect(gray, img.scale)
    if not boxes and detector is None:  # a tilted head: the turned passes, only when upright found nothing
        boxes = photo_detector("rotated").detect(gray, img.scale)
    if not boxes:
        return FaceCrop(name, img.width, img.height, 0, None, None)
    face = largest(boxes)
    crop = crop_face(gray, face, margin)
    if img.scale != 1.0:  # the box in the photo's full-size pixels, as the Images page reports it
        face = face.scaled(img.scale)
        face = face.clipped(img.width, img.height) if face.angle == 0 else face
    return FaceCrop(name, img.width, img.height, len(boxes), face, crop)


def largest(boxes: list[FaceBox]) -> FaceBox:
    """The face with the largest area (the first of equals, left to right)."""
    return max(boxes, key=lambda b: b.w * b.h)
