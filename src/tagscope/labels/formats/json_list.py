"""JSON lists (SPEC F-02): ``[{"name", "mainClassificationLabel", "classificationLabels"}]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed, media_path, read_json_file


def read_json_list(path: Path, *, base: Path | None = None) -> Parsed:
    """Read a JSON list of files and classification labels.

    Each entry is an object with ``name`` (the file name), an optional
    ``mainClassificationLabel`` (a string) and optional ``classificationLabels`` (a list of
    strings; the main label may be repeated there). An unusable entry is reported as
    ``<file>[<index>]`` and the others are still read.

    Parameters
    ----------
    path : Path
        The JSON file.
    base : Path, optional
        The folder names are relative to; defaults to the JSON file's folder. Absolute names
        are used as they are.

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
    root = (base or path.parent).expanduser().resolve()
    parsed = Parsed()
    for i, entry in enumerate(doc):
        source = f"{path.name}[{i}]"
        reason = _problem(entry)
        if reason:
            parsed.problem(source, reason)
            continue
        main = (entry.get("mainClassificationLabel") or "").strip()
        others = [name.strip() for name in entry.get("classificationLabels") or []]
        names = list(dict.fromkeys(name for name in (main, *others) if name))
        labels = tuple(
            Label(LabelKind.CLASSIFICATION, name, is_main=name == main) for name in names
        )
        parsed.entries.append(Entry(media_path(root, entry["name"].strip()), labels))
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
