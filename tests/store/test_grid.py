"""Grid pages from the catalog: offsets and keyset cursors, datasets whose items interleave."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tagscope.domain import MediaInfo, NewItem
from tagscope.store import Catalog, grid


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _add(catalog: Catalog, dataset_id: int, *names: str) -> None:
    catalog.add_items(
        dataset_id, [NewItem(n, MediaInfo(10, 4, 3, "JPEG", f"h-{n}")) for n in names]
    )


def test_items_are_indexed_by_dataset_then_id(catalog: Catalog) -> None:
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(catalog.engine).get_indexes("items")
    }
    assert indexes["ix_items_dataset_id_id"] == ["dataset_id", "id"]


def test_pages_of_interleaved_datasets(catalog: Catalog) -> None:
    big, small = catalog.create_dataset("big"), catalog.create_dataset("small")
    for i in range(5):  # ids alternate between the two datasets
        _add(catalog, big.id, *(f"b{i}-{j}.jpg" for j in range(4)))
        _add(catalog, small.id, f"s{i}.jpg")
    small_ids = [it.id for it in grid.page_items(catalog, small.id, limit=100)]
    assert [it.path for it in grid.page_items(catalog, small.id, limit=100)] == [
        f"s{i}.jpg" for i in range(5)
    ]
    assert small_ids == sorted(small_ids)

    first = grid.page_items(catalog, big.id, limit=7)
    after = grid.page_items(catalog, big.id, limit=100, after=(first[-1].id, first[-1].id))
    by_offset = grid.page_items(catalog, big.id, limit=100, offset=7)
    assert [it.id for it in after] == [it.id for it in by_offset]
    assert len(first) + len(after) == 20
    assert {it.dataset_id for it in first + after} == {big.id}

    newest = grid.page_items(catalog, small.id, limit=2, descending=True)
    older = grid.page_items(
        catalog, small.id, limit=100, descending=True, after=(newest[-1].id, newest[-1].id)
    )
    assert [it.id for it in newest + older] == small_ids[::-1]
