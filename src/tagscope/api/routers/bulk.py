"""``/api/datasets/{name}/bulk-classify``: one classification on a collection or a selection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64
from tagscope.domain import ValidationError
from tagscope.service import bulk as uc
from tagscope.service.collections import MAX_ITEMS
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/bulk-classify", tags=["bulk"])


class BulkClassify(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    label: str | None = Field(None, max_length=uc.MAX_NAME, description="the class's name")
    class_: str | None = Field(
        None, alias="class", max_length=uc.MAX_NAME, description="the class (alias of label)"
    )
    answers: dict[str, Any] = Field(
        default_factory=dict,
        max_length=200,
        description="{question: value}: a radio's option, a checklist's list of options, text",
    )
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


@router.post("", openapi_extra=needs(Action.LABELS_BULK))
def bulk_classify(name: str, body: BulkClassify, ws: WorkspaceDep) -> BulkResult:
    """Classify every item of the collection (or of ``item_ids``) as the class (created in the
    ontology when missing) with the ``answers`` (checked against its questions), one change-set
    (undo it through the history); items classified already are skipped unless ``overwrite``."""
    if (body.label is None) == (body.class_ is None):
        raise ValidationError("give the class as either class or label", field="class")
    result = uc.bulk_classify(
        ws,
        name,
        collection=body.collection,
        item_ids=body.item_ids,
        label=body.label or body.class_ or "",
        answers=body.answers,
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
