"""Images page path: bytes of a photo to the annotated result, per stage, for a full-HD photo and 12 MP ones.

    python -m bench.images_path [--repeat 5] [--json] [--model models/default.keras]

The page's own call (fer.media.photo.analyse_photo, default detector) plus the drawing it shows (annotate
on the display copy). Stages (from PhotoResult.stages_ms): decode (a large JPEG decoded reduced, EXIF
orientation applied), detect (grey, downscale to DetectorConfig.max_side, Haar cascade), classify,
display (resize to the display size), annotate. `full decode` is the reference: the same bytes
decoded at full size (fer.vision.preprocessing.decode_image). CPU ms: CPU time of the process (all threads)
for the whole path, less sensitive to other load. Median of --repeat runs after one warm-up.
The 12 MP photos are obama_and_biden.jpg upscaled to 4000x3000, JPEG quality 90; the `EXIF` one is
stored sideways (3000x4000) with an orientation tag that turns it upright.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

from bench.common import PHOTOS, emit, machine, twelve_megapixels
from fer.paths import DEFAULT_MODEL

STAGES = ("decode", "detect", "classify", "display", "annotate")


def sideways(jpeg: bytes) -> bytes:
    """The photo stored turned a quarter (3000x4000) with EXIF orientation 6 (show it turned back)."""
    from PIL import Image

    img = Image.open(io.BytesIO(jpeg)).transpose(Image.Transpose.ROTATE_90)
    exif = img.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, exif=exif)
    return buf.getvalue()


def main() -> None:
    from fer.media.annotate import annotate
    from fer.media.photo import analyse_photo
    from fer.model.inference import Classifier
    from fer.tfenv import import_tensorflow
    from fer.vision.detection import Detector
    from fer.vision.preprocessing import decode_image

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    import_tensorflow()
    clf = Classifier.from_file(args.model)
    clf.warm_up()
    det = Detector()
    twelve = twelve_megapixels()
    cases = [("obama-1080p.jpg (1920x1080)", (PHOTOS / "obama-1080p.jpg").read_bytes()),
             ("12 MP (4000x3000)", twelve), ("12 MP, EXIF-rotated (3000x4000 stored)", sideways(twelve))]
    results, rows = [], []
    for name, data in cases:
        samples: dict[str, list[float]] = {s: [] for s in (*STAGES, "total", "cpu", "full_decode")}
        for _ in range(args.repeat + 1):  # the first run warms caches
            start, cpu = time.perf_counter(), time.process_time()
            res = analyse_photo(data, name, det, clf)
            t0 = time.perf_counter()
            annotate(res.display, res.faces, "en", True, scale=res.display_scale)
            end = time.perf_counter()
            for k, v in res.stages_ms.items():
                samples[k].append(v)
            samples["annotate"].append(1000 * (end - t0))
            samples["total"].append(1000 * (end - start))
            samples["cpu"].append(1000 * (time.process_time() - cpu))
            t1 = time.perf_counter()
            decode_image(data, name)
            samples["full_decode"].append(1000 * (time.perf_counter() - t1))
        med = {k: round(statistics.median(v[1:]), 1) for k, v in samples.items()}
        r = {"image": name, "megapixels": round(res.width * res.height / 1e6, 1), "file_mb": round(len(data) / 1e6, 2),
             "size": [res.width, res.height], "faces": [list(f.box.xywh) for f in res.faces], "median_ms": med}
        results.append(r)
        rows.append([name, len(res.faces), *(med[s] for s in STAGES), med["total"], med["cpu"], med["full_decode"]])
    emit({"machine": machine(), "repeat": args.repeat, "results": results}, args.json, rows,
         ["image", "faces", *(f"{s} ms" for s in STAGES), "total ms", "CPU ms", "full decode ms"])


if __name__ == "__main__":
    main()
