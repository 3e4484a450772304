"""Webcam pipeline: per-stage milliseconds and frames per second of the app's real per-frame path.

    python -m bench.webcam_pipeline [--frames 60] [--faces 1 3] [--json]
                                    [--settings default alt alt2 alt_tree rotated all] [--archs fer-net ...]

Frames are 640x480 with 1 or 3 real faces (cut from tests/fixtures/photos, pasted on a textured backdrop,
drifting a few pixels per frame as a user does), handed to `LiveProcessor.callback` as the yuv420p
`av.VideoFrame`s WebRTC delivers. Every frame is analysed (no frame skipping), with the webcam page's
detection size (fer.media.live.LIVE_MAX_SIDE). Stages, from `LiveProcessor.last_stages`: convert
(av.VideoFrame -> RGB array and back), detect (grey + Haar cascade), crop (48x48 faces), classify (one
batch through the tf.function), draw; total is the whole callback (mean), fps = 1000 / mean total;
CPU ms: CPU time of this process per frame, all its threads (less sensitive to other load on the machine).

Two tables: every detection setting (the 4 frontal cascades upright, then the default cascade in the
`rotated` and `all` modes) with models/default.keras; then every architecture of fer.model.architectures
(untrained weights: speed does not depend on their values) with the default detection.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import emit, machine, summary_ms, webcam_frames
from fer.paths import DEFAULT_MODEL

SETTINGS = ("default", "alt", "alt2", "alt_tree", "rotated", "all")
"""A frontal cascade name (upright mode) or a detection mode (default cascade)."""
WARMUP = 5


def detector_for(setting: str) -> Any:
    from fer.media.live import LIVE_MAX_SIDE
    from fer.vision.detection import DETECT_MODES, Detector, DetectorConfig

    cfg = DetectorConfig(max_side=LIVE_MAX_SIDE)
    cfg = replace(cfg, mode=setting) if setting in DETECT_MODES else replace(cfg, cascade=setting)
    return Detector(cfg)


def run_case(frames: list[Any], detector: Any, classifier: Any, full_every: int) -> dict[str, Any]:
    """Feed every frame through the callback; per-stage and total milliseconds, fps, faces per frame."""
    from fer.media.live import STAGES, LiveProcessor

    proc = LiveProcessor(detector, classifier, max_every=1, full_every=full_every)
    for frame in frames[:WARMUP]:
        proc.callback(frame)
    totals: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    faces: list[int] = []
    cpu0 = time.process_time()
    for frame in frames[WARMUP:]:
        t0 = time.perf_counter()
        proc.callback(frame)
        totals.append(1000 * (time.perf_counter() - t0))
        for name, ms in proc.last_stages().items():
            stages[name].append(ms)
        faces.append(len(proc.snapshot().faces))
    cpu_ms = 1000 * (time.process_time() - cpu0) / len(totals)
    total = summary_ms(totals)
    return {"stages": {k: summary_ms(v) for k, v in stages.items()}, "total": total,
            "fps": round(1000 / total["mean_ms"], 1), "cpu_ms_per_frame": round(cpu_ms, 2),
            "faces_min": min(faces), "faces_max": max(faces)}


def main() -> None:
    import av
    import cv2

    from fer.media.live import STAGES
    from fer.model.architectures import ARCHITECTURES, build_model
    from fer.model.inference import Classifier
    from fer.model.modelio import one_view_model
    from fer.tfenv import import_tensorflow
    from fer.vision.tracking import FULL_EVERY

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=60, help=f"timed frames per case (after {WARMUP} warm-up)")
    p.add_argument("--faces", type=int, nargs="*", default=[1, 3], choices=[1, 3])
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=SETTINGS)
    p.add_argument("--archs", nargs="*", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--full-every", type=int, default=FULL_EVERY,
                   help="a full detection scan every N frames, faces re-found near the last ones in between "
                        "(1: full scan on every frame)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    import_tensorflow()

    default = Classifier.from_file(one_view_model(Path(args.model))).single_view()  # as the webcam page
    streams: dict[int, list[Any]] = {}
    composed: dict[int, int] = {}
    for n in args.faces:
        bgr = webcam_frames(n, args.frames + WARMUP)
        streams[n] = [av.VideoFrame.from_ndarray(f, format="bgr24").reformat(format="yuv420p") for f in bgr]
        found = composed[n] = len(detector_for("default").detect(cv2.cvtColor(bgr[0], cv2.COLOR_BGR2GRAY)))
        if not args.json:
            print(f"{n}-face frame: the default detector finds {found} face(s)")
        if found != n:
            raise SystemExit(f"the composed {n}-face frame holds {found} detectable faces")

    cases: list[tuple[str, str, Any, Any]] = [(s, Path(args.model).name, detector_for(s), default)
                                              for s in args.settings]
    cases += [("default", arch, detector_for("default"), Classifier(build_model(arch))) for arch in args.archs]
    results, rows = [], []
    for setting, model, det, clf in cases:
        for n in args.faces:
            r = {"setting": setting, "model": model, "faces": n, **run_case(streams[n], det, clf, args.full_every)}
            results.append(r)
            rows.append([setting, model, n, f"{r['faces_min']}-{r['faces_max']}",
                         *(f"{r['stages'][s]['mean_ms']:.1f}" for s in STAGES),
                         f"{r['total']['mean_ms']:.1f}", f"{r['total']['p90_ms']:.1f}", r["fps"],
                         f"{r['cpu_ms_per_frame']:.1f}"])
            if not args.json:
                print(f"  {setting} / {model} / {n} face(s): {r['total']['mean_ms']:.1f} ms, {r['fps']} fps",
                      file=sys.stderr)
    emit({"machine": machine(), "frame": "640x480", "frames": args.frames, "full_every": args.full_every,
          "faces_found_in_composed_frames": composed, "results": results}, args.json, rows,
         ["setting", "model", "faces", "found", *(f"{s} ms" for s in STAGES), "total ms", "p90 ms", "fps", "CPU ms"])


if __name__ == "__main__":
    main()
