"""Items' classifications as the change log sees them: one record per item.

An item's record is ``{"labels": [...]}``: each of its ground-truth classification labels (id,
key, name, source, is_main, score, geometry, attributes, by id), or no record when it has none.
:meth:`LabelStates.restore` puts records back bit for bit (the same row ids too), so an undo
leaves exactly the labels there were. Predictions and prelabels are not part of the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update

from tagscope.domain import LabelKind, LabelSource, NotFoundError
from tagscope.store.catalog import Catalog
from tagscope.store.schema import DatasetRow, ItemRow, LabelRow

# Ids per IN list: one bound parameter each, far below SQLite's and PostgreSQL's caps.
_CHUNK = 5000
_INSERT_CHUNK = 500  # rows of 9 columns per INSERT
State = dict[str, Any]
FIELDS = ("id", "key", "name", "source", "is_main", "score", "geometry", "attributes")


def _classified(dataset_id: int, ids: Sequence[int]) -> Any:
    """The condition: a ground-truth classification of one of ``ids``, items of the dataset."""
    of_dataset = select(ItemRow.id).where(ItemRow.dataset_id == dataset_id, ItemRow.id.in_(ids))
    return (
        LabelRow.item_id.in_(of_dataset)
        & (LabelRow.kind == str(LabelKind.CLASSIFICATION))
        & (LabelRow.source == str(LabelSource.GROUND_TRUTH))
    )


class LabelStates:
    """Read and put back the classification records of many items in one transaction (joins
    the open unit of work)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def lock(self, dataset_id: int) -> None:
        """Lock the dataset's row until the transaction ends (PostgreSQL; SQLite's unit of work
        holds the write lock already)."""
        with self.catalog.session() as s:
            if s.get(DatasetRow, dataset_id, with_for_update=True) is None:
                raise NotFoundError(f"no dataset with id {dataset_id}")

    def states(self, dataset_id: int, item_ids: Sequence[int]) -> dict[int, State]:
        """Item id -> ``{"labels": [...]}`` for those of ``item_ids`` (of the dataset) that have
        a ground-truth classification."""
        ids = sorted({int(i) for i in item_ids})
        columns = [LabelRow.__table__.c[f] for f in FIELDS]
        out: dict[int, State] = {}
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = (
                    select(LabelRow.__table__.c.item_id, *columns)
                    .where(_classified(dataset_id, ids[i : i + _CHUNK]))
                    .order_by(LabelRow.id)
                )
                for item_id, *values in s.execute(stmt):
                    record = dict(zip(FIELDS, values, strict=True))
                    out.setdefault(item_id, {"labels": []})["labels"].append(record)
        return out

    def restore(self, dataset_id: int, states: Mapping[int, State | None]) -> dict[int, State]:
        """Make each item's classifications what ``states`` says (``None``: none); a label
        without ``id`` gets a new one. Return the records now there, as :meth:`states` reads
        them. The dataset's ``revision`` goes up (labels edited in place: the SQL engine's copy
        fetches the dataset again)."""
        ids = sorted(int(i) for i in states)
        rows = [
            {"item_id": i, "kind": str(LabelKind.CLASSIFICATION), **label}
            for i in ids
            for label in (states[i] or {}).get("labels", [])
        ]
        table = LabelRow.__table__
        # The table, not the ORM class: the ORM's bulk path sends rows with an id one statement
        # each. RETURNING gives the new ids, matched by (item, key): unique, and cheaper than
        # asking for them in parameter order. executemany wants one set of columns per batch.
        returning = insert(table).returning(table.c.item_id, table.c.key, table.c.id)
        kept = [r for r in rows if "id" in r]
        new = [r for r in rows if "id" not in r]
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                s.execute(delete(LabelRow).where(_classified(dataset_id, ids[i : i + _CHUNK])))
            for i in range(0, len(kept), _INSERT_CHUNK):
                s.execute(insert(table), kept[i : i + _INSERT_CHUNK])
            for i in range(0, len(new), _INSERT_CHUNK):
                chunk = new[i : i + _INSERT_CHUNK]
                new_ids = {(item, key): id_ for item, key, id_ in s.execute(returning, chunk)}
                for row in chunk:
                    row["id"] = new_ids[row["item_id"], row["key"]]
            s.execute(
                update(DatasetRow)
                .where(DatasetRow.id == dataset_id)
                .values(revision=DatasetRow.revision + 1)
            )
        out: dict[int, State] = {}
        for row in sorted(rows, key=lambda r: r["id"]):
            record = {f: row[f] for f in FIELDS}
            out.setdefault(row["item_id"], {"labels": []})["labels"].append(record)
        return out


__all__ = ["FIELDS", "LabelStates"]
