"""Video import (F-01 video, F-40): videos, shots, keyframes and transcript cues as items; broken
files reported; re-import and resume; the sample video joined in SQL."""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pytest
from PIL import Image

from tagscope.domain import Item, JobStatus, Modality, ValidationError
from tagscope.media.thumbnails import thumbnail_path
from tagscope.service import Workspace, browse, video_import
from tagscope.service.sql import run_sql
from tagscope.service.thumbnails import fill_thumbnails
from tagscope.service.video_import import import_video

RED, GREEN, BLUE, WHITE = (220, 30, 30), (30, 200, 40), (20, 40, 210), (235, 235, 235)
SRT = """1
00:00:00,000 --> 00:00:01,000
in the red

2
00:00:01,000 --> 00:00:02,000
mostly green

3
00:00:0x,000 --> 00:00:03,000
broken

4
00:00:03,500 --> 00:00:04,100
blue at last
"""


@pytest.fixture()
def videos(make_video: Callable[..., Path], tmp_path: Path) -> Path:
    """Two good videos (one with a transcript), a truncated one, a fake one and a note."""
    folder = tmp_path / "videos"
    (folder / "more").mkdir(parents=True)
    make_video(folder / "a.mp4", [(RED, 30), (GREEN, 40), (BLUE, 35)])  # 4.2 s
    make_video(folder / "more" / "b.webm", [(WHITE, 75), (RED, 75)])  # 6 s
    (folder / "a.srt").write_text(SRT)
    whole = make_video(tmp_path / "whole.webm", [(GREEN, 50), (BLUE, 50), (RED, 50)])
    (folder / "cut.webm").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    (folder / "fake.mp4").write_text("not a video at all\n" * 10)
    (folder / "notes.txt").write_text("hello")
    return folder


def _items(ws: Workspace, dataset: str) -> dict[Modality, list[Item]]:
    out: dict[Modality, list[Item]] = {m: [] for m in Modality}
    for item in ws.catalog.iter_items(ws.dataset(dataset).id):
        out[item.modality].append(item)
    return out


def test_a_folder_of_videos_becomes_videos_shots_keyframes_and_cues(
    workspace: Workspace, videos: Path
) -> None:
    report = import_video(workspace, "clips", videos, keyframes="scene", thumbnails="now")
    reasons = {Path(p.source).name: p.reason for p in report.problems}
    assert set(reasons) == {"cut.webm", "fake.mp4", "notes.txt", "a.srt:10"}
    assert reasons["cut.webm"].startswith("truncated")
    assert reasons["fake.mp4"].startswith("not a readable video")
    assert reasons["notes.txt"] == "not a video file type (.txt)"
    assert reasons["a.srt:10"].startswith("unreadable timing")
    assert (report.n_videos, report.n_shots, report.n_keyframes, report.n_cues) == (2, 5, 5, 3)
    assert report.n_added == 2 + 5 + 5 + 3 and report.n_frames == 105 + 150

    items = _items(workspace, "clips")
    a, b = sorted(items[Modality.VIDEO], key=lambda i: i.path)
    assert a.path == str((videos / "a.mp4").resolve())
    assert (a.media.width, a.media.height, a.media.format) == (160, 96, "mp4")
    assert a.metadata["fps"] == 25.0 and a.metadata["codec"] == "mpeg4"
    assert a.metadata["duration_ms"] == pytest.approx(4200, abs=40)
    assert a.metadata["n_shots"] == 3 and b.metadata["n_shots"] == 2

    shots = {s.id: s for s in items[Modality.SHOT]}
    a_shots = sorted((s for s in shots.values() if s.metadata["video_id"] == a.id), key=_start)
    assert [(s.metadata["start_ms"], s.metadata["end_ms"]) for s in a_shots][:2] == [
        (0, 1200),
        (1200, 2800),
    ]
    assert a_shots[0].path == f"{a.path}#shot=0" and a_shots[0].media is None
    for kf in items[Modality.KEYFRAME]:
        shot = shots[kf.metadata["shot_id"]]
        assert shot.metadata["video_id"] == kf.metadata["video_id"]
        assert (
            shot.metadata["start_ms"] <= kf.metadata["keyframe_time_ms"] < shot.metadata["end_ms"]
        )
        assert kf.metadata["keyframe_index"] in shot.metadata["keyframe_indexes"]
        assert Path(kf.path).is_relative_to(workspace.paths.keyframes)
        with Image.open(kf.path) as im:
            assert im.format == "JPEG"
        assert browse.get_thumbnail_file(workspace, kf.id).path.is_file()

    cues = sorted(items[Modality.TRANSCRIPT], key=_start)
    assert [c.text for c in cues] == ["in the red", "mostly green", "blue at last"]
    # The shot each cue overlaps most: red (0-1.2 s), green (1.2-2.8 s), blue (2.8-4.2 s).
    assert [c.metadata["shot_id"] for c in cues] == [s.id for s in a_shots]
    assert [(c.metadata["start_ms"], c.metadata["end_ms"]) for c in cues][2] == (3500, 4100)

    # A video's thumbnail is one of its frames.
    with Image.open(browse.get_thumbnail_file(workspace, b.id).path) as thumb:
        assert thumb.convert("RGB").getpixel((5, 5))[0] > 200  # white
    job = workspace.catalog.list_jobs(workspace.dataset("clips").id)[0]
    assert job.status == JobStatus.DONE and job.result["n_videos"] == 2
    assert job.params["keyframes"] == "scene"


