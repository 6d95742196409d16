"""``/api/datasets/{name}/items`` (the grid) and ``/api/items/{item_id}`` (the detail view)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, Item, Label
from tagscope.service import browse, collections
from tagscope.service.policy import Action

router = APIRouter(prefix="/api", tags=["items"])


class TagScore(BaseModel):
    """A tag's score of the item and the server's decision at the tag's current threshold."""

    group: str
    tag: str
    score: float
    threshold: float
    decision: bool = Field(description="score >= threshold, as the SQL views decide")
    column: str = Field(description="its column in SQL filters: tags_<group>.<column>")

    @classmethod
    def from_domain(cls, t: browse.TagScore) -> TagScore:
        return cls(
            group=t.group,
            tag=t.tag,
            score=t.score,
            threshold=t.threshold,
            decision=t.decision,
            column=t.column,
        )


class GridItem(Item):
    labels: list[str] = Field(description="distinct label names (chips)")
    scores: dict[str, float] = Field(description='tag scores keyed "group/tag"')
    tags: list[str] = Field(description='"group/tag" of the tags at or above their threshold')
    tag_scores: list[TagScore] = Field(description="every tag score with its decision")
    collections: list[str] = Field(description="titles of the static collections it is in")


class GridPage(BaseModel):
    items: list[GridItem]
    total: int = Field(description="items in the dataset matching the filter")
    next_cursor: str | None = Field(description="pass as cursor to get the next page")


class ItemDetail(BaseModel):
    item: Item
    dataset: str
    labels: list[Label]
    scores: dict[str, float] = Field(description='every tag score keyed "group/tag"')
    tags: list[str] = Field(description='"group/tag" of the tags at or above their threshold')
    tag_scores: list[TagScore] = Field(description="every tag score with its decision")


@router.get("/datasets/{name}/items", openapi_extra=needs(Action.READ))
def list_items(
    name: str,
    ws: WorkspaceDep,
    where: Annotated[
        str | None, Query(description="SQL filter over items, labels and tag scores (F-42)")
    ] = None,
    sort: Annotated[
        str, Query(description=", ".join(browse.SORT_KEYS) + " or a tag score tags_<group>.<tag>")
    ] = "id",
    order: Literal["asc", "desc"] = "asc",
    limit: Annotated[int, Query(ge=1, le=browse.MAX_PAGE)] = 100,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    collection: Annotated[
        str | None, Query(description="only the items of this collection (its title)")
    ] = None,
) -> GridPage:
    if collection is not None:
        where = collections.grid_filter(ws, name, collection, where)
    page = browse.list_items(
        ws,
        name,
        where=where,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
        cursor=cursor,
    )
    return GridPage(
        items=[
            GridItem(
                **Item.from_domain(c.item).model_dump(),
                labels=c.labels,
                scores=c.scores,
                tags=c.tags,
                tag_scores=[TagScore.from_domain(t) for t in c.tag_scores],
                collections=c.collections,
            )
            for c in page.items
        ],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get("/items/{item_id}", openapi_extra=needs(Action.READ))
def get_item(item_id: Int64, ws: WorkspaceDep) -> ItemDetail:
    detail = browse.get_item(ws, item_id)
    return ItemDetail(
        item=Item.from_domain(detail.item),
        dataset=detail.dataset,
        labels=[Label.from_domain(lab) for lab in detail.labels],
        scores=detail.scores,
        tags=detail.tags,
        tag_scores=[TagScore.from_domain(t) for t in detail.tag_scores],
    )
