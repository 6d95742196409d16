"""Collections (F-52): named sets of a dataset's items, static (a list of item ids) or dynamic (a
saved grid filter, evaluated through the checked grid filter whenever the collection is read).

Every change (create, add or remove items, freeze, delete) is one change-set of the change log,
written in its unit of work, so ``tagscope undo`` undoes it; changes need ``collections.edit`` on
the dataset, reading needs ``read``. A static collection's title is a tag of each of its items:
the grid shows it, and SQL has it in the ``collection_items`` view.

Examples
--------
>>> create_collection(ws, "coco", "big", where="width > 500").kind     # doctest: +SKIP
<CollectionKind.DYNAMIC: 'dynamic'>
>>> freeze(ws, "coco", "big").n_items                                   # doctest: +SKIP
412
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tagscope.domain import ValidationError
from tagscope.domain.changes import Change
from tagscope.domain.collections import Collection, CollectionKind, validate_title
from tagscope.service import policy
from tagscope.service._pages import SNAPSHOT_MAX_IDS
from tagscope.service.browse import _filter_items
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.collections import RECORD, CollectionCatalog, shown
from tagscope.store.retry import retrying
from tagscope.store.uow import UnitOfWork

MAX_ITEMS = SNAPSHOT_MAX_IDS
"""The most items a dynamic collection evaluates to (and so the most a freeze keeps)."""
_ENTITY = "collection"


@retrying
def create_collection(
    ws: Workspace,
    dataset: str,
    title: str,
    *,
    where: str | None = None,
    item_ids: Sequence[int] | None = None,
    description: str = "",
) -> Collection:
    """A new collection: dynamic with ``where`` (a grid filter), static with ``item_ids``.

    Raises
    ------
    ValidationError
        Neither or both of ``where`` and ``item_ids``; a bad title; ids that are not the
        dataset's items (named); ``SqlError`` (``field="where"``): a filter that cannot run.
    AlreadyExistsError
        The dataset has a collection of that title.
    """
    title = validate_title(title)
    if (where is None) == (item_ids is None):
        raise ValidationError("give either a filter (where) or item ids, not both", field="where")
    ds = policy.dataset(ws, Action.COLLECTIONS_EDIT, dataset)
    if where is not None:
        where = where.strip()
        if not where:
            raise ValidationError("the filter is empty", field="where")
        n = _filter_items(ws, dataset, where, limit=1).total  # SqlError names what is wrong
    with ws.uow() as uow:
        kind = CollectionKind.DYNAMIC if where is not None else CollectionKind.STATIC
        new = uow.collections.create(ds.id, title, kind=kind, filter=where, description=description)
        ids = _checked_ids(uow, ds.id, item_ids or [])
        _record(uow, ds.id, new, "create_collection", ids, {i: {} for i in ids}, record=True)
    n_items = len(ids) if kind == CollectionKind.STATIC else n
    return _with_count(new, n_items)


def list_collections(ws: Workspace, dataset: str) -> list[Collection]:
    """The dataset's collections by title; dynamic ones are not evaluated (``n_items`` None)."""
    return CollectionCatalog(ws.catalog).list_collections(
        policy.dataset(ws, Action.READ, dataset).id
    )


def get_collection(ws: Workspace, dataset: str, title: str) -> Collection:
    """The collection with its number of items (a dynamic one evaluated now)."""
    collection = _get(ws, dataset, title)
    if collection.kind == CollectionKind.DYNAMIC:
        n = _filter_items(ws, dataset, collection.filter, limit=1).total
        return _with_count(collection, n)
    return collection


def collection_item_ids(ws: Workspace, dataset: str, title: str) -> list[int]:
    """The ids of the collection's items, ascending (a dynamic one evaluated now).

    Raises ``ValidationError`` when a dynamic collection matches more than :data:`MAX_ITEMS`.
    """
    collection = _get(ws, dataset, title)
    if collection.kind == CollectionKind.STATIC:
        return CollectionCatalog(ws.catalog).member_ids(collection.id)
    return _evaluate(ws, dataset, collection)


def grid_filter(ws: Workspace, dataset: str, title: str, where: str | None = None) -> str:
    """The grid filter of the collection's items (and of ``where`` when given): the saved
    filter of a dynamic collection, membership (``in_collection``) for a static one."""
    collection = _get(ws, dataset, title)
    if collection.kind == CollectionKind.DYNAMIC:
        own = f"({collection.filter})"
    else:  # the title as a SQL string literal
        own = "in_collection(items.id, '" + collection.title.replace("'", "''") + "')"
    where = (where or "").strip()
    return f"{own} AND ({where})" if where else own


def add_items(ws: Workspace, dataset: str, title: str, item_ids: Sequence[int]) -> Collection:
    """Add items to a static collection (those in it already are left as they are)."""
    return _edit_members(ws, dataset, title, item_ids, {}, "add_to_collection")


def remove_items(ws: Workspace, dataset: str, title: str, item_ids: Sequence[int]) -> Collection:
    """Remove items from a static collection (ids not in it are ignored)."""
    return _edit_members(ws, dataset, title, item_ids, None, "remove_from_collection")


