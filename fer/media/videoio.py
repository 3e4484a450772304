"""Video files through PyAV (FFmpeg): what a file holds (`probe`), its frames upright one at a time
(`FrameReader`), and the annotated copy as H.264 in mp4 with the audio kept (`AnnotatedWriter`).

Frames are decoded and written one at a time: a video never sits in memory whole. The types a user sees
(`VideoError`, `VideoInfo`) are here, where the file is read, and fer.media.video exports them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from fer.files import is_regular

log = logging.getLogger(__name__)

MAX_VIDEO_BYTES = 200 * 1024**2
"""The largest video file analysed (stated on the Videos page)."""
MAX_VIDEO_S = 600.0
"""The longest video analysed, in seconds (10 minutes)."""
VIDEO_TYPES = ("mp4", "mov", "webm", "avi", "mkv")
"""File extensions the Videos page offers (any of VIDEO_FORMATS is read, whatever its name)."""
MAX_VIDEO_PIXELS = 4096 * 2160
"""The most pixels a frame may have (DCI 4K, 8.8 megapixels): larger videos are refused ('too_many_pixels')."""
VIDEO_FORMATS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "mpegts", "flv",
                           "ogg", "mpeg", "asf"})
"""FFmpeg demuxers read as video files: FFmpeg also opens images, text ('tty') and raw streams as 'video'."""
MAGIC = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (0, b"OggS"), (0, b"FLV"), (0, b"\x00\x00\x01\xba"),
         (0, b"\x30\x26\xb2\x75"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (4, b"wide"))
"""(offset, bytes) that start a video container: such a file that FFmpeg cannot read is 'broken', not 'not_video'."""
MAX_DECODE_ERRORS = 25
"""Packets that fail to decode before the rest of a file is given up as broken (a few are skipped)."""
REMUX_AUDIO = ("aac", "mp3")
"""Audio codecs copied into the mp4 as they are; others are transcoded to AAC."""
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
"""libx264's settings for the annotated copy (browsers play its default High profile in yuv420p)."""

VIDEO_ERROR_KINDS = ("empty", "too_large", "not_video", "no_video_stream", "broken", "no_frames", "too_long",
                     "too_many_pixels")
"""Every `VideoError.kind`; the page says each with `video.error.<kind>`."""


