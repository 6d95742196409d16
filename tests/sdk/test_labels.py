"""The SDK's label edits: ``ds.add_label``, ``set_labels``, ``update_label``, ``delete_label``."""

from __future__ import annotations

from pathlib import Path

import pytest

import tagscope as ts
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem, ValidationError
from tagscope.service import Workspace


def test_sdk_label_edits_and_undo(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # an item without a file to import
    catalog.add_items(
        catalog.get_dataset("d").id, [NewItem("/d/0.jpg", MediaInfo(1, 40, 30, "JPEG", "h"))]
    )
    [item] = catalog.item_ids(catalog.get_dataset("d").id)
    box = Label(LabelKind.BOX, "dog", geometry={"bbox": [0, 0, 4, 5]})
    added = ds.add_label(item, box)
    [stored] = added.labels
    assert (stored.area, ds.history()[0].action) == (20.0, "add_label")
    moved = ds.update_label(stored.id or 0, geometry={"bbox": [1, 1, 2, 2]})
    assert [lab.area for lab in moved.labels] == [4.0]
    cat = Label(LabelKind.CLASSIFICATION, "cat", is_main=True)
    assert [lab.name for lab in ds.set_labels(item, [cat, box]).labels] == ["cat", "dog"]
    with pytest.raises(ValidationError, match="has this label already"):
        ds.add_label(item, cat)
    last = ds.delete_label(ds.labels(item)[0].id or 0)
    assert [lab.name for lab in last.labels] == ["dog"]
    ds.undo(last.change_set or 0)
    assert ds.labels(item) == [cat, box]
