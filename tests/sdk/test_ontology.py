"""The SDK's ontology: ``ds.ontology()``, ``add_class``, ``rename_class`` (undone),
``add_question`` and bulk classify with answers."""

from __future__ import annotations

from pathlib import Path

import tagscope as ts
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace


def test_sdk_ontology(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # items without files to import
    record = catalog.get_dataset("d")
    cat = (Label(LabelKind.CLASSIFICATION, "cat"),)
    catalog.add_items(
        record.id,
        [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}"), labels=cat) for i in range(2)],
    )
    ids = catalog.item_ids(record.id)
    owl = ds.add_class("owl", color="#abcdef", hotkey="1")
    assert (owl.name, owl.color, owl.hotkey) == ("owl", "#abcdef", "1")
    assert ds.rename_class("cat", "lynx").n_labels == 2
    assert [lab.name for lab in ds.labels(ids[1])] == ["lynx"]
    ds.undo(ds.history()[0].id)
    assert [c.name for c in ds.ontology().classes] == ["cat", "owl"]
    question = ds.add_question("size", "radio", ["small", "big"])
    assert (question.kind, question.options) == ("radio", ("small", "big"))
    done = ds.bulk_classify("owl", item_ids=ids, answers={"size": "big"}, overwrite=True)
    assert done.n_changed == 2
    assert [lab.attributes for lab in ds.labels(ids[0])] == [{"answers": {"size": "big"}}]
