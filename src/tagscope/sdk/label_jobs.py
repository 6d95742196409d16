"""Label jobs in the SDK: a handle on one job of a dataset, over the label-job use cases.

Examples
--------
>>> import tagscope as ts
>>> ds = ts.open().dataset("coco")                                            # doctest: +SKIP
>>> job = ds.create_label_job("fix", collection="street", assignees=["ann"])  # doctest: +SKIP
>>> [i.item_id for i in job.items(assignee="ann")][:3]                        # doctest: +SKIP
>>> job.mark_done([12, 13])                                                   # doctest: +SKIP
>>> job.submit().changes                                                      # doctest: +SKIP
{'unchanged': 410, 'geometry_changed': 37, 'class_changed': 5}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tagscope._lazy import deferred
from tagscope.domain.label_jobs import LabelChange, LabelJobItem
from tagscope.domain.label_jobs import LabelJob as _Job
from tagscope.domain.review import ChangesPage, Decision, ResultSet, ReviewSummary
from tagscope.labels.matching import DEFAULT_IOU

if TYPE_CHECKING:
    from tagscope.service import label_jobs as _jobs
    from tagscope.service import result_sets as _result_sets
    from tagscope.service import review as _review
    from tagscope.service.workspace import Workspace as _Workspace
else:  # DuckDB (dynamic collections): only when a job is used
    _jobs = deferred("tagscope.service.label_jobs")
    _review = deferred("tagscope.service.review")
    _result_sets = deferred("tagscope.service.result_sets")


class LabelJob:
    """A label job of ``dataset``, read afresh at each call."""

    def __init__(self, service_ws: _Workspace, dataset: str, name: str) -> None:
        self._ws = service_ws
        self.dataset = dataset
        self.name = name

    def __repr__(self) -> str:
        j = self.info
        return f"LabelJob({j.name!r}, dataset={self.dataset!r}, {j.kind}, {j.status})"

    @property
    def info(self) -> _Job:
        """The job as it is now: kind, status, params, counts of items and label changes."""
        return _jobs.get_job(self._ws, self.dataset, self.name)

    def items(self, *, assignee: str | None = None) -> list[LabelJobItem]:
        """The job's items (of ``assignee``), each with its prelabels and expert labels."""
        return _jobs.job_items(self._ws, self.dataset, self.name, assignee)

    def mark_done(self, item_ids: Sequence[int], *, done: bool = True) -> int:
        """Mark items done (or not); how many changed."""
        return _jobs.mark_done(self._ws, self.dataset, self.name, item_ids, done=done)

    def submit(self, *, iou: float = DEFAULT_IOU) -> _Job:
        """Match the expert labels to the prelabels into label changes, pending review."""
        return _jobs.submit_job(self._ws, self.dataset, self.name, iou)

    def label_changes(self) -> list[LabelChange]:
        """The label changes the submission wrote, by id."""
        return _jobs.label_changes(self._ws, self.dataset, self.name)

    # -- review (F-72) and result sets (F-73) ----------------------------------------------
    def summary(self) -> ReviewSummary:
        """The review's tabs, class-changed table and changes per kind."""
        return _review.summary(self._ws, self.dataset, self.name)

    def changes(self, **filters: Any) -> ChangesPage:
        """A page of label changes: ``status``, ``expert_class``, ``class_changed``,
        ``change``, ``min_area``, ``max_area``, ``min_adjustment``, ``max_adjustment``,
        ``group_by``, ``limit``, ``offset`` (see ``service.review.changes``)."""
        return _review.changes(self._ws, self.dataset, self.name, **filters)

    def accept(self, ids: Sequence[int] | None = None, **filters: Any) -> Decision:
        """Accept the changes ``ids``, or every change matching the filters (none: all);
        one change-set, undone by ``ds.undo(decision.change_set)``."""
        return _review.decide(self._ws, self.dataset, self.name, "accepted", ids=ids, **filters)

    def reject(self, ids: Sequence[int] | None = None, **filters: Any) -> Decision:
        """Reject changes, as :meth:`accept` chooses them."""
        return _review.decide(self._ws, self.dataset, self.name, "rejected", ids=ids, **filters)

    def pending(self, ids: Sequence[int] | None = None, **filters: Any) -> Decision:
        """Move changes back to pending, as :meth:`accept` chooses them."""
        return _review.decide(self._ws, self.dataset, self.name, "pending", ids=ids, **filters)

    def save_result_set(self, name: str, *, description: str = "") -> ResultSet:
        """Save the reviewed results as result set ``name`` (SQL view ``rs_<name>``)."""
        return _result_sets.save_result_set(self._ws, self.dataset, name, self.name, description)

    def delete(self) -> None:
        """Delete the job and its label changes (its labels stay)."""
        _jobs.delete_job(self._ws, self.dataset, self.name)


__all__ = ["LabelJob"]
