"""``/api/datasets/{name}/history``: the change log of people's edits, and undo."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64
from tagscope.domain.changes import ChangeSet as DomainChangeSet
from tagscope.service import history as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/history", tags=["history"])


class Change(BaseModel):
    item_id: int
    entity: str = Field(description="the kind of record: review, example, ...")
    key: str = Field(description="which of the item's records of that kind (e.g. a tag id)")
    before: dict[str, Any] | None = Field(description="null: the record did not exist")
    after: dict[str, Any] | None


class ChangeSet(BaseModel):
    id: int
    actor: str
    created_at: datetime
    action: str
    params: dict[str, Any]
    target: dict[str, Any]
    n_changes: int
    undoes: int | None = None
    undone_by: int | None = None
    changes: list[Change] = Field(default_factory=list, description="only on a single read")

    @classmethod
    def from_domain(cls, cs: DomainChangeSet) -> ChangeSet:
        return cls(
            id=cs.id,
            actor=cs.actor,
            created_at=cs.created_at,
            action=cs.action,
            params=cs.params,
            target=cs.target,
            n_changes=cs.n_changes,
            undoes=cs.undoes,
            undone_by=cs.undone_by,
            changes=[
                Change(
                    item_id=c.item_id, entity=c.entity, key=c.key, before=c.before, after=c.after
                )
                for c in cs.changes
            ],
        )


class UndoRequest(BaseModel):
    force: bool = Field(False, description="leave items changed since as they are, and say which")


class UndoResult(BaseModel):
    change_set: ChangeSet = Field(description="the compensating change-set")
    n_restored: int
    skipped: list[int] = Field(description="items changed since, left as they are (force)")


class UndoUserRequest(BaseModel):
    actor: str = Field(min_length=1, max_length=128, description="whose change-sets to undo")
    since: datetime = Field(description="ISO 8601; those made at or after it (no offset: UTC)")
    force: bool = Field(False, description="leave items changed since by others as they are")
    dry_run: bool = Field(False, description="only say which change-sets it would undo")


class UndoUserResult(BaseModel):
    undone: list[int] = Field(description="the change-sets undone (to undo), newest first")
    change_sets: list[int] = Field(description="the compensating change-set of each")
    n_restored: int = Field(description="records put back (on a dry run: at most)")
    skipped: list[int] = Field(description="items changed since, left as they are (force)")
    dry_run: bool = False


@router.get("", openapi_extra=needs(Action.READ))
def list_history(
    name: str,
    ws: WorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=uc.MAX_HISTORY)] = 100,
    actor: Annotated[str | None, Query(description="only this user's change-sets")] = None,
    since: Annotated[
        datetime | None, Query(description="only those made at or after it (ISO 8601)")
    ] = None,
) -> list[ChangeSet]:
    """The dataset's change-sets, newest first."""
    found = uc.history(ws, name, limit=limit, actor=actor or None, since=since)
    return [ChangeSet.from_domain(cs) for cs in found]


@router.get("/actors", openapi_extra=needs(Action.READ))
def list_actors(name: str, ws: WorkspaceDep) -> list[str]:
    """Who made the dataset's change-sets, sorted (the History page's user filter)."""
    return uc.actors(ws, name)


@router.post("/undo-user", openapi_extra=needs(Action.HISTORY_UNDO_USER))
def undo_user(name: str, body: UndoUserRequest, ws: WorkspaceDep) -> UndoUserResult:
    """Undo all of one user's change-sets since a time, newest first, in one transaction (an
    admin's); 409 naming the items and change-sets changed since by others, and undoing
    nothing, unless ``force``."""
    if body.dry_run:
        plan = uc.undo_user_plan(ws, name, body.actor, body.since)
        return UndoUserResult(
            undone=[cs.id for cs in plan],
            change_sets=[],
            n_restored=sum(cs.n_changes for cs in plan),
            skipped=[],
            dry_run=True,
        )
    result = uc.undo_user(ws, name, body.actor, body.since, force=body.force)
    return UndoUserResult(
        undone=list(result.undone),
        change_sets=list(result.change_sets),
        n_restored=result.n_restored,
        skipped=list(result.skipped),
    )


@router.get("/{change_id}", openapi_extra=needs(Action.READ))
def get_change_set(name: str, change_id: Int64, ws: WorkspaceDep) -> ChangeSet:
    """One change-set with each item's record before and after."""
    return ChangeSet.from_domain(uc.get_change_set(ws, name, change_id))


@router.post("/{change_id}/undo", openapi_extra=needs(Action.HISTORY_UNDO))
def undo(name: str, change_id: Int64, body: UndoRequest, ws: WorkspaceDep) -> UndoResult:
    """Write the change-set that undoes ``change_id``; 409 naming the items changed since,
    unless ``force``."""
    result = uc.undo(ws, name, change_id, force=body.force)
    return UndoResult(
        change_set=ChangeSet.from_domain(result.change_set),
        n_restored=result.n_restored,
        skipped=list(result.skipped),
    )
