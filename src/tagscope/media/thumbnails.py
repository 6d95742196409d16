"""Thumbnails: made once per content hash and cached as JPEG files in the workspace (a small
upright JPEG is its own thumbnail)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from PIL import Image

from tagscope.bundle.preprocess import exif_orientation
from tagscope.media.errors import MediaError
from tagscope.media.images import jpeg_frame, open_image, to_rgb
from tagscope.media.sources import local_path

THUMBNAIL_SIZE = 256


def thumbnail_path(folder: Path, content_hash: str) -> Path:
    """Where the thumbnail of the content ``content_hash`` lives under ``folder``.

    Files are spread over sub-folders named by the first two hex digits, so that no folder
    holds millions of entries.
    """
    return folder / content_hash[:2] / f"{content_hash}.jpg"


def ensure_thumbnail(
    source: str | os.PathLike[str],
    content_hash: str,
    folder: Path,
    *,
    max_side: int = THUMBNAIL_SIZE,
    data: bytes | None = None,
) -> tuple[Path, bool]:
    """The thumbnail of ``source``: made unless the cache has it, or the file itself.

    Identical files share one thumbnail, since the cache is keyed by content hash. A small
    upright RGB or grey JPEG on a local disk is its own thumbnail: its path is returned and
    nothing is written (copying it costs more than reading and hashing it). Large images are
    decoded at a reduced scale (JPEG at 1/2..1/8, PNG strip by strip), so memory stays far
    below the full picture's.

    Parameters
    ----------
    source : path-like
        The image file, or its URI (see :mod:`tagscope.media.sources`).
    content_hash : str
        Its content hash (:attr:`MediaInfo.content_hash`).
    folder : Path
        The cache folder (``Workspace.paths.thumbnails``).
    max_side : int, default 256
        The thumbnail's longer side in pixels; smaller images keep their size.
    data : bytes, optional
        The file's bytes, when the caller has read them already (an import).

    Returns
    -------
    (Path, bool)
        The thumbnail file, and whether this call made it.

    Raises
    ------
    MediaError
        The image cannot be decoded, or it is above the pixel limit.
    """
    # Only a local file can be its own thumbnail: the server sends thumbnails from this disk.
    local = local_path(source)
    if local is not None and data is not None and _is_own_jpeg(data, max_side):
        return Path(local), False
    target = thumbnail_path(folder, content_hash)
    if target.exists():
        return target, False
    try:
        with open_image(source if data is None else data) as im:
            if local is not None and data is None and _is_own_thumbnail(im, max_side):
                return Path(local), False
            thumb = to_rgb(im, _box(im, max_side))
        thumb.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    except MediaError:
        raise
    except FileNotFoundError:
        raise MediaError("file not found") from None
    # As when probing, Pillow reports damaged data with many exception types.
    except Exception as exc:
        raise MediaError(f"cannot make a thumbnail: {exc}") from None
    _save(thumb, target)
    return target, True


def save_thumbnail(
    image: Image.Image, content_hash: str, folder: Path, *, max_side: int = THUMBNAIL_SIZE
) -> Path:
    """Cache ``image``, reduced, as the thumbnail of the content ``content_hash``: for a file
    that is no image itself (a video, shown by one of its frames)."""
    thumb = image.convert("RGB")
    thumb.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    target = thumbnail_path(folder, content_hash)
    _save(thumb, target)
    return target


def _save(thumb: Image.Image, target: Path) -> None:
    # Write then rename: a reader (or a concurrent import) never sees half a file.
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        thumb.save(partial, "JPEG", quality=85)
    except FileNotFoundError:  # the first thumbnail of its sub-folder
        target.parent.mkdir(parents=True, exist_ok=True)
        thumb.save(partial, "JPEG", quality=85)
    os.replace(partial, target)


def ready_thumbnail(
    source: str | os.PathLike[str],
    content_hash: str,
    folder: Path,
    *,
    data: bytes,
    max_side: int = THUMBNAIL_SIZE,
) -> Path | None:
    """The thumbnail of ``source`` when having it costs no decoding, else None.

    That is the file itself (a small upright JPEG, judged from its frame header in ``data``)
    or one already cached; any other must be made by :func:`ensure_thumbnail`, which costs a
    decode (about 2-4 ms for a 640x480 photo) that an import may leave to later.
    """
    local = local_path(source)
    if local is not None and _is_own_jpeg(data, max_side):
        return Path(local)
    target = thumbnail_path(folder, content_hash)
    return target if target.exists() else None


def _box(im: Image.Image, max_side: int) -> tuple[int, int]:
    """The thumbnail's size in the file's own orientation (what reduced decoding must cover)."""
    width, height = im.size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _is_own_jpeg(data: bytes, max_side: int) -> bool:
    """:func:`_is_own_thumbnail` from the file's bytes alone (its frame header)."""
    frame = jpeg_frame(data) if data.startswith(b"\xff\xd8\xff") else None
    # No EXIF block (jpeg_frame gives None then), one or three components: L or RGB.
    return frame is not None and max(frame[:2]) <= max_side and frame[2] in (1, 3)


def _is_own_thumbnail(im: Image.Image, max_side: int) -> bool:
    """Whether ``im`` can serve as its thumbnail unchanged: a small, upright RGB or grey JPEG."""
    return (
        im.format == "JPEG"
        and max(im.size) <= max_side
        and im.mode in ("RGB", "L")
        and exif_orientation(im) == 1
    )
