"""A folder of images, scanned recursively; class sub-folders may name classification labels."""

from __future__ import annotations

import os
from pathlib import Path

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed
from tagscope.media.images import IMAGE_SUFFIXES


def scan_folder(folder: Path, *, labels_from_folders: bool = False) -> Parsed:
    """Every image file under ``folder``, in sorted order.

    Hidden files and folders (names starting with ``.``) are skipped; other files that are not
    images by their suffix are reported as problems. Symbolic links to folders are not followed.

    Parameters
    ----------
    folder : Path
        The folder to scan.
    labels_from_folders : bool, default False
        Give each image the name of the folder holding it as its main classification label
        (``root/cat/1.jpg`` is a ``cat``); images directly in ``folder`` get none.

    Raises
    ------
    ValidationError
        ``folder`` is not a folder.
    """
    root = folder.expanduser().resolve()
    if not root.is_dir():
        raise ValidationError(f"{folder} is not a folder", field="folder")
    parsed = Parsed()

    def unlistable(exc: OSError) -> None:
        parsed.problem(str(exc.filename), f"cannot list the folder: {exc.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        labels: tuple[Label, ...] = ()
        if labels_from_folders and dirpath != str(root):
            labels = (Label(LabelKind.CLASSIFICATION, os.path.basename(dirpath), is_main=True),)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            suffix = os.path.splitext(name)[1].lower()
            if suffix in IMAGE_SUFFIXES:
                parsed.entries.append(Entry(path, labels))
            else:
                parsed.problem(path, f"not an image file type ({suffix or 'no suffix'})")
    return parsed
