"""Probing image files: what an import records of each, and the reasons it gives up."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb, read_media_info


@pytest.fixture(scope="module")
def photo(coco_mini: Path) -> Path:
    return sorted((coco_mini / "val2017").glob("*.jpg"))[0]


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def test_a_jpeg_gives_its_size_dimensions_format_and_hash(photo: Path) -> None:
    data = photo.read_bytes()
    with Image.open(photo) as im:
        width, height = im.size
    info = read_media_info(photo)
    assert info.size == len(data)
    assert (info.width, info.height) == (width, height)
    assert info.format == "jpeg"
    assert info.content_hash == hashlib.sha256(data).hexdigest()


def test_dimensions_agree_with_pillow_on_every_sample_photo(
    coco_mini: Path, imagenette: Path
) -> None:
    files = [*coco_mini.rglob("*.jpg"), *imagenette.rglob("*.JPEG")]
    assert len(files) > 700
    for path in files:
        with Image.open(path) as im:
            assert (read_media_info(path).width, read_media_info(path).height) == im.size, path


def test_progressive_and_greyscale_jpegs(photo: Path, tmp_path: Path) -> None:
    image = load_rgb(photo).resize((90, 70))
    path = tmp_path / "progressive.jpg"
    path.write_bytes(_encoded(image, "JPEG", progressive=True))
    assert (read_media_info(path).width, read_media_info(path).height) == (90, 70)
    path.write_bytes(_encoded(image.convert("L"), "JPEG"))
    assert (read_media_info(path).width, read_media_info(path).height) == (90, 70)


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "png"), ("GIF", "gif"), ("BMP", "bmp"), ("WEBP", "webp"), ("TIFF", "tiff")],
)
def test_other_formats_are_probed(photo: Path, tmp_path: Path, fmt: str, name: str) -> None:
    image = load_rgb(photo).resize((120, 80))
    path = tmp_path / f"photo.{name}"
    path.write_bytes(_encoded(image, fmt))
    info = read_media_info(path)
    assert (info.width, info.height, info.format) == (120, 80, name)


def test_exif_rotation_swaps_the_dimensions(photo: Path, tmp_path: Path) -> None:
    image = load_rgb(photo).resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_encoded(image, "JPEG", exif=exif))
    info = read_media_info(path)
    assert (info.width, info.height) == (80, 120)
    assert load_rgb(path).size == (80, 120)


def test_bytes_after_the_end_of_a_jpeg_are_accepted(photo: Path, tmp_path: Path) -> None:
    path = tmp_path / "trailer.jpg"
    path.write_bytes(photo.read_bytes() + b"appended by a camera")
    assert read_media_info(path).format == "jpeg"


def _spoil(photo: Path, tmp_path: Path, how: str) -> Path:
    data = photo.read_bytes()
    path = tmp_path / "spoiled.jpg"
    if how == "missing":
        return tmp_path / "missing.jpg"
    if how == "folder":
        path.mkdir()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "text":
        path.write_text("a shopping list, not a photo")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncated png":
        png = _encoded(load_rgb(photo), "PNG")
        path.write_bytes(png[: len(png) // 2])
    elif how == "cut in the header":
        path.write_bytes(data[:300])
    return path


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("missing", "file not found"),
        ("folder", "a folder, not a file"),
        ("empty", "empty file"),
        ("text", "not an image (unknown format)"),
        ("truncated", "truncated image"),
        ("truncated png", "truncated image"),
        ("cut in the header", "truncated image"),
    ],
)
def test_unusable_files_raise_with_the_reason(
    photo: Path, tmp_path: Path, how: str, reason: str
) -> None:
    path = _spoil(photo, tmp_path, how)
    with pytest.raises(MediaError) as caught:
        read_media_info(path)
    assert str(caught.value) == reason


def test_a_corrupt_header_is_reported_as_corrupt(photo: Path, tmp_path: Path) -> None:
    data = bytearray(photo.read_bytes())
    start = data.index(b"\xff\xc0")  # the frame header: zero its dimensions
    data[start + 5 : start + 9] = b"\0\0\0\0"
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(MediaError) as caught:
        read_media_info(path)
    assert str(caught.value) == "corrupt image: unreadable JPEG header"
