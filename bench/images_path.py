"""Time the Images page's path, bytes to annotated result, for a full-HD photo and a 12-megapixel one.

    python bench/images_path.py [--repeat 5]

Prints one line per image: median milliseconds of decode (EXIF) + detect + classify + draw.
"""

import streamlit_webrtc  # noqa: F401, I001  (must precede tensorflow: segfault otherwise)

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer.annotate import annotate  # noqa: E402
from fer.detection import Detector  # noqa: E402
from fer.inference import Classifier  # noqa: E402
from fer.photo import analyse_photo  # noqa: E402
from fer.tfenv import import_tensorflow  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "photos"


def twelve_megapixels() -> bytes:
    """obama_and_biden.jpg upscaled to 4000x3000 (12 MP), as a JPEG."""
    img = Image.open(PHOTOS / "obama_and_biden.jpg").convert("RGB").resize((4000, 3000), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default=str(ROOT / "models" / "default.keras"))
    args = ap.parse_args()
    import_tensorflow()
    clf = Classifier.from_file(args.model)
    clf.warm_up()
    det = Detector()
    cases = [("obama-1080p.jpg (1920x1080)", (PHOTOS / "obama-1080p.jpg").read_bytes()),
             ("12 MP (4000x3000, 2 faces)", twelve_megapixels())]
    for name, data in cases:
        times, faces = [], 0
        for _ in range(args.repeat + 1):  # the first run warms caches
            start = time.perf_counter()
            res = analyse_photo(data, name, det, clf)
            annotate(res.display, res.faces, "en", True, scale=res.display_scale)
            times.append(time.perf_counter() - start)
            faces = len(res.faces)
        ms = 1000 * statistics.median(times[1:])
        print(f"{name}: {ms:.0f} ms median of {args.repeat} (bytes -> annotated result), {faces} face(s), "
              f"{len(data) / 1e6:.1f} MB file")


if __name__ == "__main__":
    main()
