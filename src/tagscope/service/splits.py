"""The validation set (F-62): set the split (train / validation / test) of a selection of items.

:func:`set_split` writes one change-set of entity ``split`` (key: the dataset's id), so the History
page undoes it; the split shows in the grid (sort and filter by ``split``) and in SQL
(``items.split``).

Examples
--------
>>> set_split(ws, "coco", [4, 9], "validation").n_changed                 # doctest: +SKIP
2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tagscope.domain import ValidationError
from tagscope.domain.changes import Change
from tagscope.service import policy
from tagscope.service.collections import MAX_ITEMS, collection_item_ids
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.collections import CollectionCatalog, shown
from tagscope.store.gc_pause import paused_gc
from tagscope.store.retry import retrying
from tagscope.store.splits import SplitStates

SPLITS = ("train", "validation", "test")
_ENTITY = "split"


@dataclass(frozen=True, slots=True)
class SplitResult:
    """What :func:`set_split` changed: its change-set (None when nothing changed)."""

    change_set: int | None
    n_changed: int


@paused_gc()
@retrying
def set_split(
    ws: Workspace,
    dataset: str,
    item_ids: Sequence[int] | None = None,
    split: str | None = "validation",
    *,
    collection: str | None = None,
) -> SplitResult:
    """Set the split of ``item_ids`` (or of every item of ``collection``, a title) to ``split``
    (one of :data:`SPLITS`, or None to clear it), as one change-set; items already in it are
    left as they are.

    Raises
    ------
    ValidationError
        An unknown split; neither or both of item ids and a collection; ids that are not the
        dataset's items (named).
    NotFoundError
        No such dataset or collection.
    """
    if split is not None and split not in SPLITS:
        raise ValidationError(
            f"unknown split {split!r}: one of {', '.join(SPLITS)}, or null to clear it",
            field="split",
        )
    if (collection is None) == (item_ids is None):
        raise ValidationError("give either item ids or a collection, not both", field="item_ids")
    ds = policy.dataset(ws, Action.LABELS_EDIT, dataset)
    if collection is not None:
        ids = collection_item_ids(ws, dataset, collection)
        target: dict[str, Any] = {"collection": collection.strip()}
    else:
        ids = _checked_ids(ws, ds.id, item_ids or [])
        target = {"selection": len(ids)}
    with ws.uow() as uow:
        states = SplitStates(uow.catalog)
        states.lock(ds.id)
        before = states.states(ds.id, ids)
        changed = [i for i in ids if before.get(i, {}).get("split") != split]
        after = {i: None if split is None else {"split": split} for i in changed}
        states.restore(ds.id, after)
        changes = [Change(i, _ENTITY, str(ds.id), before.get(i), after[i]) for i in changed]
        if not changes:
            return SplitResult(None, 0)
        made = uow.changes.record(
            ds.id, uow.actor, "split", changes, params={"split": split}, target=target
        )
    return SplitResult(made.id, len(changes))


def _checked_ids(ws: Workspace, dataset_id: int, item_ids: Sequence[int]) -> list[int]:
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise ValidationError("no items given", field="item_ids")
    if len(ids) > MAX_ITEMS:
        raise ValidationError(f"more than {MAX_ITEMS} items at once", field="item_ids")
    missing = CollectionCatalog(ws.catalog).missing_items(dataset_id, ids)
    if missing:
        raise ValidationError(
            f"{len(missing)} item id(s) are not items of the dataset: {shown(missing)}",
            field="item_ids",
        )
    return ids


__all__ = ["SPLITS", "SplitResult", "set_split"]
