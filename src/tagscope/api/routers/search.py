"""Search (F-11, F-12, F-13): by text, by item, by uploaded image; near-duplicate pairs.

Every search runs in one embedding space of the dataset (``space``, default as the use cases
say) with the options ``k``, ``min_score`` and a label filter (``labels``, ``label_mode``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel, Field, model_validator

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Hit, Int64, PairHit
from tagscope.service import browse, defaults
from tagscope.service import search as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api", tags=["search"])

LabelMode = Literal["any", "all"]


class SearchRequest(BaseModel):
    text: str | None = Field(None, description="search by text (give this or item_id)")
    item_id: Int64 | None = Field(None, description="search by an item of the dataset")
    space: str | None = Field(None, description="embedding space (default: the use case's)")
    k: int = Field(defaults.SEARCH_K, ge=1, le=10_000)
    min_score: float | None = Field(None, ge=-1.0, le=1.0)
    labels: list[str] = Field(default_factory=list)
    label_mode: LabelMode = "any"

    @model_validator(mode="after")
    def _one_query(self) -> SearchRequest:
        if (self.text is None) == (self.item_id is None):
            raise ValueError("give exactly one of text and item_id")
        return self


def _options(space: str | None, k: int | None, min_score: float | None, labels, mode) -> dict:
    opts = {"k": k, "min_score": min_score, "labels": labels or None, "mode": mode}
    if space:
        opts["space"] = space
    return opts


@router.post("/datasets/{name}/search", openapi_extra=needs(Action.READ))
def search(name: str, body: SearchRequest, ws: WorkspaceDep) -> list[Hit]:
    """Items best matching a text, or most similar to an item of the dataset, best first."""
    opts = _options(body.space, body.k, body.min_score, body.labels, body.label_mode)
    if body.text is not None:
        hits = uc.search_text(ws, name, body.text, **opts)
    else:
        hits = uc.search_similar(ws, name, item_id=body.item_id, **opts)
    return [Hit.from_domain(h) for h in hits]


@router.post("/datasets/{name}/search/image", openapi_extra=needs(Action.READ))
def search_image(
    name: str,
    ws: WorkspaceDep,
    file: Annotated[UploadFile, File(description="an image (JPEG, PNG, ...)")],
    space: Annotated[str | None, Form()] = None,
    k: Annotated[int, Form(ge=1, le=10_000)] = 50,
    min_score: Annotated[float | None, Form(ge=-1.0, le=1.0)] = None,
    labels: Annotated[list[str] | None, Form()] = None,
    label_mode: Annotated[LabelMode, Form()] = "any",
) -> list[Hit]:
    """Items most similar to an uploaded image, best first."""
    data = file.file.read()  # at most the server's upload limit (api.guards)
    opts = _options(space, k, min_score, labels, label_mode)
    return [Hit.from_domain(h) for h in uc.search_similar(ws, name, image=data, **opts)]


@router.get("/items/{item_id}/similar", openapi_extra=needs(Action.READ))
def similar_items(
    item_id: Int64,
    ws: WorkspaceDep,
    space: str | None = None,
    k: Annotated[int, Query(ge=1, le=10_000)] = defaults.SIMILAR_K,
    min_score: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    labels: Annotated[list[str] | None, Query()] = None,
    label_mode: LabelMode = "any",
) -> list[Hit]:
    """The item's nearest neighbours in its dataset (the item itself left out)."""
    opts = _options(space, k, min_score, labels, label_mode)
    return [Hit.from_domain(h) for h in browse.similar_items(ws, item_id, **opts)]


@router.get("/datasets/{name}/duplicates", openapi_extra=needs(Action.READ))
def find_duplicates(
    name: str,
    ws: WorkspaceDep,
    space: str | None = None,
    k: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    min_score: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    labels: Annotated[list[str] | None, Query()] = None,
    label_mode: LabelMode = "any",
) -> list[PairHit]:
    """Near-duplicate pairs, best first (default space ``phash``, its default minimum score)."""
    opts = _options(space, k, min_score, labels, label_mode)
    return [PairHit.from_domain(p) for p in uc.find_duplicates(ws, name, **opts)]
