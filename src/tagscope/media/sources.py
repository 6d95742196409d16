"""Where media is read from: a local path, a ``file://`` URI or any fsspec URI (``s3://``,
``gs://``, ``memory://``...), through the helpers here, so that every reader (probing, decoding,
thumbnails, videos) takes any of them.

A plain path or a ``file://`` URI is a local file, read with plain ``open``: the fast path, with
no fsspec in the way (fsspec is imported only when a URI of another kind comes). A URI never
holds a ``..`` segment: naming a file needs none, and one could lead out of the folder an import
was given (:class:`~tagscope.media.errors.UnsafePath`).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tagscope._env import env_int
from tagscope.media.errors import MediaError, UnsafePath

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

PathLike = str | os.PathLike[str]
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_FILE = "file://"


def is_uri(path: PathLike) -> bool:
    """Whether ``path`` is a URI of a file system other than the local one (``file://`` is a
    local path)."""
    return isinstance(path, str) and bool(_SCHEME.match(path)) and not path.startswith(_FILE)


def local_path(path: PathLike) -> str | None:
    """The local path ``path`` names (itself, or a ``file://`` URI's path), None for a URI of
    another file system.

    Raises
    ------
    UnsafePath
        A ``file://`` URI with a ``..`` segment.
    """
    if not isinstance(path, str):
        return os.fspath(path)
    if "://" not in path:  # the common case, checked first: a file is probed in microseconds
        return path
    if path.startswith(_FILE):
        return _filesystem(check_uri(path))[1]
    return None if _SCHEME.match(path) else path


def check_uri(uri: str) -> str:
    """``uri`` itself, refused when it holds a ``..`` segment.

    Raises
    ------
    UnsafePath
        The message names the URI.
    """
    if ".." in uri.split("://", 1)[-1].replace("\\", "/").split("/"):
        raise UnsafePath(f"URI {uri!r} leads out of its folder ('..')")
    return uri


def read_bytes(path: PathLike) -> bytes:
    """The whole file at ``path`` (local path or URI).

    Raises
    ------
    MediaError
        Missing, a folder, unreadable, or an unsafe URI; the message is the reason.
    """
    local = local_path(path)
    if local is not None:
        try:
            with open(local, "rb") as f:
                return f.read()
        except OSError as exc:
            raise _media_error(exc) from None
    fs, inner = _filesystem(check_uri(str(path)))
    try:
        return fs.cat_file(inner)
    except OSError as exc:
        raise _media_error(exc, fs, inner) from None


def open_media(path: PathLike) -> IO[bytes]:
    """The file at ``path`` (local path or URI) opened for reading, seekable: the caller closes
    it (a video is read a part at a time, not whole).

    Raises
    ------
    MediaError
        As :func:`read_bytes`.
    """
    local = local_path(path)
    if local is not None:
        try:
            return open(local, "rb")
        except OSError as exc:
            raise _media_error(exc) from None
    fs, inner = _filesystem(check_uri(str(path)))
    try:
        return fs.open(inner, "rb")
    except OSError as exc:
        raise _media_error(exc, fs, inner) from None


def file_stat(path: PathLike) -> tuple[int, int | None]:
    """``(size, modification time in ns)`` of a regular file; the time is None where the file
    system keeps none (an import then checks the size only).

    Raises
    ------
    MediaError
        Missing, unreadable, or not a regular file.
    """
    local = local_path(path)
    try:
        if local is not None:
            st = os.lstat(local)
            if not stat.S_ISREG(st.st_mode):
                raise MediaError("not a regular file")
            return st.st_size, st.st_mtime_ns
        fs, inner = _filesystem(check_uri(str(path)))
        info = fs.info(inner)
    except OSError as exc:
        raise _media_error(exc) from None
    if info.get("type") != "file":
        raise MediaError("not a regular file")
    return int(info["size"]), None


CACHE_BYTES_ENV = "TAGSCOPE_MEDIA_CACHE_BYTES"
DEFAULT_CACHE_BYTES = 20 << 30
"""Bytes the local copies of :func:`local_copy` hold at most (``$TAGSCOPE_MEDIA_CACHE_BYTES``
overrides): past it, the least recently sent go first."""


def local_copy(uri: str, content_hash: str, folder: Path) -> Path:
    """A local copy of the file at ``uri`` in ``folder`` (a cache keyed by its content hash),
    fetched once: what a server sends for an item stored by URI (ranges of a video, again and
    again) is read from its own disk, not from the object store at every request. A copy sent
    again is marked as used (its modification time); a new one that takes the folder past
    :func:`cache_bytes` removes the least recently used others.

    Raises
    ------
    MediaError
        As :func:`read_bytes`.
    """
    path = folder / content_hash
    try:
        os.utime(path)
        return path
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    with open_media(uri) as src, open(part, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(part, path)  # whole or not there: a reader never sees half a file
    _evict(folder, keep=path, limit=cache_bytes())
    return path


def cache_bytes() -> int:
    """The size limit of the local copies (``$TAGSCOPE_MEDIA_CACHE_BYTES``, default 20 GiB)."""
    return env_int(CACHE_BYTES_ENV, DEFAULT_CACHE_BYTES, unit="bytes")


def _evict(folder: Path, *, keep: Path, limit: int) -> None:
    """Remove the least recently used copies (not ``keep``) until the folder holds ``limit``
    bytes or less. A copy a request has open is still sent whole: its name goes, not its data."""
    copies = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and not entry.name.endswith(".part"):
                st = entry.stat(follow_symlinks=False)
                copies.append((st.st_mtime_ns, st.st_size, entry.path))
    total = sum(size for _, size, _ in copies)
    for _, size, name in sorted(copies):
        if total <= limit:
            break
        if name != str(keep):
            Path(name).unlink(missing_ok=True)
            total -= size


def list_files(folder: str) -> list[tuple[str, str]]:
    """The files under the folder URI ``folder`` (recursively, sorted, hidden ones skipped): each
    one's URI and its name relative to the folder (``sub/a.jpg``).

    Raises
    ------
    UnsafePath
        ``folder`` holds a ``..`` segment.
    MediaError
        ``folder`` is not a folder.
    """
    fs, root = _filesystem(check_uri(folder))
    root = root.rstrip("/")
    if not fs.isdir(root):
        raise MediaError(f"{folder} is not a folder")
    prefix = root + "/"
    found = []
    for name, info in fs.find(root, detail=True).items():
        relative = name[len(prefix) :] if name.startswith(prefix) else None
        if relative is None or info.get("type") != "file":  # nothing leads out of the folder
            continue
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        found.append((fs.unstrip_protocol(name), relative))
    return sorted(found)


def _filesystem(uri: str) -> tuple[AbstractFileSystem, str]:
    from fsspec.core import url_to_fs

    return url_to_fs(uri)


def _media_error(exc: OSError, fs: AbstractFileSystem | None = None, inner: str = "") -> MediaError:
    # Object stores say "not found" of a folder too: asked only then (one more request).
    if isinstance(exc, IsADirectoryError) or (
        isinstance(exc, FileNotFoundError) and fs is not None and fs.isdir(inner)
    ):
        return MediaError("a folder, not a file")
    if isinstance(exc, FileNotFoundError):
        return MediaError("file not found")
    return MediaError(f"cannot read the file: {exc.strerror or exc}")