@retrying
def freeze(ws: Workspace, dataset: str, title: str) -> Collection:
    """Turn a dynamic collection into a static one holding the items its filter matches now."""
    ds = policy.dataset(ws, Action.COLLECTIONS_EDIT, dataset)
    collection = _get(ws, dataset, title)
    if collection.kind == CollectionKind.STATIC:
        raise ValidationError(f"collection {title!r} is static already", field="title")
    ids = _evaluate(ws, dataset, collection)
    with ws.uow() as uow:
        current = uow.collections.get(ds.id, collection.title)
        if current.kind == CollectionKind.STATIC:  # frozen meanwhile
            raise ValidationError(f"collection {title!r} is static already", field="title")
        static = {"kind": str(CollectionKind.STATIC), "filter": None}
        _record(uow, ds.id, current, "freeze_collection", ids, {i: {} for i in ids}, static)
    return _get(ws, dataset, title)


@retrying
def delete_collection(ws: Workspace, dataset: str, title: str) -> None:
    """Delete a collection (its items stay in the dataset); undo brings it back whole."""
    ds = policy.dataset(ws, Action.COLLECTIONS_EDIT, dataset)
    with ws.uow() as uow:
        collection = uow.collections.get(ds.id, validate_title(title))
        ids = uow.collections.member_ids(collection.id)
        _record(uow, ds.id, collection, "delete_collection", ids, dict.fromkeys(ids), None)


# -- helpers ------------------------------------------------------------------------------
def _get(ws: Workspace, dataset: str, title: str) -> Collection:
    # A read: no unit of work (on SQLite it would take the write lock).
    ds = policy.dataset(ws, Action.READ, dataset)
    return CollectionCatalog(ws.catalog).get(ds.id, validate_title(title))


def _with_count(collection: Collection, n_items: int) -> Collection:
    return replace(collection, n_items=n_items)


def _evaluate(ws: Workspace, dataset: str, collection: Collection) -> list[int]:
    found = _filter_items(ws, dataset, collection.filter, limit=MAX_ITEMS)
    if found.total > MAX_ITEMS:
        raise ValidationError(
            f"collection {collection.title!r} matches {found.total} items, more than "
            f"{MAX_ITEMS}; narrow its filter",
            field="where",
        )
    return sorted(found.ids)


def _checked_ids(uow: UnitOfWork, dataset_id: int, item_ids: Sequence[int]) -> list[int]:
    ids = sorted({int(i) for i in item_ids})
    missing = uow.collections.missing_items(dataset_id, ids)
    if missing:
        raise ValidationError(
            f"{len(missing)} item id(s) are not items of the dataset: {shown(missing)}",
            field="items",
        )
    return ids


@retrying
def _edit_members(
    ws: Workspace,
    dataset: str,
    title: str,
    item_ids: Sequence[int],
    state: dict[str, Any] | None,
    action: str,
) -> Collection:
    ds = policy.dataset(ws, Action.COLLECTIONS_EDIT, dataset)
    with ws.uow() as uow:
        collection = uow.collections.get(ds.id, validate_title(title))
        if collection.kind == CollectionKind.DYNAMIC:
            raise ValidationError(
                f"collection {collection.title!r} is dynamic (a filter): freeze it first",
                field="title",
            )
        ids = _checked_ids(uow, ds.id, item_ids)
        _record(uow, ds.id, collection, action, ids, dict.fromkeys(ids, state))
    return _get(ws, dataset, title)


def _record(
    uow: UnitOfWork,
    dataset_id: int,
    collection: Collection,
    action: str,
    item_ids: list[int],
    members: dict[int, dict[str, Any] | None],
    record: dict[str, Any] | bool | None = False,
) -> None:
    """Apply ``members`` (and the collection's own record: ``False`` leaves it, ``True`` takes
    it as it is now, a dict updates it, ``None`` deletes it) and write the change-set."""
    uow.collections.lock(collection.id)
    keys = [RECORD, *item_ids]
    before = uow.collections.states(collection.id, keys)
    if record is True:  # just created: the change-set records its creation
        before.pop(RECORD, None)
    states: dict[int, dict[str, Any] | None] = dict(members)
    if isinstance(record, dict):
        states[RECORD] = {**before[RECORD], **record}
    elif record is None:
        states[RECORD] = None
    uow.collections.restore(collection.id, states)
    after = uow.collections.states(collection.id, keys)
    changes = [
        Change(i, _ENTITY, str(collection.id), before.get(i), after.get(i))
        for i in keys
        if before.get(i) != after.get(i)
    ]
    if changes:
        uow.changes.record(
            dataset_id,
            uow.actor,
            action,
            changes,
            params={"n_items": len(item_ids)},
            target={"collection": collection.title},
        )


__all__ = [
    "MAX_ITEMS",
    "add_items",
    "collection_item_ids",
    "create_collection",
    "delete_collection",
    "freeze",
    "get_collection",
    "grid_filter",
    "list_collections",
    "remove_items",
]
