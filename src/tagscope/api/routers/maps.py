"""``/api/datasets/{name}/maps``: embedding maps (F-14): compute, list, coordinates, colours."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, Job
from tagscope.service import embedding_map as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/maps", tags=["maps"])


class MapRequest(BaseModel):
    space: str = Field(description="the embedding space to map")
    sample: int | None = Field(
        None, ge=2, le=uc.MAX_SAMPLE, description="items UMAP is fitted on (default 50,000)"
    )
    n_neighbors: int | None = Field(None, ge=2, le=200, description="UMAP's (default 15)")
    min_dist: float | None = Field(None, ge=0.0, le=1.0, description="UMAP's (default 0.1)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="default 0")
    refit: bool = Field(False, description="fit again: every item moves")


class MapSummary(BaseModel):
    space: str
    n_points: int = Field(description="items on the map")
    n_items: int = Field(description="items with a vector in the space")
    stale: bool = Field(description="some items with a vector are not on the map yet")
    created_at: str
    params: dict[str, Any]


class MapPoints(BaseModel):
    space: str
    n: int
    ids: list[Int64]
    x: list[float]
    y: list[float]
    bounds: list[float] = Field(description="[xmin, ymin, xmax, ymax]")


class MapColors(BaseModel):
    by: str
    kind: Literal["category", "number"]
    values: list[Any] = Field(description="one per point, aligned with the map's ids; null: none")
    categories: list[str] | None = Field(None, description="kind category: values index it")


@router.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Action.DATASET_EDIT))
def compute_map(name: str, body: MapRequest, ws: WorkspaceDep) -> Job:
    """Start computing the map (or placing the items added since); poll ``/api/jobs/{id}``."""
    options = body.model_dump(exclude={"space"})
    return Job.from_domain(uc.start_map(ws, name, body.space, **options))


@router.get("", openapi_extra=needs(Action.READ))
def list_maps(name: str, ws: WorkspaceDep) -> list[MapSummary]:
    return [MapSummary.model_validate(m, from_attributes=True) for m in uc.list_maps(ws, name)]


@router.get("/{space}", response_model=MapPoints, openapi_extra=needs(Action.READ))
def get_map(name: str, space: str, ws: WorkspaceDep) -> Response:
    """Every point of the map (100,000 points: ~3 MB of JSON, encoded from the arrays)."""
    m = uc.get_map(ws, name, space)
    body = {
        "space": m.space,
        "n": len(m.ids),
        "ids": m.ids,
        "x": m.xy[:, 0].copy(),
        "y": m.xy[:, 1].copy(),
        "bounds": np.asarray(m.bounds, np.float32),  # as the coordinates: float32's digits
    }
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


@router.get("/{space}/colors", openapi_extra=needs(Action.READ))
def map_colors(
    name: str,
    space: str,
    ws: WorkspaceDep,
    by: Annotated[Literal["label", "tag", "field"], Query(description="what colours the points")],
    group: Annotated[str | None, Query(description="by=tag: the tag group")] = None,
    tag: Annotated[str | None, Query(description="by=tag: the tag")] = None,
    field: Annotated[str | None, Query(description="by=field: an item column or metadata")] = None,
) -> MapColors:
    colors = uc.map_colors(ws, name, space, by=by, group=group, tag=tag, field=field)
    return MapColors.model_validate(colors, from_attributes=True)
