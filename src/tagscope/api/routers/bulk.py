"""``/api/datasets/{name}/bulk-classify``: one classification on a collection or a selection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep
from tagscope.api.schemas import Int64
from tagscope.service import bulk as uc
from tagscope.service.collections import MAX_ITEMS

router = APIRouter(prefix="/api/datasets/{name}/bulk-classify", tags=["bulk"])


class BulkClassify(BaseModel):
    label: str = Field(max_length=uc.MAX_NAME, description="the class: a label name")
    collection: str | None = Field(None, description="a collection's title")
    item_ids: Annotated[list[Int64], Field(max_length=MAX_ITEMS)] | None = Field(
        None, description="a selection of items instead of a collection"
    )
    overwrite: bool = Field(False, description="replace the classification of items that have one")
    dry_run: bool = Field(False, description="only count; change nothing")


class BulkResult(BaseModel):
    n_changed: int
    n_skipped: int
    skipped: dict[str, int] = Field(description="reason -> number of items skipped")
    change_set: int | None = Field(description="null on a dry run or when nothing changed")
    dry_run: bool


@router.post("")
def bulk_classify(name: str, body: BulkClassify, ws: WorkspaceDep) -> BulkResult:
    """Classify every item of the collection (or of ``item_ids``) as ``label``, one change-set
    (undo it through the history); items classified already are skipped unless ``overwrite``."""
    result = uc.bulk_classify(
        ws,
        name,
        collection=body.collection,
        item_ids=body.item_ids,
        label=body.label,
        overwrite=body.overwrite,
        dry_run=body.dry_run,
    )
    return BulkResult(
        n_changed=result.n_changed,
        n_skipped=result.n_skipped,
        skipped=result.skipped,
        change_set=result.change_set,
        dry_run=result.dry_run,
    )
