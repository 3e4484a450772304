"""The webcam session's summary after Stop (issue 42 (9)): faces followed through many frames of many faces, as
`fer.media.session.summarise` does on every rerun of the page after Stop.

    python -m bench.session_summary [--frames 20000] [--faces 47] [--json]

Synthetic records: `--faces` faces a frame that drift, swap order, vanish and come back (the same shape as the
test in tests/test_hostile_bounds.py); CPU seconds of this thread for `follow_faces` and for `summarise`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import emit, machine


def records(frames: int, faces: int, seed: int = 3) -> list:
    from fer.media.live import FrameRecord
    from fer.model.inference import FacePrediction
    from fer.vision.boxes import FaceBox

    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        xs = rng.permutation(faces)[:int(rng.integers(max(faces * 2 // 3, 1), faces + 1))]
        out.append(FrameRecord(i / 30, 1e9 + i / 30, i + 1, tuple(
            FacePrediction(FaceBox(int(30 * x + rng.integers(-8, 9)), int(100 + rng.integers(-8, 9)), 40, 40),
                           tuple(rng.dirichlet(np.ones(7)).tolist())) for x in xs)))
    return out


def main() -> None:
    from fer.media.session import follow_faces, summarise

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=20_000)
    p.add_argument("--faces", type=int, default=47)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    recs = records(args.frames, args.faces)
    t0 = time.thread_time()
    tracks = follow_faces(recs)
    follow_s = time.thread_time() - t0
    t0 = time.thread_time()
    summary = summarise(recs)
    summary_s = time.thread_time() - t0
    result = {"frames": args.frames, "faces_per_frame": args.faces, "tracks": len(tracks),
              "follow_cpu_s": round(follow_s, 3), "summarise_cpu_s": round(summary_s, 3),
              "people": len(summary.faces), "machine": machine()}
    emit(result, args.json, [[args.frames, args.faces, len(tracks), result["follow_cpu_s"],
                              result["summarise_cpu_s"]]],
         ["frames", "faces/frame", "tracks", "follow CPU s", "summarise CPU s"])


if __name__ == "__main__":
    main()
