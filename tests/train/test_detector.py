"""Detector: a tiny random YOLOS trained a few steps on coco-mini boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import YolosConfig, YolosForObjectDetection

from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.train.detector import Detector, default_time_limit

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "num_detection_tokens": 10,
}
KEYS = {"epoch", "train_loss", "val_loss", "train_metric", "val_metric", "seconds"}


@pytest.fixture(scope="module")
def coco(shared_dir: Path) -> tuple[list[Path], list[dict]]:
    """Six coco-mini images and their (non-crowd) boxes."""
    root = shared_dir / "data/coco-mini"
    source = json.loads((root / "annotations/instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in source["categories"]}
    images = source["images"][:6]
    targets = []
    for im in images:
        anns = [a for a in source["annotations"] if a["image_id"] == im["id"] and not a["iscrowd"]]
        targets.append(
            {"boxes": [a["bbox"] for a in anns], "classes": [names[a["category_id"]] for a in anns]}
        )
    return [root / "val2017" / im["file_name"] for im in images], targets


def _detector(**params) -> Detector:
    defaults = {
        "architecture": TINY,
        "image_size": 64,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "max_epochs": 4,
        "patience": 100,
    }
    return Detector(**{**defaults, **params})


def test_training_loss_falls_and_boxes_lie_in_the_images(coco) -> None:
    paths, targets = coco
    detector = _detector(max_epochs=5).fit(paths[:4], targets[:4])
    history = detector.history_
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert set(history[0]) == KEYS
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert detector.stop_reason_ == "max_epochs"
    assert detector.classes_ == sorted({c for t in targets[:4] for c in t["classes"]})

    predictions = detector.predict(paths[:2], min_score=0.0)
    assert len(predictions) == 2
    for path, boxes in zip(paths[:2], predictions, strict=True):
        width, height = _size(path)
        assert len(boxes) > 0
        scores = [b["score"] for b in boxes]
        assert scores == sorted(scores, reverse=True)
        for box in boxes:
            x, y, w, h = box["bbox"]
            assert box["class"] in detector.classes_
            assert x >= 0 and y >= 0 and w > 0 and h > 0
            assert x + w <= width + 1e-6 and y + h <= height + 1e-6


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def test_early_stopping_keeps_the_best_epoch(coco) -> None:
    paths, targets = coco
    rows: list[dict] = []
    # Four training images at a high learning rate: the model overfits, validation loss falls
    # then rises.
    detector = _detector(max_epochs=20, patience=2, learning_rate=1e-2).fit(
        paths[:4], targets[:4], val_images=paths[4:], val_targets=targets[4:], on_epoch=rows.append
    )
    history = detector.history_
    assert rows == history
    assert detector.stop_reason_ == "early_stopping"
    assert all(isinstance(r["val_loss"], float) and 0 <= r["val_metric"] <= 1 for r in rows)
    best = int(np.argmin([r["val_loss"] for r in history])) + 1
    assert detector.best_epoch_ == best
    assert len(history) == best + 2 < 20
    # The kept weights are those of the best epoch: a run that ends there predicts the same.
    again = _detector(max_epochs=best, learning_rate=1e-2).fit(
        paths[:4], targets[:4], val_images=paths[4:], val_targets=targets[4:]
    )
    assert detector.predict(paths[4:], min_score=0.0) == again.predict(paths[4:], min_score=0.0)


def test_should_stop_stops_between_steps(coco) -> None:
    paths, targets = coco
    rows: list[dict] = []
    detector = _detector(max_epochs=10, batch_size=2).fit(
        paths[:4], targets[:4], on_epoch=rows.append, should_stop=lambda: len(rows) >= 2
    )
    assert detector.stop_reason_ == "stopped"
    assert [r["epoch"] for r in detector.history_] == [1, 2]
    assert detector.best_epoch_ in (1, 2)


def test_time_limit_stops_training(coco) -> None:
    paths, targets = coco
    detector = _detector(time_limit=1e-9).fit(paths[:2], targets[:2])
    assert detector.stop_reason_ == "time_limit" and detector.history_ == []
    assert len(detector.predict(paths[:1], min_score=0.0)[0]) > 0


def test_checkpoint_resumes_where_training_stopped(coco, tmp_path: Path) -> None:
    paths, targets = coco
    checkpoint = tmp_path / "detector.ckpt"
    rows: list[dict] = []
    first = _detector().fit(
        paths[:4],
        targets[:4],
        checkpoint_path=checkpoint,
        on_epoch=rows.append,
        should_stop=lambda: len(rows) >= 2,
    )
    assert len(first.history_) == 2 and checkpoint.exists()
    resumed = _detector().fit(paths[:4], targets[:4], checkpoint_path=checkpoint)
    straight = _detector().fit(paths[:4], targets[:4])
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_allclose(
        [r["train_loss"] for r in resumed.history_],
        [r["train_loss"] for r in straight.history_],
        rtol=1e-5,
    )
    with pytest.raises(ValidationError, match="other classes or parameters"):
        _detector(learning_rate=1e-2).fit(paths[:4], targets[:4], checkpoint_path=checkpoint)


def test_save_and_load_round_trip(coco, tmp_path: Path) -> None:
    paths, targets = coco
    detector = _detector(max_epochs=1).fit(paths[:3], targets[:3])
    detector.save(tmp_path / "model")
    loaded = Detector.load(tmp_path / "model")
    assert loaded.classes_ == detector.classes_ and loaded.history_ == detector.history_
    assert (
        loaded.preprocess_ == detector.preprocess_ and loaded.get_params() == detector.get_params()
    )
    image_bytes = paths[0].read_bytes()
    assert loaded.predict([paths[0], image_bytes], min_score=0.0) == detector.predict(
        [paths[0], paths[0]], min_score=0.0
    )


def test_pretrained_folder_loads_with_a_new_head(coco, tmp_path: Path) -> None:
    paths, targets = coco
    config = YolosConfig(**TINY, image_size=[64, 64], num_labels=7)
    YolosForObjectDetection(config).save_pretrained(tmp_path / "weights")
    saved = YolosForObjectDetection.from_pretrained(tmp_path / "weights")
    detector = Detector(pretrained=str(tmp_path / "weights"), image_size=64, max_epochs=1)
    detector.fit(paths[:2], targets[:2], should_stop=lambda: True)  # no step: weights as loaded
    model = detector.model_
    assert model.config.num_labels == len(detector.classes_)
    assert model.class_labels_classifier.layers[-1].out_features == len(detector.classes_) + 1
    name = "vit.encoder.layer.0.attention.attention.query.weight"
    assert torch.equal(model.state_dict()[name], saved.state_dict()[name])
    with pytest.raises(ModelUnavailableError, match="cannot load detector weights"):
        Detector(pretrained=str(tmp_path / "missing")).fit(paths[:1], targets[:1])


def test_bad_input_names_the_item(coco, tmp_path: Path) -> None:
    paths, targets = coco
    with pytest.raises(ValidationError, match="no boxes at all"):
        _detector().fit(paths[:2], [{"boxes": [], "classes": []}] * 2)
    outside = {"boxes": [[600, 10, 100, 50]], "classes": ["cat"]}
    with pytest.raises(ValidationError, match=f"{paths[1].name}: box 0 .* outside the 640x"):
        _detector().fit(paths[:2], [targets[0], outside])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValidationError, match=r"broken\.jpg: not an image \(unknown format\)"):
        _detector().fit([paths[0], broken], targets[:2])
    with pytest.raises(ValidationError, match=r"validation image .*missing\.jpg: file not found"):
        _detector().fit(
            paths[:1], targets[:1], val_images=[tmp_path / "missing.jpg"], val_targets=targets[1:2]
        )
    with pytest.raises(ValidationError, match="2 boxes but 1 classes"):
        _detector().fit(paths[:1], [{"boxes": [[0, 0, 5, 5]] * 2, "classes": ["cat"]}])
    with pytest.raises(ValidationError, match="unknown detector size 'huge'"):
        Detector(size="huge").fit(paths[:1], targets[:1])
    with pytest.raises(ValidationError, match="unknown architecture settings: hidden_sise"):
        Detector(architecture={"hidden_sise": 8}).fit(paths[:1], targets[:1])


@pytest.mark.parametrize(
    ("n_classes", "hours"), [(1, 2), (2, 2), (3, 3), (5, 3), (6, 6), (10, 6), (11, 12), (80, 12)]
)
def test_default_time_limit(n_classes: int, hours: int) -> None:
    assert default_time_limit(n_classes) == hours * 3600
