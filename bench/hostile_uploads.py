"""Upload the crafted files of issue 30 to a real app server and print its peak memory and disk.

    python -m bench.hostile_uploads [--json]

A fresh `streamlit run app.py` (free port, its own cache and upload folders under a temporary folder) gets,
through a real browser (Debian chromium + playwright), one case at a time:

- Dataset page, after a first visit (the bundled sample) that imports what the page needs: a 1 MB zip
  of 5,000 1x1 PNGs plus one entry named with 60,000 characters (issue 30 (1)),
  a zip with an encrypted, a method-99, a bad-CRC, a broken-header and a corrupt-deflate entry (4), a 5 MB zip
  of 300 PNGs of 4096x4096 (6), an 80 MB CSV of one line (6);
- Images page, after one real photo (which loads TensorFlow and the model): the crafted images of
  tests/badfiles.py (1x3000 PNG, EXIF that breaks Pillow, DDS named .png,
  a 10-gigapixel and a 64-megapixel PNG header, a Markdown-named file) with a real photo (3, 9);
- How it works: an unreadable file with a Markdown name (9).
Issue 42 added: a zip listing 1,900,000 entries (98 MB, under the 100 MB per file; Dataset page); a 16-bit
grey PNG of 59.9 megapixels (475 kB) and a photo of 576 faces (a mosaic, Images page); eight 99 MB files in
one upload (Images page: the session's 300 MB limit and the upload's 20 photos and 100 MB).

While each case runs, a thread samples the server process every 0.1 s: resident memory (VmRSS; VmHWM, the
kernel's own peak, at the end) and the bytes under its cache and upload folders. Printed per case: wall and
CPU seconds of the server, peak RSS, growth over the RSS before the case, peak disk, and whether the page
showed a traceback (it must not).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import emit, machine

ALERTS = "[data-testid='stMain'] [data-testid='stAlertContentError'], [data-testid='stMain'] " \
         "[data-testid='stAlertContentWarning']"
"""What every case ends with: the page's error or warning about the upload (not the info asking for one)."""
ATTACK = "![pic](http:attacker.invalid) [click me](http:attacker.invalid) www.attacker.invalid.jpg"  # a file name: no /


@dataclass(frozen=True)
class CaseResult:
    case: str
    page: str
    upload_mb: float
    seconds: float
    cpu_s: float
    rss_before_mb: float
    peak_rss_mb: float
    peak_disk_mb: float
    traceback: bool


def _status(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _disk(folders: list[Path]) -> int:
    total = 0
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for f in files:
                try:
                    total += (Path(dirpath) / f).lstat().st_size
                except OSError:
                    pass
    return total


class Sampler:
    """Peak RSS and disk of a process while a case runs (a thread sampling every 0.1 s)."""

    def __init__(self, pid: int, folders: list[Path]) -> None:
        self.pid, self.folders = pid, folders
        self.peak_rss = self.peak_disk = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, _status(self.pid, "VmRSS"))
            self.peak_disk = max(self.peak_disk, _disk(self.folders))
            time.sleep(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, _status(self.pid, "VmRSS"))
        self.peak_disk = max(self.peak_disk, _disk(self.folders))


@contextmanager
def server(tmp: Path):  # noqa: ANN201
    """The real app (tests/browser/browserkit.app_server) with its cache folder under `tmp` too: (pid, url)."""
    from tests.browser.browserkit import app_server

    with app_server(tmp, {"FER_CACHE_DIR": str(tmp / "cache")}) as (proc, url):
        yield proc.pid, url


