"""Repository of collections (migration ``0008``): their definitions and static members.

For the change log (:mod:`tagscope.service.history`) a collection is one record per item (a
member: ``{}``; not a member: ``None``) plus its own record under item id :data:`RECORD` (its
definition, ``None`` once deleted); :meth:`CollectionCatalog.restore` puts any of them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagscope.domain import AlreadyExistsError, NotFoundError, ValidationError
from tagscope.domain.changes import RECORD_ITSELF
from tagscope.domain.collections import Collection, CollectionKind
from tagscope.store.catalog import Catalog
from tagscope.store.collection_schema import CollectionItemRow, CollectionRow
from tagscope.store.schema import ItemRow

RECORD = RECORD_ITSELF  # the item id of a collection's own record in the change log
_CHUNK = 500
_SHOWN = 10
State = dict[str, Any]


def _collection(row: CollectionRow, n_items: int | None) -> Collection:
    return Collection(
        id=row.id,
        dataset_id=row.dataset_id,
        title=row.title,
        description=row.description,
        kind=CollectionKind(row.kind),
        filter=row.filter,
        created_at=row.created_at,
        n_items=n_items,
    )


def _record(row: CollectionRow) -> State:
    return {
        "dataset_id": row.dataset_id,
        "title": row.title,
        "description": row.description,
        "kind": row.kind,
        "filter": row.filter,
        "created_at": row.created_at.isoformat(),
    }


def shown(ids: Sequence[int]) -> str:
    """The first ids of a list, for an error message."""
    return ", ".join(map(str, ids[:_SHOWN])) + (" ..." if len(ids) > _SHOWN else "")


class CollectionCatalog:
    """Collections in the catalog database; each method is one transaction, or joins the open
    unit of work (:meth:`Catalog.transaction`)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- reading --------------------------------------------------------------------------
    def _row(self, s: Session, dataset_id: int, title: str) -> CollectionRow:
        row = s.scalars(
            select(CollectionRow).where(
                CollectionRow.dataset_id == dataset_id, CollectionRow.title == title
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"the dataset has no collection titled {title!r}")
        return row

    def _count(self, s: Session, collection_id: int) -> int:
        stmt = select(func.count()).where(CollectionItemRow.collection_id == collection_id)
        return int(s.execute(stmt).scalar_one())

    def get(self, dataset_id: int, title: str) -> Collection:
        """The collection; ``n_items`` counted for a static one, ``None`` for a dynamic one."""
        with self.catalog.session() as s:
            row = self._row(s, dataset_id, title)
            static = row.kind == CollectionKind.STATIC
            return _collection(row, self._count(s, row.id) if static else None)

    def list_collections(self, dataset_id: int) -> list[Collection]:
        """The dataset's collections by title, counted as :meth:`get` does."""
        counts = (
            select(CollectionItemRow.collection_id, func.count().label("n"))
            .group_by(CollectionItemRow.collection_id)
            .subquery()
        )
        stmt = (
            select(CollectionRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.collection_id == CollectionRow.id)
            .where(CollectionRow.dataset_id == dataset_id)
            .order_by(CollectionRow.title)
        )
        with self.catalog.session() as s:
            return [
                _collection(row, n if row.kind == CollectionKind.STATIC else None)
                for row, n in s.execute(stmt)
            ]

    def member_ids(self, collection_id: int) -> list[int]:
        """The ids of a static collection's items, ascending."""
        with self.catalog.session() as s:
            return self._members(s, collection_id)

    def _members(self, s: Session, collection_id: int) -> list[int]:
        stmt = (
            select(CollectionItemRow.item_id)
            .where(CollectionItemRow.collection_id == collection_id)
            .order_by(CollectionItemRow.item_id)
        )
        return list(s.scalars(stmt))

    def titles_of_items(self, item_ids: Sequence[int]) -> dict[int, list[str]]:
        """Item id -> the titles of the static collections it is in (ids in none left out)."""
        out: dict[int, list[str]] = {}
        ids = sorted({int(i) for i in item_ids})
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = (
                    select(CollectionItemRow.item_id, CollectionRow.title)
                    .join(CollectionRow, CollectionRow.id == CollectionItemRow.collection_id)
                    .where(CollectionItemRow.item_id.in_(ids[i : i + _CHUNK]))
                    .order_by(CollectionRow.title)
                )
                for item_id, title in s.execute(stmt):
                    out.setdefault(item_id, []).append(title)
        return out

    def missing_items(self, dataset_id: int, item_ids: Sequence[int]) -> list[int]:
        """Those of ``item_ids`` that are not items of the dataset, ascending."""
        ids = sorted({int(i) for i in item_ids})
        found: set[int] = set()
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = select(ItemRow.id).where(
                    ItemRow.dataset_id == dataset_id, ItemRow.id.in_(ids[i : i + _CHUNK])
                )
                found.update(s.scalars(stmt))
        return [i for i in ids if i not in found]

    # -- writing --------------------------------------------------------------------------
    def create(
        self,
        dataset_id: int,
        title: str,
        *,
        kind: CollectionKind,
        filter: str | None = None,
        description: str = "",
    ) -> Collection:
        """A new, empty collection; a title the dataset has already is refused."""
        with self.catalog.session() as s:
            self._refuse_taken(s, dataset_id, title)
            row = CollectionRow(
                dataset_id=dataset_id,
                title=title,
                description=description,
                kind=str(kind),
                filter=filter,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # created meanwhile by another transaction
                raise AlreadyExistsError(
                    f"the dataset has a collection titled {title!r} already"
                ) from exc
            return _collection(row, 0 if kind == CollectionKind.STATIC else None)

    def _refuse_taken(self, s: Session, dataset_id: int, title: str) -> None:
        taken = s.scalars(
            select(CollectionRow.id).where(
                CollectionRow.dataset_id == dataset_id, CollectionRow.title == title
            )
        ).first()
        if taken is not None:
            raise AlreadyExistsError(f"the dataset has a collection titled {title!r} already")

    # -- records as the change log sees them ----------------------------------------------
    def lock(self, collection_id: int) -> None:
        """Lock the collection's row, where it exists, until the transaction ends (PostgreSQL;
        SQLite's unit of work holds the write lock already)."""
        with self.catalog.session() as s:
            s.get(CollectionRow, collection_id, with_for_update=True)

    def states(self, collection_id: int, item_ids: Sequence[int]) -> dict[int, State]:
        """Item id -> ``{}`` for those of ``item_ids`` in the collection, and :data:`RECORD`
        -> the collection's definition when asked for and the collection exists."""
        ids = sorted({int(i) for i in item_ids} - {RECORD})
        out: dict[int, State] = {}
        with self.catalog.session() as s:
            if RECORD in item_ids:
                row = s.get(CollectionRow, collection_id)
                if row is not None:
                    out[RECORD] = _record(row)
            for i in range(0, len(ids), _CHUNK):
                stmt = select(CollectionItemRow.item_id).where(
                    CollectionItemRow.collection_id == collection_id,
                    CollectionItemRow.item_id.in_(ids[i : i + _CHUNK]),
                )
                out.update({item_id: {} for item_id in s.scalars(stmt)})
        return out

    def restore(self, collection_id: int, states: Mapping[int, State | None]) -> None:
        """Put the collection's records back as ``states`` says (``None``: no such record).

        A collection deleted or turned dynamic by this must have no item left that ``states``
        does not remove (items added since): that is refused, naming them.
        """
        record = states.get(RECORD)
        members = sorted(i for i in states if i != RECORD)
        with self.catalog.session() as s:
            row = s.get(CollectionRow, collection_id)
            if record is not None:
                row = self._put_record(s, collection_id, row, record)
            for i in range(0, len(members), _CHUNK):
                s.execute(
                    delete(CollectionItemRow).where(
                        CollectionItemRow.collection_id == collection_id,
                        CollectionItemRow.item_id.in_(members[i : i + _CHUNK]),
                    )
                )
            s.add_all(
                CollectionItemRow(collection_id=collection_id, item_id=i)
                for i in members
                if states[i] is not None
            )
            s.flush()
            if RECORD in states and row is not None and (record or {}).get("kind") != "static":
                left = self._members(s, collection_id)
                if left:
                    raise ValidationError(
                        f"collection {row.title!r} has {len(left)} item(s) added since "
                        f"({shown(left)}); remove them first",
                        field="items",
                    )
                if record is None:
                    s.delete(row)

    def _put_record(
        self, s: Session, collection_id: int, row: CollectionRow | None, record: State
    ) -> CollectionRow:
        values = {
            "dataset_id": record["dataset_id"],
            "title": record["title"],
            "description": record["description"],
            "kind": record["kind"],
            "filter": record["filter"],
            "created_at": datetime.fromisoformat(record["created_at"]),
        }
        if row is None:
            self._refuse_taken(s, record["dataset_id"], record["title"])
            row = CollectionRow(id=collection_id, **values)
            s.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        s.flush()
        return row


__all__ = ["RECORD", "CollectionCatalog", "shown"]
