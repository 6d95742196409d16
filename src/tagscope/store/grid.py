"""Grid pages over the catalog: a dataset's items in a sort order, a page at a time.

Pages are cut either by ``offset`` or by a keyset ``after = (sort value, item id)``; the keyset
form stays fast deep into a large dataset (no rows are skipped one by one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select

from tagscope.domain import Item, Label, NotFoundError
from tagscope.store.catalog import _CHUNK, Catalog, _item, label_of
from tagscope.store.schema import DatasetRow, ItemRow, LabelRow
from tagscope.store.tag_schema import TagGroupRow, TagRow

SORT_COLUMNS = {
    "id": ItemRow.id,
    "path": ItemRow.path,
    "size": ItemRow.size,
    "width": ItemRow.width,
    "height": ItemRow.height,
    "format": ItemRow.format,
    "split": ItemRow.split,
}


def dataset_id(catalog: Catalog, name: str) -> int:
    """The id of dataset ``name``, without counting its items (``Catalog.get_dataset`` does)."""
    with catalog.session() as s:
        found = s.scalar(select(DatasetRow.id).where(DatasetRow.name == name))
    if found is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return found


def dataset_name(catalog: Catalog, dataset_id: int) -> str:
    with catalog.session() as s:
        found = s.scalar(select(DatasetRow.name).where(DatasetRow.id == dataset_id))
    if found is None:
        raise NotFoundError(f"no dataset with id {dataset_id}")
    return found


def page_items(
    catalog: Catalog,
    dataset_id: int,
    *,
    sort: str = "id",
    descending: bool = False,
    limit: int = 100,
    offset: int = 0,
    after: tuple[Any, int] | None = None,
) -> list[Item]:
    """Up to ``limit`` items of the dataset ordered by ``sort`` (then id), from ``offset`` or
    strictly after the keyset ``after = (sort value, item id)``."""
    column = SORT_COLUMNS[sort]
    if sort == "id":
        # Served by the (dataset_id, id) index: no sort, and no scan of other datasets' items.
        stmt = select(ItemRow).where(ItemRow.dataset_id == dataset_id)
        if after is not None:
            stmt = stmt.where(ItemRow.id < after[1] if descending else ItemRow.id > after[1])
        stmt = stmt.order_by(ItemRow.id.desc() if descending else ItemRow.id)
    else:
        stmt = select(ItemRow).where(ItemRow.dataset_id == dataset_id)
        if after is not None:
            stmt = stmt.where(_after(column, *after, descending=descending))
        stmt = stmt.order_by(
            *(
                [column.desc().nulls_last(), ItemRow.id.desc()]
                if descending
                else [column.asc().nulls_first(), ItemRow.id]
            )
        )
    stmt = stmt.limit(limit)
    if after is None and offset:
        stmt = stmt.offset(offset)
    with catalog.session() as s:
        return [_item(r) for r in s.scalars(stmt)]


def _after(column: Any, value: Any, last_id: int, *, descending: bool) -> Any:
    """Rows strictly after (value, last_id) in the order (column NULLS FIRST, id), or reversed."""
    id_beyond = ItemRow.id < last_id if descending else ItemRow.id > last_id
    if value is None:
        nulls = and_(column.is_(None), id_beyond)
        return nulls if descending else or_(nulls, column.is_not(None))
    clauses = [column < value if descending else column > value, and_(column == value, id_beyond)]
    if descending:
        clauses.append(column.is_(None))
    return or_(*clauses)


def sort_value(item: Item, sort: str) -> Any:
    """The value of ``item`` under the sort key ``sort`` (for keyset cursors)."""
    if sort in ("id", "path", "split"):
        return getattr(item, sort)
    return getattr(item.media, sort) if item.media is not None else None


def labels_of_items(catalog: Catalog, item_ids: Sequence[int]) -> dict[int, list[Label]]:
    """The labels of each of ``item_ids`` (one query per 500 ids), in insertion order."""
    out: dict[int, list[Label]] = {i: [] for i in item_ids}
    with catalog.session() as s:
        for i in range(0, len(item_ids), _CHUNK):
            stmt = (
                select(LabelRow)
                .where(LabelRow.item_id.in_(item_ids[i : i + _CHUNK]))
                .order_by(LabelRow.id)
            )
            for row in s.scalars(stmt):
                out[row.item_id].append(label_of(row))
    return out


def label_chips_of_items(catalog: Catalog, item_ids: Sequence[int]) -> dict[int, list[str]]:
    """The distinct label names of each of ``item_ids`` (no geometry read): the grid's chips."""
    out: dict[int, list[str]] = {i: [] for i in item_ids}
    with catalog.session() as s:
        for i in range(0, len(item_ids), _CHUNK):
            stmt = (
                select(LabelRow.item_id, LabelRow.name)
                .where(LabelRow.item_id.in_(item_ids[i : i + _CHUNK]))
                .group_by(LabelRow.item_id, LabelRow.name)
                .order_by(LabelRow.item_id, func.min(LabelRow.id))
            )
            for item_id, name in s.execute(stmt):
                out[item_id].append(name)
    return out


def tag_thresholds(catalog: Catalog) -> dict[str, tuple[str, dict[str, float]]]:
    """Every tag group's slug -> (its name, {tag name: current threshold}), in one query."""
    stmt = select(TagGroupRow.slug, TagGroupRow.name, TagRow.name, TagRow.threshold).join(
        TagRow, TagRow.group_id == TagGroupRow.id
    )
    out: dict[str, tuple[str, dict[str, float]]] = {}
    with catalog.session() as s:
        for slug, group, tag, threshold in s.execute(stmt):
            out.setdefault(slug, (group, {}))[1][tag] = float(threshold)
    return out


__all__ = [
    "SORT_COLUMNS",
    "dataset_id",
    "dataset_name",
    "label_chips_of_items",
    "labels_of_items",
    "page_items",
    "sort_value",
    "tag_thresholds",
]
