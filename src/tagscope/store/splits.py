"""Items' splits (train / validation / test) as the change log sees them: one record per item.

An item's record is ``{"split": name}``, or no record when it has none; :meth:`SplitStates.restore`
puts records back (an undo, or a new split).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update

from tagscope.domain import NotFoundError
from tagscope.store.catalog import Catalog
from tagscope.store.schema import DatasetRow, ItemRow

_CHUNK = 5000  # ids per IN list: one bound parameter each
State = dict[str, Any]


class SplitStates:
    """Read and set the splits of many items in one transaction (joins the open unit of work)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def lock(self, dataset_id: int) -> None:
        """Lock the dataset's row until the transaction ends (PostgreSQL; SQLite's unit of work
        holds the write lock already)."""
        with self.catalog.session() as s:
            if s.get(DatasetRow, dataset_id, with_for_update=True) is None:
                raise NotFoundError(f"no dataset with id {dataset_id}")

    def states(self, dataset_id: int, item_ids: Sequence[int]) -> dict[int, State]:
        """Item id -> ``{"split": name}`` for those of ``item_ids`` (of the dataset) with one."""
        ids = sorted({int(i) for i in item_ids})
        out: dict[int, State] = {}
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = select(ItemRow.id, ItemRow.split).where(
                    ItemRow.dataset_id == dataset_id,
                    ItemRow.id.in_(ids[i : i + _CHUNK]),
                    ItemRow.split.is_not(None),
                )
                out.update((item_id, {"split": split}) for item_id, split in s.execute(stmt))
        return out

    def restore(self, dataset_id: int, states: Mapping[int, State | None]) -> None:
        """Make each item's split what ``states`` says (``None``: none); the dataset's
        ``revision`` goes up (items edited in place: the SQL engine's copy fetches it again)."""
        by_split: dict[str | None, list[int]] = {}
        for item_id, state in states.items():
            by_split.setdefault((state or {}).get("split"), []).append(int(item_id))
        with self.catalog.session() as s:
            for split, ids in by_split.items():
                for i in range(0, len(ids), _CHUNK):
                    s.execute(
                        update(ItemRow)
                        .where(
                            ItemRow.dataset_id == dataset_id, ItemRow.id.in_(ids[i : i + _CHUNK])
                        )
                        .values(split=split)
                    )
            s.execute(
                update(DatasetRow)
                .where(DatasetRow.id == dataset_id)
                .values(revision=DatasetRow.revision + 1)
            )


__all__ = ["SplitStates"]
