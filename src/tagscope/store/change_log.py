"""Repository of the change log (migration ``0007``): change-sets and their changes.

The log is append-only: an undo is a new change-set that ``undoes`` the old one, and the old one
only gains the pointer ``undone_by``. Write it inside the transaction of the change it records
(:meth:`tagscope.store.catalog.Catalog.transaction`), so that both commit or neither does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from tagscope.domain import NotFoundError
from tagscope.domain.changes import Change, ChangeSet
from tagscope.store.bulk_insert import insert_rows
from tagscope.store.catalog import Catalog
from tagscope.store.gc_pause import paused_gc
from tagscope.store.schema import ChangeRow, ChangeSetRow


def _change_set(row: ChangeSetRow, n: int, changes: tuple[Change, ...] = ()) -> ChangeSet:
    return ChangeSet(
        id=row.id,
        dataset_id=row.dataset_id,
        actor=row.actor,
        created_at=row.created_at,
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

    def history(self, dataset_id: int, *, limit: int = 100) -> list[ChangeSet]:
        """The dataset's change-sets, newest first, with their number of changes."""
        counts = (
            select(ChangeRow.change_set_id, func.count().label("n"))
            .group_by(ChangeRow.change_set_id)
            .subquery()
        )
        stmt = (
            select(ChangeSetRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.change_set_id == ChangeSetRow.id)
            .where(ChangeSetRow.dataset_id == dataset_id)
            .order_by(ChangeSetRow.id.desc())
            .limit(limit)
        )
        with self.catalog.session() as s:
            return [_change_set(row, n) for row, n in s.execute(stmt)]

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


__all__ = ["ChangeLog"]
