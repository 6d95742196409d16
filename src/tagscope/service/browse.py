"""Browsing use cases: the grid's pages of items and the item detail view (F-50, F-51).

A page is cut by ``offset`` or by an opaque ``cursor``, the ``next_cursor`` of the previous page
(infinite scroll). Without a filter, pages come from the catalog and the cursor is a keyset (the
sort value and id of the last item), which stays fast deep into large datasets. With a SQL filter
(``where``, F-42) or a sort by tag score, the first page asks the SQL engine
(:meth:`tagscope.store.sql.QuerySession.filter_items`) how many items match and for the first
chunk of them, and later pages slice that snapshot, extended a chunk at a time
(:mod:`tagscope.service._pages`). Every cell carries its label names and its tag scores,
read from the score files (immutable, so they are cached in memory once read).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tagscope.domain import Hit, Item, Label, NotFoundError, PermissionDeniedError, ValidationError
from tagscope.domain.tags import GroupUse, TagGroup
from tagscope.media.errors import MediaError
from tagscope.media.paths import FILE_MISSING, changed_since_import
from tagscope.media.sources import is_uri, local_copy
from tagscope.media.thumbnails import ensure_thumbnail
from tagscope.service import _pages, defaults, policy, search, tag_scoring, tags
from tagscope.service.policy import Action
from tagscope.service.sql import sql_session
from tagscope.service.workspace import Workspace
from tagscope.store import grid
from tagscope.store.collections import CollectionCatalog
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import FilteredItems

_log = logging.getLogger("tagscope.media")
_SNAPSHOTS = _pages.Snapshots()
SNAPSHOT_MAX_IDS = _pages.SNAPSHOT_MAX_IDS
SNAPSHOT_CHUNK = _pages.SNAPSHOT_CHUNK

SORT_KEYS = tuple(grid.SORT_COLUMNS)
MAX_PAGE = 500
_TAG_SCORE = re.compile(r"^tags_[a-z0-9_]+\.[A-Za-z0-9_]+$")


@dataclass(frozen=True, slots=True)
class TagScore:
    """One tag's score of an item, decided at the tag's current threshold, with the column that
    holds it in SQL (``tags_animals.dog``, ``tags_animals.dog_2`` for a clashing name): faces show
    these and never derive them."""

    group: str
    tag: str
    score: float
    threshold: float
    decision: bool
    column: str

    @property
    def key(self) -> str:
        return f"{self.group}/{self.tag}"


@dataclass(frozen=True, slots=True)
class GridItem:
    """One cell of the grid: the item, its label chips, its tag scores and the titles of the
    static collections it is in."""

    item: Item
    labels: list[str] = field(default_factory=list)
    tag_scores: list[TagScore] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, float]:
        """``"group/tag"`` -> score."""
        return {t.key: t.score for t in self.tag_scores}

    @property
    def tags(self) -> list[str]:
        """``"group/tag"`` of the tags decided positive."""
        return [t.key for t in self.tag_scores if t.decision]


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
    tag_scores: list[TagScore]

    @property
    def scores(self) -> dict[str, float]:
        return {t.key: t.score for t in self.tag_scores}

    @property
    def tags(self) -> list[str]:
        return [t.key for t in self.tag_scores if t.decision]


@dataclass(frozen=True, slots=True)
class _ItemScores:
    """The current tag scores of some items, decided at today's thresholds."""

    tags: dict[int, list[TagScore]]

    @classmethod
    def of(cls, ws: Workspace, dataset_id: int, item_ids: list[int]) -> _ItemScores:
        out: dict[int, list[TagScore]] = {i: [] for i in item_ids}
        tables = ScoreTables(ws.paths.scores)
        versions = [v for v in tables.scored() if v.dataset_id == dataset_id]
        if not versions:
            return cls(out)
        groups = grid.tag_thresholds(ws.catalog)
        wanted = np.asarray(item_ids, np.int64)
        for v in versions:
            if v.group not in groups:
                continue
            group, thresholds = groups[v.group]
            columns = tag_scoring.score_columns(ws, v.group)
            names, matrix = v.tags, tables.scores_of(v, wanted)
            for row, item_id in enumerate(wanted.tolist()):
                for col, name in enumerate(names):
                    score = matrix[row, col]
                    if np.isnan(score):  # not scored
                        continue
                    threshold = thresholds.get(name, v.thresholds[name])
                    # In float32, as score files and SQL views decide.
                    decision = bool(score >= np.float32(threshold))
                    out[item_id].append(
                        TagScore(group, name, float(score), threshold, decision, columns[name])
                    )
        return cls(out)

    def of_item(self, item_id: int) -> list[TagScore]:
        return self.tags.get(item_id, [])


def readable_id(ws: Workspace, name: str) -> int:
    """The id of dataset ``name``, once the caller may read it: one lookup that counts nothing
    (the grid's), the policy's check being pure Python."""
    dataset_id = grid.dataset_id(ws.catalog, name)
    check_read(ws, dataset_id, name)
    return dataset_id


