"""Video files: frames per second, share of frames analysed and realtime factor of `fer.media.video.analyse_video`.

    python -m bench.video_file [--seconds 10] [--sizes 640x480 1920x1080] [--faces 3] [--every N]
                               [--no-cli] [--ferpkg /tmp/venv-ferpkg/bin/python] [--json]

Each clip is made by tests/videoclips.make_clip (30 fps, `--faces` faces from the public-domain photos moving a
little, H.264). Two paths per clip:

- function: `analyse_video(clip, Detector(), Classifier(default.keras).single_view(), out=annotated.mp4)` in this
  process, after the model is loaded (its first frame still warms the model up, as on the page);
- cli: `python -m fer video CLIP --out annotated.mp4 --json` as a subprocess: wall time of the whole command
  (Python, TensorFlow and the model loaded) and the analysis time it reports.

fps = frames read / seconds; analysed = share of those frames detected and classified (the rest carry the
boxes); realtime = clip seconds / seconds taken (1.0 or more: at least as fast as the clip plays); CPU s: CPU
time of the process and its threads (the cli: of the whole command), which other load on the machine does not
inflate: at or under the clip's length, one core keeps up with it.

`--ferpkg PYTHON`: also run the PyPI `fer` package's `Video.analyze` (frequency 1, annotated video saved) on the
same clips with that interpreter (a separate virtual environment: its import name `fer` is this project's too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, machine

FERPKG_SCRIPT = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from fer import FER, Video
    detector = FER(mtcnn=False)
    loaded = time.perf_counter()
    video = Video(sys.argv[1], outdir=sys.argv[2])
    raw = video.analyze(detector, display=False, frequency=1, save_video=True, annotate_frames=True,
                        zip_images=False, save_frames=False)
    done = time.perf_counter()
    print(json.dumps({"load_s": loaded - t0, "analyse_s": done - loaded, "frames": len(raw)}))
""")


def size_arg(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def function_path(clip: Path, out: Path, classifier: Any, every: int | None) -> dict[str, Any]:
    from fer.media.video import analyse_video
    from fer.vision.detection import Detector

    cpu0, t0 = time.process_time(), time.perf_counter()
    r = analyse_video(clip, Detector(), classifier, out=out, every=every)
    wall = time.perf_counter() - t0
    return {"seconds": round(wall, 2), "cpu_s": round(time.process_time() - cpu0, 2), "frames": r.frames_done,
            "analysed": r.analysed, "every": r.analysed_every, "people": len(r.people),
            "fps": round(r.frames_done / wall, 1), "analysed_share": round(r.analysed / r.frames_done, 3),
            "realtime": round(r.info.duration_s / wall, 2)}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_path(clip: Path, out: Path, every: int | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "fer", "video", str(clip), "--out", str(out), "--json"]
    cmd += ["--every", str(every)] if every else []
    t0, cpu0 = time.perf_counter(), _children_cpu()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=3600, check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if p.returncode:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    doc = json.loads(p.stdout)
    frames, analysed, duration = doc["frames_done"], doc["analysed"], doc["info"]["duration_s"]
    return {"seconds": round(wall, 2), "cpu_s": round(cpu, 2), "analysis_s": doc["elapsed_s"], "frames": frames,
            "analysed": analysed,
            "every": doc["analysed_every"], "people": len(doc["people"]),
            "fps": round(frames / doc["elapsed_s"], 1), "analysed_share": round(analysed / frames, 3),
            "realtime": round(duration / doc["elapsed_s"], 2), "realtime_whole_command": round(duration / wall, 2)}


def ferpkg_path(python: str, clip: Path, outdir: Path, duration: float) -> dict[str, Any]:
    outdir.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), _children_cpu()
    try:
        p = subprocess.run([python, "-c", FERPKG_SCRIPT, str(clip), str(outdir)], capture_output=True, text=True,
                           cwd=outdir, timeout=3600, check=False)
    except OSError as exc:
        return {"error": str(exc)}
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if p.returncode:
        tail = p.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"exit {p.returncode}"}
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    return {"seconds": round(wall, 2), "cpu_s": round(cpu, 2), "analysis_s": round(doc["analyse_s"], 2),
            "frames": doc["frames"],
            "analysed_share": 1.0, "fps": round(doc["frames"] / doc["analyse_s"], 1),
            "realtime": round(duration / doc["analyse_s"], 2), "realtime_whole_command": round(duration / wall, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--sizes", type=size_arg, nargs="+", default=[(640, 480), (1920, 1080)], metavar="WxH")
    p.add_argument("--faces", type=int, default=3, choices=[1, 2, 3])
    p.add_argument("--every", type=int, default=None, help="analyse one frame in N (default: chosen from the cost)")
    p.add_argument("--no-cli", action="store_true", help="skip the `python -m fer video` path")
    p.add_argument("--ferpkg", metavar="PYTHON", help="an interpreter with the PyPI `fer` package installed")
    p.add_argument("--model", default=str(ROOT / "models" / "default.keras"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from fer.model.inference import Classifier
    from fer.tfenv import import_tensorflow
    from tests.videoclips import make_clip

    import_tensorflow()
    classifier = Classifier.from_file(args.model).single_view()
    results, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for w, h in args.sizes:
            clip = make_clip(work / f"clip-{w}x{h}.mp4", seconds=args.seconds, size=(w, h), faces=args.faces)
            paths = {"function": function_path(clip, work / "function.mp4", classifier, args.every)}
            if not args.no_cli:
                paths["cli"] = cli_path(clip, work / "cli.mp4", args.every)
            if args.ferpkg:
                paths["fer (PyPI) Video"] = ferpkg_path(args.ferpkg, clip, work / "ferpkg", args.seconds)
            for name, r in paths.items():
                results.append({"size": f"{w}x{h}", "faces": args.faces, "clip_s": args.seconds, "path": name, **r})
                rows.append([f"{w}x{h}", name, r.get("frames", "-"), r.get("fps", "-"), r.get("analysed_share", "-"),
                             r.get("every", "-"), r.get("realtime", "-"), r.get("seconds", "-"), r.get("cpu_s", "-"),
                             r.get("error", "")])
                if not args.json:
                    print(f"  {w}x{h} {name}: {r}", file=sys.stderr)
    emit({"machine": machine(), "fps_clip": 30, "results": results}, args.json, rows,
         ["clip", "path", "frames", "fps", "analysed", "every", "realtime", "seconds", "CPU s", "error"])


if __name__ == "__main__":
    main()