def _start(item: Item) -> int:
    return item.metadata["start_ms"]


def test_importing_again_adds_nothing(workspace: Workspace, videos: Path) -> None:
    import_video(workspace, "clips", videos)
    n = workspace.catalog.count_items(workspace.dataset("clips").id)
    again = import_video(workspace, "clips", videos)
    assert (again.n_added, again.n_existing, again.n_videos) == (0, 2, 0)
    assert workspace.catalog.count_items(workspace.dataset("clips").id) == n


class _Killed(Exception):
    pass


def test_an_interrupted_import_goes_on_where_it_stopped(workspace: Workspace, videos: Path) -> None:
    seen: list[tuple[int, int]] = []

    def kill_once_a_video_is_stored(done: int, total: int) -> None:
        seen.append((done, total))
        if workspace.catalog.count_items(workspace.dataset("clips").id):
            raise _Killed  # while the other videos of its shard, or the next, still decode

    with pytest.raises(_Killed):
        import_video(workspace, "clips", videos, progress=kill_once_a_video_is_stored)
    ds = workspace.dataset("clips")
    assert workspace.catalog.list_jobs(ds.id)[0].status == JobStatus.ERROR
    first = _items(workspace, "clips")
    assert len(first[Modality.VIDEO]) == 1  # stored whole, the others not at all
    assert {i.metadata.get("video_id") for i in first[Modality.KEYFRAME]} == {
        first[Modality.VIDEO][0].id
    }
    assert seen[0] == (0, 16)  # seconds of video, as the headers give them (fake.mp4: none)
    assert 0 < seen[-1][0] < 16

    rest = import_video(workspace, "clips", videos)
    assert (rest.n_existing, rest.n_videos) == (1, 1)
    after = _items(workspace, "clips")
    assert sorted(Path(v.path).name for v in after[Modality.VIDEO]) == ["a.mp4", "b.webm"]
    assert len(after[Modality.KEYFRAME]) == 5 + 6  # every second: 0-4 s, 0-5 s


def test_videos_scanned_side_by_side_report_progress_that_only_grows(
    workspace: Workspace, make_video: Callable[..., Path], tmp_path: Path
) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):  # 12.8 s each: progress every 2.56 s of each
        make_video(folder / name, [(RED, 160), (GREEN, 160)])
    seen: list[int] = []
    report = import_video(workspace, "clips", folder, progress=lambda done, _: seen.append(done))
    assert report.n_videos == 3 and not report.problems
    assert seen == sorted(seen)
    assert seen[0] == 0 and seen[-1] == 38 and len(set(seen)) > 3


