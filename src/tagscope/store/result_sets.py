"""Repository of result sets (F-73): the reviewed labels of a label job, saved under a name.

A result set is a snapshot: its labels (``result_set_labels``) are copied from the job's label
changes when it is saved, and stay as they are whatever the review does afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, distinct, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagscope.domain import AlreadyExistsError, Label, LabelKind, LabelSource, NotFoundError
from tagscope.domain.review import ResultSet
from tagscope.store.catalog import Catalog
from tagscope.store.label_schema import (
    LabelChangeRow,
    LabelJobRow,
    ResultSetLabelRow,
    ResultSetRow,
)

_CHUNK = 500
Row = dict[str, Any]


def result_label(change: Row) -> Row | None:
    """The label a decided change (a ``label_changes`` row) leaves: the expert's when accepted,
    the prelabel when rejected (``None``: an accepted deletion or a rejected addition)."""
    label = change["expert"] if change["status"] == "accepted" else change["prelabel"]
    if label is None:
        return None
    return {
        "item_id": change["item_id"],
        "label_change_id": change["id"],
        "kind": label.get("kind", change["label_kind"]),
        "name": label["name"],
        "class_id": label.get("class_id"),
        "geometry": label.get("geometry"),
        "area": label.get("area"),
        "attributes": label.get("attributes") or {},
        "change": change["change"],
        "decision": change["status"],
    }


class ResultSetCatalog:
    """Result sets in the catalog database; each method is one transaction, or joins the open
    unit of work."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def reviewed(self, job_id: int) -> tuple[list[Row], int]:
        """The labels the job's decided changes leave, and how many changes are pending."""
        c = LabelChangeRow.__table__.c  # columns, not ORM objects: faster on many changes
        columns = (c.id, c.item_id, c.change, c.label_kind, c.status, c.expert, c.prelabel)
        with self.catalog.session() as s:
            decided = s.execute(
                select(*columns).where(c.job_id == job_id, c.status != "pending").order_by(c.id)
            )
            rows = [r for r in (result_label(d._asdict()) for d in decided) if r is not None]
            pending = s.execute(
                select(func.count()).where(c.job_id == job_id, c.status == "pending")
            ).scalar_one()
        return rows, int(pending)

    def create(
        self,
        dataset_id: int,
        name: str,
        *,
        job_id: int,
        description: str,
        created_by: str,
        labels: Sequence[Row],
    ) -> ResultSet:
        with self.catalog.session() as s:
            if self._id(s, dataset_id, name) is not None:
                raise AlreadyExistsError(f"the dataset has a result set named {name!r} already")
            row = ResultSetRow(
                dataset_id=dataset_id,
                name=name,
                job_id=job_id,
                description=description,
                created_by=created_by,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # saved meanwhile by another transaction
                raise AlreadyExistsError(
                    f"the dataset has a result set named {name!r} already"
                ) from exc
            rows = [{"result_set_id": row.id, **lab} for lab in labels]
            for i in range(0, len(rows), _CHUNK):
                s.execute(insert(ResultSetLabelRow), rows[i : i + _CHUNK])
        return self.get(dataset_id, name)

    def list_result_sets(self, dataset_id: int) -> list[ResultSet]:
        return self._read(dataset_id)

    def get(self, dataset_id: int, name: str) -> ResultSet:
        found = self._read(dataset_id, name)
        if not found:
            raise NotFoundError(f"the dataset has no result set named {name!r}")
        return found[0]

    def delete(self, dataset_id: int, name: str) -> None:
        with self.catalog.session() as s:
            found = self._id(s, dataset_id, name)
            if found is None:
                raise NotFoundError(f"the dataset has no result set named {name!r}")
            s.execute(delete(ResultSetLabelRow).where(ResultSetLabelRow.result_set_id == found))
            s.execute(delete(ResultSetRow).where(ResultSetRow.id == found))

    def item_ids(self, result_set_id: int) -> list[int]:
        """The ids of the items with labels in the result set, ascending."""
        stmt = (
            select(ResultSetLabelRow.item_id)
            .where(ResultSetLabelRow.result_set_id == result_set_id)
            .distinct()
            .order_by(ResultSetLabelRow.item_id)
        )
        with self.catalog.session() as s:
            return list(s.scalars(stmt))

    def labels_of_items(
        self, result_set_id: int, item_ids: Sequence[int]
    ) -> dict[int, list[Label]]:
        """The result set's labels of each of ``item_ids``, as ground truth."""
        t = ResultSetLabelRow
        out: dict[int, list[Label]] = {i: [] for i in item_ids}
        ids = list(item_ids)
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = (
                    select(t)
                    .where(t.result_set_id == result_set_id, t.item_id.in_(ids[i : i + _CHUNK]))
                    .order_by(t.id)
                )
                for row in s.scalars(stmt):
                    out[row.item_id].append(_label(row))
        return out

    def _id(self, s: Session, dataset_id: int, name: str) -> int | None:
        stmt = select(ResultSetRow.id).where(
            ResultSetRow.dataset_id == dataset_id, ResultSetRow.name == name
        )
        return s.scalars(stmt).first()

    def _read(self, dataset_id: int, name: str | None = None) -> list[ResultSet]:
        r, t = ResultSetRow, ResultSetLabelRow
        counts = (
            select(
                t.result_set_id,
                func.count().label("n_labels"),
                func.count(distinct(t.item_id)).label("n_items"),
            )
            .group_by(t.result_set_id)
            .subquery()
        )
        stmt = (
            select(r, LabelJobRow.name, counts.c.n_items, counts.c.n_labels)
            .outerjoin(LabelJobRow, LabelJobRow.id == r.job_id)
            .outerjoin(counts, counts.c.result_set_id == r.id)
            .where(r.dataset_id == dataset_id)
            .order_by(r.name)
        )
        if name is not None:
            stmt = stmt.where(r.name == name)
        with self.catalog.session() as s:
            return [
                ResultSet(
                    id=row.id,
                    dataset_id=row.dataset_id,
                    name=row.name,
                    job=job,
                    description=row.description,
                    created_by=row.created_by,
                    created_at=row.created_at,
                    n_items=int(n_items or 0),
                    n_labels=int(n_labels or 0),
                )
                for row, job, n_items, n_labels in s.execute(stmt)
            ]


def _label(row: ResultSetLabelRow) -> Label:
    kind = LabelKind(row.kind)
    return Label(
        kind,
        row.name,
        LabelSource.GROUND_TRUTH,
        is_main=kind == LabelKind.CLASSIFICATION,
        geometry=row.geometry,
        attributes=dict(row.attributes or {}),
    )


__all__ = ["ResultSetCatalog", "result_label"]
