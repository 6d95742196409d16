"""``/api/datasets/{name}/collections``: static and dynamic collections of a dataset (F-52)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64
from tagscope.domain.collections import MAX_TITLE
from tagscope.domain.collections import Collection as DomainCollection
from tagscope.service import collections as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/collections", tags=["collections"])
ItemIds = Annotated[list[Int64], Field(max_length=uc.MAX_ITEMS)]


class Collection(BaseModel):
    id: int
    title: str
    description: str
    kind: str = Field(description="static (a list of items) or dynamic (a saved grid filter)")
    filter: str | None = Field(description="a dynamic collection's grid filter")
    created_at: datetime
    n_items: int | None = Field(description="null: a dynamic collection not evaluated (lists)")

    @classmethod
    def from_domain(cls, c: DomainCollection) -> Collection:
        return cls(
            id=c.id,
            title=c.title,
            description=c.description,
            kind=str(c.kind),
            filter=c.filter,
            created_at=c.created_at,
            n_items=c.n_items,
        )


class CollectionDetail(Collection):
    item_ids: list[int] = Field(description="its items, ascending (a dynamic one evaluated now)")


class NewCollection(BaseModel):
    title: str = Field(max_length=MAX_TITLE)
    description: str = Field("", max_length=10_000)
    where: str | None = Field(None, description="a grid filter: a dynamic collection")
    item_ids: ItemIds | None = Field(None, description="item ids: a static collection")


class Items(BaseModel):
    item_ids: ItemIds


@router.get("", openapi_extra=needs(Action.READ))
def list_collections(name: str, ws: WorkspaceDep) -> list[Collection]:
    """The dataset's collections by title (dynamic ones not evaluated: ``n_items`` null)."""
    return [Collection.from_domain(c) for c in uc.list_collections(ws, name)]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.COLLECTIONS_EDIT))
def create_collection(name: str, body: NewCollection, ws: WorkspaceDep) -> Collection:
    """Create a collection from a filter (``where``) or items (``item_ids``); 409: the title
    is taken, 422: ids not of the dataset (named) or a filter that cannot run (its reason)."""
    made = uc.create_collection(
        ws,
        name,
        body.title,
        where=body.where,
        item_ids=body.item_ids,
        description=body.description,
    )
    return Collection.from_domain(made)


@router.get("/{title}", openapi_extra=needs(Action.READ))
def get_collection(name: str, title: str, ws: WorkspaceDep) -> CollectionDetail:
    """The collection with its item ids (a dynamic one evaluated now)."""
    ids = uc.collection_item_ids(ws, name, title)
    found = Collection.from_domain(uc.get_collection(ws, name, title))
    return CollectionDetail(**{**found.model_dump(), "n_items": len(ids)}, item_ids=ids)


@router.post("/{title}/items", openapi_extra=needs(Action.COLLECTIONS_EDIT))
def add_items(name: str, title: str, body: Items, ws: WorkspaceDep) -> Collection:
    """Add items to a static collection."""
    return Collection.from_domain(uc.add_items(ws, name, title, body.item_ids))


@router.post("/{title}/items/remove", openapi_extra=needs(Action.COLLECTIONS_EDIT))
def remove_items(name: str, title: str, body: Items, ws: WorkspaceDep) -> Collection:
    """Remove items from a static collection."""
    return Collection.from_domain(uc.remove_items(ws, name, title, body.item_ids))


@router.post("/{title}/freeze", openapi_extra=needs(Action.COLLECTIONS_EDIT))
def freeze(name: str, title: str, ws: WorkspaceDep) -> Collection:
    """Turn a dynamic collection into a static one of the items its filter matches now."""
    return Collection.from_domain(uc.freeze(ws, name, title))


@router.delete(
    "/{title}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=needs(Action.COLLECTIONS_EDIT)
)
def delete_collection(name: str, title: str, ws: WorkspaceDep) -> Response:
    """Delete a collection (undoable from the history)."""
    uc.delete_collection(ws, name, title)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
