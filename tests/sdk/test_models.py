"""Models in the SDK: ``ds.train_model(...)`` on coco-mini's captions, the handle's statistics,
thresholds, predictions on items, stop; image predictions and export over a ``clip`` space
(the tiny CLIP)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import tagscope as ts
from tagscope.domain import NotFoundError, ValidationError
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings


def test_train_read_thresholds_predictions_delete(coco_text_ws: Workspace) -> None:
    ds = ts.open(coco_text_ws.paths.root).dataset("coco")
    model = ds.train_model("m1", kind="multi-label", space="text", max_epochs=6, patience=100)
    info = model.info
    assert (info.name, str(info.status), len(info.history)) == ("m1", "ready", 6)
    assert info.metrics["stop_reason"] == "max_epochs"
    assert [m.name for m in ds.models()] == ["m1"]
    assert ds.model("m1").info.classes == info.classes
    assert "m1" in repr(model) and "multi-label" in repr(model)

    stats = model.statistics()
    assert stats["per_class"]["person"]["best_threshold"] == pytest.approx(
        info.optimized_thresholds["person"]
    )
    assert set(model.statistics("train")["per_class"]) <= set(info.classes)

    assert model.set_thresholds({**info.thresholds, "person": 0.3}).thresholds[
        "person"
    ] == pytest.approx(0.3)
    assert model.info.thresholds["person"] == pytest.approx(0.3)
    assert model.set_thresholds(None).thresholds == info.optimized_thresholds

    page = model.predictions(subset="validation", limit=3)
    assert page["total"] == info.metrics["n_validation"] and len(page["rows"]) == 3
    row = page["rows"][0]
    (again,) = model.predict_items([row["item_id"]])["predictions"]
    assert again["scores"] == pytest.approx(row["scores"], abs=1e-5)
    assert again["predicted"] == row["predicted"]

    model.delete()
    assert ds.models() == []
    with pytest.raises(NotFoundError, match="m1"):
        ds.model("m1")


def test_a_text_model_cannot_predict_images(coco_text_ws: Workspace, coco_mini: Path) -> None:
    ds = ts.open(coco_text_ws.paths.root).dataset("coco")
    model = ds.train_model("m", kind="multi-label", space="text", max_epochs=2)
    image = next((coco_mini / "val2017").glob("*.jpg"))
    with pytest.raises(ValidationError, match="text"):
        model.predict([image])


def test_predict_image_files_and_bytes_and_export(
    coco_text_ws: Workspace, tiny_clip_dir: Path, coco_mini: Path, tmp_path: Path
) -> None:
    compute_embeddings(coco_text_ws, "coco", space="clip", kind="clip", model=str(tiny_clip_dir))
    ds = ts.open(coco_text_ws.paths.root).dataset("coco")
    model = ds.train_model("pics", kind="multi-label", space="clip", max_epochs=3)
    a, b = sorted((coco_mini / "val2017").glob("*.jpg"))[:2]
    by_path = model.predict([a, str(b)])
    assert [p["file"] for p in by_path["predictions"]] == [a.name, b.name]
    by_bytes = model.predict([("x.jpg", a.read_bytes())], checkpoint="last")
    assert by_bytes["checkpoint"] == "last"
    assert by_bytes["predictions"][0]["file"] == "x.jpg"
    assert set(by_bytes["predictions"][0]["scores"]) == set(model.info.classes)

    folder = model.export(tmp_path / "bundle")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["model"], manifest["space"], manifest["thresholds"]) == (
        "pics",
        "clip",
        model.info.thresholds,
    )


def test_stop_from_another_thread(coco_text_ws: Workspace) -> None:
    ds = ts.open(coco_text_ws.paths.root).dataset("coco")
    options = {"max_epochs": 100_000, "patience": 100_000, "time_limit": 120}
    trainer = threading.Thread(
        target=ds.train_model,
        args=("long",),
        kwargs={"kind": "multi-label", "space": "text", **options},
    )
    trainer.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(m.name == "long" and m.info.history for m in ds.models()):
            break
        time.sleep(0.05)
    assert str(ds.model("long").stop().status) == "training"  # asked; it stops at its next epoch
    trainer.join(timeout=120)
    info = ds.model("long").info
    assert (str(info.status), info.metrics["stop_reason"]) == ("ready", "stopped")
