"""Result sets (F-73): the reviewed results of a label job, saved under a name.

Accepted changes keep the expert's label (none for an accepted deletion), rejected ones the
prelabel (none for a rejected addition); pending changes are left out and counted. A result set
is the SQL view ``rs_<name>`` of the console and exports in every format
(``exports.export_dataset(..., result_set=NAME)``).

Examples
--------
>>> save_result_set(ws, "coco", "reviewed_cats", "review-1").n_pending       # doctest: +SKIP
0
"""

from __future__ import annotations

from dataclasses import replace

from tagscope.domain import ValidationError
from tagscope.domain.label_jobs import LabelJobStatus
from tagscope.domain.review import ResultSet, validate_result_set_name
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.gc_pause import paused_gc
from tagscope.store.result_sets import ResultSetCatalog
from tagscope.store.retry import retrying
from tagscope.store.review import ReviewCatalog

REVIEWED = (LabelJobStatus.SUBMITTED, LabelJobStatus.CLOSED)  # jobs with label changes


@paused_gc()
@retrying
def save_result_set(
    ws: Workspace, dataset: str, name: str, job: str, description: str = ""
) -> ResultSet:
    """Save the reviewed results of label job ``job`` as result set ``name``; the result's
    ``n_pending`` counts the changes left out because they are still pending.

    Raises
    ------
    ValidationError
        A bad name (lowercase letters, digits, underscores) or a job never submitted.
    AlreadyExistsError
        The dataset has a result set of that name.
    NotFoundError
        No such dataset or job.
    """
    name = validate_result_set_name(name)
    ds = policy.dataset(ws, Action.RESULT_SETS_EDIT, dataset)
    with ws.uow() as uow:
        ref = ReviewCatalog(uow.catalog).job(ds.id, job)
        if ref.status not in REVIEWED:
            raise ValidationError(
                f"label job {job!r} is {ref.status}: only a submitted job has results to save",
                field="job",
            )
        store = ResultSetCatalog(uow.catalog)
        labels, n_pending = store.reviewed(ref.id)
        made = store.create(
            ds.id,
            name,
            job_id=ref.id,
            description=description,
            created_by=uow.actor,
            labels=labels,
        )
    return replace(made, n_pending=n_pending)


def list_result_sets(ws: Workspace, dataset: str) -> list[ResultSet]:
    """The dataset's result sets by name, with their numbers of items and labels."""
    return ResultSetCatalog(ws.catalog).list_result_sets(
        policy.dataset(ws, Action.READ, dataset).id
    )


def get_result_set(ws: Workspace, dataset: str, name: str) -> ResultSet:
    return ResultSetCatalog(ws.catalog).get(policy.dataset(ws, Action.READ, dataset).id, name)


@retrying
def delete_result_set(ws: Workspace, dataset: str, name: str) -> None:
    """Delete a result set and its labels (the job and its review stay)."""
    ds = policy.dataset(ws, Action.RESULT_SETS_EDIT, dataset)
    with ws.uow() as uow:
        ResultSetCatalog(uow.catalog).delete(ds.id, name)


__all__ = ["delete_result_set", "get_result_set", "list_result_sets", "save_result_set"]