def check_read(ws: Workspace, dataset_id: int, name: str | None = None) -> None:
    """Raise ``PermissionDeniedError`` (saying why) unless the caller may read the dataset of id
    ``dataset_id`` (named ``name``): what an item's use cases check once they have the item."""
    if policy.allows(ws.identity, Action.READ, dataset_id):
        return
    dataset = ws.dataset(name or grid.dataset_name(ws.catalog, dataset_id))
    raise PermissionDeniedError(policy.denial(ws.identity, Action.READ, dataset))


def _validate_page(sort: str, limit: int, offset: int) -> None:
    if sort not in grid.SORT_COLUMNS and not _TAG_SCORE.match(sort):
        raise ValidationError(
            f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)} or a tag score "
            "tags_<group>.<tag>",
            field="sort",
        )
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be within 1..{MAX_PAGE}, got {limit}", field="limit")
    if offset < 0:
        raise ValidationError(f"offset must be >= 0, got {offset}", field="offset")


def _filter_items(ws: Workspace, dataset: str, where: str | None, **page: Any) -> FilteredItems:
    """One page of a grid filter from the workspace's SQL engine (shared with ``run_sql``)."""
    with sql_session(ws) as session:
        return session.filter_items(dataset, where, **page)


def _filtered_page(
    ws: Workspace,
    dataset: str,
    where: str,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    previous: _pages.Cursor | None,
) -> tuple[list[int], int, _pages.Cursor]:
    """The ids of a filtered (or tag-score sorted) page, its total and the cursor after it.

    The first page snapshots the first matching ids (see :mod:`tagscope.service._pages`); the
    pages after it slice the snapshot, extended by a chunk when they reach its end, or ask the
    engine by offset when it is gone or full.
    """
    query = {"order_by": sort, "descending": descending}
    snapshot, token = None, ""
    if previous is None and not offset:
        first = max(limit, SNAPSHOT_CHUNK)
        found = _filter_items(ws, dataset, where or None, limit=first, **query)
        snapshot, start, total = np.asarray(found.ids, np.int64), 0, found.total
        token = _SNAPSHOTS.put(snapshot) if total > limit else ""
    elif previous is not None and previous.snapshot:
        start, total = previous.offset, previous.total
        snapshot = _SNAPSHOTS.get(previous.snapshot)
        token = previous.snapshot
        if snapshot is not None and start + limit > len(snapshot) and _growing(snapshot, total):
            more = _filter_items(
                ws, dataset, where or None, limit=SNAPSHOT_CHUNK, offset=len(snapshot), **query
            )
            snapshot = _SNAPSHOTS.extend(token, np.asarray(more.ids, np.int64))
    else:
        start = previous.offset if previous else offset
        total = previous.total if previous else 0
    if snapshot is not None:
        ids = snapshot[start : start + limit].tolist()
    else:
        found = _filter_items(ws, dataset, where or None, limit=limit, offset=start, **query)
        ids, total = found.ids, total or found.total
    end = start + len(ids)
    # Past a full snapshot (more matches than it may hold), pages come by offset.
    held = snapshot is not None and (end < len(snapshot) or _growing(snapshot, total))
    keep = token if held else ""
    after = _pages.Cursor(sort, descending, _pages.digest(where), None, 0, total, end, keep)
    return ids, total, after


