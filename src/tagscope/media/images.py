"""Reading images: probing (size, dimensions, format, content hash) and decoding to RGB."""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
import zlib
from collections.abc import Iterator

from PIL import Image, UnidentifiedImageError

from tagscope._env import env_int
from tagscope.bundle.preprocess import ORIENTATIONS, exif_orientation
from tagscope.domain import MediaInfo
from tagscope.media.errors import MediaError
from tagscope.media.sources import local_path, read_bytes

MAX_PIXELS_VARIABLE = "TAGSCOPE_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 100_000_000
# Our own limit (checked on the header, before any pixel is decoded) replaces Pillow's warning.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
)

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\0", "TIFF"),
    (b"MM\0*", "TIFF"),
)
# Start-of-frame markers (baseline, progressive, lossless, arithmetic): they hold the size.
_JPEG_FRAMES = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
# EXIF orientations 5-8 rotate by 90 degrees: the displayed image is height x width.
_TRANSPOSED = frozenset({5, 6, 7, 8})
# A larger PNG is decoded in strips of about this many bytes, each reduced as it comes.
_STRIP_BYTES = 4 << 20
# 8-bit PNG layouts the strip decoder handles: bytes per pixel.
_PNG_STRIP_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def read_media_info(path: str | os.PathLike[str]) -> MediaInfo:
    """Probe an image file: byte size, displayed width and height, format, SHA-256 of its bytes.

    The file is read once; only the image header is parsed (a JPEG's markers are walked here,
    other files are opened by Pillow). JPEG and PNG files whose end marker is missing are
    decoded fully to tell a truncated file from one with trailing bytes; other formats, which
    have no cheap end marker, are always decoded fully.

    Parameters
    ----------
    path : path-like
        The image file (or its URI, see :mod:`tagscope.media.sources`).

    Returns
    -------
    MediaInfo
        ``format`` is Pillow's format name in lower case (``jpeg``, ``png``, ...);
        ``content_hash`` is the hex SHA-256 of the file's bytes.

    Raises
    ------
    MediaError
        The file is missing, unreadable, empty, not an image, corrupt or truncated; the message
        is the reason (an image above :func:`max_image_pixels` is refused from its header).
    """
    return read_media(path)[0]


def read_media(path: str | os.PathLike[str]) -> tuple[MediaInfo, bytes]:
    """:func:`read_media_info` and the file's bytes, for a caller that needs them too (a
    thumbnail made from the same read)."""
    data = read_bytes(path)
    if not data:
        raise MediaError("empty file")
    width, height, fmt = _probe(data)
    info = MediaInfo(
        size=len(data),
        width=width,
        height=height,
        format=fmt,
        content_hash=hashlib.sha256(data).hexdigest(),
    )
    return info, data


def _probe(data: bytes) -> tuple[int, int, str]:
    if data.startswith(b"\xff\xd8\xff") and _has_end_marker(data, "jpeg"):
        frame = jpeg_frame(data)
        if frame is not None:
            check_pixels(frame[0], frame[1])
            return frame[0], frame[1], "jpeg"
    try:
        with open_image(data) as im:
            width, height = im.size
            fmt = (im.format or "").lower()
            if not _has_end_marker(data, fmt):
                im.load()
            if exif_orientation(im) in _TRANSPOSED:
                width, height = height, width
    except MediaError:
        raise
    except UnidentifiedImageError:
        # Pillow says "cannot identify" also when a known format's header is damaged.
        fmt = _signature(data)
        if fmt:
            raise MediaError(f"corrupt image: unreadable {fmt} header") from None
        raise MediaError("not an image (unknown format)") from None
    # Pillow signals damaged data with many exception types (OSError, SyntaxError,
    # struct.error, ValueError, ...): any of them means the file cannot be used.
    except Exception as exc:
        if "truncated" in str(exc).lower():
            raise MediaError("truncated image") from None
        raise MediaError(f"corrupt image: {exc}") from None
    return width, height, fmt


def jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """Width, height and number of colour components from a JPEG's frame header, or None to
    leave the file to Pillow.

    Walking the markers takes microseconds where ``Image.open`` takes a tenth of a millisecond,
    which is most of the probing time of a small JPEG. Files with EXIF data (which may rotate
    them) or anything unusual are left to Pillow.
    """
    pos = 2
    while pos + 10 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in _JPEG_FRAMES:
            height = data[pos + 5] << 8 | data[pos + 6]
            width = data[pos + 7] << 8 | data[pos + 8]
            return (width, height, data[pos + 9]) if width and height else None
        elif marker == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\0\0":
            return None
        else:
            pos += 2 + (data[pos + 2] << 8 | data[pos + 3])
    return None


