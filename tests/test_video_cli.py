"""`python -m fer video` as users call it (real subprocesses, the shipped model): the summary per person, the
annotated mp4, the CSV and JSON, a bad file as one line and exit code 2; the terminal progress bar."""

import csv
import io
import json

import av

from fer.cli.main import ProgressBar
from fer.labels import LABELS
from fer.media.video import VideoProgress
from tests.helpers import run_fer
from tests.videoclips import make_clip


def test_video_prints_a_summary_per_person_and_writes_the_video_and_the_csv(tmp_path):
    clip = make_clip(tmp_path / "two.mp4", seconds=1, size=(320, 200), faces=2, audio=True)
    r = run_fer("video", str(clip), "--out", str(tmp_path / "annotated.mp4"), "--csv", str(tmp_path / "f.csv"),
                "--every", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{clip}: 320x200, 30 fps") and "30 frames, 15 analysed (one in 2)" in lines[0]
    people = [line for line in lines if line.startswith("person ")]
    assert [p.split(":")[0] for p in people] == ["person 1", "person 2"]
    assert all(p.split(": ")[1].split(" ")[0] in LABELS for p in people)
    assert any(line.startswith("note: every") and "15" in line and "30" in line for line in lines)
    with av.open(str(tmp_path / "annotated.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.video[0].frames == 30
        assert len(c.streams.audio) == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "f.csv").read_text())))
    assert {row["person"] for row in rows} >= {"1", "2"} and {int(row["frame"]) for row in rows} == set(range(1, 31, 2))


def test_video_json_is_the_whole_result(tmp_path):
    clip = make_clip(tmp_path / "one.mkv", seconds=0.5, size=(160, 120), faces=1)
    r = run_fer("video", str(clip), "--json", "--every", "1")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["frames_done"] == doc["analysed"] == 15 and doc["analysed_every"] == 1
    assert [p["person"] for p in doc["people"]] == [1] and doc["annotated"] is None
    assert doc["people"][0]["dominant"] in LABELS


def test_a_file_that_is_not_a_video_is_one_line_and_exit_code_2(tmp_path):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("not a video at all\n")
    r = run_fer("video", str(fake))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {fake}: not a video file (or in a format this app cannot read)"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_one_line_on_a_terminal_and_stays_quiet_in_a_pipe():
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream)
        bar(VideoProgress(0, 300, 0, 0.1, None))
        bar(VideoProgress(150, 300, 50, 5.0, 5.0))
        bar.done()
    assert pipe.getvalue() == ""
    draws = tty.getvalue().split("\r")[1:]
    assert len(draws) == 2 and tty.getvalue().endswith("\n")
    assert draws[0].startswith("[" + "." * 30 + "] 0/300 frames") and "ETA" not in draws[0]
    assert draws[1].startswith("[" + "#" * 15 + "." * 15 + "] 150/300 frames · 50 analysed · 50% · ETA 5 s")
