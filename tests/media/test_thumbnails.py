"""Thumbnails: made once per content, oriented, at most 256 pixels a side."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb, read_media_info
from tagscope.media.thumbnails import ensure_thumbnail, thumbnail_path


@pytest.fixture(scope="module")
def photo(coco_mini: Path) -> Path:
    return sorted((coco_mini / "val2017").glob("*.jpg"))[0]


def test_a_thumbnail_is_made_once_and_reused(photo: Path, tmp_path: Path) -> None:
    info = read_media_info(photo)
    cache = tmp_path / "thumbs"
    path, made = ensure_thumbnail(photo, info.content_hash, cache)
    assert made
    assert path == thumbnail_path(cache, info.content_hash)
    assert path.parent.name == info.content_hash[:2]
    with Image.open(path) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) == 256
        # The aspect ratio is kept (within a pixel of rounding).
        assert abs(thumb.size[0] / thumb.size[1] - info.width / info.height) < 0.01
    mtime = path.stat().st_mtime_ns

    again, made = ensure_thumbnail(photo, info.content_hash, cache)
    assert (again, made) == (path, False)
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in cache.rglob("*")] == [path.parent.name, path.name]


def test_identical_files_share_one_thumbnail(photo: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(photo.read_bytes())
    info = read_media_info(photo)
    first, _ = ensure_thumbnail(photo, info.content_hash, tmp_path / "thumbs")
    second, made = ensure_thumbnail(copy, read_media_info(copy).content_hash, tmp_path / "thumbs")
    assert (second, made) == (first, False)


def test_small_images_keep_their_size_and_rotation_is_applied(photo: Path, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees
    small = tmp_path / "small.jpg"
    load_rgb(photo).resize((120, 80)).save(small, exif=exif)
    path, _ = ensure_thumbnail(small, read_media_info(small).content_hash, tmp_path / "thumbs")
    with Image.open(path) as thumb:
        assert thumb.size == (80, 120)


def test_a_small_upright_jpeg_is_its_own_thumbnail(photo: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.jpg"
    load_rgb(photo).resize((200, 150)).save(small, quality=90)
    path, made = ensure_thumbnail(small, read_media_info(small).content_hash, tmp_path / "t")
    assert made
    assert path.read_bytes() == small.read_bytes()


def test_transparent_png_becomes_an_rgb_jpeg(tmp_path: Path) -> None:
    png = tmp_path / "logo.png"
    Image.new("RGBA", (600, 300), (200, 30, 30, 128)).save(png)
    path, _ = ensure_thumbnail(png, read_media_info(png).content_hash, tmp_path / "thumbs")
    with Image.open(path) as thumb:
        assert (thumb.mode, thumb.size) == ("RGB", (256, 128))


def test_undecodable_files_raise_with_the_reason(photo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "thumbs"
    with pytest.raises(MediaError) as caught:
        ensure_thumbnail(tmp_path / "gone.jpg", "ab" * 32, cache)
    assert str(caught.value) == "file not found"

    broken = tmp_path / "broken.jpg"
    data = photo.read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError) as caught:
        ensure_thumbnail(broken, "cd" * 32, cache)
    assert str(caught.value).startswith("cannot make a thumbnail: image file is truncated")
    assert not list(cache.rglob("*.jpg"))
