"""Reading videos with PyAV: stream facts, shots from scene changes, keyframes, in one decode pass.

Every frame is decoded once. FFmpeg's swscale reduces it to :data:`ANALYSIS_WIDTH` pixels wide,
left in YUV (no colour conversion), for :class:`~tagscope.media.shots.CutDetector` (hard cuts,
fades through black, dissolves), :data:`_DETECT_EVERY` reduced frames at a time (about 20 us a
frame; run on one frame between two decodes, after the decoder has filled the caches, it costs
several times that). Keyframes are taken from the same pass: at a fixed rate (``every:1s``),
or one per shot (``scene``), the sharpest frame (variance of the Laplacian of its reduced luma)
in the middle third of the shot.
For the latter a shot's candidate frames are kept by reference (no copy), at most
:data:`_MAX_CANDIDATES` of them evenly spread over the shot: the spacing doubles when it is
full. A keyframe is converted, encoded as JPEG and written (with its thumbnail, when asked) in
a writer thread while the next frames decode.

A file with no video stream, one FFmpeg cannot open or decode, or one whose frames stop well before
the duration its header gives (a truncated file) raises :class:`MediaError` with the reason.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tagscope._env import usable_cpus
from tagscope.domain import ValidationError
from tagscope.media.errors import MediaError
from tagscope.media.shots import CutDetector
from tagscope.media.sources import local_path, open_media
from tagscope.media.thumbnails import THUMBNAIL_SIZE, save_thumbnail

if TYPE_CHECKING:
    import av.container
    import av.video.frame
    from av.video.reformatter import VideoReformatter
    from PIL import Image

VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mkv", ".mov"})
ANALYSIS_WIDTH = 80
"""Width (pixels) of the frames the shot detector sees (PySceneDetect scales to about 256): it
finds the same cuts as at 160 on the tests' videos and the benchmark's, for half the cost."""
KEYFRAME_MAX_SIDE = 1280
"""Keyframes are stored at the video's size, reduced to this longer side."""
JPEG_QUALITY = 90
# Frames missing at the end, beyond which a file is truncated rather than rounded: the larger
# of a second and this share of the header's duration.
_TRUNCATED_SHARE = 0.02
_MAX_CANDIDATES = 16
MIN_SHOT_FRAMES = 15
"""A cut closer than this to the one before is dropped (PySceneDetect's ``min_scene_len``)."""
# Two taps a side: reads a fraction of a large frame's rows, where area averaging reads them all
# (3x the cost at 720p); the aliasing is alike in neighbouring frames, which the detector compares.
_SMALL_INTERPOLATION = "FAST_BILINEAR"
_DETECT_EVERY = 32
"""Frames whose reduced copies the detector sees together: run between two decodes, its code
and data are out of the caches the decoder filled, and it costs several times as much."""
_REPORT_EVERY = 64
_EVERY = re.compile(r"^every:(\d+(?:\.\d+)?)(ms|s)$")


