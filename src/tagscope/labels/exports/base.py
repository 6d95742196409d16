"""What every export writer takes and reports."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tagscope.domain import ImportProblem, Item, Label


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """An item to export: ``name`` is its path relative to the export's root ('/'-separated)."""

    item: Item
    name: str
    labels: Sequence[Label]


@dataclass(slots=True)
class ExportReport:
    """What an export wrote: items, labels, the files, the root names are relative to, the
    labels left out (counted by reason) and the items left out (each with its reason)."""

    format: str
    out: str
    root: str | None
    files: list[str] = field(default_factory=list)
    n_items: int = 0
    n_labels: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(ImportProblem(source=path, reason=reason))

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


class ExportWriter(Protocol):
    """A format: ``add`` each record, then ``close`` (which writes what is still buffered)."""

    def add(self, record: ExportRecord) -> None: ...

    def close(self) -> None: ...


def common_root(first: str, last: str) -> str:
    """The deepest folder holding every path, from the smallest and the largest path in string
    order: every path between them starts with the folder the two have in common."""
    return os.path.commonpath([os.path.dirname(first), os.path.dirname(last)])


def relative_name(path: str, root: str) -> str:
    """``path`` relative to ``root``, '/'-separated (what the importers read back)."""
    return Path(os.path.relpath(path, root)).as_posix()
