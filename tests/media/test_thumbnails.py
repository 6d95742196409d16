"""Thumbnails: made once per content, oriented, at most 256 pixels a side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb, read_media, read_media_info
from tagscope.media.thumbnails import ensure_thumbnail, ready_thumbnail, thumbnail_path


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
    cache = tmp_path / "t"
    info, data = read_media(small)
    # From the path (a view) or from the bytes an import has read: the file itself, no copy.
    assert ensure_thumbnail(small, info.content_hash, cache) == (small, False)
    assert ensure_thumbnail(small, info.content_hash, cache, data=data) == (small, False)
    assert not cache.exists()


def test_a_ready_thumbnail_is_one_that_needs_no_decoding(photo: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.jpg"
    load_rgb(photo).resize((200, 150)).save(small, quality=90)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    load_rgb(photo).resize((200, 150)).save(rotated, exif=exif)
    cache = tmp_path / "t"
    small_info, small_data = read_media(small)
    assert ready_thumbnail(small, small_info.content_hash, cache, data=small_data) == small
    for source in (photo, rotated):  # a large photo, a small one displayed rotated
        info, data = read_media(source)
        assert ready_thumbnail(source, info.content_hash, cache, data=data) is None
        made, _ = ensure_thumbnail(source, info.content_hash, cache, data=data)
        assert ready_thumbnail(source, info.content_hash, cache, data=data) == made


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


def test_a_thumbnail_from_the_bytes_an_import_read_is_the_same(photo: Path, tmp_path: Path) -> None:
    info, data = read_media(photo)
    from_path, _ = ensure_thumbnail(photo, info.content_hash, tmp_path / "a")
    from_data, made = ensure_thumbnail(photo, info.content_hash, tmp_path / "b", data=data)
    assert made
    assert from_data.read_bytes() == from_path.read_bytes()


def test_an_image_above_the_pixel_limit_gets_no_thumbnail(
    photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = read_media_info(photo)
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "200000")
    cache = tmp_path / "thumbs"
    with pytest.raises(MediaError, match=r"image too large: .* above the limit of 0\.2 "):
        ensure_thumbnail(photo, info.content_hash, cache)
    assert not cache.exists()


CHILD = """
import resource, sys
from pathlib import Path
from PIL import Image
from tagscope.media.thumbnails import ensure_thumbnail

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
path, made = ensure_thumbnail(sys.argv[1], "ab" * 32, Path(sys.argv[2]))
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
with Image.open(path) as thumb:
    print(made, thumb.size, thumb.mode, grew // 1024)
"""


def test_a_large_png_thumbnail_never_holds_the_whole_picture(tmp_path: Path) -> None:
    # 4000 x 3000 RGB: Pillow holds 4 bytes a pixel, 46 MB decoded whole (twice that converted).
    side = Image.linear_gradient("L").resize((4000, 3000))
    png = tmp_path / "large.png"
    Image.merge("RGB", (side, side.transpose(Image.Transpose.FLIP_LEFT_RIGHT), side)).save(
        png, compress_level=1
    )
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(png), str(tmp_path / "thumbs")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    made, size, mode, grew_mb = out[0], " ".join(out[1:3]), out[3], int(out[4])
    assert (made, size, mode) == ("True", "(256, 192)", "RGB")
    assert grew_mb < 40  # strips of 4 MB, each reduced as it comes (whole: 139 MB)
