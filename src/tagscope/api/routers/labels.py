"""An item's labels: read them, and add, replace, change or delete ground-truth labels, each
write one change-set (undo it through the history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tagscope import domain
from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, Label
from tagscope.service import labels as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}", tags=["labels"])

_MAX_LABELS = 10_000  # labels of one item in a PUT


class StoredLabel(Label):
    """A label as the catalog stores it: with its id, class and provenance."""

    id: int | None
    class_id: int | None
    author: str | None
    created_at: datetime | None
    model: str | None
    area: float | None = Field(description="pixels; null for classifications and polylines")

    @classmethod
    def from_domain(cls, label: domain.Label) -> StoredLabel:
        return cls(
            **Label.from_domain(label).model_dump(),
            id=label.id,
            class_id=label.class_id,
            author=label.author,
            created_at=label.created_at,
            model=label.model,
            area=label.area,
        )


class NewLabel(BaseModel):
    kind: domain.LabelKind
    name: str = Field(max_length=uc.MAX_NAME)
    is_main: bool = Field(False, description="the item's main classification (single-label)")
    score: float | None = None
    geometry: dict[str, Any] | None = Field(
        None,
        description='{"bbox": [x, y, w, h]}, {"polygons": [[x0, y0, ...], ...]}, {"lines": '
        '[[x0, y0, ...], ...]} or {"rle": {"size": [h, w], "counts": ...}}, in pixels',
    )
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=200)

    def to_domain(self) -> domain.Label:
        return domain.Label(
            self.kind,
            self.name,
            is_main=self.is_main,
            score=self.score,
            geometry=self.geometry,
            attributes=self.attributes,
        )


class LabelList(BaseModel):
    labels: list[NewLabel] = Field(max_length=_MAX_LABELS)


class LabelChange(BaseModel):
    name: str | None = Field(None, max_length=uc.MAX_NAME)
    geometry: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = Field(None, max_length=200)
    is_main: bool | None = None


class ItemLabels(BaseModel):
    labels: list[StoredLabel]


class LabelEdit(BaseModel):
    change_set: int | None = Field(description="null when the edit changed nothing")
    labels: list[StoredLabel] = Field(description="every label of the item after the edit")


def _edit(edit: uc.LabelEdit) -> LabelEdit:
    return LabelEdit(
        change_set=edit.change_set, labels=[StoredLabel.from_domain(lab) for lab in edit.labels]
    )


@router.get("/items/{item_id}/labels", openapi_extra=needs(Action.READ))
def item_labels(name: str, item_id: Int64, ws: WorkspaceDep) -> ItemLabels:
    """Every label of the item (ground truth, predictions, prelabels) with its provenance."""
    return ItemLabels(
        labels=[StoredLabel.from_domain(lab) for lab in uc.item_labels(ws, name, item_id)]
    )


@router.post(
    "/items/{item_id}/labels", status_code=201, openapi_extra=needs(Action.LABELS_EDIT_ASSIGNED)
)
def add_label(name: str, item_id: Int64, body: NewLabel, ws: WorkspaceDep) -> LabelEdit:
    """Add one ground-truth label (geometry checked; a main classification takes the main flag
    off the item's others)."""
    return _edit(uc.add_label(ws, name, item_id, body.to_domain()))


@router.put("/items/{item_id}/labels", openapi_extra=needs(Action.LABELS_EDIT_ASSIGNED))
def set_labels(name: str, item_id: Int64, body: LabelList, ws: WorkspaceDep) -> LabelEdit:
    """Replace the item's ground-truth labels (predictions and prelabels stay)."""
    return _edit(uc.set_labels(ws, name, item_id, [lab.to_domain() for lab in body.labels]))


@router.patch("/labels/{label_id}", openapi_extra=needs(Action.LABELS_EDIT_ASSIGNED))
def update_label(name: str, label_id: Int64, body: LabelChange, ws: WorkspaceDep) -> LabelEdit:
    """Change a ground-truth label's name, geometry, attributes or main flag."""
    return _edit(
        uc.update_label(
            ws,
            name,
            label_id,
            name=body.name,
            geometry=body.geometry,
            attributes=body.attributes,
            is_main=body.is_main,
        )
    )


@router.delete("/labels/{label_id}", openapi_extra=needs(Action.LABELS_EDIT_ASSIGNED))
def delete_label(name: str, label_id: Int64, ws: WorkspaceDep) -> LabelEdit:
    """Delete a ground-truth label."""
    return _edit(uc.delete_label(ws, name, label_id))
