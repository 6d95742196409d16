"""Probing image files: what an import records of each, and the reasons it gives up."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb, max_image_pixels, read_media_info


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


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces ``width`` x ``height`` RGB pixels and holds almost none (a bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_images_above_the_pixel_limit_are_refused_from_their_header(
    photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = read_media_info(photo)
    png = tmp_path / "photo.png"
    png.write_bytes(_encoded(load_rgb(photo), "PNG"))
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "200_000")
    reason = (
        f"image too large: {info.width * info.height / 1e6:.1f} megapixels "
        f"({info.width}x{info.height}), above the limit of 0.2 "
        "(set TAGSCOPE_MAX_IMAGE_PIXELS to raise it)"
    )
    for path in (photo, png):  # JPEG: markers walked here; PNG: Pillow's header
        with pytest.raises(MediaError) as caught:
            read_media_info(path)
        assert str(caught.value) == reason
        with pytest.raises(MediaError) as caught:
            load_rgb(path)
        assert str(caught.value) == reason
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", str(info.width * info.height))
    assert read_media_info(png).width == info.width


def test_the_pixel_limit_defaults_to_100_megapixels_and_must_be_a_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TAGSCOPE_MAX_IMAGE_PIXELS", raising=False)
    assert max_image_pixels() == 100_000_000
    for bad in ("lots", "-5", "0", "1e9"):
        monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", bad)
        with pytest.raises(ValidationError, match="TAGSCOPE_MAX_IMAGE_PIXELS must be") as caught:
            max_image_pixels()
        assert caught.value.field == "TAGSCOPE_MAX_IMAGE_PIXELS"


def test_a_decompression_bomb_is_a_media_error_naming_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSCOPE_MAX_IMAGE_PIXELS", raising=False)
    bomb = _png_header_only(50_000, 50_000)  # 2.5 gigapixels: above Pillow's own limit too
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    reason = (
        "image too large: 2500.0 megapixels, above the limit of 100 "
        "(set TAGSCOPE_MAX_IMAGE_PIXELS to raise it)"
    )
    for source in (path, bomb):
        with pytest.raises(MediaError) as caught:
            load_rgb(source)
        assert str(caught.value) == reason
    with pytest.raises(MediaError) as caught:
        read_media_info(path)
    assert str(caught.value) == reason


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(photo: Path) -> None:
    with Image.open(photo) as im:
        width, height = im.size
    small = load_rgb(photo, min_side=100)
    # 1/4 scale is the smallest that keeps 100 pixels a side of a 640x4xx photo.
    assert small.size == (-(-width // 4), -(-height // 4))
    assert small.mode == "RGB"
    assert load_rgb(photo).size == (width, height)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
def test_a_large_png_is_decoded_strip_by_strip_as_if_whole(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Smooth noise, so the encoder picks every PNG filter (they refer to the row above).
    rng = np.random.default_rng(0)
    channels = len(mode)
    pixels = rng.integers(0, 256, (600, 500, channels), dtype=np.uint8)
    pixels = (np.cumsum(pixels, axis=0, dtype=np.uint32) // 60).astype(np.uint8)
    image = Image.fromarray(pixels.squeeze(), mode)
    data = _encoded(image, "PNG")
    monkeypatch.setattr("tagscope.media.images._STRIP_BYTES", 50_000)  # many strips
    got = load_rgb(data, min_side=100)
    want = image.reduce(2).convert("RGB")  # 500 // (2 * 100): the whole reduction by 2
    assert got.size == want.size == (250, 300)
    assert np.array_equal(np.asarray(got), np.asarray(want))


def test_a_reduced_png_keeps_its_exif_orientation(monkeypatch: pytest.MonkeyPatch) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees
    data = _encoded(Image.new("RGB", (1200, 600), (10, 200, 30)), "PNG", exif=exif)
    rotated = load_rgb(data, min_side=100)
    assert rotated.size == (200, 400)  # reduced by 3, then turned upright
    assert rotated.getpixel((0, 0)) == (10, 200, 30)


def test_a_truncated_large_png_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tagscope.media.images._STRIP_BYTES", 50_000)
    rng = np.random.default_rng(1)
    data = _encoded(Image.fromarray(rng.integers(0, 256, (800, 800, 3), dtype=np.uint8)), "PNG")
    with pytest.raises(MediaError, match="truncated"):
        load_rgb(data[: len(data) // 2], min_side=100)
