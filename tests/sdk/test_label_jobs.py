"""The SDK's label jobs: ``ds.create_label_job(...)``, ``ds.label_job(name)``, ``ds.label_jobs()``
and a job's items, done marks, submission and label changes."""

from __future__ import annotations

from pathlib import Path

import pytest

import tagscope as ts
from tagscope.domain import Label, LabelKind, LabelSource, MediaInfo, NewItem, NotFoundError
from tagscope.service import Workspace

PRE = LabelSource.PRELABEL


def test_sdk_manual_and_auto_label_jobs(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # items without files to import
    expert = Label(LabelKind.BOX, "cat", geometry={"bbox": [0, 0, 10, 10]})
    prelabel = Label(LabelKind.BOX, "cat", PRE, geometry={"bbox": [0, 0, 10, 5]})
    predicted = Label(LabelKind.CLASSIFICATION, "dog", LabelSource.PREDICTION, model="m1")
    labels = [(expert, prelabel), (predicted,)]
    catalog.add_items(
        catalog.get_dataset("d").id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 9, 9, "JPEG", f"h{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    ids = catalog.item_ids(catalog.get_dataset("d").id)
    ds.create_collection("all", item_ids=ids)

    job = ds.create_label_job("fix", collection="all", assignees=["ann"])
    assert (job.info.kind, job.info.status, job.info.n_items) == ("manual", "open", 2)
    assert [i.assignee for i in job.items()] == ["ann", "ann"]
    assert job.mark_done(ids) == 2
    assert job.submit(iou=0.5).changes == {"geometry_changed": 1}
    (change,) = job.label_changes()
    assert (change.item_id, change.adjustment, change.iou) == (ids[0], 2.0, 0.5)
    assert "submitted" in repr(ds.label_job("fix"))

    auto = ds.create_label_job("pre", collection="all", source_labels="prediction", model="m1")
    assert auto.info.params["n_prelabels"] == 1
    assert [j.name for j in ds.label_jobs()] == ["pre", "fix"]
    assert [lab.name for lab in ds.labels(ids[1]) if lab.source == PRE] == ["dog"]
    ds.undo(auto.info.params["change_set"])
    assert [lab.source for lab in ds.labels(ids[1])] == ["prediction"]
    auto.delete()
    with pytest.raises(NotFoundError, match="no label job named 'pre'"):
        ds.label_job("pre")
