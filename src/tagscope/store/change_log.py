"""Repository of the change log (migration ``0007``): change-sets and their changes.

The log is append-only: an undo is a new change-set that ``undoes`` the old one, and the old one
only gains the pointer ``undone_by``. Write it inside the transaction of the change it records
(:meth:`tagscope.store.catalog.Catalog.transaction`), so that both commit or neither does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from tagscope.domain import NotFoundError
from tagscope.domain.changes import Change, ChangeSet
from tagscope.store.bulk_insert import insert_rows
from tagscope.store.catalog import Catalog
from tagscope.store.gc_pause import paused_gc
from tagscope.store.schema import ChangeRow, ChangeSetRow


def as_utc(value: datetime) -> datetime:
    """An aware UTC time: SQLite reads ``DateTime(timezone=True)`` back naive (it stores UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _change_set(row: ChangeSetRow, n: int, changes: tuple[Change, ...] = ()) -> ChangeSet:
    return ChangeSet(
        id=row.id,
        dataset_id=row.dataset_id,
        actor=row.actor,
        created_at=as_utc(row.created_at),
        action=row.action,
        params=dict(row.params or {}),
        target=dict(row.target or {}),
        n_changes=n,
        undoes=row.undoes,
        undone_by=row.undone_by,
        changes=changes,
    )


class ChangeLog:
    """The change log in the catalog database."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @paused_gc()
    def record(
        self,
        dataset_id: int,
        actor: str,
        action: str,
        changes: Sequence[Change],
        *,
        params: dict[str, Any] | None = None,
        target: dict[str, Any] | None = None,
        undoes: int | None = None,
    ) -> ChangeSet:
        """Append a change-set; with ``undoes``, the change-set undone points to this one."""
        with self.catalog.session() as s:
            row = ChangeSetRow(
                dataset_id=dataset_id,
                actor=actor,
                action=action,
                params=params or {},
                target=target or {},
                undoes=undoes,
            )
            s.add(row)
            s.flush()
            rows = [
                {
                    "change_set_id": row.id,
                    "item_id": c.item_id,
                    "entity": c.entity,
                    "key": c.key,
                    "before": c.before,
                    "after": c.after,
                }
                for c in changes
            ]
            insert_rows(s, ChangeRow.__table__, rows)
            if undoes is not None:
                s.execute(
                    update(ChangeSetRow).where(ChangeSetRow.id == undoes).values(undone_by=row.id)
                )
            return _change_set(row, len(rows), tuple(changes))

    def history(
        self,
        dataset_id: int,
        *,
        limit: int | None = 100,
        actor: str | None = None,
        since: datetime | None = None,
        undoable: bool = False,
    ) -> list[ChangeSet]:
        """The dataset's change-sets, newest first, with their number of changes; only those of
        ``actor`` and created at or after ``since`` when given (a naive time is UTC), and with
        ``undoable`` only those neither undone nor undos themselves (None: no limit)."""
        page = select(ChangeSetRow).where(ChangeSetRow.dataset_id == dataset_id)
        if actor is not None:
            page = page.where(ChangeSetRow.actor == actor)
        if since is not None:  # compared in UTC: SQLite stores the text of a naive UTC time
            page = page.where(ChangeSetRow.created_at >= as_utc(since))
        if undoable:
            page = page.where(ChangeSetRow.undone_by.is_(None), ChangeSetRow.undoes.is_(None))
        page = page.order_by(ChangeSetRow.id.desc()).limit(limit).subquery()
        counts = (
            select(ChangeRow.change_set_id, func.count().label("n"))
            .where(ChangeRow.change_set_id.in_(select(page.c.id)))
            .group_by(ChangeRow.change_set_id)
            .subquery()
        )
        shown = aliased(ChangeSetRow, page)
        stmt = (
            select(shown, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.change_set_id == shown.id)
            .order_by(shown.id.desc())
        )
        with self.catalog.session() as s:
            return [_change_set(row, n) for row, n in s.execute(stmt)]

    def actors(self, dataset_id: int) -> list[str]:
        """Who made the dataset's change-sets, by name."""
        stmt = (
            select(ChangeSetRow.actor)
            .where(ChangeSetRow.dataset_id == dataset_id)
            .distinct()
            .order_by(ChangeSetRow.actor)
        )
        with self.catalog.session() as s:
            return list(s.scalars(stmt))

    @paused_gc()
    def get(self, dataset_id: int, change_set_id: int) -> ChangeSet:
        """One change-set of the dataset with every change, in the order they were written."""
        with self.catalog.session() as s:
            row = s.get(ChangeSetRow, change_set_id)
            if row is None or row.dataset_id != dataset_id:
                raise NotFoundError(f"the dataset has no change-set {change_set_id}")
            c = ChangeRow.__table__.c  # columns, not ORM objects: a third of the time
            stmt = (
                select(c.item_id, c.entity, c.key, c.before, c.after)
                .where(c.change_set_id == change_set_id)
                .order_by(c.id)
            )
            changes = tuple(Change(*values) for values in s.execute(stmt).all())
            return _change_set(row, len(changes), changes)


__all__ = ["ChangeLog", "as_utc"]
