"""Datasets, import reports and search hits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from tagscope.domain.errors import ValidationError

_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def validate_dataset_name(name: str) -> str:
    """Return ``name`` if it is a valid dataset name, else raise :class:`ValidationError`."""
    if not _DATASET_NAME.match(name or ""):
        raise ValidationError(
            f"invalid dataset name {name!r}: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
            field="name",
        )
    return name


@dataclass(frozen=True, slots=True)
class Dataset:
    id: int
    name: str
    description: str
    created_at: datetime
    n_items: int = 0


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A file or record that could not be imported, and why."""

    source: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did: new items, items already there, labels added, problems."""

    n_added: int = 0
    n_existing: int = 0
    n_labels: int = 0
    # Thumbnails a deferring import left to the filler (tagscope.service.thumbnails).
    n_thumbnails_deferred: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    def merge(self, other: ImportReport) -> None:
        self.n_added += other.n_added
        self.n_existing += other.n_existing
        self.n_labels += other.n_labels
        self.problems.extend(other.problems)
        self.n_thumbnails_deferred += other.n_thumbnails_deferred


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: an item and its similarity score (cosine, higher is closer)."""

    item_id: int
    path: str
    score: float


@dataclass(frozen=True, slots=True)
class PairHit:
    """Two items that are close in an embedding space."""

    a: Hit
    b: Hit
    score: float
