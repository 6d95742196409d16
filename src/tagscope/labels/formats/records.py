"""What every import format yields: files named by the source, with their labels and text."""

from __future__ import annotations

import json
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
    split: str | None = None  # train, validation or test, where the source's layout says


@dataclass(slots=True)
class Parsed:
    """Entries read from a source, and the records of it that could not be used."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    def problem(self, source: str, reason: str) -> None:
        self.problems.append(ImportProblem(source=source, reason=reason))


def read_source(path: Path) -> bytes:
    """The bytes of an import's source file; one that cannot be read raises
    :class:`ValidationError`."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"{path}: file not found", field="path") from None
    except IsADirectoryError:
        raise ValidationError(f"{path}: a folder, not a file", field="path") from None
    except OSError as exc:
        raise ValidationError(
            f"{path}: cannot read the file: {exc.strerror}", field="path"
        ) from None


def read_json_file(path: Path) -> Any:
    """Parse a JSON file; a file that is not valid JSON raises :class:`ValidationError`."""
    raw = read_source(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{path.name}: line {line} is not UTF-8 text (byte {exc.start})", field="path"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{path.name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            field="path",
        ) from None
    # Nesting deeper than Python's recursion limit, or a number of thousands of digits.
    except (RecursionError, ValueError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ValidationError(
            f"{path.name}: cannot be read as JSON: {reason}", field="path"
        ) from None
