"""Reading videos with PyAV: stream facts, shots from scene changes, keyframes, in one decode pass.

Every frame is decoded once. A reduced copy (:data:`ANALYSIS_WIDTH` pixels wide, BGR, scaled by
FFmpeg's swscale in the same call that converts the colours) feeds PySceneDetect's
:class:`~scenedetect.AdaptiveDetector` in a second thread, while the next frames decode; it finds
cuts from the change of hue, saturation and luma between frames against its rolling average (so a
pan does not cut), and :class:`~tagscope.media.dissolves.DissolveDetector`, which finds the
dissolves it misses. Keyframes are taken from
the same pass: at a fixed rate (``every:1s``), or one per shot (``scene``), the sharpest frame
(variance of the Laplacian of the reduced frame) in the middle third of the shot. For the
latter a shot's candidate frames are kept by reference (no copy), at most
:data:`_MAX_CANDIDATES` of them evenly spread over the shot: the spacing doubles when it is full.

A file with no video stream, one FFmpeg cannot open or decode, or one whose frames stop well before
the duration its header gives (a truncated file) raises :class:`MediaError` with the reason.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tagscope.domain import ValidationError
from tagscope.media.dissolves import DissolveDetector
from tagscope.media.errors import MediaError

if TYPE_CHECKING:
    import av.video.frame
    from PIL import Image

VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mkv", ".mov"})
ANALYSIS_WIDTH = 160
"""Width (pixels) of the frames the shot detector sees. PySceneDetect scales to about 256; 160
finds the same cuts on the sample video and the benchmark's (128 too) with 60% of the pixels."""
KEYFRAME_MAX_SIDE = 1280
"""Keyframes are stored at the video's size, reduced to this longer side."""
JPEG_QUALITY = 90
# Frames missing at the end, beyond which a file is truncated rather than rounded: the larger
# of a second and this share of the header's duration.
_TRUNCATED_SHARE = 0.02
_MAX_CANDIDATES = 16
MIN_SHOT_FRAMES = 15
"""A cut closer than this to the one before is dropped (PySceneDetect's ``min_scene_len``)."""
# Frames of look-back kept for the next shot: the detectors name a cut some frames late (a
# dissolve's up to WINDOW / 2 + MAX_RUN), and the pipeline adds its own.
_LOOKBACK = 24
# Frames handed to the detector's thread ahead of the cuts taken (within _LOOKBACK).
_PIPELINE = 4
_DECODE_THREADS = min(2, os.cpu_count() or 1)
_REPORT_EVERY = 64
_EVERY = re.compile(r"^every:(\d+(?:\.\d+)?)(ms|s)$")


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
    on_frame: Callable[[int], None] | None = None,
) -> VideoScan:
    """Decode ``path`` once: its facts, its shots, and its keyframes written to ``keyframe_dir``.

    Parameters
    ----------
    path : path-like
        The video file.
    keyframe_dir : Path
        Where the keyframes go, as ``<index>.jpg`` (created; files of an earlier scan replaced).
    policy : KeyframePolicy, default every second
    on_frame : callable, optional
        Called with the time (ms) of the frame just decoded, every :data:`_REPORT_EVERY` frames.

    Raises
    ------
    MediaError
        No video stream, not decodable (corrupt, unsupported), or truncated.
    """
    import av

    try:
        container = av.open(os.fspath(path))
    except av.error.FFmpegError as exc:
        raise MediaError(f"not a readable video: {_ffmpeg_reason(exc)}") from None
    with container:
        if not container.streams.video:
            raise MediaError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = _DECODE_THREADS
        with ThreadPoolExecutor(1, thread_name_prefix="tagscope-shots") as pool:
            scan = _Scan(stream, keyframe_dir, policy, pool)
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
            except BaseException:  # interrupted: no comparisons left to run
                scan.cancel()
                raise
            duration = container.duration / 1_000_000 if container.duration else None
            return scan.finish(duration, stream.codec_context.name)


