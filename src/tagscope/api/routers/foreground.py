"""``/api/datasets/{name}/items/{item_id}/foreground``: GrabCut's mask of the object in a
rectangle, refined by strokes, or Segment Anything's for clicks (it computes; saving the label is
the label routes' work)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64
from tagscope.service import foreground as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/items/{item_id}", tags=["labels"])

Stroke = Annotated[list[float], Field(min_length=2, max_length=20_000)]
Point = Annotated[list[float], Field(min_length=2, max_length=2)]


class ForegroundRequest(BaseModel):
    rect: list[float] | None = Field(
        None, description="[x, y, width, height] in image pixels (GrabCut needs it; SAM's box)"
    )
    foreground: Annotated[list[Stroke], Field(max_length=uc.MAX_STROKES)] = Field(
        default_factory=list, description="foreground strokes: flat polylines [x0, y0, x1, ...]"
    )
    background: Annotated[list[Stroke], Field(max_length=uc.MAX_STROKES)] = Field(
        default_factory=list, description="background strokes, the same form"
    )
    brush: float = Field(8, description="the strokes' width in image pixels")
    iterations: int = Field(5, description="GrabCut's iterations (1..20)")
    mask: dict[str, Any] | None = Field(
        None, description="the previous result {size: [h, w], counts}, to refine"
    )
    output: Literal["mask", "polygon"] = Field("mask", description="polygon: polygons too")
    points: Annotated[list[Point], Field(max_length=uc.MAX_STROKES)] = Field(
        default_factory=list, description="clicks [[x, y], ...] in image pixels"
    )
    point_labels: Annotated[list[int], Field(max_length=uc.MAX_STROKES)] = Field(
        default_factory=list, description="one per point: 1 foreground, 0 background"
    )
    method: Literal["grabcut", "sam"] = Field(
        "grabcut", description="sam: a Segment Anything model (TAGSCOPE_SAM_DIR) takes the clicks"
    )


class ForegroundResult(BaseModel):
    mask: dict[str, Any] = Field(description="COCO compressed RLE {size: [h, w], counts}")
    area: int = Field(description="foreground pixels")
    polygons: list[list[list[float]]] | None = Field(
        None, description="with output=polygon: [[ring, hole, ...], ...], rings [x0, y0, ...]"
    )


@router.post("/foreground", openapi_extra=needs(Action.READ))
def extract_foreground(
    name: str, item_id: Int64, body: ForegroundRequest, ws: WorkspaceDep
) -> ForegroundResult:
    """The mask of the object in ``rect`` (GrabCut), with the strokes and clicks as sure
    foreground and background and ``mask`` as the starting guess; or, with ``method=sam``, the
    mask Segment Anything gives the clicks (and ``rect`` as a box). 422 names the input at fault;
    503 when no Segment Anything model was provided, saying how to provide one."""
    found = uc.extract_foreground(
        ws,
        name,
        item_id,
        rect=body.rect,
        foreground=body.foreground,
        background=body.background,
        brush=body.brush,
        iterations=body.iterations,
        mask=body.mask,
        output=body.output,
        points=body.points,
        point_labels=body.point_labels,
        method=body.method,
    )
    return ForegroundResult(mask=found.mask, area=found.area, polygons=found.polygons)
