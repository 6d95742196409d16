"""Items' labels as the change log sees them: one record per item.

An item's record is ``{"labels": [...]}``: each of its labels of the chosen kinds and source
(the columns of :data:`FIELDS`, by id; ``created_at`` as an ISO string in UTC, records being
JSON), or no record when it has none. By default the kinds are classifications and the source
ground truth (entity ``labels``, bulk classify); entity ``annotations`` takes every kind of
ground-truth label, ``prelabels`` every prelabel. :meth:`LabelStates.restore` puts records back
bit for bit (the same row ids too), so an undo leaves exactly the labels there were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from tagscope.domain import LabelKind, LabelSource, NotFoundError
from tagscope.store.bulk_insert import insert_rows
from tagscope.store.catalog import Catalog
from tagscope.store.gc_pause import paused_gc
from tagscope.store.schema import DatasetRow, ItemRow, LabelRow

# Ids per IN list: one bound parameter each, far below SQLite's and PostgreSQL's caps.
_CHUNK = 5000
State = dict[str, Any]
FIELDS = (
    "id",
    "key",
    "kind",
    "name",
    "source",
    "is_main",
    "score",
    "geometry",
    "attributes",
    "class_id",
    "author",
    "created_at",
    "model",
    "area",
)


def iso_time(value: datetime | str | None) -> str | None:
    """A label's ``created_at`` as its record holds it: ISO 8601 in UTC (SQLite gives back the
    naive UTC time it was given, PostgreSQL the instant in the session's time zone)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


class LabelStates:
    """Read and put back the label records of many items in one transaction (joins the open
    unit of work): the labels of ``kinds`` (None: every kind) from ``source``."""

    def __init__(
        self,
        catalog: Catalog,
        kinds: Sequence[LabelKind] | None = (LabelKind.CLASSIFICATION,),
        source: LabelSource = LabelSource.GROUND_TRUTH,
    ) -> None:
        self.catalog = catalog
        self.kinds = None if kinds is None else tuple(str(k) for k in kinds)
        self.source = str(source)

    def _of(self, dataset_id: int, ids: Sequence[int]) -> Any:
        """The condition: a label of these kinds and source of one of ``ids``, items of the
        dataset."""
        of_dataset = select(ItemRow.id).where(ItemRow.dataset_id == dataset_id, ItemRow.id.in_(ids))
        condition = LabelRow.item_id.in_(of_dataset) & (LabelRow.source == self.source)
        if self.kinds is not None:
            condition &= LabelRow.kind.in_(self.kinds)
        return condition

    def lock(self, dataset_id: int) -> None:
        """Lock the dataset's row until the transaction ends (PostgreSQL; SQLite's unit of work
        holds the write lock already)."""
        with self.catalog.session() as s:
            if s.get(DatasetRow, dataset_id, with_for_update=True) is None:
                raise NotFoundError(f"no dataset with id {dataset_id}")

    @paused_gc()
    def states(self, dataset_id: int, item_ids: Sequence[int]) -> dict[int, State]:
        """Item id -> ``{"labels": [...]}`` for those of ``item_ids`` (of the dataset) that have
        a label of these kinds and source."""
        ids = sorted({int(i) for i in item_ids})
        columns = [LabelRow.__table__.c[f] for f in FIELDS]
        out: dict[int, State] = {}
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = (
                    select(LabelRow.__table__.c.item_id, *columns)
                    .where(self._of(dataset_id, ids[i : i + _CHUNK]))
                    .order_by(LabelRow.id)
                )
                for item_id, *values in s.execute(stmt):
                    record = dict(zip(FIELDS, values, strict=True))
                    record["created_at"] = iso_time(record["created_at"])
                    out.setdefault(item_id, {"labels": []})["labels"].append(record)
        return out

    @paused_gc()
    def restore(self, dataset_id: int, states: Mapping[int, State | None]) -> dict[int, State]:
        """Make each item's labels of these kinds what ``states`` says (``None``: none); a label
        without ``id`` gets a new one, a field it lacks is NULL (its source is this one, and its
        kind too when there is one kind). Return the records now there, as :meth:`states` reads
        them. The dataset's ``revision`` goes up (labels edited in place: the SQL engine's copy
        fetches the dataset again)."""
        ids = sorted(int(i) for i in states)
        default: dict[str, Any] = {f: None for f in FIELDS if f != "id"}
        default["source"] = self.source
        if self.kinds is not None and len(self.kinds) == 1:
            default["kind"] = self.kinds[0]
        rows = [
            {"item_id": i, **default, **label, "created_at": iso_time(label.get("created_at"))}
            for i in ids
            for label in (states[i] or {}).get("labels", [])
        ]
        table = LabelRow.__table__
        # The database takes datetimes; the records keep the ISO strings.
        times = {"created_at": _parsed}
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                s.execute(delete(LabelRow).where(self._of(dataset_id, ids[i : i + _CHUNK])))
            # executemany wants one set of columns per call: labels with and without an id.
            insert_rows(s, table, [row for row in rows if "id" in row], times)
            new = [row for row in rows if "id" not in row]
            insert_rows(s, table, new, times)
            if new:  # their ids, by (item, key): unique, and all of these items' labels are ours
                new_items = sorted({row["item_id"] for row in new})
                found: dict[tuple[int, str], int] = {}
                for i in range(0, len(new_items), _CHUNK):
                    stmt = select(table.c.item_id, table.c.key, table.c.id).where(
                        self._of(dataset_id, new_items[i : i + _CHUNK])
                    )
                    found.update(((item, key), id_) for item, key, id_ in s.execute(stmt))
                for row in new:
                    row["id"] = found[row["item_id"], row["key"]]
            s.execute(
                update(DatasetRow)
                .where(DatasetRow.id == dataset_id)
                .values(revision=DatasetRow.revision + 1)
            )
        out: dict[int, State] = {}
        for row in sorted(rows, key=lambda r: r["id"]):  # each row becomes its record
            item_id = row.pop("item_id")
            out.setdefault(item_id, {"labels": []})["labels"].append(row)
        return out


def _parsed(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


__all__ = ["FIELDS", "LabelStates", "iso_time"]
