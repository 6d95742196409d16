"""The change log's types: a change-set is one action of a person on a dataset, with the value
of every record it changed before and after (see ``store.change_log``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tagscope.domain.errors import TagscopeError

RECORD_ITSELF = 0
"""The item id under which an entity logs its own record (a collection's title, kind, filter):
item ids start at 1."""


@dataclass(frozen=True, slots=True)
class Change:
    """One record of one item, before and after (``None``: the record did not exist).

    ``entity`` names the kind of record (``review``, ``example``); ``key`` which one of the
    item's records of that kind (for reviews and examples, the tag's id).
    """

    item_id: int
    entity: str
    key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """An entry of the history. ``changes`` is filled only when one change-set is read."""

    id: int
    dataset_id: int
    actor: str
    created_at: datetime
    action: str
    params: dict[str, Any]
    target: dict[str, Any]
    n_changes: int
    undoes: int | None = None
    undone_by: int | None = None
    changes: tuple[Change, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What an undo did: the compensating change-set and the items it left as they were."""

    change_set: ChangeSet
    n_restored: int
    skipped: tuple[int, ...]


class UndoConflictError(TagscopeError):
    """An undo refused because items were changed since; ``items`` names them, and
    ``change_sets`` the change-sets refused (an undo of many)."""

    def __init__(self, message: str, *, items: list[int], change_sets: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.items = items
        self.change_sets = list(change_sets)


__all__ = ["Change", "ChangeSet", "UndoConflictError", "UndoResult"]
