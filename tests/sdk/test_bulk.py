"""The SDK's bulk classify: ``ds.bulk_classify(...)``, its dry run and its undo."""

from __future__ import annotations

from pathlib import Path

import tagscope as ts
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace


def test_sdk_bulk_classify_and_undo(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # items without files to import
    record = catalog.get_dataset("d")
    catalog.add_items(
        record.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    ids = catalog.item_ids(record.id)
    ds.create_collection("pets", item_ids=ids[:2])
    assert ds.bulk_classify("dog", collection="pets", dry_run=True).n_changed == 2
    assert ds.labels(ids[0]) == []
    done = ds.bulk_classify("dog", collection="pets")
    assert (done.n_changed, ds.history()[0].action) == (2, "bulk_classify")
    assert [(lab.name, lab.is_main) for lab in ds.labels(ids[0])] == [("dog", True)]
    again = ds.bulk_classify("cat", item_ids=ids, overwrite=False)
    assert (again.n_changed, again.skipped) == (1, {"already classified": 2})
    ds.undo(done.change_set or 0)
    assert ds.labels(ids[0]) == [] and [lab.name for lab in ds.labels(ids[2])] == ["cat"]
