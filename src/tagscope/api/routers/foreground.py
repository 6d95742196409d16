"""``/api/datasets/{name}/items/{item_id}/foreground``: GrabCut's mask of the object in a
rectangle, refined by strokes (it computes; saving the label is the label routes' work)."""

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


class ForegroundRequest(BaseModel):
    rect: list[float] = Field(description="[x, y, width, height] in image pixels")
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
    """The mask of the object in ``rect`` (GrabCut), with the strokes as sure foreground and
    background and ``mask`` as the starting guess; 422 names the input at fault."""
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
    )
    return ForegroundResult(mask=found.mask, area=found.area, polygons=found.polygons)
