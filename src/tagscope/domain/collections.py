"""Collections: named sets of a dataset's items, static (a list of ids) or dynamic (a saved grid
filter, evaluated whenever the collection is read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tagscope.domain.errors import ValidationError

MAX_TITLE = 128


class CollectionKind(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"


@dataclass(frozen=True, slots=True)
class Collection:
    """A collection; ``n_items`` is ``None`` where a dynamic one was not evaluated."""

    id: int
    dataset_id: int
    title: str
    description: str
    kind: CollectionKind
    filter: str | None
    created_at: datetime
    n_items: int | None = None


def validate_title(title: str) -> str:
    """The title without surrounding spaces; refused when empty, too long or multi-line."""
    clean = title.strip()
    if not clean or len(clean) > MAX_TITLE or any(c in clean for c in "\r\n\0"):
        raise ValidationError(
            f"a collection title is 1..{MAX_TITLE} characters on one line, got {title!r}",
            field="title",
        )
    return clean


__all__ = ["MAX_TITLE", "Collection", "CollectionKind", "validate_title"]
