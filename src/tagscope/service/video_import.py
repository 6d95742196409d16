"""Video import (SPEC F-01 video, F-40): videos from a folder, with their shots, keyframes and
transcript cues as items.

Each video file (mp4, webm, mkv, mov) is decoded once (:func:`tagscope.media.video.scan_video`)
and becomes, in one catalog transaction:

- a ``video`` item (its file; ``duration_ms``, ``fps``, ``codec``, ``n_frames`` in its metadata,
  width and height in its columns; its thumbnail is its first keyframe's);
- a ``shot`` item per shot (``<video path>#shot=<n>``; ``video_id``, ``start_ms``, ``end_ms``,
  ``start_frame``, ``end_frame``, ``keyframe_indexes``);
- a ``keyframe`` item per keyframe, a JPEG file under the workspace's ``keyframes`` folder
  (``video_id``, ``shot_id``, ``keyframe_index``, ``keyframe_time_ms``, ``frame_index``);
- a ``transcript`` item per cue of its SRT or WebVTT file (``<video path>#cue=<n>``; the cue's
  words as its text; ``video_id``, ``shot_id`` of the shot it overlaps most, ``start_ms``,
  ``end_ms``).

The import is an ``import`` job whose progress counts seconds of video. The videos are scanned by
a map task (:class:`ScanVideo`, a shard of :data:`VIDEOS_AT_ONCE` videos of about the same
length, scanned side by side) on the workspace's runner, in this process or on a Ray worker;
the job stores what it found. The folder may be a ``file://`` URI or any fsspec
URI (its videos then read through fsspec, items by their URI). A video already in the
dataset (by real path) is skipped, so running the import again adds nothing, and after a kill it
goes on with the videos not done: a video is stored whole or not at all. A file that cannot be
decoded (corrupt, truncated, no video stream, not a video), and each malformed transcript cue
(``<file>:<line>``), is an :class:`ImportProblem`; the other files and cues are imported.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from tagscope._env import usable_cpus
from tagscope.domain import (
    ImportProblem,
    ImportReport,
    MediaInfo,
    Modality,
    NewItem,
)
from tagscope.jobs.runner import ProgressFn
from tagscope.media.errors import MediaError
from tagscope.media.images import open_image, read_media
from tagscope.media.paths import NOT_REGULAR
from tagscope.media.sources import file_stat, is_uri, open_media
from tagscope.media.thumbnails import (
    THUMBNAIL_SIZE,
    ensure_thumbnail,
    ready_thumbnail,
    save_thumbnail,
)
from tagscope.media.transcripts import (
    TRANSCRIPT_SUFFIXES,
    Cue,
    read_transcript,
    transcript_for,
)
from tagscope.media.video import (
    VIDEO_SUFFIXES,
    KeyframePolicy,
    Shot,
    VideoScan,
    decoder_threads,
    probe_duration_ms,
    scan_video,
)
from tagscope.service.imports import check_import, import_dataset, import_folder, uri_files
from tagscope.service.thumbnails import DEFAULT_MODE, ThumbnailMode, thumbnail_mode
from tagscope.service.workspace import Workspace
from tagscope.store.retry import run_retrying

PathLike = str | os.PathLike[str]
DEFAULT_KEYFRAMES = "every:1s"
# The job record keeps this many problems (the returned report keeps them all).
_MAX_JOB_PROBLEMS = 1000
_HASH_CHUNK = 1 << 20
VIDEOS_AT_ONCE = min(4, usable_cpus())
"""Videos a shard holds, scanned side by side (each in a thread; FFmpeg decodes outside the
GIL)."""


@dataclass(slots=True)
class VideoImportReport(ImportReport):
    """An :class:`ImportReport` (``n_added`` counts items of every kind, ``n_existing`` videos
    already there) with the count of each kind of item added."""

    n_videos: int = 0
    n_shots: int = 0
    n_keyframes: int = 0
    n_cues: int = 0
    n_frames: int = 0  # decoded


def import_video(
    ws: Workspace,
    dataset_name: str,
    folder: PathLike,
    *,
    keyframes: str = DEFAULT_KEYFRAMES,
    transcripts: PathLike | None = None,
    thumbnails: ThumbnailMode | bool = DEFAULT_MODE,
    follow_symlinks: bool = False,
    progress: ProgressFn | None = None,
) -> VideoImportReport:
    """Import every video under ``folder`` (recursively) into a dataset, creating it if needed.

    Parameters
    ----------
    ws : Workspace
    dataset_name : str
    folder : path-like
        Scanned recursively; hidden files are skipped, transcripts (``.srt``, ``.vtt``) are
        read with their video, other files are reported.
    keyframes : str, default "every:1s"
        ``"every:<n>s"`` (or ``ms``): a keyframe at that rate; ``"scene"``: one per shot, the
        sharpest frame of its middle third.
    transcripts : path-like, optional
        The folder of the transcripts (``<video stem>.srt`` or ``.vtt``); default: the one
        next to each video.
    thumbnails : {"defer", "now", "none"} or bool, default "defer"
        For the keyframes, as for :func:`tagscope.service.imports.import_images`. A video's
        own thumbnail is always made (from its first keyframe).
    follow_symlinks : bool, default False
        Follow symbolic links to videos and folders outside ``folder``.
    progress : callable, optional
        ``progress(seconds_done, seconds_total)`` over the videos' durations.

    Returns
    -------
    VideoImportReport

    Raises
    ------
    ValidationError
        ``folder`` (or ``transcripts``) is not a folder; the dataset name, ``keyframes`` or
        ``thumbnails`` is invalid.
    """
    check_import(ws, dataset_name)
    policy = KeyframePolicy.parse(keyframes)
    mode = thumbnail_mode(thumbnails)
    transcript_dir = import_folder(transcripts) if transcripts is not None else None
    if is_uri(folder):
        files, problems = find_uri_videos(str(folder))
    else:
        files, problems = find_videos(import_folder(folder), follow_symlinks=follow_symlinks)
    ds = import_dataset(ws, dataset_name)
    report = VideoImportReport(problems=problems)
    params = {
        "format": "video",
        "source": str(folder),
        "keyframes": str(policy),
        "transcripts": str(transcripts) if transcripts is not None else None,
        "follow_symlinks": follow_symlinks,
        "thumbnails": mode,
    }

    task = ScanVideo(
        policy,
        str(transcript_dir) if transcript_dir is not None else None,
        mode,
        str(ws.paths.keyframes),
        str(ws.paths.thumbnails),
    )

    def work(report_progress: ProgressFn) -> dict[str, Any]:
        run = _VideoRun(ws, ds.id, report, task, report_progress)
        run.execute(files)
        return {
            "n_added": report.n_added,
            "n_existing": report.n_existing,
            "n_videos": report.n_videos,
            "n_shots": report.n_shots,
            "n_keyframes": report.n_keyframes,
            "n_cues": report.n_cues,
            "n_frames": report.n_frames,
            "n_thumbnails_deferred": report.n_thumbnails_deferred,
            "n_problems": len(report.problems),
            "problems": [
                {"source": p.source, "reason": p.reason}
                for p in report.problems[:_MAX_JOB_PROBLEMS]
            ],
        }

    ws.runner.run("import", ds.id, params, work, on_progress=progress)
    return report


def find_uri_videos(folder: str) -> tuple[list[str], list[ImportProblem]]:
    """The URIs of the video files under the folder URI ``folder`` (any fsspec file system;
    sorted, hidden files skipped, transcripts left to their video), and the other files.

    Raises
    ------
    ValidationError
        ``folder`` is not a folder, or leads out of one (``..``).
    """
    files = uri_files(folder)
    videos, problems = [], []
    for uri, name in files:
        suffix = os.path.splitext(name)[1].lower()
        if suffix in VIDEO_SUFFIXES:
            videos.append(uri)
        elif suffix not in TRANSCRIPT_SUFFIXES:
            problems.append(ImportProblem(uri, f"not a video file type ({suffix or 'no suffix'})"))
    return videos, problems


def find_videos(
    root: Path, *, follow_symlinks: bool = False
) -> tuple[list[str], list[ImportProblem]]:
    """The real paths of the video files under ``root`` (sorted), and the other files.

    Hidden files and folders are skipped, and so are transcripts (read with their video). A
    symbolic link is followed when it leads inside ``root``, or anywhere with
    ``follow_symlinks``; a loop of links is walked once.
    """
    real_root = os.path.realpath(root)
    videos: list[str] = []
    problems: list[ImportProblem] = []
    seen: set[str] = set()
    stack = [real_root]
    while stack:
        folder = stack.pop()
        if folder in seen:
            continue
        seen.add(folder)
        try:
            with os.scandir(folder) as it:
                entries = sorted(
                    (e for e in it if not e.name.startswith(".")), key=lambda e: e.name
                )
        except OSError as exc:
            problems.append(ImportProblem(folder, f"cannot list the folder: {exc.strerror}"))
            continue
        for entry in reversed(entries):
            real = os.path.realpath(entry.path)
            inside = real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)
            if entry.is_symlink() and not inside and not follow_symlinks:
                problems.append(
                    ImportProblem(
                        entry.path,
                        f"a symbolic link to {real}, outside the folder (follow_symlinks "
                        "(--follow-symlinks) allows it)",
                    )
                )
            elif os.path.isdir(real):
                stack.append(real)
            elif not os.path.isfile(real):  # decoding a pipe could wait forever
                why = "a broken symbolic link" if not os.path.exists(real) else None
                problems.append(
                    ImportProblem(entry.path, why or NOT_REGULAR.format(name=entry.name))
                )
            elif os.path.splitext(entry.name)[1].lower() in VIDEO_SUFFIXES:
                videos.append(real)
            elif os.path.splitext(entry.name)[1].lower() not in TRANSCRIPT_SUFFIXES:
                suffix = os.path.splitext(entry.name)[1] or "no suffix"
                problems.append(ImportProblem(entry.path, f"not a video file type ({suffix})"))
    return sorted(dict.fromkeys(videos)), problems


class _VideoRun:
    """One video import job's work over the video files found: each is scanned by a map over
    shards of a few videos (:class:`ScanVideo`, on the workspace's runner) and stored here
    whole, in one transaction, as its scan ends."""

    def __init__(
        self,
        ws: Workspace,
        dataset_id: int,
        report: VideoImportReport,
        task: ScanVideo,
        progress: ProgressFn,
    ) -> None:
        self.ws = ws
        self.dataset_id = dataset_id
        self.report = report
        self.task = task
        self.progress = progress

    def execute(self, files: list[str]) -> None:
        known = self.ws.catalog.existing_paths(self.dataset_id, files)
        durations = {p: 0 if p in known else probe_duration_ms(p) for p in files}
        total_s = round(sum(durations.values()) / 1000)
        done_ms = 0
        decoding: dict[str, int] = {}  # the videos being scanned: their time decoded (ms)
        self.progress(0, total_s)
        self.report.n_existing += sum(p in known for p in files)
        # Longest first: the videos scanned together (a shard) end at about the same time.
        new = sorted((p for p in files if p not in known), key=lambda p: -durations[p])
        shards = [new[i : i + VIDEOS_AT_ONCE] for i in range(0, len(new), VIDEOS_AT_ONCE)]
        for event in self.ws.runner.map(self.task, shards):
            cap = durations[event.path]
            if isinstance(event, Decoding):
                decoding[event.path] = min(event.time_ms, cap)
            else:
                decoding.pop(event.path, None)
                if event.scan is None:
                    self.report.problems.append(ImportProblem(event.path, str(event.reason)))
                else:
                    self._store(event)
                done_ms += cap
            self.progress(round((done_ms + sum(decoding.values())) / 1000), total_s)

    def _store(self, video: ScannedVideo) -> None:
        """Store a video with its shots, keyframes and cues (all or none)."""
        scan, path = video.scan, video.path
        assert scan is not None
        self.report.problems.extend(ImportProblem(s, r) for s, r in video.problems)
        item = NewItem(
            path,
            video.media,
            Modality.VIDEO,
            metadata=_video_meta(scan, video.transcript),
            mtime_ns=video.mtime_ns,
        )

        def insert() -> None:
            with self.ws.catalog.transaction():
                video_id = self._add([item])[0]
                shot_ids = self._add(_shot_items(path, scan, video_id))
                self._add(_keyframe_items(scan, list(video.keyframes), video_id, shot_ids))
                self._add(_cue_items(path, scan, list(video.cues), video_id, shot_ids))

        run_retrying(insert, f"the video {path}")  # SERIALIZABLE on PostgreSQL: may be refused
        report = self.report
        report.n_videos += 1
        report.n_shots += len(scan.shots)
        report.n_keyframes += len(scan.keyframes)
        report.n_cues += len(video.cues)
        report.n_frames += scan.info.n_frames
        report.n_thumbnails_deferred += video.n_deferred
        report.n_added += 1 + len(scan.shots) + len(scan.keyframes) + len(video.cues)

    def _add(self, items: list[NewItem]) -> list[int]:
        """Insert ``items``; their ids, in order."""
        self.ws.catalog.add_items(self.dataset_id, items)
        ids = self.ws.catalog.existing_paths(self.dataset_id, [it.path for it in items])
        return [ids[it.path] for it in items]


@dataclass(frozen=True, slots=True)
class Decoding:
    """Progress of a video's scan: the time (ms) of the frame just decoded."""

    path: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class ScannedVideo:
    """What scanning a video found (plain values: a worker sends them back): its media info and
    modification time, its scan (keyframe files written), each keyframe file's media info and
    modification time, its transcript's cues and file, the ``(source, reason)`` of the cues not
    read, the keyframe thumbnails left to the filler; or, with no ``scan``, why it cannot be
    used."""

    path: str
    media: MediaInfo | None = None
    mtime_ns: int | None = None
    scan: VideoScan | None = None
    keyframes: tuple[tuple[MediaInfo, int | None], ...] = ()
    cues: tuple[Cue, ...] = ()
    transcript: str | None = None
    problems: tuple[tuple[str, str], ...] = ()
    n_deferred: int = 0
    reason: str | None = None


class _Stopped(Exception):
    """The job stopped taking a scan's results (it failed, or was killed): the scan ends."""


@dataclass(frozen=True, slots=True)
class ScanVideo:
    """A video import's map task over shards of videos (paths or URIs), scanned side by side,
    each in a thread: each is decoded once (:func:`~tagscope.media.video.scan_video`, with
    :func:`~tagscope.media.video.decoder_threads` of the shard's size), its keyframes written
    under ``keyframes`` and thumbnails under ``thumbnails`` as ``mode`` asks (folders every
    worker shares), its transcript read (from ``transcripts``, default next to it).

    Yields :class:`Decoding` events while the videos decode, and each one's
    :class:`ScannedVideo` as its scan ends.
    """

    policy: KeyframePolicy
    transcripts: str | None
    mode: ThumbnailMode
    keyframes: str
    thumbnails: str

    def __call__(self, paths: list[str]) -> Iterator[Decoding | ScannedVideo]:
        # Each video is scanned in a thread of its own, so that the progress of all of them
        # comes out as events while they decode.
        events: SimpleQueue[Decoding | ScannedVideo | BaseException] = SimpleQueue()
        stop = threading.Event()
        threads = decoder_threads(len(paths))

        def scan(path: str) -> None:
            def on_frame(time_ms: int) -> None:
                if stop.is_set():
                    raise _Stopped
                events.put(Decoding(path, time_ms))

            try:
                events.put(self.scan(path, on_frame, threads))
            except MediaError as exc:
                events.put(ScannedVideo(path, reason=str(exc)))
            except BaseException as exc:  # a bug, or _Stopped: raised in the job (if it listens)
                events.put(exc)

        workers = [
            threading.Thread(target=scan, args=(path,), name="tagscope-video-scan", daemon=True)
            for path in paths
        ]
        for worker in workers:
            worker.start()
        try:
            left = len(paths)
            while left:
                event = events.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                left -= isinstance(event, ScannedVideo)
        finally:
            stop.set()
            for worker in workers:
                worker.join()

    def scan(self, path: str, on_frame: Callable[[int], None], threads: int) -> ScannedVideo:
        """Decode one video (with ``threads`` decoder threads): its scan, keyframe files,
        thumbnail and cues."""
        before = file_stat(path)
        content_hash = _file_hash(path)
        folder = self._keyframe_dir(path, content_hash)
        # "now": the keyframes' thumbnails are made from the decoded frames, in the scan.
        thumbnails = Path(self.thumbnails)
        thumbs = thumbnails if self.mode == "now" else None
        scan = scan_video(
            path,
            folder,
            policy=self.policy,
            thumbnails=thumbs,
            on_frame=on_frame,
            threads=threads,
        )
        if file_stat(path) != before:
            raise MediaError("the file changed while it was imported")
        cues, transcript, problems = self._cues(path)
        keyframes = [self._keyframe_media(k.path) for k in scan.keyframes]
        if scan.keyframes:
            with open_image(scan.keyframes[0].path) as first:
                first.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # decoded at 1/2..1/8
                save_thumbnail(first, content_hash, thumbnails)
        return ScannedVideo(
            path,
            MediaInfo(before[0], scan.info.width, scan.info.height, _format(path), content_hash),
            before[1],
            scan,
            tuple((info, mtime_ns) for info, mtime_ns, _ in keyframes),
            tuple(cues),
            transcript,
            tuple(problems),
            sum(deferred for _, _, deferred in keyframes),
        )

    def _keyframe_dir(self, path: str, content_hash: str) -> Path:
        # By content (videos in two datasets share their keyframes) and path (two copies of a
        # video in one dataset keep theirs apart), and by policy (another rate, other frames).
        key = hashlib.sha256(f"{path}\0{content_hash}\0{self.policy}".encode()).hexdigest()
        return Path(self.keyframes) / key[:2] / key[:32]

    def _keyframe_media(self, path: Path) -> tuple[MediaInfo, int | None, bool]:
        """A keyframe file's media info, modification time, and whether its thumbnail was left
        to the filler (made or settled as the mode asks)."""
        info, data = read_media(path)
        folder = Path(self.thumbnails)
        if self.mode == "now":
            ensure_thumbnail(path, info.content_hash, folder, data=data)
        deferred = (
            self.mode == "defer"
            and ready_thumbnail(path, info.content_hash, folder, data=data) is None
        )
        return info, file_stat(path)[1], deferred

    def _cues(self, path: str) -> tuple[list[Cue], str | None, list[tuple[str, str]]]:
        """The cues of the video's transcript, its file, and the problems of reading it."""
        source = self._transcript(path)
        if source is None:
            return [], None, []
        try:
            transcript = read_transcript(source)
        except MediaError as exc:
            return [], source, [(source, str(exc))]
        problems = [(f"{source}:{p.line}", p.reason) for p in transcript.problems]
        return list(transcript.cues), source, problems

    def _transcript(self, path: str) -> str | None:
        """The transcript file of the video (see :func:`transcript_for`; next to a video by URI,
        on its file system), None when it has none."""
        if self.transcripts is not None or not is_uri(path):
            folder = Path(self.transcripts) if self.transcripts is not None else None
            found = transcript_for(Path(path), folder)  # the stem of a URI's path is its name's
            return str(found) if found is not None else None
        stem = os.path.splitext(path)[0]
        for suffix in TRANSCRIPT_SUFFIXES:
            try:
                file_stat(stem + suffix)
            except MediaError:
                continue
            return stem + suffix
        return None


def _shot_items(path: str, scan: VideoScan, video_id: int) -> list[NewItem]:
    return [
        NewItem(
            f"{path}#shot={s.index}", None, Modality.SHOT, metadata=_shot_meta(scan, s, video_id)
        )
        for s in scan.shots
    ]


def _keyframe_items(
    scan: VideoScan, files: list[tuple[MediaInfo, int]], video_id: int, shot_ids: list[int]
) -> list[NewItem]:
    """The keyframes as items, with their files' (media info, modification time)."""
    return [
        NewItem(
            str(k.path),
            info,
            Modality.KEYFRAME,
            metadata={
                "video_id": video_id,
                "shot_id": shot_ids[k.shot],
                "keyframe_index": k.index,
                "keyframe_time_ms": k.time_ms,
                "frame_index": k.frame,
            },
            mtime_ns=mtime_ns,
        )
        for k, (info, mtime_ns) in zip(scan.keyframes, files, strict=True)
    ]


def _cue_items(
    path: str, scan: VideoScan, cues: list[Cue], video_id: int, shot_ids: list[int]
) -> list[NewItem]:
    return [
        NewItem(
            f"{path}#cue={c.index}",
            None,
            Modality.TRANSCRIPT,
            text=c.text,
            metadata={
                "video_id": video_id,
                "shot_id": _shot_id(scan.shots, shot_ids, c),
                "cue_index": c.index,
                "start_ms": c.start_ms,
                "end_ms": c.end_ms,
            },
        )
        for c in cues
    ]


def _video_meta(scan: VideoScan, transcript: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "duration_ms": scan.info.duration_ms,
        "fps": scan.info.fps,
        "codec": scan.info.codec,
        "n_frames": scan.info.n_frames,
        "n_shots": len(scan.shots),
        "n_keyframes": len(scan.keyframes),
    }
    if transcript is not None:
        meta["transcript"] = transcript
    return meta


def _shot_meta(scan: VideoScan, shot: Shot, video_id: int) -> dict[str, Any]:
    return {
        "video_id": video_id,
        "shot_index": shot.index,
        "start_ms": shot.start_ms,
        "end_ms": shot.end_ms,
        "start_frame": shot.start_frame,
        "end_frame": shot.end_frame,
        "keyframe_indexes": [k.index for k in scan.keyframes if k.shot == shot.index],
    }


def _shot_id(shots: tuple[Shot, ...], shot_ids: list[int], cue: Cue) -> int | None:
    """The id of the shot ``cue`` overlaps most (the first of equals), None when none."""
    best, best_overlap = None, 0
    end = max(cue.end_ms, cue.start_ms + 1)  # a cue of no length: the shot it falls in
    for shot, shot_id in zip(shots, shot_ids, strict=True):
        overlap = min(end, shot.end_ms) - max(cue.start_ms, shot.start_ms)
        if overlap > best_overlap:
            best, best_overlap = shot_id, overlap
    return best


def _format(path: str) -> str:
    return os.path.splitext(path)[1].lstrip(".").lower()


def _file_hash(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open_media(path) as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}") from None
    return digest.hexdigest()
