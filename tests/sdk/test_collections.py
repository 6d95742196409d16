"""The SDK's collections: ``ds.create_collection``, ``ds.collections()``, ``ds.collection()``."""

from __future__ import annotations

from pathlib import Path

import pytest

import tagscope as ts
from tagscope.domain import AlreadyExistsError, MediaInfo, NewItem
from tagscope.domain.collections import CollectionKind
from tagscope.service import Workspace


def test_sdk_collections(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # items without files to import
    record = catalog.get_dataset("d")
    catalog.add_items(
        record.id,
        [NewItem(f"/d/{i}.jpg", MediaInfo(1, 100 * i, 1, "JPEG", f"h{i}")) for i in range(3)],
    )
    ids = catalog.item_ids(record.id)
    assert ds.create_collection("pets", item_ids=ids[:2]).n_items == 2
    wide = ds.create_collection("wide", where="width >= 100", description="big ones")
    assert (wide.kind, wide.n_items) == (CollectionKind.DYNAMIC, 2)
    assert [(c.title, c.n_items) for c in ds.collections()] == [("pets", 2), ("wide", None)]
    assert ds.collection("wide").n_items == 2
    with pytest.raises(AlreadyExistsError, match="'pets'"):
        ds.create_collection("pets", where="width > 1")
    assert ds.history()[0].action == "create_collection"
    ds.undo(ds.history()[0].id)
    assert [c.title for c in ds.collections()] == ["pets"]