def decoder_threads(at_once: int = 1, cpus: int | None = None) -> int:
    """FFmpeg's frame threads for each of ``at_once`` videos decoded side by side on ``cpus``
    (default: this process's): the CPUs each has, at most 2 (a third slows a decode on 2
    cores). A frame thread is not free: on 2 cores two videos of one thread each scan 1.4x as
    fast as the two one after the other with two."""
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(2, cpus // max(1, at_once)))


DECODE_THREADS = decoder_threads()
"""FFmpeg's frame threads for a video decoded alone."""


@dataclass(frozen=True, slots=True)
class KeyframePolicy:
    """Where keyframes are taken: every ``every_ms`` milliseconds, or (None) one per shot."""

    every_ms: int | None = None

    @classmethod
    def parse(cls, spec: str) -> KeyframePolicy:
        """``"scene"`` (one per shot) or ``"every:<n>s"`` / ``"every:<n>ms"`` (a fixed rate).

        Raises
        ------
        ValidationError
            Any other value, or a rate under 10 ms.
        """
        if spec == "scene":
            return cls(None)
        match = _EVERY.match(spec)
        if match is None:
            raise ValidationError(
                f"keyframes must be 'scene' or 'every:<n>s' (e.g. every:1s), not {spec!r}",
                field="keyframes",
            )
        value, unit = float(match.group(1)), match.group(2)
        every_ms = round(value * (1000 if unit == "s" else 1))
        if every_ms < 10:
            raise ValidationError(f"keyframes {spec!r}: at most one every 10 ms", field="keyframes")
        return cls(every_ms)

    def __str__(self) -> str:
        return "scene" if self.every_ms is None else f"every:{self.every_ms}ms"


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What decoding a video tells about it. ``fps`` is measured over the frames decoded (a
    variable-rate file's header often gives a nominal rate only)."""

    duration_ms: int
    fps: float
    width: int
    height: int
    codec: str
    n_frames: int


@dataclass(frozen=True, slots=True)
class Shot:
    """A shot: frames ``[start_frame, end_frame)``, shown from ``start_ms`` to ``end_ms``."""

    index: int
    start_ms: int
    end_ms: int
    start_frame: int
    end_frame: int


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A frame stored as a JPEG file: its number in the video, time, shot and file."""

    index: int
    frame: int
    time_ms: int
    shot: int
    path: Path


@dataclass(frozen=True, slots=True)
class VideoScan:
    info: VideoInfo
    shots: tuple[Shot, ...]
    keyframes: tuple[Keyframe, ...]


def scan_video(
    path: str | os.PathLike[str],
    keyframe_dir: Path,
    *,
    policy: KeyframePolicy = KeyframePolicy(1000),
    thumbnails: Path | None = None,
    on_frame: Callable[[int], None] | None = None,
    threads: int = DECODE_THREADS,
) -> VideoScan:
    """Decode ``path`` once: its facts, its shots, and its keyframes written to ``keyframe_dir``.

    Parameters
    ----------
    path : path-like
        The video file, or its URI (see :mod:`tagscope.media.sources`).
    keyframe_dir : Path
        Where the keyframes go, as ``<index>.jpg`` (created; files of an earlier scan replaced).
    policy : KeyframePolicy, default every second
    thumbnails : Path, optional
        A thumbnail cache folder: each keyframe's thumbnail is made there too, from the
        decoded frame (:func:`~tagscope.media.thumbnails.save_thumbnail`, keyed by the JPEG
        file's SHA-256 as :func:`~tagscope.media.images.read_media` gives it).
    on_frame : callable, optional
        Called with the time (ms) of the frame just decoded, every :data:`_REPORT_EVERY` frames.
    threads : int, default :data:`DECODE_THREADS`
        FFmpeg's frame threads (fewer where other videos decode beside this one: see
        :func:`decoder_threads`).

    Raises
    ------
    MediaError
        No video stream, not decodable (corrupt, unsupported), or truncated.
    """
    import av

    with _opened(path) as container:
        if not container.streams.video:
            raise MediaError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        with ThreadPoolExecutor(1, thread_name_prefix="tagscope-keyframes") as writer:
            scan = _Scan(stream, keyframe_dir, policy, writer, thumbnails)
            try:
                for frame in container.decode(stream):
                    scan.add(frame)
                    if on_frame is not None and scan.n_frames % _REPORT_EVERY == 0:
                        on_frame(scan.times[-1])
            except av.error.FFmpegError as exc:
                scan.cancel()
                at = scan.times[-1] / 1000 if scan.times else 0.0
                reason = _ffmpeg_reason(exc)
                raise MediaError(f"corrupt video data at {at:.1f} s: {reason}") from None
            except BaseException:  # interrupted: no keyframes left to write
                scan.cancel()
                raise
            duration = container.duration / 1_000_000 if container.duration else None
            return scan.finish(duration, stream.codec_context.name)


def probe_duration_ms(path: str | os.PathLike[str]) -> int:
    """The duration a video's header gives, in milliseconds (0 when it gives none or the file
    cannot be opened: decoding it says why)."""
    try:
        with _opened(path) as container:
            return round(container.duration / 1000) if container.duration else 0
    except MediaError:
        return 0


@contextmanager
def _opened(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """``path`` opened by PyAV: a local file by its path, a URI's as a file object (fsspec).

    Raises
    ------
    MediaError
        The file cannot be read, or FFmpeg cannot open it.
    """
    import av

    local = local_path(path)
    with nullcontext(local) if local is not None else open_media(path) as source:
        try:
            container = av.open(source)
        except av.error.FFmpegError as exc:
            raise MediaError(f"not a readable video: {_ffmpeg_reason(exc)}") from None
        with container:
            yield container


def _ffmpeg_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grey image: higher is sharper."""
    g = gray.astype(np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var()) if lap.size else 0.0


class _Scan:
    """The state of one decode pass: detector, frame times, keyframes written so far."""

    def __init__(
        self,
        stream: av.VideoStream,
        folder: Path,
        policy: KeyframePolicy,
        writer: Executor,
        thumbnails: Path | None,
    ) -> None:
        from av.video.reformatter import VideoReformatter

        self.detector = CutDetector()
        # One reformatter per output size and thread: each keeps its swscale context (a new
        # one per frame costs more than the conversion).
        self.to_small = VideoReformatter()
        rate = stream.guessed_rate or stream.average_rate
        self.rate = float(rate) if rate else 30.0
        self.width = stream.codec_context.width
        self.height = stream.codec_context.height
        self.small = _fit_even(self.width, self.height, ANALYSIS_WIDTH)
        self.folder = folder
        self.policy = policy
        self.times: list[int] = []
        self.cuts: list[int] = [0]
        self.undetected: list[tuple[int, np.ndarray]] = []  # (frame, its reduced copy)
        self.origin: float | None = None
        self.next_ms = 0
        self.shot_frames = _ShotFrames()
        # Keyframes are converted, encoded and written in ``writer`` while this thread decodes.
        self.jpegs = _KeyframeWriter(stream, folder, thumbnails)
        self.writer = writer
        self.keyframes: list[tuple[int, int, Future[Path]]] = []  # (frame, time_ms, file)
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def n_frames(self) -> int:
        return len(self.times)

    def add(self, frame: av.video.frame.VideoFrame) -> None:
        index = len(self.times)
        time_ms = self._time_ms(frame, index)
        self.times.append(time_ms)
        w, h = self.small
        # Scaled and left in YUV by swscale (no colour conversion); one thread: the frame is
        # small, and starting threads would cost more.
        yuv = self.to_small.reformat(
            frame, w, h, "yuv420p", interpolation=_SMALL_INTERPOLATION, threads=1
        ).to_ndarray()
        self.undetected.append((index, yuv))
        if len(self.undetected) >= _DETECT_EVERY:
            self._detect()
        if self.policy.every_ms is None:
            self.shot_frames.add((index, frame, yuv[:h]))
        elif time_ms >= self.next_ms:
            self._write(frame, index, time_ms)
            every = self.policy.every_ms
            self.next_ms = (time_ms // every + 1) * every

    def _detect(self) -> None:
        h = self.small[1]
        for index, yuv in self.undetected:
            for cut in self.detector.process(index, yuv, h):
                self._cut(cut)
        self.undetected.clear()

    def cancel(self) -> None:
        """Drop the keyframes not written yet (decoding failed)."""
        for _, _, future in self.keyframes:
            future.cancel()

    def _time_ms(self, frame: av.video.frame.VideoFrame, index: int) -> int:
        t = frame.time
        if t is None:
            return round(index * 1000 / self.rate)
        if self.origin is None:
            self.origin = t
        return max(round((t - self.origin) * 1000), self.times[-1] if self.times else 0)

    def _cut(self, at: int) -> None:
        if at - self.cuts[-1] < MIN_SHOT_FRAMES:  # also a cut named by two rules
            return
        if self.policy.every_ms is None:
            # The cut is named a few frames late: the candidates past it are the next shot's
            # (only those, so few frames are held, and the decoder's buffers stay in cache).
            after = [c for c in self.shot_frames.frames if c[0] >= at]
            self._pick(self.cuts[-1], at)
            self.shot_frames = _ShotFrames()
            for candidate in after:
                self.shot_frames.add(candidate)
        self.cuts.append(at)

    def _pick(self, start: int, end: int) -> None:
        """Write the sharpest candidate of the middle third of the shot ``[start, end)``."""
        candidates = [c for c in self.shot_frames.frames if start <= c[0] < end]
        if not candidates:
            return
        third = (end - start) / 3
        middle = [c for c in candidates if start + third <= c[0] <= end - third]
        if not middle:  # a short shot: the candidate nearest its middle
            centre = (start + end) / 2
            middle = [min(candidates, key=lambda c: abs(c[0] - centre))]
        index, frame, _ = max(middle, key=lambda c: sharpness(c[2]))
        self._write(frame, index, self.times[index])

    def _write(self, frame: av.video.frame.VideoFrame, index: int, time_ms: int) -> None:
        path = self.folder / f"{len(self.keyframes):06d}.jpg"
        self.keyframes.append((index, time_ms, self.writer.submit(self.jpegs.write, frame, path)))

    def finish(self, header_s: float | None, codec: str) -> VideoScan:
        n = len(self.times)
        if n == 0:
            raise MediaError("no frame could be decoded")
        self._detect()
        step = 1000 / self.rate
        decoded_ms = self.times[-1] + step
        if header_s is not None:
            header_ms = header_s * 1000
            missing = header_ms - decoded_ms
            if missing > max(1000.0, _TRUNCATED_SHARE * header_ms):
                raise MediaError(
                    f"truncated: its frames stop at {decoded_ms / 1000:.1f} s of the "
                    f"{header_s:.1f} s its header gives"
                )
        duration_ms = round(header_s * 1000) if header_s else round(decoded_ms)
        if self.policy.every_ms is None:
            self._pick(self.cuts[-1], n)
        span = self.times[-1] - self.times[0]
        fps = (n - 1) * 1000 / span if n > 1 and span > 0 else self.rate
        bounds = [*self.cuts, n]
        shots = tuple(
            Shot(
                i,
                self.times[a],
                self.times[b] if b < n else duration_ms,
                a,
                b,
            )
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
        )
        keyframes = tuple(
            Keyframe(k, frame, time_ms, _shot_of(bounds, frame), written.result())
            for k, (frame, time_ms, written) in enumerate(self.keyframes)
        )
        info = VideoInfo(duration_ms, round(fps, 3), self.width, self.height, codec, n)
        return VideoScan(info, shots, keyframes)


class _KeyframeWriter:
    """Writes keyframes as JPEG files (and, given a folder, their thumbnails), in one thread."""

    def __init__(self, stream: av.VideoStream, folder: Path, thumbnails: Path | None) -> None:
        from av.video.reformatter import VideoReformatter

        width, height = stream.codec_context.width, stream.codec_context.height
        self.stored = _fit(width, height, KEYFRAME_MAX_SIDE)
        self.thumb = _fit(width, height, THUMBNAIL_SIZE)
        self.to_stored, self.to_thumb = VideoReformatter(), VideoReformatter()
        self.thumbnails = thumbnails

    def write(self, frame: av.video.frame.VideoFrame, path: Path) -> Path:
        image = _rgb(self.to_stored, frame, self.stored)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        # Straight to the file: Pillow then encodes without the GIL (into a buffer, with it).
        image.save(partial, "JPEG", quality=JPEG_QUALITY)
        os.replace(partial, path)
        if self.thumbnails is not None:  # from the frame: cheaper than decoding the JPEG
            thumb = _rgb(self.to_thumb, frame, self.thumb)
            content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
            save_thumbnail(thumb, content_hash, self.thumbnails)
        return path


def _rgb(
    reformatter: VideoReformatter, frame: av.video.frame.VideoFrame, size: tuple[int, int]
) -> Image.Image:
    """``frame`` at ``size`` as an RGBX image (area averaging: the best downscale, and fast).

    Pillow maps the converted frame's buffer (RGBX, as Pillow holds RGB: 4 bytes a pixel)
    instead of copying it twice (an RGB array, then ``Image.fromarray``): a 720p keyframe and
    its thumbnail cost 3.4 ms CPU, not 4.9. PyAV's ``to_image`` costs more still."""
    from PIL import Image

    plane = reformatter.reformat(frame, *size, "rgb0", interpolation="AREA").planes[0]
    return Image.frombuffer("RGBX", size, plane, "raw", "RGBX", plane.line_size, 1)


_Candidate = tuple[int, "av.video.frame.VideoFrame", np.ndarray]  # (frame, frame, its luma)


class _ShotFrames:
    """Candidate frames of the current shot, evenly spaced: at most :data:`_MAX_CANDIDATES`,
    every ``stride``-th frame; when full, every other one goes and the stride doubles."""

    def __init__(self) -> None:
        self.frames: list[_Candidate] = []
        self.stride = 1

    def add(self, candidate: _Candidate) -> None:
        if candidate[0] % self.stride:
            return
        self.frames.append(candidate)
        if len(self.frames) > _MAX_CANDIDATES:
            self.stride *= 2
            self.frames = [c for c in self.frames if c[0] % self.stride == 0]


def _shot_of(bounds: list[int], frame: int) -> int:
    """The index of the shot holding ``frame`` (``bounds``: shot starts, then the frame count)."""
    return min(bisect.bisect_right(bounds, frame) - 1, len(bounds) - 2)


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    """``(width, height)`` scaled down so the longer side is at most ``side``."""
    longest = max(width, height)
    if longest <= side:
        return width, height
    scale = side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fit_even(width: int, height: int, side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the width is at most ``side``, both even (whole chroma
    planes in ``yuv420p``)."""
    scale = min(1.0, side / width)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
