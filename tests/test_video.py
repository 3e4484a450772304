"""Video files (fer.media.video, fer.media.videoio): probing, upright phone clips, people followed, the annotated
mp4, progress and Stop, CSV and JSON, and one clear VideoError per bad input. Clips are made in the test
(tests/videoclips.py: faces from the public-domain photos), tiny and short; the classifier is a stand-in that
needs no TensorFlow (the real model runs in tests/test_video_cli.py)."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from fer.labels import LABELS
from fer.media import video, videoio
from fer.media.video import (
    VIDEO_ERROR_KINDS,
    VideoError,
    analyse_video,
    probe_video,
    video_csv,
    video_json,
)
from fer.vision.boxes import FaceBox
from fer.vision.detection import Detector
from fer.vision.tracking import FaceFollower
from tests.videoclips import draw_frame, face_boxes, make_clip


class StandIn:
    """A classifier for tests: the face's brightness picks its label (so each face keeps one), no TensorFlow."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls, self.fail_after = 0, fail_after

    def scores(self, crops: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("the model broke")
        out = np.full((len(crops), len(LABELS)), 0.02, np.float32)
        for i, crop in enumerate(crops):
            out[i, int(np.mean(crop) * 255) % len(LABELS)] = 0.88
        return out


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def read_back(path: Path) -> tuple[list[np.ndarray], av.container.InputContainer]:
    """The frames of a video file as RGB, and its (closed) container for its streams' facts."""
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    return frames, c


# ----------------------------------------------------------------------------- probing and rotation
def test_probe_reads_size_rate_length_audio_and_codec(tmp_path):
    info = probe_video(make_clip(tmp_path / "a.mp4", seconds=1, fps=25, size=(320, 240), audio=True))
    assert (info.width, info.height, info.fps, info.frames, info.rotation) == (320, 240, 25.0, 25, 0)
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    assert info.has_audio and info.codec == "h264"
    assert not probe_video(make_clip(tmp_path / "b.mkv", seconds=0.5, size=(160, 120))).has_audio


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_phone_clip_with_rotation_metadata_is_analysed_and_written_upright(tmp_path, detector, rotation):
    """Stored sideways (as phones record portrait video), shown upright: the upright cascade finds the face only
    when the frames are turned back, and the annotated copy is upright with no rotation of its own."""
    clip = make_clip(tmp_path / "phone.mp4", seconds=0.5, size=(180, 240), faces=1, rotation=rotation)
    info = probe_video(clip)
    assert (info.width, info.height, info.rotation) == (180, 240, rotation)
    with av.open(str(clip)) as c:
        stored = c.streams.video[0].codec_context
        assert (stored.width, stored.height) == ((240, 180) if rotation != 180 else (180, 240))
    r = analyse_video(clip, detector, StandIn(), out=tmp_path / "out.mp4", every=1)
    assert r.size == (180, 240)
    assert sum(bool(rec.faces) for rec in r.records) >= 0.9 * r.analysed
    box = r.records[0].faces[0].face.box
    x, y, side = face_boxes((180, 240), 1, 0.0)[0]
    assert abs(box.center[0] - (x + side / 2)) < side / 4 and abs(box.center[1] - (y + side / 2)) < side / 4
    frames, _ = read_back(r.annotated)
    with av.open(str(r.annotated)) as c:
        assert next(iter(c.decode(video=0))).rotation == 0
    assert frames[0].shape == (240, 180, 3)
    upright = draw_frame((180, 240), 1, 0.0)
    corners = (slice(0, 8), slice(0, 8)), (slice(-8, None), slice(-8, None))  # the gradient: no face, no box there
    for ys, xs in corners:
        assert np.abs(frames[0][ys, xs].astype(int) - upright[ys, xs]).mean() < 12


# ----------------------------------------------------------------------------- people followed
def test_two_faces_keep_their_numbers_when_the_detector_lists_them_in_another_order():
    follower = FaceFollower(keep=2)
    left, right = FaceBox(10, 50, 80, 80), FaceBox(300, 50, 80, 80)
    assert follower.update([left, right]) == [0, 1]
    moved = [FaceBox(320, 60, 80, 80), FaceBox(25, 45, 80, 80)]  # listed right first, both moved
    assert follower.update(moved) == [1, 0]
    assert follower.update([]) == []  # gone for two frames: kept
    assert follower.update([FaceBox(30, 50, 80, 80)]) == [0]  # back after one missing frame
    assert follower.update([FaceBox(330, 60, 80, 80)]) == [1]
    assert follower.update([FaceBox(700, 60, 80, 80)]) == [2]  # a newcomer far away
    assert follower.hits(1) == 3 and len(follower) == 3


def test_a_track_ends_when_it_is_missing_longer_than_keep():
    follower = FaceFollower(keep=1)
    assert follower.update([FaceBox(0, 0, 50, 50)]) == [0]
    follower.update([])
    follower.update([])
    assert follower.update([FaceBox(0, 0, 50, 50)]) == [1]


def test_people_in_a_clip_keep_their_numbers_while_they_move(tmp_path, detector):
    clip = make_clip(tmp_path / "two.mp4", seconds=1.5, size=(320, 200), faces=2, move=14)
    r = analyse_video(clip, detector, StandIn(), every=1)
    assert [p.person for p in r.people] == [1, 2]
    for rec in r.records:
        for pf in rec.faces:
            if pf.person:  # person 1 is the left face in every frame, person 2 the right one
                assert (pf.face.box.center[0] < 160) == (pf.person == 1)
    numbered = [pf for rec in r.records for pf in rec.faces if pf.person]
    assert len(numbered) >= 0.9 * 2 * r.analysed - 2  # only a new face's first sighting is unnumbered
    for p in r.people:
        assert p.first_s <= (video.CONFIRM - 1) / 30 and p.last_s > 1.3
        assert sum(p.seconds.values()) == pytest.approx(1.5, abs=0.1)
        assert p.dominant == max(p.seconds, key=p.seconds.get)
        tl = r.timeline(p.person)
        assert set(tl) == {"t", *LABELS} and len(tl["t"]) == r.analysed - video.CONFIRM + 1  # numbered from then
        assert np.nansum([tl[k] for k in LABELS], axis=0) == pytest.approx(np.ones(len(tl["t"])), abs=0.01)


def test_a_clip_without_faces_is_a_result_with_no_people_said_clearly(tmp_path, detector):
    r = analyse_video(make_clip(tmp_path / "empty.mp4", seconds=0.5, size=(160, 120), faces=0), detector, StandIn())
    assert r.people == () and r.frames_done == 15 and r.analysed >= 1
    assert ("video.note.no_faces", {}) in r.notes()
    assert r.timeline(1) == {"t": [], **{k: [] for k in LABELS}}


# ----------------------------------------------------------------------------- the annotated video
def test_the_annotated_video_is_browser_h264_at_the_original_rate_with_its_sound(tmp_path, detector):
    clip = make_clip(tmp_path / "in.mov", seconds=1, fps=24, size=(322, 242), faces=1, audio=True)
    out = tmp_path / "out" / "annotated.mp4"
    out.parent.mkdir()
    r = analyse_video(clip, detector, StandIn(), out=out, every=2)
    assert r.annotated == out and sorted(p.name for p in out.parent.iterdir()) == ["annotated.mp4"]
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert c.format.name.startswith("mov,mp4") and v.codec_context.name == "h264"
        assert v.codec_context.pix_fmt == "yuv420p" and (v.width, v.height) == (322, 242)
        assert float(v.average_rate) == pytest.approx(24, abs=0.1) and v.frames == 24
        assert [a.codec_context.name for a in c.streams.audio] == ["aac"]
        assert c.duration / 1e6 == pytest.approx(1.0, abs=0.1)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays while it downloads
    assert r.analysed_every == 2 and r.analysed == 12
    frames, _ = read_back(out)
    plain = draw_frame((322, 242), 1, 0.0)
    x, y, w, h = r.records[0].faces[0].face.box.xywh
    for k in (0, 1):  # the box is drawn on the analysed frame and carried onto the next one
        edge = frames[k][y:y + h, x:x + 2].astype(int)
        assert np.abs(edge - plain[y:y + h, x:x + 2]).mean() > 30


def test_a_variable_frame_rate_keeps_its_timing(tmp_path, detector):
    clip = make_clip(tmp_path / "vfr.mp4", seconds=1, size=(160, 120), faces=1, vfr=True)
    with av.open(str(clip)) as c:
        src = [f.time for f in c.decode(video=0)]
    r = analyse_video(clip, detector, StandIn(), out=tmp_path / "out.mp4", every=1)
    assert [rec.t for rec in r.records] == pytest.approx([t - src[0] for t in src], abs=1e-3)
    gaps = np.diff([rec.t for rec in r.records])
    assert gaps.max() > 1.4 * gaps.min()  # uneven, as the file is
    with av.open(str(r.annotated)) as c:
        out = [f.time for f in c.decode(video=0)]
    assert out == pytest.approx([t - src[0] for t in src], abs=2e-3)


def test_a_large_video_is_analysed_and_written_smaller_and_says_so(tmp_path, detector, monkeypatch):
    monkeypatch.setattr(video, "OUT_MAX_SIDE", 160)
    r = analyse_video(make_clip(tmp_path / "big.mp4", seconds=0.3, size=(320, 240)), detector, StandIn(),
                      out=tmp_path / "o.mp4")
    assert r.size == (160, 120) and ("video.note.smaller", {"w": 160, "h": 120}) in r.notes()
    assert probe_video(r.annotated).width == 160


# ----------------------------------------------------------------------------- progress, Stop, skipping
def test_progress_counts_up_and_stop_keeps_what_was_done(tmp_path, detector):
    clip = make_clip(tmp_path / "c.mp4", seconds=2, size=(160, 120), faces=1, audio=True)
    stop = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.frames_done >= 20:
            stop.set()

    video_mod_progress = video.PROGRESS_S
    try:
        video.PROGRESS_S = 0.0
        r = analyse_video(clip, detector, StandIn(), out=tmp_path / "o.mp4", progress=progress, stop=stop, every=3)
    finally:
        video.PROGRESS_S = video_mod_progress
    assert r.stopped and 20 <= r.frames_done < 60 and ("video.note.stopped", {"frames": r.frames_done,
                                                                               "total": 60}) in r.notes()
    done = [p.frames_done for p in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == r.frames_done
    assert all(p.frames_total == 60 for p in seen) and seen[-1].analysed == r.analysed
    assert any(p.eta_s is not None for p in seen) and seen[0].eta_s is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "o.mp4"]  # no temporary file left
    with av.open(str(r.annotated)) as c:
        assert c.streams.video[0].frames == r.frames_done
        assert c.duration / 1e6 == pytest.approx(r.frames_done / 30, abs=0.15)  # the sound stops there too


def test_an_error_half_way_leaves_no_file_behind(tmp_path, detector):
    clip = make_clip(tmp_path / "c.mp4", seconds=1, size=(160, 120), faces=1, audio=True)
    with pytest.raises(RuntimeError, match="broke"):
        analyse_video(clip, detector, StandIn(fail_after=3), out=tmp_path / "o.mp4", every=1)
    assert [p.name for p in tmp_path.iterdir()] == ["c.mp4"]


def test_the_skip_is_chosen_from_the_measured_cost():
    fps = 30
    assert video._choose_every([(0.005, 0.005)] * 5, fps) == 1
    assert video._choose_every([(0.060, 0.013)] * 5, fps) == 3  # 60 ms of analysis, 20 ms of room a frame
    assert video._choose_every([(0.060, 0.040)] * 5, fps) == video.MAX_EVERY  # the rest alone is too slow


def test_without_every_the_first_frames_are_measured_then_one_in_n(tmp_path, detector, monkeypatch):
    monkeypatch.setattr(video, "_choose_every", lambda costs, fps: 4 if len(costs) == video.MEASURE - 1 else 0)
    r = analyse_video(make_clip(tmp_path / "c.mp4", seconds=1, size=(160, 120)), detector, StandIn())
    assert r.analysed_every == 4
    frames = [rec.frame for rec in r.records]
    assert frames[:video.MEASURE] == list(range(1, video.MEASURE + 1))
    assert all(b - a <= 4 for a, b in zip(frames, frames[1:], strict=False)) and r.analysed < 15


def test_records_are_thinned_evenly_past_their_bound():
    kept = video._Records(max_records=10)
    for i in range(100):
        kept.add(video.VideoRecord(i / 10, i + 1, ()))
    t = [r.t for r in kept.items]
    assert len(t) <= 10 and t[0] == 0.0 and t[-1] >= 8.0  # the whole clip, not its end
    assert len(set(np.round(np.diff(t), 6))) == 1


# ----------------------------------------------------------------------------- CSV and JSON
def test_csv_and_json_list_every_analysed_frame(tmp_path, detector):
    r = analyse_video(make_clip(tmp_path / "c.mp4", seconds=0.5, size=(320, 200), faces=2), detector, StandIn(),
                      every=1)
    rows = list(csv.DictReader(io.StringIO(video_csv(r))))
    assert len(rows) == sum(max(1, len(rec.faces)) for rec in r.records)
    assert list(rows[0]) == list(video.CSV_KEYS)
    assert {row["person"] for row in rows} >= {"1", "2"}
    assert float(rows[-1][rows[-1]["label"]]) == max(float(rows[-1][k]) for k in LABELS)
    renamed = video_csv(r, headers={"time_s": "Tempo (s)", "person": "Pessoa"})
    assert renamed.splitlines()[0].startswith("Tempo (s),frame,Pessoa")
    doc = json.loads(video_json(r))
    assert doc["frames_done"] == 15 and doc["analysed"] == len(doc["frames"]) == 15
    assert [p["person"] for p in doc["people"]] == [1, 2] and doc["info"]["fps"] == 30.0
    face = doc["frames"][-1]["faces"][0]
    assert set(face) == {"person", "box", "angle", "label", "scores"} and set(face["scores"]) == set(LABELS)


# ----------------------------------------------------------------------------- bad input
def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream("aac", rate=44100)
        s.layout = "mono"
        for i in range(20):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 44100, i * 1024
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return path


def bad_videos(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name: (file, the VideoError kind it gets). Also used by tests/test_fuzz.py."""
    clip = make_clip(tmp_path / "ok.mp4", seconds=1, size=(160, 120))
    data = clip.read_bytes()
    files = {}

    def write(name: str, content: bytes) -> Path:
        (tmp_path / name).write_bytes(content)
        return tmp_path / name

    files["empty"] = (write("empty.mp4", b""), "empty")
    files["text named .mp4"] = (write("notes.mp4", b"this is not a video\n" * 50), "not_video")
    files["photo named .mp4"] = (write("photo.mp4", (Path(__file__).parent / "fixtures/photos/obama-240p.jpg")
                                       .read_bytes()), "not_video")
    files["audio only"] = (_audio_only(tmp_path / "sound.m4a"), "no_video_stream")
    files["truncated"] = (write("cut.mp4", data[:len(data) // 2]), "broken")  # moov at the end: nothing to read
    files["garbage after the header"] = (write("garbage.mp4", data[:32] + bytes(range(256)) * 40), "broken")
    files["zero-length mp4"] = (make_clip(tmp_path / "zero.mp4", seconds=0, size=(160, 120)), "no_frames")
    # Matroska with no frame ends inside its header: FFmpeg cannot tell it from a cut download
    files["zero-length mkv"] = (make_clip(tmp_path / "zero.mkv", seconds=0, size=(160, 120)), "broken")
    return files


def test_each_bad_file_gets_its_own_kind_and_a_message_in_both_languages(tmp_path):
    from fer.i18n import t

    for name, (path, kind) in bad_videos(tmp_path).items():
        with pytest.raises(VideoError) as err:
            probe_video(path)
        assert err.value.kind == kind, name
        assert kind in VIDEO_ERROR_KINDS
        for lang in ("en", "pt"):
            text = t(err.value.key, lang, **err.value.details)
            assert text != err.value.key and "{" not in text


def test_limits_refuse_too_long_too_large_and_too_many_pixels(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "c.mp4", seconds=1, size=(320, 240))
    monkeypatch.setattr(videoio, "MAX_VIDEO_S", 0.5)
    with pytest.raises(VideoError) as err:
        probe_video(clip)
    assert err.value.kind == "too_long" and err.value.details["seconds"] >= 1
    monkeypatch.undo()
    monkeypatch.setattr(videoio, "MAX_VIDEO_BYTES", 1000)
    with pytest.raises(VideoError) as err:
        probe_video(clip)
    assert err.value.kind == "too_large"
    monkeypatch.undo()
    monkeypatch.setattr(videoio, "MAX_VIDEO_PIXELS", 320 * 239)
    with pytest.raises(VideoError) as err:
        probe_video(clip)
    assert err.value.kind == "too_many_pixels" and (err.value.details["w"], err.value.details["h"]) == (320, 240)


def test_a_truncated_download_that_still_reads_keeps_the_frames_before_the_cut(tmp_path, detector):
    """A faststart file (index first) cut short: the frames up to the cut are analysed and the result says so."""
    whole = analyse_video(make_clip(tmp_path / "c.mp4", seconds=2, size=(160, 120)), detector, StandIn(),
                          out=tmp_path / "fast.mp4", every=5)
    data = whole.annotated.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) // 2])
    r = analyse_video(cut, detector, StandIn(), out=tmp_path / "again.mp4", every=5)
    assert 5 <= r.frames_done < 60 and r.truncated
    assert ("video.note.truncated", {"frames": r.frames_done}) in r.notes()
    assert probe_video(r.annotated).frames == r.frames_done


def test_a_missing_file_is_an_os_error_not_a_video_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "nope.mp4")


def test_the_drawing_carried_onto_the_next_frames_is_the_one_drawn_on_the_analysed_frame():
    from fer.media.live import draw_faces
    from fer.model.inference import FacePrediction

    faces = (FacePrediction(FaceBox(40, 50, 80, 80), (0.1, 0, 0, 0.8, 0.1, 0, 0)),
             FacePrediction(FaceBox(200, 60, 70, 70), (0, 0, 0.7, 0, 0.3, 0, 0)))
    plain, later = draw_frame((320, 240), 2, 0.0), draw_frame((320, 240), 2, 0.5)
    drawn = draw_faces(plain, faces, "pt", numbers=[1, None])
    overlay = video.Overlay.of(plain, drawn)
    assert np.array_equal(overlay.on(plain), drawn)
    carried = overlay.on(later)
    mask = np.zeros(plain.shape[:2], bool)
    h, w = overlay.mask.shape[:2]
    mask[overlay.y0:overlay.y0 + h, overlay.x0:overlay.x0 + w] = overlay.mask[..., 0]
    assert np.array_equal(carried[mask], drawn[mask]) and np.array_equal(carried[~mask], later[~mask])
    assert mask.sum() > 2 * 4 * 70  # two boxes and their labels at least
    assert video.Overlay.of(plain, plain).on(later) is not later


def test_a_person_hidden_for_under_a_second_keeps_their_number(tmp_path, detector, monkeypatch):
    calls = []

    def blinking(rgb, *args):  # noqa: ANN001, ANN202 - sees nothing on frames 8 to 20 (0.4 s turned away)
        calls.append(1)
        return ((), {}) if 8 <= len(calls) <= 20 else find_faces(rgb, *args)

    from fer.media.live import find_faces

    monkeypatch.setattr(video, "find_faces", blinking)
    clip = make_clip(tmp_path / "c.mp4", seconds=1.5, size=(160, 120), faces=1)
    r = analyse_video(clip, detector, StandIn(), every=1)
    assert [p.person for p in r.people] == [1]
    assert not r.records[10].faces and r.records[-1].faces[0].person == 1
    assert video._keep(30, 1) == 29 and video._keep(30, 3) == 9 and video._keep(1, 10) == 0
