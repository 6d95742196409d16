"""Repository of label jobs (migration ``0010``): jobs, their items, and the label changes a
submitted job's matching wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagscope.domain import AlreadyExistsError, Label, LabelSource, NotFoundError
from tagscope.domain.label_jobs import (
    ChangeKind,
    JobKind,
    LabelChange,
    LabelJob,
    LabelJobStatus,
    ReviewStatus,
)
from tagscope.store.catalog import Catalog, label_of
from tagscope.store.label_schema import LabelChangeRow, LabelJobItemRow, LabelJobRow
from tagscope.store.schema import ItemRow, LabelRow

_CHUNK = 500  # ids per IN list, rows per INSERT


def _job(row: LabelJobRow, n_items: int, n_done: int, changes: dict[str, int]) -> LabelJob:
    return LabelJob(
        id=row.id,
        dataset_id=row.dataset_id,
        name=row.name,
        kind=JobKind(row.kind),
        status=LabelJobStatus(row.status),
        collection=row.collection,
        params=dict(row.params or {}),
        assignees=tuple(row.assignees or ()),
        created_by=row.created_by,
        created_at=row.created_at,
        submitted_at=row.submitted_at,
        n_items=n_items,
        n_done=n_done,
        changes=changes,
    )


def change_fields(row: LabelChangeRow) -> dict[str, Any]:
    """The fields of a :class:`LabelChange` of a ``label_changes`` row (a review's change
    adds its item's)."""
    return {
        "id": row.id,
        "job_id": row.job_id,
        "item_id": row.item_id,
        "change": ChangeKind(row.change),
        "label_kind": row.label_kind,
        "expert_class": row.expert_class,
        "prelabel_class": row.prelabel_class,
        "iou": row.iou,
        "expert_area": row.expert_area,
        "prelabel_area": row.prelabel_area,
        "adjustment": row.adjustment,
        "status": ReviewStatus(row.status),
        "expert_label_id": row.expert_label_id,
        "prelabel_label_id": row.prelabel_label_id,
        "expert": row.expert,
        "prelabel": row.prelabel,
    }


class LabelJobCatalog:
    """Label jobs in the catalog database; each method is one transaction, or joins the open
    unit of work (:meth:`Catalog.transaction`)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- jobs -----------------------------------------------------------------------------
    def create(
        self,
        dataset_id: int,
        name: str,
        *,
        kind: JobKind,
        status: LabelJobStatus,
        collection: str | None,
        params: dict[str, Any],
        assignees: Sequence[str],
        created_by: str,
        items: Mapping[int, str | None],
    ) -> LabelJob:
        """A new job with its items (item id -> assignee); a name taken in the dataset is
        refused."""
        with self.catalog.session() as s:
            if self._find(s, dataset_id, name) is not None:
                raise AlreadyExistsError(f"the dataset has a label job named {name!r} already")
            row = LabelJobRow(
                dataset_id=dataset_id,
                name=name,
                kind=str(kind),
                status=str(status),
                collection=collection,
                params=params,
                assignees=list(assignees),
                created_by=created_by,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:  # created meanwhile by another transaction
                raise AlreadyExistsError(
                    f"the dataset has a label job named {name!r} already"
                ) from exc
            rows = [{"job_id": row.id, "item_id": i, "assignee": a} for i, a in items.items()]
            for i in range(0, len(rows), _CHUNK):
                s.execute(insert(LabelJobItemRow.__table__), rows[i : i + _CHUNK])
            return _job(row, len(rows), 0, {})

    def get(self, dataset_id: int, name: str) -> LabelJob:
        """The job with its counts."""
        with self.catalog.session() as s:
            row = self._find(s, dataset_id, name)
            if row is None:
                raise NotFoundError(f"the dataset has no label job named {name!r}")
            return self._with_counts(s, [row])[0]

    def list_jobs(self, dataset_id: int) -> list[LabelJob]:
        """The dataset's jobs, newest first, with their counts."""
        stmt = (
            select(LabelJobRow)
            .where(LabelJobRow.dataset_id == dataset_id)
            .order_by(LabelJobRow.id.desc())
        )
        with self.catalog.session() as s:
            return self._with_counts(s, list(s.scalars(stmt)))

    def lock(self, job_id: int) -> None:
        """Lock the job's row until the transaction ends (PostgreSQL; SQLite's unit of work
        holds the write lock already)."""
        with self.catalog.session() as s:
            if s.get(LabelJobRow, job_id, with_for_update=True) is None:
                raise NotFoundError(f"no label job with id {job_id}")

    def set_status(
        self,
        job_id: int,
        status: LabelJobStatus,
        submitted_at: datetime | None = None,
        *,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Set the job's status, when it was submitted and (when given) its params."""
        values: dict[str, Any] = {"status": str(status), "submitted_at": submitted_at}
        if params is not None:
            values["params"] = params
        with self.catalog.session() as s:
            s.execute(update(LabelJobRow).where(LabelJobRow.id == job_id).values(**values))

    def delete(self, job_id: int) -> None:
        """Delete the job, its items and its label changes (the labels stay)."""
        with self.catalog.session() as s:
            s.execute(delete(LabelChangeRow).where(LabelChangeRow.job_id == job_id))
            s.execute(delete(LabelJobItemRow).where(LabelJobItemRow.job_id == job_id))
            s.execute(delete(LabelJobRow).where(LabelJobRow.id == job_id))

    @staticmethod
    def _find(s: Session, dataset_id: int, name: str) -> LabelJobRow | None:
        stmt = select(LabelJobRow).where(
            LabelJobRow.dataset_id == dataset_id, LabelJobRow.name == name
        )
        return s.scalars(stmt).one_or_none()

    @staticmethod
    def _with_counts(s: Session, rows: list[LabelJobRow]) -> list[LabelJob]:
        ids = [r.id for r in rows]
        if not ids:
            return []
        it = LabelJobItemRow
        items = {
            job: (int(n), int(done or 0))
            for job, n, done in s.execute(
                select(it.job_id, func.count(), func.count(it.done_at))
                .where(it.job_id.in_(ids))
                .group_by(it.job_id)
            )
        }
        changes: dict[int, dict[str, int]] = {}
        c = LabelChangeRow
        stmt = select(c.job_id, c.change, func.count()).where(c.job_id.in_(ids))
        for job, change, n in s.execute(stmt.group_by(c.job_id, c.change)):
            changes.setdefault(job, {})[change] = int(n)
        return [_job(r, *items.get(r.id, (0, 0)), changes.get(r.id, {})) for r in rows]

    # -- items ----------------------------------------------------------------------------
    def items(
        self, job_id: int, assignee: str | None = None
    ) -> list[tuple[int, str, str | None, datetime | None]]:
        """(item id, path, assignee, done at) of the job's items (of ``assignee`` when given),
        by item id."""
        it = LabelJobItemRow
        stmt = (
            select(it.item_id, ItemRow.path, it.assignee, it.done_at)
            .join(ItemRow, ItemRow.id == it.item_id)
            .where(it.job_id == job_id)
            .order_by(it.item_id)
        )
        if assignee is not None:
            stmt = stmt.where(it.assignee == assignee)
        with self.catalog.session() as s:
            return [(i, p, a, d) for i, p, a, d in s.execute(stmt)]

    def set_done(self, job_id: int, item_ids: Sequence[int], done_at: datetime | None) -> int:
        """Mark items of the job done at ``done_at`` (``None``: not done); how many changed."""
        ids = sorted({int(i) for i in item_ids})
        it = LabelJobItemRow
        n = 0
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                stmt = update(it).where(it.job_id == job_id, it.item_id.in_(chunk))
                stmt = stmt.where(it.done_at.is_(None) if done_at else it.done_at.is_not(None))
                n += s.execute(stmt.values(done_at=done_at)).rowcount or 0
        return n

    def missing_items(self, job_id: int, item_ids: Sequence[int]) -> list[int]:
        """Those of ``item_ids`` that are not items of the job, ascending."""
        ids = sorted({int(i) for i in item_ids})
        found: set[int] = set()
        it = LabelJobItemRow
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = select(it.item_id).where(
                    it.job_id == job_id, it.item_id.in_(ids[i : i + _CHUNK])
                )
                found.update(s.scalars(stmt))
        return [i for i in ids if i not in found]

    def assigned_items(
        self, dataset_id: int, assignee: str, item_ids: Sequence[int], job_id: int | None = None
    ) -> set[int]:
        """Those of ``item_ids`` that are items given to ``assignee`` of the dataset's open
        manual jobs (of job ``job_id`` when given)."""
        ids = sorted({int(i) for i in item_ids})
        j, it = LabelJobRow, LabelJobItemRow
        stmt = (
            select(it.item_id)
            .join(j, j.id == it.job_id)
            .where(j.dataset_id == dataset_id, it.assignee == assignee)
            .where(j.kind == str(JobKind.MANUAL), j.status == str(LabelJobStatus.OPEN))
        )
        if job_id is not None:
            stmt = stmt.where(it.job_id == job_id)
        found: set[int] = set()
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                found.update(s.scalars(stmt.where(it.item_id.in_(ids[i : i + _CHUNK]))))
        return found

    def complete_items(
        self, dataset_id: int, item_ids: Sequence[int] | None = None, job_id: int | None = None
    ) -> set[int]:
        """The dataset's items whose review is complete (of ``item_ids``, by job ``job_id``,
        when given): items with label changes in a submitted or closed job, every one of them
        decided there (accepted or rejected, none pending). One query: by the ids when they are
        few, else over the dataset's reviewed jobs."""
        c, j = LabelChangeRow, LabelJobRow
        pending = func.sum(case((c.status == str(ReviewStatus.PENDING), 1), else_=0))
        stmt = (
            select(c.item_id)
            .join(j, j.id == c.job_id)
            .where(j.dataset_id == dataset_id)
            .where(j.status.in_([str(LabelJobStatus.SUBMITTED), str(LabelJobStatus.CLOSED)]))
            .group_by(c.job_id, c.item_id)
            .having(pending == 0)
        )
        if job_id is not None:
            stmt = stmt.where(c.job_id == job_id)
        wanted = None if item_ids is None else {int(i) for i in item_ids}
        if wanted is not None and len(wanted) <= _CHUNK:
            stmt = stmt.where(c.item_id.in_(sorted(wanted)))
        with self.catalog.session() as s:
            found = set(s.scalars(stmt))
        return found if wanted is None else found & wanted

    def labels(
        self, item_ids: Sequence[int], source: LabelSource, model: str | None = None
    ) -> dict[int, list[Label]]:
        """Item id -> its labels of ``source`` (of ``model`` when given), by label id; items
        without any are left out."""
        ids = sorted({int(i) for i in item_ids})
        out: dict[int, list[Label]] = {}
        t = LabelRow.__table__.c
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                # Core rows, not ORM objects: cheaper for the many labels of a job.
                stmt = (
                    select(LabelRow.__table__)
                    .where(t.item_id.in_(ids[i : i + _CHUNK]))
                    .where(t.source == str(source))
                    .order_by(t.id)
                )
                if model is not None:
                    stmt = stmt.where(t.model == model)
                for row in s.execute(stmt):
                    out.setdefault(row.item_id, []).append(label_of(row))
        return out

    # -- label changes --------------------------------------------------------------------
    def add_changes(self, job_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Insert label changes (columns of ``label_changes`` but ``id`` and ``job_id``), in
        batches; how many."""
        values = [{**r, "job_id": job_id} for r in rows]
        with self.catalog.session() as s:
            for i in range(0, len(values), _CHUNK):
                s.execute(insert(LabelChangeRow.__table__), values[i : i + _CHUNK])
        return len(values)

    def changes(self, job_id: int) -> list[LabelChange]:
        """The job's label changes, by id."""
        stmt = select(LabelChangeRow).where(LabelChangeRow.job_id == job_id)
        with self.catalog.session() as s:
            rows = s.scalars(stmt.order_by(LabelChangeRow.id))
            return [LabelChange(**change_fields(r)) for r in rows]


__all__ = ["LabelJobCatalog", "change_fields"]
