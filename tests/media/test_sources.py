"""Media by path or URI (issue 14): local paths, ``file://`` and fsspec ``memory://`` URIs read
alike by probing, decoding, thumbnails and videos; a URI leading out of its folder is refused."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import fsspec
import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.media.errors import MediaError, UnsafePath
from tagscope.media.images import load_rgb, read_media
from tagscope.media.sources import (
    cache_bytes,
    check_uri,
    file_stat,
    is_uri,
    list_files,
    local_copy,
    local_path,
    open_media,
    read_bytes,
)
from tagscope.media.thumbnails import ensure_thumbnail, ready_thumbnail, thumbnail_path
from tagscope.media.video import scan_video


def _put(uri: str, data: bytes) -> str:
    fs, path = fsspec.core.url_to_fs(uri)
    fs.pipe_file(path, data)
    return uri


def test_local_paths_and_uris_are_told_apart(tmp_path: Path) -> None:
    assert not is_uri(str(tmp_path)) and not is_uri(f"file://{tmp_path}")
    assert is_uri("memory://a/b.jpg") and is_uri("s3://bucket/b.jpg")
    assert local_path(tmp_path / "a.jpg") == str(tmp_path / "a.jpg")
    assert local_path(f"file://{tmp_path}/a.jpg") == f"{tmp_path}/a.jpg"
    assert local_path("memory://a/b.jpg") is None


def test_a_file_reads_the_same_by_path_file_uri_and_memory_uri(
    coco_mini: Path, memory: str
) -> None:
    photo = sorted((coco_mini / "val2017").glob("*.jpg"))[0]
    data = photo.read_bytes()
    mem = _put(f"{memory}/a.jpg", data)
    for source in (str(photo), f"file://{photo}", mem):
        assert read_bytes(source) == data
        with open_media(source) as f:
            f.seek(len(data) - 10)
            assert f.read() == data[-10:]
        assert file_stat(source)[0] == len(data)
        assert read_media(source)[0] == read_media(photo)[0]
        np.testing.assert_array_equal(
            np.asarray(load_rgb(source, min_side=64)), np.asarray(load_rgb(photo, min_side=64))
        )
    assert file_stat(photo)[1] == photo.stat().st_mtime_ns
    assert file_stat(mem)[1] is None  # no modification time kept: imports check the size


def test_missing_files_and_folders_say_so(tmp_path: Path, memory: str) -> None:
    _put(f"{memory}/sub/a.jpg", b"x")
    for source, reason in [
        (f"{memory}/nope.jpg", "file not found"),
        (f"{memory}/sub", "a folder, not a file"),
        (f"file://{tmp_path}/nope.jpg", "file not found"),
    ]:
        for read in (read_bytes, open_media):
            with pytest.raises(MediaError, match=reason):
                read(source)
    with pytest.raises(MediaError, match="file not found"):
        load_rgb(f"{memory}/nope.jpg")
    with pytest.raises(MediaError, match="not a folder"):
        list_files(f"{memory}/sub/a.jpg")


def test_a_uri_leading_out_of_its_folder_is_refused_by_name(memory: str) -> None:
    _put(f"{memory}/secret.jpg", b"x")
    sneaky = f"{memory}/imgs/../secret.jpg"
    for read in (read_bytes, open_media, load_rgb, file_stat, check_uri):
        with pytest.raises(UnsafePath) as info:
            read(sneaky)
        assert str(info.value) == f"URI {sneaky!r} leads out of its folder ('..')"
    with pytest.raises(UnsafePath, match="leads out"):
        local_path("file:///tmp/x/../etc/passwd")
    with pytest.raises(UnsafePath, match="leads out"):
        list_files(f"{memory}/imgs/..")


def test_a_folder_uri_lists_its_files_sorted_without_hidden_ones(memory: str) -> None:
    for name in ("b.jpg", "a/c.png", "a/.hidden.jpg", ".git/x.jpg", "notes.txt"):
        _put(f"{memory}/{name}", b"x")
    root = memory.removeprefix("memory://")
    assert list_files(memory) == [
        (f"memory://{root}/a/c.png", "a/c.png"),
        (f"memory://{root}/b.jpg", "b.jpg"),
        (f"memory://{root}/notes.txt", "notes.txt"),
    ]


def test_thumbnails_of_uris_are_written_to_the_cache(
    coco_mini: Path, tmp_path: Path, memory: str
) -> None:
    """A small JPEG on this disk is its own thumbnail; one by URI is copied into the cache (the
    server sends thumbnails from its own disk)."""
    from PIL import Image

    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(small)
    mem = _put(f"{memory}/small.jpg", small.read_bytes())
    info, data = read_media(mem)
    cache = tmp_path / "thumbs"
    assert ready_thumbnail(small, info.content_hash, cache, data=data) == small
    assert ready_thumbnail(mem, info.content_hash, cache, data=data) is None
    assert ensure_thumbnail(small, info.content_hash, cache, data=data) == (small, False)
    made = ensure_thumbnail(mem, info.content_hash, cache, data=data)
    assert made == (thumbnail_path(cache, info.content_hash), True)
    big = _put(f"{memory}/big.jpg", next((coco_mini / "val2017").glob("*.jpg")).read_bytes())
    big_hash = read_media(big)[0].content_hash
    path, _ = ensure_thumbnail(big, big_hash, cache)  # read by URI, decoded at reduced scale
    with Image.open(path) as thumb:
        assert max(thumb.size) == 256


def test_a_video_scans_the_same_by_uri(
    make_video: Callable[..., Path], tmp_path: Path, memory: str
) -> None:
    video = make_video(tmp_path / "a.mp4", [((220, 30, 30), 30), ((30, 200, 40), 40)])
    mem = _put(f"{memory}/a.mp4", video.read_bytes())
    local = scan_video(video, tmp_path / "kf-local")
    remote = scan_video(mem, tmp_path / "kf-uri")
    assert remote.info == local.info and remote.shots == local.shots
    assert [k.time_ms for k in remote.keyframes] == [k.time_ms for k in local.keyframes]
    assert [k.path.read_bytes() for k in remote.keyframes] == [
        k.path.read_bytes() for k in local.keyframes
    ]
    shutil.rmtree(tmp_path / "kf-uri")
    with pytest.raises(MediaError, match="not a readable video"):
        scan_video(_put(f"{memory}/fake.mp4", b"not a video" * 50), tmp_path / "kf-fake")


def test_local_copies_keep_to_their_limit_dropping_the_least_recently_sent(
    memory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy sent again counts as used; a new copy past the limit removes the least recently
    used others (never itself), and a copy removed is fetched again when asked."""
    monkeypatch.setenv("TAGSCOPE_MEDIA_CACHE_BYTES", "250")
    cache = tmp_path / "media"
    uris = {name: _put(f"{memory}/{name}.jpg", name.encode() * 100) for name in "abc"}

    def copy(name: str, at: int) -> Path:
        path = local_copy(uris[name], f"hash-{name}", cache)
        os.utime(path, ns=(at, at))  # when it was sent, as the clock would say
        return path

    copy("a", 1)
    copy("b", 2)
    copy("a", 3)  # sent again: now the most recent
    assert sorted(p.name for p in cache.iterdir()) == ["hash-a", "hash-b"]
    copy("c", 4)  # 300 bytes: the least recently sent goes
    assert sorted(p.name for p in cache.iterdir()) == ["hash-a", "hash-c"]
    assert copy("b", 5).read_bytes() == b"b" * 100  # fetched again; "a" (3) goes now
    assert sorted(p.name for p in cache.iterdir()) == ["hash-b", "hash-c"]
    monkeypatch.setenv("TAGSCOPE_MEDIA_CACHE_BYTES", "10")
    assert copy("a", 6).read_bytes() == b"a" * 100  # alone above the limit: kept, the rest go
    assert [p.name for p in cache.iterdir()] == ["hash-a"]


def test_a_bad_cache_limit_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("lots", "-1", "1e9"):
        monkeypatch.setenv("TAGSCOPE_MEDIA_CACHE_BYTES", bad)
        with pytest.raises(ValidationError, match=r"\$TAGSCOPE_MEDIA_CACHE_BYTES must be") as e:
            cache_bytes()
        assert e.value.field == "TAGSCOPE_MEDIA_CACHE_BYTES"
    monkeypatch.setenv("TAGSCOPE_MEDIA_CACHE_BYTES", "20_000")
    assert cache_bytes() == 20_000
