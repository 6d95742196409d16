"""JSON lists (SPEC F-02): ``[{"name", "mainClassificationLabel", "classificationLabels"}]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed, read_json_file
from tagscope.media.paths import ImportFolder, UnsafePath


def read_json_list(
    path: Path, *, base: Path | None = None, follow_symlinks: bool = False
) -> Parsed:
    """Read a JSON list of files and classification labels.

    Each entry is an object with ``name`` (the file name), an optional
    ``mainClassificationLabel`` (a string) and optional ``classificationLabels`` (a list of
    strings; the main label may be repeated there). An unusable entry, or one whose name leads
    out of the folder (see :class:`ImportFolder`), is reported as ``<file>[<index>]`` and the
    others are still read.

    Parameters
    ----------
    path : Path
        The JSON file.
    base : Path, optional
        The folder names are relative to; defaults to the JSON file's folder. Names stay inside
        it: absolute names and names with ``..`` are refused.
    follow_symlinks : bool, default False
        Allow symbolic links to image files outside the folder.

    Raises
    ------
    ValidationError
        The file is missing, is not valid JSON, or is not a list.
    """
    doc = read_json_file(path)
    if not isinstance(doc, list):
        raise ValidationError(
            f"{path.name}: expected a JSON list of entries, found {type(doc).__name__}",
            field="path",
        )
    folder = ImportFolder(base or path.parent, follow_symlinks=follow_symlinks)
    parsed = Parsed()
    for i, entry in enumerate(doc):
        source = f"{path.name}[{i}]"
        reason = _problem(entry)
        if reason:
            parsed.problem(source, reason)
            continue
        try:
            file = folder.path_of(entry["name"].strip())
        except UnsafePath as exc:
            parsed.problem(source, str(exc))
            continue
        main = (entry.get("mainClassificationLabel") or "").strip()
        others = [name.strip() for name in entry.get("classificationLabels") or []]
        names = list(dict.fromkeys(name for name in (main, *others) if name))
        labels = tuple(
            Label(LabelKind.CLASSIFICATION, name, is_main=name == main) for name in names
        )
        parsed.entries.append(Entry(file, labels))
    return parsed


def _problem(entry: Any) -> str | None:
    """Why ``entry`` cannot be used, or None."""
    if not isinstance(entry, dict):
        return f"entry is a {type(entry).__name__}, not an object"
    if "name" not in entry:
        return "entry has no 'name'"
    if not isinstance(entry["name"], str) or not entry["name"].strip():
        return "'name' must be a non-empty string"
    main = entry.get("mainClassificationLabel")
    if main is not None and not isinstance(main, str):
        return "'mainClassificationLabel' must be a string"
    others = entry.get("classificationLabels")
    if others is not None and not (
        isinstance(others, list) and all(isinstance(name, str) for name in others)
    ):
        return "'classificationLabels' must be a list of strings"
    return None
