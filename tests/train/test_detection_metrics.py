"""evaluate_detections: known cases and agreement with pycocotools used the file-based way."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tagscope.domain import ValidationError
from tagscope.train.detection_metrics import evaluate_detections

TRUTH = [
    {"boxes": [[10, 10, 40, 30], [60, 20, 20, 50]], "classes": ["cat", "dog"]},
    {"boxes": [[5, 5, 30, 30]], "classes": ["cat"]},
]


def _perfect(truth: list[dict]) -> list[list[dict]]:
    return [
        [
            {"class": c, "score": 0.9, "bbox": b}
            for b, c in zip(t["boxes"], t["classes"], strict=True)
        ]
        for t in truth
    ]


def test_perfect_predictions_score_one() -> None:
    result = evaluate_detections(TRUTH, _perfect(TRUTH), ["cat", "dog"])
    assert result["map"] == pytest.approx(1.0)
    assert result["map50"] == pytest.approx(1.0)
    for name in ("cat", "dog"):
        entry = result["per_class"][name]
        assert entry["ap"] == pytest.approx(1.0) and entry["ap50"] == pytest.approx(1.0)
        assert entry["best_threshold"] == pytest.approx(0.9)
        assert entry["curve"]["recall"][-1] == pytest.approx(1.0)
    assert result["per_class"]["cat"]["n_truth"] == 2
    json.dumps(result)  # JSON-able


def test_false_positive_ranked_above_the_true_positive_halves_ap() -> None:
    truth = [{"boxes": [[0, 0, 10, 10]], "classes": ["cat"]}]
    predictions = [
        [
            {"class": "cat", "score": 0.9, "bbox": [50, 50, 10, 10]},  # no overlap: FP
            {"class": "cat", "score": 0.8, "bbox": [0, 0, 10, 10]},
        ]
    ]
    entry = evaluate_detections(truth, predictions, ["cat"])["per_class"]["cat"]
    # Interpolated precision is 1/2 at every recall level.
    assert entry["ap50"] == pytest.approx(0.5)
    assert entry["ap"] == pytest.approx(0.5)
    assert entry["best_threshold"] == pytest.approx(0.8)
    assert entry["curve"]["f1"][-1] == pytest.approx(2 * 0.5 / 1.5)


def test_half_recall_and_partial_overlap() -> None:
    truth = [{"boxes": [[0, 0, 10, 10], [40, 40, 10, 10]], "classes": ["cat", "cat"]}]
    # Only the first box is found, with IoU 0.63: a match at IoU 0.5, 0.55 and 0.6 only.
    predictions = [[{"class": "cat", "score": 0.7, "bbox": [0, 0, 10, 6.3]}]]
    result = evaluate_detections(truth, predictions, ["cat"])
    entry = result["per_class"]["cat"]
    ap50 = 51 / 101  # precision 1 at recall 0, 0.01, ..., 0.5; 0 above
    assert entry["ap50"] == pytest.approx(ap50)
    assert entry["ap"] == pytest.approx(3 * ap50 / 10)
    assert entry["curve"]["recall"][-1] == pytest.approx(0.5)
    assert len(entry["curve"]["thresholds"]) == 51


def test_classes_without_truth_are_left_out_of_the_mean() -> None:
    result = evaluate_detections(TRUTH, _perfect(TRUTH), ["cat", "dog", "bird"])
    assert result["per_class"]["bird"]["ap"] is None
    assert result["per_class"]["bird"]["best_threshold"] is None
    assert result["map"] == pytest.approx(1.0)
    empty = evaluate_detections([{"boxes": [], "classes": []}], [[]], ["cat"])
    assert empty["map"] is None and empty["map50"] is None


def test_no_predictions_scores_zero() -> None:
    result = evaluate_detections(TRUTH, [[], []], ["cat", "dog"])
    assert result["map"] == 0.0 and result["per_class"]["cat"]["curve"]["recall"] == []


def test_bad_input_is_named() -> None:
    with pytest.raises(ValidationError, match="prediction 0: unknown class 'cow'"):
        evaluate_detections(
            TRUTH, [[{"class": "cow", "score": 1, "bbox": [0, 0, 1, 1]}], []], ["cat", "dog"]
        )
    with pytest.raises(ValidationError, match="2 truth entries but 1"):
        evaluate_detections(TRUTH, [[]], ["cat", "dog"])


def _noisy_predictions(annotations: list[dict], rng: np.random.Generator) -> list[dict]:
    """Shifted copies of most truth boxes, some with the wrong class, plus random boxes."""
    out = []
    for ann in annotations:
        if rng.random() < 0.2:
            continue
        x, y, w, h = ann["bbox"]
        jitter = rng.normal(0, 0.15, 4) * [w, h, w, h]
        cat = ann["category_id"] if rng.random() < 0.9 else 1
        out.append(
            {
                "image_id": ann["image_id"],
                "category_id": cat,
                "bbox": [
                    x + jitter[0],
                    y + jitter[1],
                    abs(w + jitter[2]) + 1,
                    abs(h + jitter[3]) + 1,
                ],
                "score": float(rng.random()),
            }
        )
        if rng.random() < 0.3:
            out.append(
                {
                    "image_id": ann["image_id"],
                    "category_id": ann["category_id"],
                    "bbox": [float(v) for v in rng.uniform(0, 200, 4) + np.array([0, 0, 5, 5])],
                    "score": float(rng.random()),
                }
            )
    return out


def test_agrees_with_pycocotools_on_files(shared_dir: Path, tmp_path: Path) -> None:
    source = json.loads(
        (shared_dir / "data/coco-mini/annotations/instances_val2017.json").read_text()
    )
    images = source["images"][:30]
    ids = {im["id"] for im in images}
    annotations = [a for a in source["annotations"] if a["image_id"] in ids and not a["iscrowd"]]
    detections = _noisy_predictions(annotations, np.random.default_rng(0))
    gt_file, dt_file = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_file.write_text(
        json.dumps(
            {"images": images, "annotations": annotations, "categories": source["categories"]}
        )
    )
    dt_file.write_text(json.dumps(detections))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        evaluator = COCOeval(gt, gt.loadRes(str(dt_file)), iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()

    names = {c["id"]: c["name"] for c in source["categories"]}
    classes = [c["name"] for c in source["categories"]]
    truth = [
        {
            "boxes": [a["bbox"] for a in annotations if a["image_id"] == im["id"]],
            "classes": [names[a["category_id"]] for a in annotations if a["image_id"] == im["id"]],
        }
        for im in images
    ]
    predictions = [
        [
            {"class": names[d["category_id"]], "score": d["score"], "bbox": d["bbox"]}
            for d in detections
            if d["image_id"] == im["id"]
        ]
        for im in images
    ]
    result = evaluate_detections(truth, predictions, classes)

    assert result["map"] == pytest.approx(evaluator.stats[0], abs=1e-12)
    assert result["map50"] == pytest.approx(evaluator.stats[1], abs=1e-12)
    assert 0.1 < result["map"] < 0.9  # a case with something to get wrong
    precision = evaluator.eval["precision"][0, :, :, 0, -1]
    for k, cat in enumerate(evaluator.params.catIds):
        column = precision[:, k]
        expected = column[column > -1].mean() if (column > -1).any() else None
        assert result["per_class"][names[cat]]["ap50"] == pytest.approx(expected, abs=1e-12)
