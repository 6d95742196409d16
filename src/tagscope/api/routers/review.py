"""``/api/datasets/{name}/label-jobs/{job}/review``: the review of a submitted label job (F-72)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, item_thumbnail_url
from tagscope.domain.review import ReviewChange
from tagscope.service import review as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/label-jobs/{job}/review", tags=["review"])
Status = Literal["pending", "accepted", "rejected"]
Kind = Literal["unchanged", "class_changed", "geometry_changed", "added", "deleted"]
MAX_IDS = 100_000


class Cell(BaseModel):
    """A row of the class-changed table: counts per status."""

    expert_class: str | None = Field(description="null: prelabels the expert deleted")
    class_changed: bool
    pending: int
    accepted: int
    rejected: int


class Summary(BaseModel):
    tabs: dict[str, int] = Field(description="changes per status")
    table: list[Cell]
    changes: dict[str, int] = Field(description="changes per kind")


class Change(BaseModel):
    id: int
    item_id: int
    path: str
    thumbnail: str
    width: int | None
    height: int | None
    change: str
    label_kind: str
    expert_class: str | None
    prelabel_class: str | None
    iou: float | None
    expert_area: float | None
    prelabel_area: float | None
    adjustment: float | None = Field(description="expert area / prelabel area")
    status: str
    expert: dict[str, Any] | None = Field(description="the expert's label (null: deleted)")
    prelabel: dict[str, Any] | None = Field(description="the prelabel (null: added)")

    @classmethod
    def from_domain(cls, c: ReviewChange) -> Change:
        return cls(
            id=c.id,
            item_id=c.item_id,
            path=c.path,
            thumbnail=item_thumbnail_url(c.item_id),
            width=c.width,
            height=c.height,
            change=c.change,
            label_kind=c.label_kind,
            expert_class=c.expert_class,
            prelabel_class=c.prelabel_class,
            iou=c.iou,
            expert_area=c.expert_area,
            prelabel_area=c.prelabel_area,
            adjustment=c.adjustment,
            status=c.status,
            expert=c.expert,
            prelabel=c.prelabel,
        )


class ChangesPage(BaseModel):
    total: int = Field(description="changes matching the filters")
    changes: list[Change]


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    expert_class: str | None = None
    class_changed: bool | None = None
    change: Kind | None = None
    min_area: float | None = None
    max_area: float | None = None
    min_adjustment: float | None = None
    max_adjustment: float | None = None


class DecideBody(Filters):
    decision: Status
    ids: Annotated[list[Int64], Field(max_length=MAX_IDS)] | None = Field(
        None, description="change ids; null: every change matching the filters"
    )


class Decided(BaseModel):
    change_set: int | None = Field(description="null: nothing changed")
    n_changed: int


def _blank(value: str | None) -> str | None:
    """An empty query value (``expert_class=``) filters nothing."""
    return value or None


@router.get("/summary", openapi_extra=needs(Action.READ))
def summary(name: str, job: str, ws: WorkspaceDep) -> Summary:
    """The tabs, the class-changed table and the changes per kind."""
    s = uc.summary(ws, name, job)
    table = [
        Cell(
            expert_class=r.expert_class,
            class_changed=r.class_changed,
            pending=r.pending,
            accepted=r.accepted,
            rejected=r.rejected,
        )
        for r in s.table
    ]
    return Summary(tabs=s.tabs, table=table, changes=s.changes)


@router.get("/changes", openapi_extra=needs(Action.READ))
def changes(
    name: str,
    job: str,
    ws: WorkspaceDep,
    status: str | None = None,
    expert_class: str | None = None,
    class_changed: bool | None = None,
    change: str | None = None,
    min_area: float | None = None,
    max_area: float | None = None,
    min_adjustment: float | None = None,
    max_adjustment: float | None = None,
    group_by: Annotated[str | None, Query(description="class or class_changed")] = None,
    limit: Annotated[int, Query(ge=1, le=uc.MAX_PAGE)] = 100,
    offset: Annotated[Int64, Query(ge=0)] = 0,
) -> ChangesPage:
    """A page of the job's changes matching the filters (the deleted prelabels' cell, whose
    expert class is null: ``change=deleted``)."""
    page = uc.changes(
        ws,
        name,
        job,
        status=_blank(status),
        expert_class=_blank(expert_class),
        class_changed=class_changed,
        change=_blank(change),
        min_area=min_area,
        max_area=max_area,
        min_adjustment=min_adjustment,
        max_adjustment=max_adjustment,
        group_by=_blank(group_by),
        limit=limit,
        offset=offset,
    )
    return ChangesPage(total=page.total, changes=[Change.from_domain(c) for c in page.changes])


@router.post("/decide", openapi_extra=needs(Action.REVIEW_DECIDE))
def decide(name: str, job: str, body: DecideBody, ws: WorkspaceDep) -> Decided:
    """Accept, reject or move back to pending the changes ``ids``, or every change matching
    the filters (a cell of the class-changed table): one change-set, undoable."""
    filters = body.model_dump(exclude={"decision", "ids"}, exclude_none=True)
    if "expert_class" in filters:
        filters["expert_class"] = _blank(filters["expert_class"])
    done = uc.decide(ws, name, job, body.decision, ids=body.ids, **filters)
    return Decided(change_set=done.change_set, n_changed=done.n_changed)
