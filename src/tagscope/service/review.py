"""Expert review of a submitted label job (F-72): the class-changed table, filtered pages of
label changes, and decisions (accept, reject, back to pending).

A decision on a whole cell (a filter) or on chosen change ids is one change-set of entity
``label_review`` (key: the job's id; per item, the statuses of the job's changes on it), so
``history.undo`` puts back exactly the statuses there were. Only a ``submitted`` job is decided.

Examples
--------
>>> summary(ws, "coco", "review-1").tabs                                 # doctest: +SKIP
{'pending': 120, 'accepted': 0, 'rejected': 0}
>>> decide(ws, "coco", "review-1", "accepted", expert_class="cat", class_changed=False)
Decision(change_set=14, n_changed=37)                                    # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tagscope.domain import ValidationError
from tagscope.domain.changes import Change
from tagscope.domain.label_jobs import LabelJobStatus
from tagscope.domain.review import (
    CHANGES,
    STATUSES,
    ChangeFilter,
    ChangesPage,
    ClassChangedRow,
    Decision,
    ReviewSummary,
    check_group_by,
    check_status,
)
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.collections import shown
from tagscope.store.gc_pause import paused_gc
from tagscope.store.retry import retrying
from tagscope.store.review import JobRef, ReviewCatalog

ENTITY = "label_review"
MAX_PAGE = 1000


def summary(ws: Workspace, dataset: str, job: str) -> ReviewSummary:
    """The job's changes per status (the tabs), the class-changed table (per expert class and
    class changed or not, counts per status) and the changes per kind."""
    review = ReviewCatalog(ws.catalog)
    ref = review.job(policy.dataset(ws, Action.READ, dataset).id, job)
    tabs: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    cells: dict[tuple[str | None, bool], Counter[str]] = {}
    for expert_class, change, status, n in review.counts(ref.id):
        tabs[status] += n
        kinds[change] += n
        cells.setdefault((expert_class, change == "class_changed"), Counter())[status] += n
    table = [
        ClassChangedRow(cls, changed, **{s: counts[s] for s in STATUSES})
        for (cls, changed), counts in sorted(cells.items(), key=_cell_order)
    ]
    return ReviewSummary(
        tabs={s: tabs[s] for s in STATUSES},
        table=table,
        changes={c: kinds[c] for c in CHANGES},
    )


def _cell_order(entry: tuple[tuple[str | None, bool], Counter[str]]) -> tuple[Any, ...]:
    (cls, changed), _ = entry
    return (cls is None, cls or "", changed)


def changes(
    ws: Workspace,
    dataset: str,
    job: str,
    *,
    status: str | None = None,
    expert_class: str | None = None,
    class_changed: bool | None = None,
    change: str | None = None,
    min_area: float | None = None,
    max_area: float | None = None,
    min_adjustment: float | None = None,
    max_adjustment: float | None = None,
    group_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ChangesPage:
    """A page of the job's changes matching the filters (see :class:`ChangeFilter`), with
    their item's path and size; ``group_by`` (``class`` or ``class_changed``) orders them so
    that each group is contiguous, else they come in id order."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be within 1..{MAX_PAGE}, got {limit}", field="limit")
    if offset < 0:
        raise ValidationError(f"offset must be 0 or more, got {offset}", field="offset")
    f = ChangeFilter(
        status=status,
        expert_class=expert_class,
        class_changed=class_changed,
        change=change,
        min_area=min_area,
        max_area=max_area,
        min_adjustment=min_adjustment,
        max_adjustment=max_adjustment,
    )
    review = ReviewCatalog(ws.catalog)
    ref = review.job(policy.dataset(ws, Action.READ, dataset).id, job)
    total, rows = review.page(
        ref.id, f, group_by=check_group_by(group_by), limit=limit, offset=offset
    )
    return ChangesPage(total, rows)


@paused_gc()
@retrying
def decide(
    ws: Workspace,
    dataset: str,
    job: str,
    decision: str,
    *,
    ids: Sequence[int] | None = None,
    **filters: Any,
) -> Decision:
    """Give ``decision`` (``accepted``, ``rejected`` or ``pending``) to the changes ``ids``, or
    to every change matching ``filters`` (the fields of :class:`ChangeFilter`; none: all the
    job's changes), as one change-set.

    Raises
    ------
    ValidationError
        A job that is not submitted; an unknown decision or filter; ids and filters both; ids
        that are not changes of the job (named).
    NotFoundError
        No such dataset or job.
    """
    check_status(decision)
    if ids is not None and any(v is not None for v in filters.values()):
        raise ValidationError("give either change ids or filters, not both", field="ids")
    try:
        f = ChangeFilter(**filters)
    except TypeError:
        unknown = sorted(set(filters) - set(ChangeFilter.__dataclass_fields__))
        raise ValidationError(f"unknown filter(s): {', '.join(unknown)}", field="filters") from None
    ds = policy.dataset(ws, Action.REVIEW_DECIDE, dataset)
    with ws.uow() as uow:
        review = ReviewCatalog(uow.catalog)
        review.lock(review.job(ds.id, job).id)
        ref = _submitted(review, ds.id, job)  # read under the lock: not closed meanwhile
        chosen = _chosen(review, ref, ids) if ids is not None else review.matching(ref.id, f)
        items = sorted(set(chosen.values()))
        before = review.states(ref.id, items)
        n_changed = sum(
            before[item]["status"][str(cid)] != decision for cid, item in chosen.items()
        )
        review.set_status(ref.id, list(chosen), decision)
        after = review.states(ref.id, items)
        log = [
            Change(i, ENTITY, str(ref.id), before.get(i), after.get(i))
            for i in items
            if before.get(i) != after.get(i)
        ]
        if not log:
            return Decision(None, 0)
        params: dict[str, Any] = {"decision": decision, "n_changes": n_changed}
        params.update({"ids": len(chosen)} if ids is not None else {"filter": f.as_params()})
        made = uow.changes.record(
            ds.id, uow.actor, "review_decision", log, params=params, target={"label_job": job}
        )
    return Decision(made.id, n_changed)


def _submitted(review: ReviewCatalog, dataset_id: int, job: str) -> JobRef:
    ref = review.job(dataset_id, job)
    if ref.status != LabelJobStatus.SUBMITTED:
        raise ValidationError(
            f"label job {job!r} is {ref.status}, not submitted: only the changes of a "
            "submitted job are reviewed",
            field="job",
        )
    return ref


def _chosen(review: ReviewCatalog, ref: JobRef, ids: Sequence[int]) -> dict[int, int]:
    found = review.of_ids(ref.id, ids)
    missing = sorted({int(i) for i in ids} - found.keys())
    if missing:
        raise ValidationError(
            f"{len(missing)} id(s) are not label changes of job {ref.name!r}: {shown(missing)}",
            field="ids",
        )
    return found


__all__ = ["ENTITY", "MAX_PAGE", "changes", "decide", "summary"]
