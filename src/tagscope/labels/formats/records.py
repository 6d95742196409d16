"""What every import format yields: files named by the source, with their labels and text."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagscope.domain import ImportProblem, Label, ValidationError


@dataclass(frozen=True, slots=True)
class Entry:
    """A media file named by an import source, with what the source says about it.

    ``path`` is absolute and normalised: the catalog's key of the item it becomes.
    """

    path: str
    labels: tuple[Label, ...] = ()
    text: str | None = None


@dataclass(slots=True)
class Parsed:
    """Entries read from a source, and the records of it that could not be used."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    def problem(self, source: str, reason: str) -> None:
        self.problems.append(ImportProblem(source=source, reason=reason))


def media_path(base: Path, name: str) -> str:
    """The absolute, normalised path of ``name`` relative to ``base`` (already resolved).

    Cheaper than ``Path.resolve`` per file, which costs a system call per path component.
    """
    return os.path.normpath(os.path.join(base, name))


def read_json_file(path: Path) -> Any:
    """Parse a JSON file; a file that is not valid JSON raises :class:`ValidationError`."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ValidationError(f"{path}: file not found", field="path") from None
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{path.name}: not UTF-8 text (byte {exc.start})", field="path"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{path.name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            field="path",
        ) from None
