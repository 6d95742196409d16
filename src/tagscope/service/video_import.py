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

The import is an ``import`` job whose progress counts seconds of video. A video already in the
dataset (by real path) is skipped, so running the import again adds nothing, and after a kill it
goes on with the videos not done: a video is stored whole or not at all. A file that cannot be
decoded (corrupt, truncated, no video stream, not a video), and each malformed transcript cue
(``<file>:<line>``), is an :class:`ImportProblem`; the other files and cues are imported.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    probe_duration_ms,
    scan_video,
)
from tagscope.service.imports import check_import, import_dataset, import_folder
from tagscope.service.thumbnails import DEFAULT_MODE, ThumbnailMode, thumbnail_mode
from tagscope.service.workspace import Workspace

PathLike = str | os.PathLike[str]
DEFAULT_KEYFRAMES = "every:1s"
# The job record keeps this many problems (the returned report keeps them all).
_MAX_JOB_PROBLEMS = 1000
_HASH_CHUNK = 1 << 20


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
    root = import_folder(folder)
    transcript_dir = import_folder(transcripts) if transcripts is not None else None
    files, problems = find_videos(root, follow_symlinks=follow_symlinks)
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

    def work(report_progress: ProgressFn) -> dict[str, Any]:
        run = _VideoRun(ws, ds.id, report, policy, transcript_dir, mode, report_progress)
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
    """One video import job's work over the video files found."""

    def __init__(
        self,
        ws: Workspace,
        dataset_id: int,
        report: VideoImportReport,
        policy: KeyframePolicy,
        transcript_dir: Path | None,
        mode: ThumbnailMode,
        progress: ProgressFn,
    ) -> None:
        self.ws = ws
        self.dataset_id = dataset_id
        self.report = report
        self.policy = policy
        self.transcript_dir = transcript_dir
        self.mode = mode
        self.progress = progress

    def execute(self, files: list[str]) -> None:
        known = self.ws.catalog.existing_paths(self.dataset_id, files)
        durations = {p: 0 if p in known else probe_duration_ms(p) for p in files}
        total_s = round(sum(durations.values()) / 1000)
        done_ms = 0
        self.progress(0, total_s)
        for path in files:
            if path in known:
                self.report.n_existing += 1
                continue

            def at(time_ms: int, base: int = done_ms, cap: int = durations[path]) -> None:
                self.progress(round((base + min(time_ms, cap)) / 1000), total_s)

            try:
                self._import_one(path, at)
            except MediaError as exc:
                self.report.problems.append(ImportProblem(path, str(exc)))
            done_ms += durations[path]
            self.progress(round(done_ms / 1000), total_s)

    def _import_one(self, path: str, on_frame: Callable[[int], None]) -> None:
        """Decode one video and store it with its shots, keyframes and cues (all or none)."""
        before = _stat(path)
        content_hash = _file_hash(path)
        folder = self._keyframe_dir(path, content_hash)
        # "now": the keyframes' thumbnails are made from the decoded frames, in the scan.
        thumbs = self.ws.paths.thumbnails if self.mode == "now" else None
        scan = scan_video(path, folder, policy=self.policy, thumbnails=thumbs, on_frame=on_frame)
        if _stat(path) != before:
            raise MediaError("the file changed while it was imported")
        cues = self._cues(path)
        keyframes = [self._keyframe_media(k.path) for k in scan.keyframes]
        if scan.keyframes:
            with open_image(scan.keyframes[0].path) as first:
                first.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # decoded at 1/2..1/8
                save_thumbnail(first, content_hash, self.ws.paths.thumbnails)
        media = MediaInfo(before[0], scan.info.width, scan.info.height, _format(path), content_hash)
        video = NewItem(
            path, media, Modality.VIDEO, metadata=_video_meta(scan, cues[1]), mtime_ns=before[1]
        )
        with self.ws.catalog.transaction():
            video_id = self._add([video])[0]
            shot_ids = self._add(_shot_items(path, scan, video_id))
            self._add(_keyframe_items(scan, keyframes, video_id, shot_ids))
            self._add(_cue_items(path, scan, cues[0], video_id, shot_ids))
        report = self.report
        report.n_videos += 1
        report.n_shots += len(scan.shots)
        report.n_keyframes += len(scan.keyframes)
        report.n_cues += len(cues[0])
        report.n_frames += scan.info.n_frames
        report.n_added += 1 + len(scan.shots) + len(scan.keyframes) + len(cues[0])

    def _add(self, items: list[NewItem]) -> list[int]:
        """Insert ``items``; their ids, in order."""
        self.ws.catalog.add_items(self.dataset_id, items)
        ids = self.ws.catalog.existing_paths(self.dataset_id, [it.path for it in items])
        return [ids[it.path] for it in items]

    def _keyframe_dir(self, path: str, content_hash: str) -> Path:
        # By content (videos in two datasets share their keyframes) and path (two copies of a
        # video in one dataset keep theirs apart), and by policy (another rate, other frames).
        key = hashlib.sha256(f"{path}\0{content_hash}\0{self.policy}".encode()).hexdigest()
        return self.ws.paths.keyframes / key[:2] / key[:32]

    def _keyframe_media(self, path: Path) -> tuple[MediaInfo, int]:
        """A keyframe file's media info and modification time, its thumbnail as the mode asks."""
        info, data = read_media(path)
        folder = self.ws.paths.thumbnails
        if self.mode == "now":
            ensure_thumbnail(path, info.content_hash, folder, data=data)
        elif (
            self.mode == "defer"
            and ready_thumbnail(path, info.content_hash, folder, data=data) is None
        ):
            self.report.n_thumbnails_deferred += 1
        return info, os.lstat(path).st_mtime_ns

    def _cues(self, path: str) -> tuple[list[Cue], str | None]:
        """The cues of the video's transcript (its problems reported), and the file's path."""
        source = transcript_for(Path(path), self.transcript_dir)
        if source is None:
            return [], None
        try:
            transcript = read_transcript(source)
        except MediaError as exc:
            self.report.problems.append(ImportProblem(str(source), str(exc)))
            return [], str(source)
        self.report.problems.extend(
            ImportProblem(f"{source}:{p.line}", p.reason) for p in transcript.problems
        )
        return list(transcript.cues), str(source)


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


def _stat(path: str) -> tuple[int, int]:
    """(size, modification time) of the file: a change during the import is caught."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror}") from None
    return st.st_size, st.st_mtime_ns


def _file_hash(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror}") from None
    return digest.hexdigest()
