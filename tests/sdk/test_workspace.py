"""The SDK in a few lines, on real COCO images and captions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tagscope as ts
from tagscope.domain import NotFoundError


def test_sdk_imports_embeds_and_searches(tmp_path: Path, coco_mini: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.dataset("coco")
    report = ds.import_coco(
        coco_mini / "annotations" / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=coco_mini / "annotations" / "captions_val2017.json",
        progress=False,
    )
    assert report.n_added == len(ds) == 79
    assert ws.datasets() == ["coco"]

    job = ds.embed(kind="text", progress=False)
    assert job.result["n_embedded"] == 79

    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    dog = next(c["id"] for c in doc["categories"] if c["name"] == "dog")
    dog_files = {
        im["file_name"]
        for im in doc["images"]
        if any(a["image_id"] == im["id"] and a["category_id"] == dog for a in doc["annotations"])
    }
    hits = ds.search("a dog", space="text", k=3)
    assert [Path(h.path).name in dog_files for h in hits] == [True, True, True]
    assert "dog" in {lab.name for lab in ds.labels(hits[0].item_id)}

    similar = ds.similar(hits[0].item_id, space="text", k=5)
    assert len(similar) == 5 and hits[0].item_id not in {h.item_id for h in similar}
    assert ds.info()["spaces"][0]["n_vectors"] == 79

    with pytest.raises(NotFoundError):
        ws.dataset("missing", create=False)
