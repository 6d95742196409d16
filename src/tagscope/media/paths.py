"""Where media files may be: names an import source gives stay inside its folder, and a file the
server sends is still the one imported.

Imports store the real path of each file (no symbolic link on the way), so that serving can tell a
link swapped in later from the file that was imported.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tagscope.media.errors import MediaError, UnsafePath
from tagscope.media.images import IMAGE_SUFFIXES
from tagscope.media.sources import file_stat, is_uri

_FOLLOW_HINT = "follow_symlinks (--follow-symlinks) allows it"
# A pipe, socket or device: reading it could wait forever or never end.
NOT_REGULAR = "{name!r} is not a regular file (a pipe, socket or device)"
# What :func:`changed_since_import` says of a file that is gone.
FILE_MISSING = "file not found"


class ImportFolder:
    """The folder an import was given: where the names of its source may lead.

    A name is relative, has no ``..`` and, when it or a folder on its way is a symbolic link, the
    link's target lies inside the folder (anywhere with ``follow_symlinks``, but always an image
    file: a link to ``/etc/passwd`` is never opened).
    """

    def __init__(self, folder: Path, *, follow_symlinks: bool = False) -> None:
        self.root = os.path.realpath(folder.expanduser())
        self.follow_symlinks = follow_symlinks
        self._prefix = self.root if self.root.endswith(os.sep) else self.root + os.sep
        self._real_dirs: dict[str, str] = {}

    def inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self._prefix)

    def path_of(self, name: str) -> str:
        """The real, absolute path of the file ``name`` names (relative to the folder).

        A missing file is not an error here: probing it reports it.

        Raises
        ------
        UnsafePath
            ``name`` is absolute, holds ``..`` or a NUL, leads out of the folder by a link, or
            names a pipe, socket or device.
        """
        if "\0" in name:
            raise UnsafePath(f"file name {name!r} holds a NUL character")
        if os.path.isabs(name):
            raise UnsafePath(f"absolute file name {name!r}: names must be relative to the folder")
        if ".." in name.replace("\\", "/").split("/"):
            raise UnsafePath(f"file name {name!r} leads out of the folder ('..')")
        folder, base = os.path.split(os.path.normpath(os.path.join(self.root, name)))
        real = self._real_dir(folder)
        if real != folder and not self.inside(real) and not self.follow_symlinks:
            raise UnsafePath(
                f"{name!r}: a folder on its way is a symbolic link to {real}, outside the folder "
                f"({_FOLLOW_HINT})"
            )
        path = os.path.join(real, base)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return path
        if stat.S_ISLNK(mode):
            return self.link_target(path, name)
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a folder: probing says so
            raise UnsafePath(NOT_REGULAR.format(name=name))
        return path

    def link_target(self, link: str, name: str, *, folder: bool = False) -> str:
        """The real path a symbolic link (to a file, or with ``folder`` to a folder) leads to.

        Raises
        ------
        UnsafePath
            The link is broken, leads out of the folder (without ``follow_symlinks``), or to a
            file that is not an image by its suffix.
        """
        target = os.path.realpath(link)
        if not (os.path.isdir(target) if folder else os.path.isfile(target)):
            kind = "folder" if folder else "file"
            raise UnsafePath(f"{name!r} is a symbolic link to {target}, which is not a {kind}")
        if not self.inside(target) and not self.follow_symlinks:
            raise UnsafePath(
                f"{name!r} is a symbolic link to {target}, outside the folder ({_FOLLOW_HINT})"
            )
        if not folder and os.path.splitext(target)[1].lower() not in IMAGE_SUFFIXES:
            raise UnsafePath(f"{name!r} is a symbolic link to {target}, not an image file")
        return target

    def _real_dir(self, folder: str) -> str:
        # One realpath per folder, not per file: it costs a system call per path component.
        real = self._real_dirs.get(folder)
        if real is None:
            real = self._real_dirs[folder] = os.path.realpath(folder)
        return real


def changed_since_import(path: str, size: int | None, mtime_ns: int | None) -> str | None:
    """Why the file at ``path`` is no longer the one imported there, or None when it still is.

    The file must be a regular file (not a symbolic link, none on its way), of the size and
    modification time recorded at import. Items imported before modification times were
    recorded (``mtime_ns`` None) are checked by size only.
    """
    if is_uri(path):  # an object store keeps no modification time we can trust
        return _changed_uri(path, size)
    try:
        st = os.stat(path) if mtime_ns is None else os.lstat(path)
    except FileNotFoundError:
        return FILE_MISSING
    except OSError as exc:
        return f"cannot read the file: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode):
        return f"a symbolic link (to {os.path.realpath(path)}) replaced the file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file any more"
    if mtime_ns is not None and os.path.realpath(path) != path:
        return f"a folder on its way became a symbolic link (it leads to {os.path.realpath(path)})"
    if size is not None and st.st_size != size:
        return f"its size changed ({size} bytes at import, {st.st_size} now)"
    if mtime_ns is not None and st.st_mtime_ns != mtime_ns:
        return "modified since import"
    return None


def _changed_uri(uri: str, size: int | None) -> str | None:
    try:
        now, _ = file_stat(uri)
    except MediaError as exc:
        return FILE_MISSING if str(exc) == FILE_MISSING else str(exc)
    if size is not None and now != size:
        return f"its size changed ({size} bytes at import, {now} now)"
    return None
