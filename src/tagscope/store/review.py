"""Queries over the ``label_changes`` of a label job for its review (F-72).

For the change log (entity ``label_review``, key the job's id) an item's record is
``{"status": {str(change_id): status}}`` over every change of the job on that item;
:meth:`ReviewCatalog.restore` puts statuses back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from tagscope.domain import NotFoundError
from tagscope.domain.review import ChangeFilter, ReviewChange
from tagscope.store.catalog import Catalog
from tagscope.store.label_jobs import change_fields
from tagscope.store.label_schema import LabelChangeRow, LabelJobRow
from tagscope.store.schema import ItemRow

_CHUNK = 5000  # ids per IN list: one bound parameter each, far below SQLite's and PG's caps
_WHOLE_JOB = 20_000  # states of more items than this: one scan of the job's changes
State = dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobRef:
    """A label job as review needs it."""

    id: int
    dataset_id: int
    name: str
    status: str


def _where(job_id: int, f: ChangeFilter) -> list[ColumnElement[bool]]:
    c = LabelChangeRow
    out: list[ColumnElement[bool]] = [c.job_id == job_id]
    if f.status is not None:
        out.append(c.status == f.status)
    if f.expert_class is not None:
        out.append(c.expert_class == f.expert_class)
    if f.class_changed is not None:
        out.append(
            (c.change == "class_changed") if f.class_changed else (c.change != "class_changed")
        )
    if f.change is not None:
        out.append(c.change == f.change)
    if f.min_area is not None:
        out.append(c.expert_area >= f.min_area)
    if f.max_area is not None:
        out.append(c.expert_area <= f.max_area)
    if f.min_adjustment is not None:
        out.append(c.adjustment >= f.min_adjustment)
    if f.max_adjustment is not None:
        out.append(c.adjustment <= f.max_adjustment)
    return out


def _order(group_by: str | None) -> list[Any]:
    c = LabelChangeRow
    if group_by == "class":
        return [c.expert_class.nulls_last(), c.id]
    if group_by == "class_changed":
        return [(c.change == "class_changed").desc(), c.expert_class.nulls_last(), c.id]
    return [c.id]


class ReviewCatalog:
    """The review of label jobs in the catalog database; each method is one transaction, or
    joins the open unit of work."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def job(self, dataset_id: int, name: str) -> JobRef:
        stmt = select(LabelJobRow).where(
            LabelJobRow.dataset_id == dataset_id, LabelJobRow.name == name
        )
        with self.catalog.session() as s:
            row = s.scalars(stmt).one_or_none()
            if row is None:
                raise NotFoundError(f"the dataset has no label job named {name!r}")
            return JobRef(row.id, row.dataset_id, row.name, row.status)

    def lock(self, job_id: int) -> None:
        """Lock the job's row until the transaction ends (PostgreSQL; SQLite's unit of work
        holds the write lock already); NotFoundError once it is deleted."""
        with self.catalog.session() as s:
            if s.get(LabelJobRow, job_id, with_for_update=True) is None:
                raise NotFoundError(f"no label job with id {job_id}")

    def counts(self, job_id: int) -> list[tuple[str | None, str, str, int]]:
        """(expert_class, change, status, number of changes) of the job."""
        c = LabelChangeRow
        stmt = (
            select(c.expert_class, c.change, c.status, func.count())
            .where(c.job_id == job_id)
            .group_by(c.expert_class, c.change, c.status)
        )
        with self.catalog.session() as s:
            return [(e, ch, st, int(n)) for e, ch, st, n in s.execute(stmt)]

    def page(
        self, job_id: int, f: ChangeFilter, *, group_by: str | None, limit: int, offset: int
    ) -> tuple[int, list[ReviewChange]]:
        """How many changes match, and a page of them with their item's path and size."""
        c = LabelChangeRow
        where = _where(job_id, f)
        stmt = (
            select(c, ItemRow.path, ItemRow.width, ItemRow.height)
            .join(ItemRow, ItemRow.id == c.item_id)
            .where(*where)
            .order_by(*_order(group_by))
            .limit(limit)
            .offset(offset)
        )
        with self.catalog.session() as s:
            total = int(s.execute(select(func.count()).select_from(c).where(*where)).scalar_one())
            rows = [_change(row, path, w, h) for row, path, w, h in s.execute(stmt)]
        return total, rows

    def matching(self, job_id: int, f: ChangeFilter) -> dict[int, int]:
        """Change id -> item id of the changes that match."""
        c = LabelChangeRow
        stmt = select(c.id, c.item_id).where(*_where(job_id, f)).order_by(c.id)
        with self.catalog.session() as s:
            return {i: item for i, item in s.execute(stmt)}

    def of_ids(self, job_id: int, ids: Sequence[int]) -> dict[int, int]:
        """Change id -> item id for those of ``ids`` that are changes of the job."""
        c = LabelChangeRow
        wanted = sorted({int(i) for i in ids})
        out: dict[int, int] = {}
        with self.catalog.session() as s:
            for i in range(0, len(wanted), _CHUNK):
                stmt = select(c.id, c.item_id).where(
                    c.job_id == job_id, c.id.in_(wanted[i : i + _CHUNK])
                )
                out.update({i: item for i, item in s.execute(stmt)})
        return out

    def set_status(self, job_id: int, ids: Sequence[int], status: str) -> None:
        c = LabelChangeRow
        wanted = sorted({int(i) for i in ids})
        with self.catalog.session() as s:
            for i in range(0, len(wanted), _CHUNK):
                s.execute(
                    update(c)
                    .where(c.job_id == job_id, c.id.in_(wanted[i : i + _CHUNK]))
                    .values(status=status)
                )

    # -- records as the change log sees them ----------------------------------------------
    def states(self, job_id: int, item_ids: Sequence[int]) -> dict[int, State]:
        """Item id -> ``{"status": {str(change_id): status}}`` for those of ``item_ids`` with
        changes in the job."""
        c = LabelChangeRow
        ids = sorted({int(i) for i in item_ids})
        wanted = set(ids)
        columns = select(c.item_id, c.id, c.status).order_by(c.id)
        if len(ids) > _WHOLE_JOB:  # a decision on much of the job: cheaper than IN lists
            queries = [columns.where(c.job_id == job_id)]
        else:
            queries = [
                columns.where(c.job_id == job_id, c.item_id.in_(ids[i : i + _CHUNK]))
                for i in range(0, len(ids), _CHUNK)
            ]
        out: dict[int, State] = {}
        with self.catalog.session() as s:
            for stmt in queries:
                for item_id, change_id, status in s.execute(stmt):
                    if item_id in wanted:
                        out.setdefault(item_id, {"status": {}})["status"][str(change_id)] = status
        return dict(sorted(out.items()))

    def restore(self, job_id: int, states: Mapping[int, State | None]) -> None:
        """Give each change named in ``states`` its status there (changes are never removed
        by review: a ``None`` record has nothing to put back)."""
        by_status: dict[str, list[int]] = defaultdict(list)
        for state in states.values():
            for change_id, status in (state or {}).get("status", {}).items():
                by_status[status].append(int(change_id))
        for status, ids in by_status.items():
            self.set_status(job_id, ids, status)


def _change(row: LabelChangeRow, path: str, width: int | None, height: int | None) -> ReviewChange:
    return ReviewChange(**change_fields(row), path=path, width=width, height=height)


__all__ = ["JobRef", "ReviewCatalog"]