def test_transcripts_from_another_folder(
    workspace: Workspace, make_video: Callable[..., Path], tmp_path: Path
) -> None:
    folder, subs = tmp_path / "v", tmp_path / "subs"
    folder.mkdir()
    subs.mkdir()
    make_video(folder / "a.mkv", [(RED, 30), (GREEN, 40), (BLUE, 35)])
    (subs / "a.vtt").write_text("WEBVTT\n\n00:01.500 --> 00:02.000\nhello\n")
    report = import_video(workspace, "v", folder, transcripts=subs)
    assert report.problems == [] and report.n_cues == 1
    (cue,) = _items(workspace, "v")[Modality.TRANSCRIPT]
    assert cue.text == "hello" and cue.metadata["start_ms"] == 1500


def test_pipes_and_broken_links_are_not_opened(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    os.mkfifo(folder / "pipe.mp4")
    (folder / "gone.webm").symlink_to(folder / "missing.webm")
    report = import_video(workspace, "odd", folder)
    reasons = {Path(p.source).name: p.reason for p in report.problems}
    assert reasons == {
        "pipe.mp4": "'pipe.mp4' is not a regular file (a pipe, socket or device)",
        "gone.webm": "a broken symbolic link",
    }


def test_bad_arguments_change_nothing(workspace: Workspace, videos: Path) -> None:
    with pytest.raises(ValidationError) as info:
        import_video(workspace, "clips", videos, keyframes="often")
    assert info.value.field == "keyframes"
    with pytest.raises(ValidationError, match="not a folder"):
        import_video(workspace, "clips", videos / "a.mp4")
    assert workspace.catalog.list_datasets() == []


def test_deferred_keyframe_thumbnails_are_filled_without_problems(
    workspace: Workspace, make_video: Callable[..., Path], tmp_path: Path
) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    make_video(folder / "a.mp4", [(RED, 25), (GREEN, 25), (BLUE, 20)], size=(480, 270))
    (folder / "a.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n")
    report = import_video(workspace, "big", folder)
    assert report.n_thumbnails_deferred == report.n_keyframes == 3
    job = fill_thumbnails(workspace, "big")
    # Made: the three keyframes'; present: the video's own (made by the import).
    assert (job.result["n_problems"], job.result["n_made"], job.result["n_present"]) == (0, 3, 1)


def test_the_sample_video_with_its_transcript_in_sql(
    workspace: Workspace, shared_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "sample"
    folder.mkdir()
    shutil.copy(shared_dir / "data" / "video" / "echo-hereweare.webm", folder / "echo.webm")
    shutil.copy(shared_dir / "data" / "video" / "mediaelement.srt", folder / "echo.srt")
    report = import_video(workspace, "echo", folder, keyframes="every:1s")
    assert report.problems == []
    assert (report.n_videos, report.n_keyframes, report.n_cues) == (1, 45, 15)
    rows = run_sql(
        workspace,
        "SELECT c.text, c.start_ms, c.end_ms, s.start_ms, s.end_ms FROM items c "
        "JOIN items s ON s.id = c.shot_id WHERE c.dataset = 'echo' "
        "AND c.modality = 'transcript' ORDER BY c.start_ms",
    ).rows
    assert len(rows) == 15
    assert rows[0][:3] == [
        "HTML5 <video> and <audio> was supposed to be awesome, powerful, and fun.",
        100,
        4000,
    ]
    for _text, start, end, shot_start, shot_end in rows:
        assert min(end, shot_end) > max(start, shot_start)  # the cue overlaps its shot
    keyframes = run_sql(
        workspace,
        "SELECT keyframe_index, keyframe_time_ms, video_id, shot_id FROM items "
        "WHERE modality = 'keyframe' ORDER BY keyframe_index",
    ).rows
    assert [r[0] for r in keyframes] == list(range(45))
    assert all(r[2] is not None and r[3] is not None for r in keyframes)


# Issue 14: video ingest as a map job (a shard per video) on the local runner and on Ray; videos
# by URI.


def _portable(ws: Workspace, dataset: str) -> list[tuple[Any, ...]]:
    """The dataset's items, their keyframe files named relative to the workspace."""
    keyframes = str(ws.paths.keyframes)
    return [
        (it.path.replace(keyframes, "<keyframes>"), it.modality, it.media, it.text, it.metadata)
        for it in sorted(ws.catalog.iter_items(ws.dataset(dataset).id), key=lambda i: i.id)
    ]


def test_a_video_import_through_ray_equals_the_local_one(
    local_ray: Any, videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each video scanned by a Ray worker (none in the driver): the same items, keyframe files
    and problems as the local runner's; importing again adds nothing."""
    from tagscope.jobs.ray_runner import RayRunner

    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    local = Workspace.open(tmp_path / "local")
    ws = Workspace.open(tmp_path / "ray")
    on_ray = dataclasses.replace(ws, runner=RayRunner(ws.catalog))
    expected = import_video(local, "clips", videos, keyframes="scene", thumbnails="now")

    def not_here(path: object, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"{path} scanned in the driver")

    monkeypatch.setattr(video_import, "scan_video", not_here)  # the workers' module is their own
    report = import_video(on_ray, "clips", videos, keyframes="scene", thumbnails="now")
    assert report == expected and report.n_videos == 2
    assert _portable(on_ray, "clips") == _portable(local, "clips")
    files = [
        {str(p.relative_to(w.paths.root)): p.read_bytes() for p in w.paths.keyframes.rglob("*.jpg")}
        for w in (local, on_ray)
    ]
    assert files[0] == files[1] and files[0]
    job = on_ray.catalog.list_jobs(on_ray.dataset("clips").id)[0]
    assert (job.status, job.params["runner"]) == (JobStatus.DONE, "ray")
    again = import_video(on_ray, "clips", videos)
    assert (again.n_added, again.n_existing) == (0, 2)


def test_videos_by_uri_with_their_transcripts(
    workspace: Workspace, videos: Path, tmp_path: Path
) -> None:
    """A folder on fsspec's in-memory file system: the videos are items by URI, read through
    fsspec, with the cues of the transcript next to them; the bad ones are reported by URI."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex}"
    try:
        for path in videos.rglob("*"):
            if path.is_file():
                fs.pipe_file(f"{root}/{path.relative_to(videos)}", path.read_bytes())
        local = import_video(workspace, "local", videos, keyframes="scene")
        report = import_video(workspace, "mem", f"memory://{root}", keyframes="scene")
        names = {p.source.removeprefix(f"memory://{root}/"): p.reason for p in report.problems}
        assert names == {Path(p.source).name: p.reason for p in local.problems}
        assert (report.n_videos, report.n_shots, report.n_cues) == (2, 5, 3)
        by_path = {it.path: it for it in workspace.catalog.iter_items(workspace.dataset("mem").id)}
        a = by_path[f"memory://{root}/a.mp4"]
        assert a.modality == Modality.VIDEO and a.metadata["transcript"] == f"memory://{root}/a.srt"
        (a_local,) = (
            it
            for it in workspace.catalog.iter_items(workspace.dataset("local").id)
            if it.path == str((videos / "a.mp4").resolve())
        )
        assert a.media == a_local.media and a.mtime_ns is None
        cues = sorted(
            (it for it in by_path.values() if it.modality == Modality.TRANSCRIPT),
            key=_start,
        )
        assert [c.text for c in cues] == ["in the red", "mostly green", "blue at last"]
        assert thumbnail_path(workspace.paths.thumbnails, a.media.content_hash).is_file()
        with pytest.raises(ValidationError, match="leads out of its folder"):
            import_video(workspace, "mem", f"memory://{root}/more/..")
    finally:
        fs.rm(root, recursive=True)
