"""``/api/datasets/{name}/label-jobs``: auto and manual label jobs, their items, submission."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, item_thumbnail_url
from tagscope.domain.collections import MAX_TITLE
from tagscope.domain.label_jobs import MAX_NAME
from tagscope.domain.label_jobs import LabelJob as DomainJob
from tagscope.labels.matching import DEFAULT_IOU
from tagscope.service import label_jobs as uc
from tagscope.service.collections import MAX_ITEMS
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/label-jobs", tags=["label-jobs"])


class LabelJob(BaseModel):
    id: int
    name: str
    kind: str = Field(description="auto (prelabels written) or manual (labelled by people)")
    status: str = Field(description="auto: done; manual: open -> submitted -> closed")
    collection: str | None
    params: dict[str, Any] = Field(
        description="auto: tag, group, threshold or source_labels, model; change_set (undo it "
        "to remove the prelabels); manual: iou once submitted"
    )
    assignees: list[str]
    created_by: str
    created_at: datetime
    submitted_at: datetime | None
    n_items: int
    n_done: int = Field(description="items marked done")
    changes: dict[str, int] = Field(description="label changes per kind, once submitted")

    @classmethod
    def from_domain(cls, j: DomainJob) -> LabelJob:
        return cls(
            id=j.id,
            name=j.name,
            kind=str(j.kind),
            status=str(j.status),
            collection=j.collection,
            params=j.params,
            assignees=list(j.assignees),
            created_by=j.created_by,
            created_at=j.created_at,
            submitted_at=j.submitted_at,
            n_items=j.n_items,
            n_done=j.n_done,
            changes=j.changes,
        )


class NewLabelJob(BaseModel):
    name: str = Field(max_length=MAX_NAME)
    kind: Literal["auto", "manual"]
    collection: str = Field(max_length=MAX_TITLE, description="a collection's title")
    assignees: Annotated[list[str], Field(max_length=1000)] = Field(
        default_factory=list, description="manual: user ids the items are given to in turn"
    )
    tag: str | None = Field(None, description="auto: pre-label from this tag's decisions")
    group: str | None = Field(None, description="auto: the tag's group")
    threshold: float | None = Field(None, description="auto: instead of the tag's threshold")
    source_labels: Literal["prediction"] | None = Field(
        None, description="auto: copy the items' prediction labels instead"
    )
    model: str | None = Field(None, description="auto: only the predictions of this model")


class JobItem(BaseModel):
    item_id: int
    path: str
    thumbnail_url: str
    assignee: str | None
    done_at: datetime | None
    prelabels: list[dict[str, Any]]
    expert: list[dict[str, Any]] = Field(description="the ground-truth labels as they are now")


class Done(BaseModel):
    item_ids: Annotated[list[Int64], Field(max_length=MAX_ITEMS)]
    done: bool = Field(True, description="false: mark them not done")


class Submit(BaseModel):
    iou: float = Field(DEFAULT_IOU, description="the least IoU of a matched pair, in (0, 1]")


@router.get("", openapi_extra=needs(Action.READ))
def list_jobs(name: str, ws: WorkspaceDep) -> list[LabelJob]:
    """The dataset's label jobs, newest first, with their counts."""
    return [LabelJob.from_domain(j) for j in uc.list_jobs(ws, name)]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.LABEL_JOBS_MANAGE))
def create_job(name: str, body: NewLabelJob, ws: WorkspaceDep) -> LabelJob:
    """An auto job (pre-labels the collection now: one change-set) or a manual one; 409: the
    name is taken, 404: no such collection, group or tag, 422: bad or missing input."""
    if body.kind == "manual":
        made = uc.create_manual_job(ws, name, body.name, body.collection, body.assignees)
    else:
        made = uc.create_auto_job(
            ws,
            name,
            body.name,
            body.collection,
            tag=body.tag,
            group=body.group,
            threshold=body.threshold,
            source_labels=body.source_labels,
            model=body.model,
        )
    return LabelJob.from_domain(made)


@router.get("/{job}", openapi_extra=needs(Action.READ))
def get_job(name: str, job: str, ws: WorkspaceDep) -> LabelJob:
    """The job with its counts: items, items done, label changes per kind."""
    return LabelJob.from_domain(uc.get_job(ws, name, job))


@router.get("/{job}/items", openapi_extra=needs(Action.READ))
def job_items(name: str, job: str, ws: WorkspaceDep, assignee: str | None = None) -> list[JobItem]:
    """The job's items (of ``assignee``), each with its prelabels and expert labels."""
    return [
        JobItem(
            item_id=i.item_id,
            path=i.path,
            thumbnail_url=item_thumbnail_url(i.item_id),
            assignee=i.assignee,
            done_at=i.done_at,
            prelabels=i.prelabels,
            expert=i.expert,
        )
        for i in uc.job_items(ws, name, job, assignee)
    ]


@router.post("/{job}/done", openapi_extra=needs(Action.LABELS_EDIT_ASSIGNED))
def mark_done(name: str, job: str, body: Done, ws: WorkspaceDep) -> dict[str, int]:
    """Mark items of an open manual job done (or not): ``{"n": items changed}``."""
    return {"n": uc.mark_done(ws, name, job, body.item_ids, done=body.done)}


@router.post("/{job}/submit", openapi_extra=needs(Action.LABEL_JOBS_MANAGE))
def submit_job(name: str, job: str, ws: WorkspaceDep, body: Submit | None = None) -> LabelJob:
    """Submit an open manual job: match expert labels to prelabels into label changes (pending
    review); 422: submitted already, an auto job, or ``iou`` outside (0, 1]."""
    return LabelJob.from_domain(uc.submit_job(ws, name, job, (body or Submit()).iou))


@router.delete(
    "/{job}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=needs(Action.LABEL_JOBS_MANAGE)
)
def delete_job(name: str, job: str, ws: WorkspaceDep) -> Response:
    """Delete the job, its items and its label changes (the labels stay)."""
    uc.delete_job(ws, name, job)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
