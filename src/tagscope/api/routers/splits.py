"""``/api/datasets/{name}/split``: put a selection of items in the train, validation or test
split (the validation set, F-62), one change-set (undo it through the history)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64
from tagscope.service import splits as uc
from tagscope.service.collections import MAX_ITEMS
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/split", tags=["labels"])


class SetSplit(BaseModel):
    item_ids: Annotated[list[Int64], Field(max_length=MAX_ITEMS)] | None = Field(
        None, description="the items (or give a collection)"
    )
    collection: str | None = Field(None, description="a collection's title instead of item_ids")
    split: Literal["train", "validation", "test"] | None = Field(
        description="the split; null clears it"
    )


class SplitResult(BaseModel):
    change_set: int | None = Field(description="null when nothing changed")
    n_changed: int


@router.post("", openapi_extra=needs(Action.LABELS_EDIT))
def set_split(name: str, body: SetSplit, ws: WorkspaceDep) -> SplitResult:
    """Set the items' split; items already in it stay as they are."""
    result = uc.set_split(ws, name, body.item_ids, body.split, collection=body.collection)
    return SplitResult(change_set=result.change_set, n_changed=result.n_changed)