class VideoError(ValueError):
    """A file that cannot be analysed, with one plain English message. `kind` (one of VIDEO_ERROR_KINDS) names
    it and `details` (numbers as numbers, e.g. {"seconds": 731, "limit_min": 10}) fill the page's
    `t(error.key, lang, **error.details)`."""

    def __init__(self, message: str, kind: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details

    @property
    def key(self) -> str:
        """The catalog key of the message (fer/locales: `video.error.<kind>`)."""
        return f"video.error.{self.kind}"


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` reads from a file before any analysis."""

    width: int
    """Upright width in pixels (rotation metadata applied)."""
    height: int
    """Upright height in pixels."""
    fps: float
    """Average frame rate (frames per second)."""
    frames: int
    """Frames in the video stream: the container's count, else estimated from duration * fps."""
    duration_s: float
    rotation: int
    """Degrees (0, 90, 180, 270) the stored frames are turned counter-clockwise to stand upright."""
    has_audio: bool
    codec: str
    """The video codec's name, e.g. 'h264'."""


def _av() -> Any:
    import av

    return av


def _looks_like_video(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(16)
    return any(head[o:o + len(m)] == m for o, m in MAGIC)


def _refuse_unreadable(path: Path, exc: Exception | None) -> VideoError:
    if _looks_like_video(path):
        return VideoError(f"the file is damaged or truncated: it starts as a video but cannot be read ({exc})",
                          "broken")
    return VideoError("not a video file (or in a format this app cannot read)", "not_video")


def _rotation(value: Any) -> int:
    try:
        return int(round(float(value) / 90)) * 90 % 360
    except (TypeError, ValueError):
        return 0


def _fps(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) <= 1000:
            return float(rate)
    return 30.0


def probe(path: Path) -> VideoInfo:
    """What a video file holds; its first frame is decoded to check it and read its rotation. Raises
    VideoError (VIDEO_ERROR_KINDS); FileNotFoundError when there is no such file."""
    path = Path(path)
    size = path.stat().st_size
    if not is_regular(path):
        raise VideoError("not a regular file (a link, a folder or a device): not read", "not_video")
    if size == 0:
        raise VideoError("the file is empty (0 bytes)", "empty")
    if size > MAX_VIDEO_BYTES:
        raise VideoError(f"the file is {size / 1024**2:.0f} MB: over the limit of {MAX_VIDEO_BYTES // 1024**2} MB",
                         "too_large", mb=math.ceil(size / 1024**2), limit_mb=MAX_VIDEO_BYTES // 1024**2)
    av = _av()
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.FFmpegError as exc:
        raise _refuse_unreadable(path, exc) from None
    with container:
        if not VIDEO_FORMATS & set(container.format.name.split(",")):
            raise _refuse_unreadable(path, None)
        if not container.streams:  # a container with nothing in it: a recording stopped at once
            raise VideoError("the video has no frames (zero length)", "no_frames")
        if not container.streams.video:
            has_audio = bool(container.streams.audio)
            raise VideoError("the file has no video stream" + (" (sound only)" if has_audio else ""),
                             "no_video_stream", audio=has_audio)
        vs = container.streams.video[0]
        cc = vs.codec_context
        if cc is None:  # no decoder for its codec (or a damaged header that names none)
            raise VideoError("the video's codec cannot be read (the file is damaged, or in a format this app cannot "
                             "read)", "broken")
        w, h = int(cc.width or 0), int(cc.height or 0)
        if w * h > MAX_VIDEO_PIXELS:
            raise VideoError(f"the video is {w}x{h} pixels: over the limit of {MAX_VIDEO_PIXELS / 1e6:.1f} megapixels",
                             "too_many_pixels", w=w, h=h, limit_w=4096, limit_h=2160)
        fps = _fps(vs)
        duration = 0.0
        if vs.duration and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        if duration > MAX_VIDEO_S:
            raise VideoError(f"the video lasts {duration:.0f} s: over the limit of {MAX_VIDEO_S:.0f} s", "too_long",
                             seconds=math.ceil(duration), limit_min=round(MAX_VIDEO_S / 60))
        first = None
        errors = 0
        try:
            for packet in container.demux(vs):
                try:
                    first = next(iter(packet.decode()), None)
                except av.FFmpegError:
                    errors += 1
                    if errors > MAX_DECODE_ERRORS:
                        break
                if first is not None:
                    break
        except av.FFmpegError as exc:
            raise VideoError(f"the file is damaged or truncated ({exc})", "broken") from None
        if first is None:
            if errors:
                raise VideoError("the file is damaged: its video does not decode", "broken")
            raise VideoError("the video has no frames (zero length)", "no_frames")
        if not w or not h:
            w, h = first.width, first.height
        rotation = _rotation(getattr(first, "rotation", 0))
        frames = int(vs.frames or 0) or max(1, round(duration * fps))
        if not duration:
            duration = frames / fps
        if rotation in (90, 270):
            w, h = h, w
        return VideoInfo(w, h, fps, frames, duration, rotation, bool(container.streams.audio), cc.name or "?")


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame, upright, at the size asked for."""

    index: int
    """From 1, in decoding order."""
    t: float
    """Seconds from the first frame."""
    rgb: np.ndarray
    pts: int | None
    """The frame's timestamp in the stream's time base, less the first frame's."""


class FrameReader:
    """The frames of a video file, upright RGB at `size` (upright width, height), one at a time. After the
    loop `truncated` says whether the file broke off (what came before it was yielded)."""

    def __init__(self, path: Path, size: tuple[int, int], rotation: int) -> None:
        av = _av()
        self._container = av.open(str(path), metadata_errors="replace")
        self.stream = self._container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.rotation = rotation
        w, h = size
        self._stored = (w, h) if rotation in (0, 180) else (h, w)
        self.truncated = False
        self.time_base: Fraction = self.stream.time_base or Fraction(1, 1000)

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[Frame]:
        av = _av()
        first_pts: int | None = None
        first_t: float | None = None
        index, errors = 0, 0
        sw, sh = self._stored
        packets = self._container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                if self.stream.frames and index < self.stream.frames - 1:  # the index promised more: cut off
                    self.truncated = True
                return
            except av.FFmpegError as exc:
                log.info("video demuxing stopped: %s", exc)
                self.truncated = True
                return
            try:
                decoded = packet.decode()
            except av.FFmpegError as exc:
                errors += 1
                log.info("a video packet did not decode: %s", exc)
                if errors > MAX_DECODE_ERRORS:
                    self.truncated = True
                    return
                continue
            for frame in decoded:
                index += 1
                small = frame.width * frame.height > sw * sh
                rgb = frame.to_ndarray(format="rgb24", width=sw, height=sh,
                                       interpolation="AREA" if small else None)
                if self.rotation:
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=self.rotation // 90))
                pts = frame.pts
                if pts is not None and first_pts is None:
                    first_pts = pts
                t = frame.time
                if t is not None and first_t is None:
                    first_t = t
                yield Frame(index, (t - first_t) if t is not None and first_t is not None else math.nan, rgb,
                            None if pts is None or first_pts is None else pts - first_pts)


class AnnotatedWriter:
    """Writes frames as H.264 (libx264, yuv420p) in an mp4 at `path`, faststart, and the audio of `source` (if
    any: AAC and MP3 copied, other codecs transcoded to AAC) interleaved by time. `fps` and `time_base`: the
    source's, so a variable frame rate keeps its timing."""

    def __init__(self, path: Path, source: Path, size: tuple[int, int], fps: float, time_base: Fraction,
                 audio: bool) -> None:
        av = _av()
        self.path = Path(path)
        self._out = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self._audio_in: Any = None
        try:
            w, h = size
            self._vs = self._out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                            options=dict(X264_OPTIONS))
            self._vs.width, self._vs.height, self._vs.pix_fmt = w, h, "yuv420p"
            self._tb = time_base if time_base and time_base <= Fraction(1, 10) else Fraction(1, 1000)
            self._vs.codec_context.time_base = self._tb
            self._last_pts = -1
            self._count = 0
            self._fps = fps
            if audio:
                self._open_audio(source)
        except BaseException:
            self.abort()
            raise

    def _open_audio(self, source: Path) -> None:
        av = _av()
        self._audio_in = av.open(str(source), metadata_errors="replace")
        if not self._audio_in.streams.audio:
            self._audio_in.close()
            self._audio_in = None
            return
        ain = self._audio_in.streams.audio[0]
        if ain.codec_context is None or not ain.codec_context.sample_rate:  # no decoder: the video goes without
            log.info("audio left out: its codec cannot be read")
            self._audio_in.close()
            self._audio_in = None
            return
        self._remux = ain.codec_context.name in REMUX_AUDIO
        if self._remux:
            self._as = self._out.add_stream_from_template(ain)
        else:
            rate = ain.codec_context.sample_rate or 44100
            self._as = self._out.add_stream("aac", rate=rate)
            self._as.layout = "stereo" if (ain.codec_context.channels or 1) > 1 else "mono"
            self._resampler = av.AudioResampler(format="fltp", layout=self._as.layout.name, rate=rate)
        self._audio_packets = self._audio_in.demux(ain)
        self._pending: Any = None
        self._audio_start = float(ain.start_time * ain.time_base) if ain.start_time is not None else 0.0

    def _pump_audio(self, until: float) -> None:
        """Writes the source's audio up to `until` seconds (all of it when infinite)."""
        if self._audio_in is None:
            return
        av = _av()
        while True:
            packet = self._pending
            if packet is None:
                try:
                    packet = next(self._audio_packets)
                except StopIteration:
                    self._finish_audio()
                    return
                except av.FFmpegError as exc:  # a broken audio track: the video goes on without the rest
                    log.info("audio stopped: %s", exc)
                    self._finish_audio()
                    return
            if packet.pts is not None and float(packet.pts * packet.time_base) - self._audio_start > until:
                self._pending = packet
                return
            self._pending = None
            try:
                if self._remux:
                    if packet.dts is None:
                        continue
                    packet.stream = self._as
                    self._out.mux(packet)
                else:
                    for frame in packet.decode():
                        for rf in self._resampler.resample(frame):
                            self._out.mux(self._as.encode(rf))
            except (av.FFmpegError, ValueError) as exc:  # damaged sound: skipped, the picture goes on
                log.info("an audio packet was skipped: %s", exc)

    def _finish_audio(self) -> None:
        if self._audio_in is None:
            return
        av = _av()
        try:
            if not self._remux:
                for rf in self._resampler.resample(None):
                    self._out.mux(self._as.encode(rf))
                self._out.mux(self._as.encode(None))
        except (av.FFmpegError, ValueError) as exc:
            log.info("the end of the audio was skipped: %s", exc)
        self._audio_in.close()
        self._audio_in = None

    def write(self, rgb: np.ndarray, pts: int | None, t: float) -> None:
        """One frame (RGB at the writer's size) at `pts` (the source's time base, from 0; None: the next one at
        the average rate)."""
        av = _av()
        if pts is None:
            pts = round(self._count / self._fps / self._tb)
        pts = max(int(pts), self._last_pts + 1)
        self._last_pts = pts
        self._count += 1
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = pts, self._tb
        self._out.mux(self._vs.encode(frame))
        self._pump_audio(t)

    def close(self, audio_until: float = math.inf) -> None:
        """Flush the encoder and the audio (up to `audio_until` seconds) and finish the file."""
        self._out.mux(self._vs.encode(None))
        self._pump_audio(audio_until)
        self._finish_audio()
        self._out.close()

    def abort(self) -> None:
        """Close everything without finishing; the caller removes the file."""
        for c in (self._audio_in, self._out):
            if c is not None:
                try:
                    c.close()
                except Exception as exc:  # noqa: BLE001 - closing a half-written file may fail any way
                    log.debug("closing after an error: %s", exc)
        self._audio_in = None
