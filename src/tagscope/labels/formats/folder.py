"""A folder of images, scanned recursively; class sub-folders may name classification labels."""

from __future__ import annotations

import os
from pathlib import Path

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed
from tagscope.media.images import IMAGE_SUFFIXES
from tagscope.media.paths import NOT_REGULAR, ImportFolder, UnsafePath


def scan_folder(
    folder: Path, *, labels_from_folders: bool = False, follow_symlinks: bool = False
) -> Parsed:
    """Every image file under ``folder``, in sorted order (a folder's files, then its folders).

    Hidden files and folders (names starting with ``.``) are skipped; other files that are not
    images by their suffix are reported as problems. A symbolic link is taken only when it leads
    inside ``folder`` (see :class:`ImportFolder`): a link to a file is imported as its target, a
    link to a folder is not followed (its files are found where they are); a link leading out
    of ``folder`` is reported, unless ``follow_symlinks``.

    Parameters
    ----------
    folder : Path
        The folder to scan.
    labels_from_folders : bool, default False
        Give each image the name of the folder holding it as its main classification label
        (``root/cat/1.jpg`` is a ``cat``); images directly in ``folder`` get none.
    follow_symlinks : bool, default False
        Follow symbolic links to image files and folders outside ``folder``.

    Raises
    ------
    ValidationError
        ``folder`` is not a folder.
    """
    root = ImportFolder(folder, follow_symlinks=follow_symlinks)
    if not os.path.isdir(root.root):
        raise ValidationError(f"{folder} is not a folder", field="folder")
    parsed = Parsed()
    seen = {root.root}  # real folders scanned: a link loop is walked once
    # (real path, label, depth-first order): the stack holds folders still to scan.
    stack: list[tuple[str, str | None]] = [(root.root, None)]
    while stack:
        path, label = stack.pop()
        labels = (Label(LabelKind.CLASSIFICATION, label, is_main=True),) if label else ()
        folders = _scan_one(root, path, labels, parsed)
        for real, name in reversed(folders):
            if real not in seen:
                seen.add(real)
                stack.append((real, name if labels_from_folders else None))
    return parsed


def _scan_one(
    root: ImportFolder, path: str, labels: tuple[Label, ...], parsed: Parsed
) -> list[tuple[str, str]]:
    """Add the images of the folder ``path``; return its sub-folders to scan (real path, name)."""
    try:
        with os.scandir(path) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        parsed.problem(path, f"cannot list the folder: {exc.strerror}")
        return []
    folders: list[tuple[str, str]] = []
    for entry in entries:
        try:
            if entry.is_symlink():
                is_dir = entry.is_dir()  # follows the link
                target = root.link_target(entry.path, entry.name, folder=is_dir)
                # A link to a folder inside is not followed: its files are found where they are.
                if is_dir and not root.inside(target):
                    folders.append((target, entry.name))
                elif not is_dir:
                    _add_file(entry.path, target, labels, parsed)
            elif entry.is_dir():
                folders.append((entry.path, entry.name))
            elif entry.is_file():
                _add_file(entry.path, entry.path, labels, parsed)
            else:
                raise UnsafePath(NOT_REGULAR.format(name=entry.name))
        except UnsafePath as exc:
            parsed.problem(entry.path, str(exc))
    return folders


def _add_file(name: str, path: str, labels: tuple[Label, ...], parsed: Parsed) -> None:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        parsed.entries.append(Entry(path, labels))
    else:
        parsed.problem(name, f"not an image file type ({suffix or 'no suffix'})")
