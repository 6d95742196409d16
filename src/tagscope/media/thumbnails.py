"""Thumbnails: made once per content hash and cached as JPEG files in the workspace."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from PIL import Image, ImageOps

from tagscope.media.errors import MediaError

THUMBNAIL_SIZE = 256
_EXIF_ORIENTATION = 0x0112


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
) -> tuple[Path, bool]:
    """Make the thumbnail of ``source`` unless the cache has it already.

    Identical files share one thumbnail, since the cache is keyed by content hash.

    Parameters
    ----------
    source : path-like
        The image file.
    content_hash : str
        Its content hash (:attr:`MediaInfo.content_hash`).
    folder : Path
        The cache folder (``Workspace.paths.thumbnails``).
    max_side : int, default 256
        The thumbnail's longer side in pixels; smaller images keep their size (a small JPEG
        is copied as it is).

    Returns
    -------
    (Path, bool)
        The thumbnail file, and whether this call made it.

    Raises
    ------
    MediaError
        The image cannot be decoded.
    """
    target = thumbnail_path(folder, content_hash)
    if target.exists():
        return target, False
    thumb: Image.Image | None = None
    try:
        with Image.open(source) as im:
            if not _is_own_thumbnail(im, max_side):
                # A JPEG is decoded straight at 1/2, 1/4 or 1/8 scale when that still covers
                # max_side: several times faster than decoding it whole.
                im.draft("RGB", (max_side, max_side))
                thumb = ImageOps.exif_transpose(im).convert("RGB")
                thumb.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    except FileNotFoundError:
        raise MediaError("file not found") from None
    # As when probing, Pillow reports damaged data with many exception types.
    except Exception as exc:
        raise MediaError(f"cannot make a thumbnail: {exc}") from None
    # Write then rename: a reader (or a concurrent import) never sees half a file.
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        _write(thumb, source, partial)
    except FileNotFoundError:  # the first thumbnail of its sub-folder
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(thumb, source, partial)
    os.replace(partial, target)
    return target, True


def _write(thumb: Image.Image | None, source: str | os.PathLike[str], path: Path) -> None:
    if thumb is None:
        shutil.copyfile(source, path)
    else:
        thumb.save(path, "JPEG", quality=85)


def _is_own_thumbnail(im: Image.Image, max_side: int) -> bool:
    """Whether ``im`` can serve as its thumbnail unchanged: a small, upright RGB or grey JPEG.

    Copying it is far faster than decoding and encoding it again, and loses nothing.
    """
    return (
        im.format == "JPEG"
        and max(im.size) <= max_side
        and im.mode in ("RGB", "L")
        and im.getexif().get(_EXIF_ORIENTATION, 1) == 1
    )