def probe_duration_ms(path: str | os.PathLike[str]) -> int:
    """The duration a video's header gives, in milliseconds (0 when it gives none or the file
    cannot be opened: decoding it says why)."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            return round(container.duration / 1000) if container.duration else 0
    except av.error.FFmpegError:
        return 0


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
        self, stream: av.VideoStream, folder: Path, policy: KeyframePolicy, pool: Executor
    ) -> None:
        from av.video.reformatter import VideoReformatter
        from scenedetect import AdaptiveDetector

        self.detector = AdaptiveDetector(min_scene_len=MIN_SHOT_FRAMES)
        self.dissolves = DissolveDetector()
        # One reformatter per output size: each keeps its swscale context (a new one per frame
        # costs more than the conversion). Area averaging: the best downscale, and fast.
        self.to_small, self.to_gray, self.to_stored = (VideoReformatter() for _ in range(3))
        rate = stream.guessed_rate or stream.average_rate
        self.rate = float(rate) if rate else 30.0
        self.width = stream.codec_context.width
        self.height = stream.codec_context.height
        self.small = _fit(self.width, self.height, ANALYSIS_WIDTH, by_width=True)
        self.stored = _fit(self.width, self.height, KEYFRAME_MAX_SIDE)
        self.folder = folder
        self.policy = policy
        self.times: list[int] = []
        self.cuts: list[int] = [0]
        self.keyframes: list[tuple[int, int, Path]] = []  # (frame, time_ms, path)
        self.origin: float | None = None
        self.next_ms = 0
        self.shot_frames = _ShotFrames()
        self.recent: deque[tuple[int, av.video.frame.VideoFrame]] = deque(maxlen=_LOOKBACK)
        # Reducing and comparing frames runs in ``pool`` (one thread: frames stay in order)
        # while this thread decodes the next ones; its cuts are taken a few frames later.
        self.pool = pool
        self.pending: deque[Future[list[int]]] = deque()
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def n_frames(self) -> int:
        return len(self.times)

    def add(self, frame: av.video.frame.VideoFrame) -> None:
        index = len(self.times)
        time_ms = self._time_ms(frame, index)
        self.times.append(time_ms)
        self.pending.append(self.pool.submit(self._detect, index, frame))
        while len(self.pending) > _PIPELINE:
            self._take_cuts()
        if self.policy.every_ms is None:
            self.shot_frames.add(index, frame)
            self.recent.append((index, frame))
        elif time_ms >= self.next_ms:
            self._write(frame, index, time_ms)
            every = self.policy.every_ms
            self.next_ms = (time_ms // every + 1) * every

    def _detect(self, index: int, frame: av.video.frame.VideoFrame) -> list[int]:
        """The cuts the detector names on seeing frame ``index`` (in the pool's thread)."""
        from scenedetect import FrameTimecode

        w, h = self.small
        bgr = self.to_small.reformat(frame, w, h, "bgr24", interpolation="AREA").to_ndarray()
        cuts = self.detector.process_frame(FrameTimecode(index, fps=self.rate), bgr)
        return sorted([c.frame_num for c in cuts] + self.dissolves.process(index, bgr))

    def _take_cuts(self) -> None:
        for cut in self.pending.popleft().result():
            self._cut(cut)

    def cancel(self) -> None:
        """Drop the comparisons not started (decoding failed)."""
        for future in self.pending:
            future.cancel()

    def _time_ms(self, frame: av.video.frame.VideoFrame, index: int) -> int:
        t = frame.time
        if t is None:
            return round(index * 1000 / self.rate)
        if self.origin is None:
            self.origin = t
        return max(round((t - self.origin) * 1000), self.times[-1] if self.times else 0)

    def _cut(self, at: int) -> None:
        if at - self.cuts[-1] < MIN_SHOT_FRAMES:  # also a cut named by both detectors
            return
        if self.policy.every_ms is None:
            self._pick(self.cuts[-1], at)
            self.shot_frames = _ShotFrames()
            for index, frame in self.recent:
                if index >= at:
                    self.shot_frames.add(index, frame)
        self.cuts.append(at)

    def _pick(self, start: int, end: int) -> None:
        """Write the sharpest candidate of the middle third of the shot ``[start, end)``."""
        candidates = [(i, f) for i, f in self.shot_frames.frames if start <= i < end]
        if not candidates:
            return
        third = (end - start) / 3
        middle = [(i, f) for i, f in candidates if start + third <= i <= end - third]
        if not middle:  # a short shot: the candidate nearest its middle
            centre = (start + end) / 2
            middle = [min(candidates, key=lambda c: abs(c[0] - centre))]
        best = max(middle, key=lambda c: sharpness(self._gray(c[1])))
        self._write(best[1], best[0], self.times[best[0]])

    def _gray(self, frame: av.video.frame.VideoFrame) -> np.ndarray:
        w, h = self.small
        return self.to_gray.reformat(frame, w, h, "gray", interpolation="AREA").to_ndarray()

    def _write(self, frame: av.video.frame.VideoFrame, index: int, time_ms: int) -> None:
        w, h = self.stored
        image: Image.Image = self.to_stored.reformat(
            frame, w, h, "rgb24", interpolation="AREA"
        ).to_image()
        path = self.folder / f"{len(self.keyframes):06d}.jpg"
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        image.save(partial, "JPEG", quality=JPEG_QUALITY)
        os.replace(partial, path)
        self.keyframes.append((index, time_ms, path))

    def finish(self, header_s: float | None, codec: str) -> VideoScan:
        while self.pending:
            self._take_cuts()
        n = len(self.times)
        if n == 0:
            raise MediaError("no frame could be decoded")
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
            Keyframe(k, frame, time_ms, _shot_of(bounds, frame), path)
            for k, (frame, time_ms, path) in enumerate(self.keyframes)
        )
        info = VideoInfo(duration_ms, round(fps, 3), self.width, self.height, codec, n)
        return VideoScan(info, shots, keyframes)


class _ShotFrames:
    """Candidate frames of the current shot, evenly spaced: at most :data:`_MAX_CANDIDATES`,
    every ``stride``-th frame; when full, every other one goes and the stride doubles."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, av.video.frame.VideoFrame]] = []
        self.stride = 1

    def add(self, index: int, frame: av.video.frame.VideoFrame) -> None:
        if index % self.stride:
            return
        self.frames.append((index, frame))
        if len(self.frames) > _MAX_CANDIDATES:
            self.stride *= 2
            self.frames = [(i, f) for i, f in self.frames if i % self.stride == 0]


def _shot_of(bounds: list[int], frame: int) -> int:
    """The index of the shot holding ``frame`` (``bounds``: shot starts, then the frame count)."""
    return min(bisect.bisect_right(bounds, frame) - 1, len(bounds) - 2)


def _fit(width: int, height: int, side: int, *, by_width: bool = False) -> tuple[int, int]:
    """``(width, height)`` scaled down so the width (or the longer side) is at most ``side``."""
    longest = width if by_width else max(width, height)
    if longest <= side:
        return width, height
    scale = side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))