def _signature(data: bytes) -> str | None:
    """The image format the file's first bytes announce, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _SIGNATURES if data.startswith(magic)), None)


def _has_end_marker(data: bytes, fmt: str) -> bool:
    """Whether a JPEG or PNG file ends as a complete one does (cheap truncation check)."""
    if fmt == "jpeg":
        return data.rstrip(b"\0\r\n ").endswith(b"\xff\xd9")
    if fmt == "png":
        return data.endswith(b"IEND\xaeB`\x82")
    return False


def max_image_pixels() -> int:
    """The most pixels an image may have (``TAGSCOPE_MAX_IMAGE_PIXELS``, default 100 million).

    Read at each call, so a server or a test can change it. Decoding needs about 4 bytes a pixel
    where no reduced decoding applies (formats other than JPEG and 8-bit PNG).

    Raises
    ------
    ValidationError
        The variable is not a positive whole number.
    """
    return env_int(MAX_PIXELS_VARIABLE, DEFAULT_MAX_PIXELS, minimum=1, unit="pixels")


def check_pixels(width: int, height: int) -> None:
    """Refuse an image of ``width`` x ``height`` above :func:`max_image_pixels`.

    Raises
    ------
    MediaError
        The image is too large; the message names its size, the limit and how to raise it.
    """
    limit = max_image_pixels()
    if width * height > limit:
        raise MediaError(
            f"image too large: {width * height / 1e6:.1f} megapixels ({width}x{height}), above "
            f"the limit of {limit / 1e6:g} (set {MAX_PIXELS_VARIABLE} to raise it)"
        )


def open_image(source: str | os.PathLike[str] | bytes) -> Image.Image:
    """Open an image (a path, a URI: see :mod:`tagscope.media.sources`, or bytes) lazily (its
    header only) and refuse it if it is too large.

    Raises
    ------
    MediaError
        Above the pixel limit (:func:`check_pixels`), or a URI that cannot be read; Pillow's
        own errors pass through.
    """
    # Pillow's own bomb check follows ours: it raises only above twice the limit, where ours
    # has refused the image first; the warning below that is silenced above.
    Image.MAX_IMAGE_PIXELS = max_image_pixels()
    fp = io.BytesIO(source) if isinstance(source, bytes) else local_path(source)
    if fp is None:  # a URI: images are read whole (as probing does), Pillow seeks about
        fp = io.BytesIO(read_bytes(source))
    try:
        im = Image.open(fp)
    except Image.DecompressionBombError as exc:
        # Pillow's message holds the pixel count, not the size: say it as our own check does.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found[1]) / 1e6:.1f} megapixels" if found else "more pixels"
        raise MediaError(
            f"image too large: {pixels}, above the limit of {Image.MAX_IMAGE_PIXELS / 1e6:g} "
            f"(set {MAX_PIXELS_VARIABLE} to raise it)"
        ) from None
    try:
        check_pixels(*im.size)
    except MediaError:
        im.close()
        raise
    return im


def load_rgb(source: str | os.PathLike[str] | bytes, *, min_side: int | None = None) -> Image.Image:
    """Decode an image file (or its bytes) to RGB, applying its EXIF orientation.

    Parameters
    ----------
    source : path-like, URI or bytes
        The image (a URI: ``file://`` or any fsspec one, see :mod:`tagscope.media.sources`).
    min_side : int, optional
        Decode at a reduced scale that keeps at least this many pixels a side: a large JPEG
        decodes at 1/2 to 1/8 scale (Pillow's ``draft``), a large PNG strip by strip, so memory
        stays far below that of the whole picture. None decodes at full size.

    Raises
    ------
    MediaError
        Missing file, not an image, corrupt, or above the pixel limit; the message is the reason.
    """
    try:
        with open_image(source) as im:
            return to_rgb(im, (min_side, min_side) if min_side else None)
    except MediaError:
        raise
    except FileNotFoundError:
        raise MediaError("file not found") from None
    except UnidentifiedImageError:
        raise MediaError("not an image (unknown format)") from None
    except Exception as exc:  # Pillow's many exception types for damaged data
        raise MediaError(f"cannot decode the image: {exc}") from None


def to_rgb(im: Image.Image, box: tuple[int, int] | None) -> Image.Image:
    """Decode an opened image to upright RGB, reduced while it still covers ``box``.

    ``box`` is in the file's own orientation. A JPEG is decoded at the smallest 1/2..1/8 scale
    that covers it; other images are reduced by a whole factor while they cover twice ``box``
    (Pillow's ``reducing_gap``), which a final resize then brings down with little aliasing.
    Orientation and conversion come after the reduction, so the full-size picture is never
    copied (``exif_transpose`` and ``convert`` each copy what they are given).
    """
    orientation = exif_orientation(im)
    reduced = _reduced(im, box) if box else im
    rgb = reduced.convert("RGB")
    method = ORIENTATIONS.get(orientation)
    return rgb.transpose(method) if method is not None else rgb


def _reduced(im: Image.Image, box: tuple[int, int]) -> Image.Image:
    if im.format == "JPEG":
        im.draft(im.mode if im.mode in ("RGB", "L") else None, box)
        return im
    factor = min(im.size[0] // (2 * box[0]), im.size[1] // (2 * box[1]))
    if factor < 2:
        return im
    if im.format == "PNG" and _png_strippable(im):
        return _png_in_strips(im, factor)
    # Reduced before converting where Pillow can average the mode itself (a palette, 16-bit or
    # CMYK image becomes RGB first).
    return (im if im.mode in _PNG_STRIP_MODES else im.convert("RGB")).reduce(factor)


def _png_strippable(im: Image.Image) -> bool:
    tile = getattr(im, "tile", None)
    return (
        im.mode in _PNG_STRIP_MODES
        and not im.info.get("interlace")
        and not getattr(im, "is_animated", False)
        and bool(tile)
        and len(tile) == 1
        and tile[0][0] == "zip"
        and tile[0][3] == im.mode
    )


def _png_in_strips(im: Image.Image, factor: int) -> Image.Image:
    """Decode a non-interlaced 8-bit PNG a strip of rows at a time, each reduced by ``factor``.

    Pillow's PNG decoder fills a whole image; fed one strip's rows (with the row above, already
    unfiltered, first, which PNG's filters refer to), it decodes that strip alone.
    """
    width, height = im.size
    row_bytes = 1 + width * _PNG_STRIP_MODES[im.mode]
    rows = max(1, _STRIP_BYTES // (4 * width) // factor) * factor
    out = Image.new(im.mode, (-(-width // factor), -(-height // factor)))
    inflate, chunks = zlib.decompressobj(), _png_idat(im)
    above = b""
    for top in range(0, height, rows):
        n = min(rows, height - top)
        raw = _inflate(inflate, chunks, n * row_bytes)
        if len(raw) < n * row_bytes:
            raise MediaError("truncated image")
        first = 1 if above else 0
        strip = Image.new(im.mode, (width, n + first))
        decoder = Image._getdecoder(im.mode, "zip", im.mode)
        decoder.setimage(strip.im, (0, 0, width, n + first))
        done, err = decoder.decode(zlib.compress(b"\0" + above + raw if above else raw, 0))
        if done >= 0 or err < 0:
            raise MediaError(f"corrupt image: PNG decoder error {err}")
        out.paste(strip.reduce(factor, box=(0, first, width, n + first)), (0, top // factor))
        above = strip.crop((0, n + first - 1, width, n + first)).tobytes()
    return out


def _png_idat(im: Image.Image) -> Iterator[bytes]:
    """The compressed pixel data of an opened PNG, chunk by chunk."""
    fp = im.fp
    assert fp is not None
    fp.seek(im.tile[0][2] - 8)  # the first IDAT's length and type
    while True:
        head = fp.read(8)
        if len(head) < 8 or head[4:] != b"IDAT":
            return
        body = fp.read(int.from_bytes(head[:4], "big"))
        fp.read(4)  # CRC
        if body:
            yield body


def _inflate(inflate: zlib._Decompress, chunks: Iterator[bytes], size: int) -> bytes:
    """The next ``size`` bytes of inflated data, or all there is left."""
    parts, total = [], 0
    while total < size:
        data = inflate.unconsumed_tail or next(chunks, b"")
        out = inflate.decompress(data, size - total)
        if not out and not data:
            break
        parts.append(out)
        total += len(out)
    return b"".join(parts)