def crafted(folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """({dataset case: file}, {image name: file}) written under `folder`."""
    from tests.badfiles import bad_files, damaged_zip, hostile_images, huge_pixels_zip, long_name_zip, one_line_csv
    from tests.helpers import PHOTOS, _jpg, synthetic_faces

    folder.mkdir(parents=True, exist_ok=True)
    face = _jpg(synthetic_faces(1)[0][0])
    from tests.badfiles import big_png, face_mosaic, many_entries_zip

    datasets = {
        "a zip listing 1,900,000 entries": many_entries_zip(folder / "entries.zip", 1_900_000),
        "5,000 1x1 PNGs + a 60,000-character name (zip)": long_name_zip(folder / "long-name.zip"),
        "5 damaged entries (zip)": damaged_zip(folder / "damaged.zip", {"train/sad/Training_1.png": face}),
        "300 PNGs of 4096x4096 (zip)": huge_pixels_zip(folder / "huge-pixels.zip"),
        "80 MB CSV of one line": one_line_csv(folder / "one-line.csv", mb=80),
    }
    photo = (PHOTOS / "obama.jpg").read_bytes()
    files = {**hostile_images(), **{k: v for k, v in bad_files(photo).items() if k in ("bomb.png", "huge.png")},
             "![x](http:attacker.invalid) www.attacker.invalid.png": b"not an image", "obama.jpg": photo}
    images = {}
    for i, (name, data) in enumerate(files.items()):
        d = folder / f"img{i}"
        d.mkdir()
        (d / name).write_bytes(data)
        images[name] = d / name
    extra = {"gray16.png": big_png(7740, 7740, "I;16"),
             "faces.jpg": face_mosaic((PHOTOS / "obama-240p.jpg").read_bytes(), 24, (60, 75))}
    for name, data in extra.items():
        (folder / "extra").mkdir(exist_ok=True)
        (folder / "extra" / name).write_bytes(data)
        images[name] = folder / "extra" / name
    (folder / "many").mkdir()
    for i in range(8):  # eight files of 99 MB (random bytes named .jpg), each under the 100 MB (10^8 bytes) per file
        with (folder / "many" / f"big{i}.jpg").open("wb") as fh:
            for _ in range(99):
                fh.write(os.urandom(10**6))
    (folder / "how").mkdir()
    (folder / "how" / ATTACK).write_bytes(b"not an image")
    images["how"] = folder / "how" / ATTACK
    return datasets, images


def settle(page: object, timeout_ms: int = 600_000) -> None:
    """Wait until the script has started on what was sent and has run to its end."""
    from tests.browser.browserkit import wait_for_app

    time.sleep(1.0)
    wait_for_app(page, timeout_ms)
    time.sleep(0.5)
    wait_for_app(page, timeout_ms)


def run(args: argparse.Namespace) -> dict:
    from playwright.sync_api import sync_playwright

    from fer.i18n import t
    from tests.browser.browserkit import CHROMIUM, CHROMIUM_ARGS

    results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="fer-hostile-") as tmp_:
        tmp = Path(tmp_)
        datasets, images = crafted(tmp / "crafted")
        folders = [tmp / "cache", tmp / "uploads"]
        from streamlit import config

        ttl = float(config.get_option("server.disconnectedSessionTTL"))  # the server reads the same config
        with server(tmp) as (pid, url), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page()
            page.set_default_timeout(600_000)
            idle_rss = _status(pid, "VmRSS") / 1024

            def case(name: str, where: str, mb: float, act, done: str = ALERTS) -> None:  # noqa: ANN001
                if args.only and not name.startswith("warm-up") and args.only not in name:
                    return
                rss0, cpu0, t0 = _status(pid, "VmRSS") / 1024, _cpu_s(pid), time.perf_counter()
                with Sampler(pid, folders) as s:
                    act()
                    page.locator(done).first.wait_for()  # the upload arrived and the page answered it
                    settle(page)
                tb = page.get_by_test_id("stException").count() > 0
                results.append(CaseResult(name, where, round(mb, 2), round(time.perf_counter() - t0, 1),
                                          round(_cpu_s(pid) - cpu0, 1), round(rss0), round(s.peak_rss / 1024),
                                          round(s.peak_disk / 2**20, 1), tb))
                print(f"{name:<50} {where:<13} {results[-1].seconds:>6} s  cpu {results[-1].cpu_s:>5} s  "
                      f"rss {rss0:>5.0f} -> peak {s.peak_rss / 1024:>5.0f} MB  disk {s.peak_disk / 2**20:>6.1f} MB"
                      f"  traceback: {'YES' if tb else 'no'}", flush=True)

            case("warm-up: the bundled sample (first Dataset page)", "Dataset", 0.0,
                 lambda: page.goto(f"{url}/dataset"), "[data-testid='stMain'] [data-testid='stMetric']")
            for name, path in datasets.items():
                def upload(path: Path = path) -> None:
                    page.goto(f"{url}/dataset")
                    settle(page)
                    page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first.click()  # not the language
                    page.get_by_role("option", name=t("data.upload", "en")).click()
                    settle(page)
                    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))

                case(name, "Dataset", path.stat().st_size / 2**20, upload)

            shown = [p for n, p in images.items() if n not in ("how", "gray16.png", "faces.jpg")]

            def warm_up() -> None:  # loads TensorFlow and the model: the baseline of the next case
                page.goto(f"{url}/images")
                settle(page)
                page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(images["obama.jpg"]))

            case("warm-up: one real photo (loads the model)", "Images", images["obama.jpg"].stat().st_size / 2**20,
                 warm_up, "[data-testid='stMain'] [data-testid='stImage']")

            def upload_images() -> None:
                page.goto(f"{url}/images")
                settle(page)
                page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in shown])

            case(f"{len(shown)} crafted images at once", "Images", sum(p.stat().st_size for p in shown) / 2**20,
                 upload_images)

            for name, what in (("gray16.png", "a 16-bit grey PNG of 59.9 megapixels"),
                               ("faces.jpg", "a photo of 576 faces (a mosaic)")):
                def upload_one(name: str = name) -> None:
                    page.goto(f"{url}/images")
                    settle(page)
                    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(images[name]))
                case(what, "Images", images[name].stat().st_size / 2**20, upload_one,
                     "[data-testid='stMain'] [data-testid='stImage'], " + ALERTS)
            many = sorted((tmp / "crafted" / "many").iterdir())

            def upload_many() -> None:
                page.goto(f"{url}/images")
                settle(page)
                page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in many])
            case("eight 99 MB files in one upload", "Images", sum(p.stat().st_size for p in many) / 2**20, upload_many)

            def upload_how() -> None:
                page.goto(f"{url}/how-it-works")
                settle(page)
                page.get_by_text(t("how.source_upload", "en"), exact=True).click()
                settle(page)
                page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(images["how"]))

            case("unreadable file with a Markdown name", "How it works", 0.0, upload_how)
            links = page.locator("[data-testid='stAlert'] a, [data-testid='stAlert'] img").count()
            browser.close()
            hwm = _status(pid, "VmHWM") / 1024
            wait = ttl + 90
            print(f"the browser closed: RSS every 10 s for {wait:.0f} s (the session's {ttl:.0f} s to reconnect, then "
                  "Streamlit drops it and the server releases memory)", flush=True)
            closed_rss = _status(pid, "VmRSS") / 1024
            curve = []
            for _ in range(int(wait // 10)):
                time.sleep(10)
                curve.append(round(_status(pid, "VmRSS") / 1024))
            print("  RSS (MB):", " ".join(map(str, curve)), flush=True)
            after_rss = curve[-1]
        summary = {"server_idle_rss_mb": round(idle_rss), "server_peak_rss_mb": round(hwm),
                   "rss_when_closed_mb": round(closed_rss), "rss_after_session_gone_mb": round(after_rss),
                   "peak_disk_mb": max(r.peak_disk_mb for r in results),
                   "max_case_cpu_s": max(r.cpu_s for r in results),
                   "tracebacks": sum(r.traceback for r in results), "links_or_images_in_error_boxes": links}
    return {"machine": machine(), "cases": [asdict(r) for r in results], "summary": summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--only", default="", help="run only the cases whose name holds this text (and the warm-ups)")
    args = parser.parse_args()
    out = run(args)
    s = out["summary"]
    print(f"\nserver process: {s['server_idle_rss_mb']} MB RSS after start, peak (VmHWM) {s['server_peak_rss_mb']} MB,"
          f" {s['rss_when_closed_mb']} MB when the browser closed, {s['rss_after_session_gone_mb']} MB once its"
          " session was gone;"
          f" peak disk (cache + uploads) {s['peak_disk_mb']} MB; most CPU for one case {s['max_case_cpu_s']} s;"
          f" tracebacks {s['tracebacks']}; links or images in the How it works error box "
          f"{s['links_or_images_in_error_boxes']}")
    if args.json:
        emit(out, True)
    return 1 if s["tracebacks"] or s["links_or_images_in_error_boxes"] else 0


if __name__ == "__main__":
    sys.exit(main())