def _growing(snapshot: np.ndarray, total: int) -> bool:
    """Whether a snapshot holds fewer ids than match, and may hold more."""
    return len(snapshot) < min(total, SNAPSHOT_MAX_IDS)


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
        A SQL filter expression over ``items`` columns, labels (``has_label(id, 'dog')``) and tag
        scores (``tags_<group>.<tag> >= 0.8``), as the histogram and tag pages produce (F-42).
    sort : str, default "id"
        ``id``, ``path``, ``size``, ``width``, ``height``, ``format``, ``split``, or a tag score
        ``tags_<group>.<tag>`` (items without a score last).
    descending : bool, default False
    limit : int, default 100
        Items per page, 1..500.
    offset : int, default 0
        Items to skip (ignored with ``cursor``).
    cursor : str, optional
        The ``next_cursor`` of the previous page of the same sort, order and filter.

    Raises
    ------
    SqlError
        The filter (``field="where"``) or the tag score to sort by cannot run or is refused.
    """
    _validate_page(sort, limit, offset)
    where = (where or "").strip()
    key = _pages.digest(where)
    previous = _pages.Cursor.decode(cursor, sort, descending, key) if cursor else None
    dataset_id = readable_id(ws, dataset)
    if where or sort not in grid.SORT_COLUMNS:
        ids, total, after = _filtered_page(
            ws, dataset, where, sort, descending, limit, offset, previous
        )
        by_id = ws.catalog.get_items(ids)
        # A cursor's snapshot is found by its token alone: only this dataset's items are shown.
        items = [by_id[i] for i in ids if i in by_id and by_id[i].dataset_id == dataset_id]
        more = len(ids) == limit and after.offset < total
    else:
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
        last = items[-1] if items else None
        value = grid.sort_value(last, sort) if last else None
        after = _pages.Cursor(sort, descending, key, value, last.id if last else 0, total)
        more = len(items) == limit
    ids = [it.id for it in items]
    chips = grid.label_chips_of_items(ws.catalog, ids)
    scores = _ItemScores.of(ws, items[0].dataset_id, ids) if items else _ItemScores({})
    titles = CollectionCatalog(ws.catalog).titles_of_items(ids)
    cells = [
        GridItem(it, chips[it.id], scores.of_item(it.id), titles.get(it.id, [])) for it in items
    ]
    next_cursor = after.encode() if more else None
    return GridPage(items=cells, total=total, next_cursor=next_cursor)


def label_counts(ws: Workspace, dataset: str, where: str | None = None) -> dict[str, int]:
    """Each label name and on how many of the dataset's items matching ``where`` it appears:
    the grid's facets, which follow its filter (a grid filter, as :func:`list_items` takes).

    Labels no matching item carries are left out. Raises ``SqlError`` (``field="where"``) as
    :func:`list_items` does.
    """
    where = (where or "").strip()
    dataset_id = readable_id(ws, dataset)
    if not where:
        return ws.catalog.label_names(dataset_id)
    with sql_session(ws) as session:
        return session.label_counts(dataset, where)


def get_item(ws: Workspace, item_id: int) -> ItemDetail:
    """One item with its labels and tag scores."""
    item = ws.catalog.get_item(item_id)
    dataset = grid.dataset_name(ws.catalog, item.dataset_id)
    check_read(ws, item.dataset_id, dataset)
    scores = _ItemScores.of(ws, item.dataset_id, [item_id]).of_item(item_id)
    labels = ws.catalog.item_labels(item_id)
    return ItemDetail(item, dataset, labels, scores)


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


def _imported_file(item: Item) -> str:
    """The item's file (a path, or a URI of an fsspec file system), when it is still the one
    imported (see :func:`tagscope.media.paths.changed_since_import`).

    Raises
    ------
    NotFoundError
        It is missing or changed; the answer says only that, the server's log says how.
    """
    size = item.media.size if item.media else None
    reason = changed_since_import(item.path, size, item.mtime_ns)
    if reason is None:
        return item.path
    _log.warning("not serving the file of item %d, %s: %s", item.id, item.path, reason)
    what = "missing" if reason == FILE_MISSING else "changed since its import"
    raise NotFoundError(f"the media file of item {item.id} is {what}")


def get_media_file(ws: Workspace, item_id: int) -> MediaFile:
    """The media file of item ``item_id``, when it is still the one its import recorded; one
    stored by URI is sent from a local copy in the workspace's cache (fetched once)."""
    item = ws.catalog.get_item(item_id)
    check_read(ws, item.dataset_id)
    source = _imported_file(item)
    fmt = (item.media.format if item.media else "") or Path(source).suffix.lstrip(".")
    if not is_uri(source):
        path = Path(source)
        etag = item.media.content_hash if item.media else f"{path.stat().st_mtime_ns:x}"
    elif item.media is None:  # imports record the media of every file they store by URI
        raise NotFoundError(f"the media file of item {item.id} has no record of its content")
    else:
        etag = item.media.content_hash
        try:
            path = local_copy(source, etag, ws.paths.cache / "media")
        except MediaError as exc:
            raise NotFoundError(f"the media file of item {item.id}: {exc}") from exc
    return MediaFile(path, _MEDIA_TYPES.get(fmt.lower(), "application/octet-stream"), etag)


def get_thumbnail_file(ws: Workspace, item_id: int) -> MediaFile:
    """The thumbnail of item ``item_id``: from the workspace's cache, made there on first use.

    Its source must still be the file imported, since a thumbnail is made from it (or is the
    file itself, for a small JPEG).
    """
    item = ws.catalog.get_item(item_id)
    check_read(ws, item.dataset_id)
    if item.media is None:
        raise NotFoundError(f"item {item_id} has no image to make a thumbnail of")
    source = _imported_file(item)
    try:
        path, _ = ensure_thumbnail(source, item.media.content_hash, ws.paths.thumbnails)
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
    check_read(ws, item.dataset_id, dataset)
    # Semantic spaces first: the phash neighbours of an ordinary photo look random.
    space = options.get("space") or defaults.default_space(ws.catalog.list_spaces(item.dataset_id))
    if space:
        options["space"] = space
    return search.search_similar(ws, dataset, item_id=item_id, **options)


def dataset_tag_groups(
    ws: Workspace, dataset: str
) -> list[tuple[TagGroup, GroupUse | None, dict[str, str]]]:
    """The tag groups ``dataset`` trains or applies, each with the dataset's scoring status and
    its scored tags' columns in SQL filters (tag -> ``tags_<group>.<column>``)."""
    readable_id(ws, dataset)
    uses = {u.group: u for u in tag_scoring.dataset_uses(ws, dataset)}
    return [
        (g, uses.get(g.name), tag_scoring.score_columns(ws, g.name))
        for g in tags.list_groups(ws, dataset)
    ]
