"""The SDK's review and result sets: ``job.summary()``, ``changes``, ``accept``, ``reject``,
``pending``, ``save_result_set``; ``ds.result_sets()``, ``ds.export(..., result_set=)`` and
``ds.delete_result_set``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import tagscope as ts
from tagscope.domain import Label, LabelKind, LabelSource, MediaInfo, NewItem
from tagscope.domain.changes import UndoConflictError
from tagscope.service import Workspace
from tagscope.service import result_sets as rs
from tagscope.service import review as rv


def test_sdk_result_sets_and_their_export(tmp_path: Path, review_job: Callable) -> None:
    _, ch = review_job(Workspace.open(tmp_path / "ws"))
    ds = ts.open(tmp_path / "ws").dataset("d")
    assert ds.result_sets() == []
    service_ws = Workspace.open(tmp_path / "ws")
    rv.decide(service_ws, "d", "j", "rejected", ids=[ch[6]])
    rs.save_result_set(service_ws, "d", "fixed", "j")
    [found] = ds.result_sets()
    assert (found.name, found.n_items, found.n_labels, found.view) == ("fixed", 1, 1, "rs_fixed")
    report = ds.export("coco", tmp_path / "out", result_set="fixed", progress=False)
    doc = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert report.n_labels == 1 and [a["bbox"] for a in doc["annotations"]] == [[5, 5, 4, 4]]
    assert [c["name"] for c in doc["categories"]] == ["cat"]  # the prelabel: rejected
    ds.delete_result_set("fixed")
    assert ds.result_sets() == []


def test_sdk_review_of_a_submitted_manual_job(tmp_path: Path) -> None:
    pre = LabelSource.PRELABEL
    cat, dog = (Label(LabelKind.CLASSIFICATION, n, is_main=True) for n in ("cat", "dog"))
    labels = [
        (Label(LabelKind.CLASSIFICATION, "cat", pre, is_main=True), dog),
        (Label(LabelKind.CLASSIFICATION, "cat", pre, is_main=True), cat),
    ]
    ds = ts.open(tmp_path / "ws").create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # items without files to import
    record = catalog.get_dataset("d")
    catalog.add_items(
        record.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    ds.create_collection("all", item_ids=catalog.item_ids(record.id))
    job = ds.create_label_job("j", collection="all")
    job.submit()
    assert job.summary().tabs == {"pending": 2, "accepted": 0, "rejected": 0}
    [changed] = job.changes(class_changed=True).changes
    assert (changed.expert_class, changed.prelabel_class) == ("dog", "cat")
    assert job.accept(class_changed=True).n_changed == 1
    decided = job.reject([c.id for c in job.changes(status="pending").changes])
    assert decided.n_changed == 1
    back = job.pending(status="rejected")
    assert back.n_changed == 1
    saved = job.save_result_set("checked")
    assert (saved.n_labels, saved.n_pending) == (1, 1)
    with pytest.raises(UndoConflictError):  # the rejection was moved back to pending since
        ds.undo(decided.change_set or 0)
    ds.undo(back.change_set or 0)
    assert job.summary().tabs == {"pending": 0, "accepted": 1, "rejected": 1}
