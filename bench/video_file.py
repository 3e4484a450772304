"""Video files: frames per second, share of frames analysed and realtime factor of `fer.media.video.analyse_video`.

    python -m bench.video_file [--seconds 10] [--sizes 640x480 1920x1080] [--faces 3] [--every N]
                               [--no-cli] [--ferpkg /root/venv-ferpkg/bin/python [--ferpkg-every N ...]]
                               [--json]

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

`--ferpkg PYTHON`: also run the PyPI `fer` package's `Video.analyze` on the same clip files with that interpreter (a
separate virtual environment, since its import name `fer` is this project's too: bench/ferpkg_venv.sh builds one),
in the same invocation so that both meet the same load: `FER(mtcnn=False)` (its defaults otherwise: the Haar
cascade, the quantized TFLite model), annotated video saved, no frames saved, at `frequency` 1 (its default: every
frame) and at the one in N the function path chose (`--ferpkg-every` to pick others). Its seconds and CPU s are
of `analyze` alone, after the model is loaded, like the function path's; the whole command's are kept beside.
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
from fer.paths import DEFAULT_MODEL

FERPKG_SCRIPT = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    try:
        from fer import FER, Video  # its README's import; 25.10.3's fer/__init__.py no longer exports them
    except ImportError:
        from fer.classes import Video
        from fer.fer import FER
    import cv2, fer, tensorflow
    detector = FER(mtcnn=False)  # its default: the Haar cascade and the quantized TFLite model
    analysed, faces = 0, 0
    detect = detector.detect_emotions
    def counted(frame, *args, **kwargs):
        global analysed, faces
        found = detect(frame, *args, **kwargs)
        analysed, faces = analysed + 1, faces + len(found)
        return found
    detector.detect_emotions = counted
    loaded = time.perf_counter()
    video = Video(sys.argv[1], outdir=sys.argv[2])
    frames = int(video.cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cpu0, t1 = time.process_time(), time.perf_counter()
    video.analyze(detector, display=False, frequency=int(sys.argv[3]), save_video=True, annotate_frames=True,
                  zip_images=False, save_frames=False)
    done = time.perf_counter()
    print(json.dumps({"load_s": loaded - t0, "analyse_s": done - t1, "analyse_cpu_s": time.process_time() - cpu0,
                      "frames": frames, "analysed": analysed, "faces": faces, "versions": {
                          "fer": fer.__version__, "opencv": cv2.__version__, "tensorflow": tensorflow.__version__}}))
""")
"""Run by the other interpreter as `python -I -c FERPKG_SCRIPT CLIP OUTDIR FREQUENCY`: one `Video.analyze`, its
annotated video written (mp4v, as the package does), no frames saved; prints one JSON line."""


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


def ferpkg_path(python: str, clip: Path, outdir: Path, duration: float, frequency: int) -> dict[str, Any]:
    """The PyPI package's `Video(clip).analyze(FER(mtcnn=False), frequency=...)` in a subprocess of `python`.
    fps: the clip's frames over the analysis seconds (with frequency N it reads only every Nth frame, seeking, and
    its annotated video holds only those); CPU s: of the analysis (its threads too), as the function path's."""
    outdir.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), _children_cpu()
    try:
        p = subprocess.run([python, "-I", "-c", FERPKG_SCRIPT, str(clip), str(outdir), str(frequency)],
                           capture_output=True, text=True, cwd=outdir, timeout=3600, check=False)
    except OSError as exc:
        return {"error": str(exc)}
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if p.returncode:
        tail = p.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"exit {p.returncode}"}
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    frames, analysed, seconds = doc["frames"], doc["analysed"], doc["analyse_s"]
    return {"seconds": round(seconds, 2), "cpu_s": round(doc["analyse_cpu_s"], 2),
            "whole_command_s": round(wall, 2), "whole_command_cpu_s": round(cpu, 2), "frames": frames,
            "analysed": analysed, "every": frequency, "faces_per_analysed": round(doc["faces"] / max(1, analysed), 2),
            "fps": round(frames / seconds, 1), "analysed_share": round(analysed / frames, 3),
            "realtime": round(duration / seconds, 2), "realtime_whole_command": round(duration / wall, 2),
            "versions": doc["versions"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--sizes", type=size_arg, nargs="+", default=[(640, 480), (1920, 1080)], metavar="WxH")
    p.add_argument("--faces", type=int, default=3, choices=[1, 2, 3])
    p.add_argument("--every", type=int, default=None, help="analyse one frame in N (default: chosen from the cost)")
    p.add_argument("--no-cli", action="store_true", help="skip the `python -m fer video` path")
    p.add_argument("--ferpkg", metavar="PYTHON", help="an interpreter with the PyPI `fer` package installed")
    p.add_argument("--ferpkg-every", type=int, nargs="+", metavar="N",
                   help="the package's `frequency` values to run (default: 1, its default, and the one in N that"
                        " the function path chose)")
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from fer.model.inference import Classifier
    from fer.model.modelio import one_view_model
    from fer.tfenv import import_tensorflow
    from tests.videoclips import make_clip

    import_tensorflow()
    classifier = Classifier.from_file(one_view_model(Path(args.model))).single_view()
    results, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for w, h in args.sizes:
            clip = make_clip(work / f"clip-{w}x{h}.mp4", seconds=args.seconds, size=(w, h), faces=args.faces)
            paths = {"function": function_path(clip, work / "function.mp4", classifier, args.every)}
            if not args.no_cli:
                paths["cli"] = cli_path(clip, work / "cli.mp4", args.every)
            if args.ferpkg:
                chosen = paths["function"].get("every") or 1
                for n in args.ferpkg_every or sorted({1, chosen}):
                    paths[f"fer (PyPI) Video, frequency {n}"] = ferpkg_path(args.ferpkg, clip, work / f"ferpkg-{n}",
                                                                            args.seconds, n)
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
