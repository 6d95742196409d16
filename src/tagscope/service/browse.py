"""Browsing use cases: the grid's pages of items and the item detail view (F-50, F-51).

A page is cut by ``offset`` or by an opaque ``cursor`` (a keyset: the sort value and id of the last
item shown), which stays fast deep into large datasets: infinite scroll passes back the
``next_cursor`` of the previous page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagscope.domain import Hit, Item, Label, NotFoundError, ValidationError
from tagscope.domain.tags import GroupUse, TagGroup
from tagscope.media.errors import MediaError
from tagscope.media.thumbnails import ensure_thumbnail
from tagscope.service import search, tag_scoring, tags
from tagscope.service.workspace import Workspace
from tagscope.store import grid

SORT_KEYS = tuple(grid.SORT_COLUMNS)
MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class GridItem:
    """One cell of the grid: the item, its label chips and its tag scores (``"group/tag"``)."""

    item: Item
    labels: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GridPage:
    items: list[GridItem]
    total: int
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ItemDetail:
    """An item with its dataset name, every label (with geometry) and every tag score."""

    item: Item
    dataset: str
    labels: list[Label]
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class _Cursor:
    """Where a page ended, in an opaque token: the sort order and filter it belongs to, the sort
    value and id of the last item, and the total of the first page (so later pages need not
    count again: counting is linear in the dataset)."""

    sort: str
    descending: bool
    where: str
    value: Any
    item_id: int
    total: int

    def encode(self) -> str:
        blob = json.dumps(
            [self.sort, self.descending, self.where, self.value, self.item_id, self.total]
        )
        return base64.urlsafe_b64encode(blob.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: str, descending: bool, where: str) -> _Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            cursor = cls(*json.loads(raw))
            if (cursor.sort, cursor.descending, cursor.where) != (sort, descending, where):
                raise ValueError("cursor of another sort order or filter")
            if not isinstance(cursor.item_id, int) or not isinstance(cursor.total, int):
                raise ValueError("malformed cursor")
        except (ValueError, TypeError, binascii.Error) as exc:
            raise ValidationError(
                f"invalid cursor {token!r}: pass back the next_cursor of a page of the same "
                "sort, order and filter",
                field="cursor",
            ) from exc
        return cursor


def _digest(where: str) -> str:
    return hashlib.sha1(where.encode()).hexdigest()[:16] if where else ""


def _validate_page(sort: str, limit: int, offset: int) -> None:
    if sort not in grid.SORT_COLUMNS:
        raise ValidationError(
            f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)}", field="sort"
        )
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be within 1..{MAX_PAGE}, got {limit}", field="limit")
    if offset < 0:
        raise ValidationError(f"offset must be >= 0, got {offset}", field="offset")


def list_items(
    ws: Workspace,
    dataset: str,
    *,
    where: str | None = None,
    sort: str = "id",
    descending: bool = False,
    limit: int = 100,
    offset: int = 0,
    cursor: str | None = None,
) -> GridPage:
    """A page of the dataset's grid.

    Parameters
    ----------
    where : str, optional
        A SQL filter expression over ``items``, ``labels`` and tag scores (F-42).
    sort : {"id", "path", "size", "width", "height", "format", "split"}, default "id"
    descending : bool, default False
    limit : int, default 100
        Items per page, 1..500.
    offset : int, default 0
        Items to skip (ignored with ``cursor``).
    cursor : str, optional
        The ``next_cursor`` of the previous page, for keyset paging.
    """
    _validate_page(sort, limit, offset)
    where = (where or "").strip()
    if where:
        raise ValidationError("grid filters are not available yet", field="where")
    dataset_id = grid.dataset_id(ws.catalog, dataset)
    previous = _Cursor.decode(cursor, sort, descending, _digest(where)) if cursor else None
    total = ws.catalog.count_items(dataset_id) if previous is None else previous.total
    items = grid.page_items(
        ws.catalog,
        dataset_id,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        after=(previous.value, previous.item_id) if previous else None,
    )
    chips = grid.label_chips_of_items(ws.catalog, [it.id for it in items])
    cells = [GridItem(item=it, labels=chips[it.id]) for it in items]
    next_cursor = None
    if len(items) == limit:
        last = items[-1]
        value = grid.sort_value(last, sort)
        next_cursor = _Cursor(sort, descending, _digest(where), value, last.id, total).encode()
    return GridPage(items=cells, total=total, next_cursor=next_cursor)


def get_item(ws: Workspace, item_id: int) -> ItemDetail:
    """One item with its labels and tag scores."""
    item = ws.catalog.get_item(item_id)
    dataset = grid.dataset_name(ws.catalog, item.dataset_id)
    return ItemDetail(item=item, dataset=dataset, labels=ws.catalog.item_labels(item_id), scores={})


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A file the server may send for an item: always one the catalog knows, never a user path."""

    path: Path
    media_type: str
    etag: str


_MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "mp4": "video/mp4",
    "webm": "video/webm",
}


def _existing_file(path: Path, what: str, item_id: int) -> Path:
    if not path.is_file():
        raise NotFoundError(f"the {what} of item {item_id} is missing ({path.name})")
    return path


def get_media_file(ws: Workspace, item_id: int) -> MediaFile:
    """The media file of item ``item_id`` as its import recorded it."""
    item = ws.catalog.get_item(item_id)
    path = _existing_file(Path(item.path), "media file", item_id)
    fmt = (item.media.format if item.media else "") or path.suffix.lstrip(".")
    etag = item.media.content_hash if item.media else f"{path.stat().st_mtime_ns:x}"
    return MediaFile(path, _MEDIA_TYPES.get(fmt.lower(), "application/octet-stream"), etag)


def get_thumbnail_file(ws: Workspace, item_id: int) -> MediaFile:
    """The thumbnail of item ``item_id``: from the workspace's cache, made there on first use."""
    item = ws.catalog.get_item(item_id)
    if item.media is None:
        raise NotFoundError(f"item {item_id} has no image to make a thumbnail of")
    try:
        path, _ = ensure_thumbnail(item.path, item.media.content_hash, ws.paths.thumbnails)
    except MediaError as exc:
        raise NotFoundError(f"no thumbnail for item {item_id}: {exc}") from exc
    return MediaFile(path, "image/jpeg", f"t-{item.media.content_hash}")


def similar_items(ws: Workspace, item_id: int, **options: Any) -> list[Hit]:
    """The items of the item's own dataset most similar to it (F-51 neighbours).

    ``options`` are those of :func:`tagscope.service.search.search_similar` (``space``, ``k``,
    ``min_score``, ``labels``, ``mode``).
    """
    item = ws.catalog.get_item(item_id)
    dataset = grid.dataset_name(ws.catalog, item.dataset_id)
    return search.search_similar(ws, dataset, item_id=item_id, **options)


def dataset_tag_groups(ws: Workspace, dataset: str) -> list[tuple[TagGroup, GroupUse | None]]:
    """The tag groups ``dataset`` trains or applies, each with the dataset's scoring status."""
    uses = {u.group: u for u in tag_scoring.dataset_uses(ws, dataset)}
    return [(g, uses.get(g.name)) for g in tags.list_groups(ws, dataset)]
