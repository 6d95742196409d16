"""Response and request bodies shared by the routers (they give the OpenAPI schema its types).

Each ``from_domain`` maps a plain domain record to its JSON shape; URLs of media are built here,
from item ids only, so a client never sends a file path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import BaseModel, Field

from tagscope import domain

Int64 = Annotated[int, Interval(ge=-(2**63), le=2**63 - 1)]
"""An integer the catalog and DuckDB can hold: every id, offset and count a client sends is one
(a larger one is refused with ``422`` instead of overflowing in the database)."""


def thumbnail_url(item: domain.Item) -> str:
    """The item's thumbnail URL, versioned by its content (cacheable for good)."""
    version = item.media.content_hash[:16] if item.media else "0"
    return f"{item_thumbnail_url(item.id)}?v={version}"


def item_thumbnail_url(item_id: int) -> str:
    """The thumbnail URL of an item known by id only (search hits, scored items, reviews)."""
    return f"/api/items/{item_id}/thumbnail"


def media_url(item: domain.Item) -> str:
    version = item.media.content_hash[:16] if item.media else "0"
    return f"/api/items/{item.id}/media?v={version}"


class Error(BaseModel):
    status: int
    message: str
    field: str | None = None


class Dataset(BaseModel):
    id: int
    name: str
    description: str
    created_at: datetime
    n_items: int

    @classmethod
    def from_domain(cls, ds: domain.Dataset) -> Dataset:
        return cls(
            id=ds.id,
            name=ds.name,
            description=ds.description,
            created_at=ds.created_at,
            n_items=ds.n_items,
        )


class Space(BaseModel):
    name: str
    kind: str
    model: str
    dim: int
    n_vectors: int
    semantic: bool = Field(True, description="compares what pictures show (not phash)")


class DatasetInfo(Dataset):
    labels: dict[str, int] = Field(
        description="label name -> number of items carrying it (of those matching `where`)"
    )
    spaces: list[Space]
    default_space: str | None = Field(None, description="the first semantic space, else any")


class Media(BaseModel):
    size: int
    width: int
    height: int
    format: str
    content_hash: str


class Item(BaseModel):
    id: int
    dataset_id: int
    path: str
    name: str = Field(description="file name of the item's media")
    modality: str
    media: Media | None
    text: str | None
    split: str | None
    metadata: dict[str, Any]
    thumbnail_url: str
    media_url: str

    @classmethod
    def from_domain(cls, item: domain.Item) -> Item:
        media = None
        if item.media is not None:
            m = item.media
            media = Media(
                size=m.size,
                width=m.width,
                height=m.height,
                format=m.format,
                content_hash=m.content_hash,
            )
        return cls(
            id=item.id,
            dataset_id=item.dataset_id,
            path=item.path,
            name=item.path.replace("\\", "/").rsplit("/", 1)[-1],
            modality=str(item.modality),
            media=media,
            text=item.text,
            split=item.split,
            metadata=item.metadata,
            thumbnail_url=thumbnail_url(item),
            media_url=media_url(item),
        )


class Label(BaseModel):
    kind: str
    name: str
    source: str
    is_main: bool
    score: float | None
    geometry: dict[str, Any] | None
    attributes: dict[str, Any]

    @classmethod
    def from_domain(cls, label: domain.Label) -> Label:
        return cls(
            kind=str(label.kind),
            name=label.name,
            source=str(label.source),
            is_main=label.is_main,
            score=label.score,
            geometry=label.geometry,
            attributes=label.attributes,
        )


class Job(BaseModel):
    id: int
    kind: str
    status: str = Field(description="queued | running | done | error")
    dataset_id: int | None
    n_done: int
    n_total: int
    progress: float = Field(description="n_done / n_total, 0..1")
    params: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_domain(cls, job: domain.Job) -> Job:
        return cls(
            id=job.id,
            kind=job.kind,
            status=str(job.status),
            dataset_id=job.dataset_id,
            n_done=job.n_done,
            n_total=job.n_total,
            progress=job.progress,
            params=job.params,
            result=job.result,
            error=job.error,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )


class Hit(BaseModel):
    item_id: int
    path: str
    score: float
    thumbnail_url: str
    media_url: str

    @classmethod
    def from_domain(cls, hit: domain.Hit) -> Hit:
        return cls(
            item_id=hit.item_id,
            path=hit.path,
            score=hit.score,
            thumbnail_url=item_thumbnail_url(hit.item_id),
            media_url=f"/api/items/{hit.item_id}/media",
        )


class PairHit(BaseModel):
    a: Hit
    b: Hit
    score: float

    @classmethod
    def from_domain(cls, pair: domain.PairHit) -> PairHit:
        return cls(a=Hit.from_domain(pair.a), b=Hit.from_domain(pair.b), score=pair.score)
