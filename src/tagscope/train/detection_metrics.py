"""Detection metrics: COCO mAP, per-class AP and precision-recall curves, with pycocotools.

The boxes are given to pycocotools' ``COCO``/``COCOeval`` in memory (no files): one image id per
truth entry (1, 2, ...), one category id per class (1, 2, ... in ``classes`` order), each truth box
with area w*h and not crowd, as ``COCO.loadRes`` would build the results.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tagscope.domain import ValidationError


def evaluate_detections(
    truth: Sequence[dict], predictions: Sequence[list[dict]], classes: Sequence[str]
) -> dict:
    """Score predicted boxes against the truth as COCO does (``iouType="bbox"``, 100 per image).

    Parameters
    ----------
    truth : sequence of dict
        Per image ``{"boxes": [[x, y, w, h], ...], "classes": [name, ...]}`` (pixels).
    predictions : sequence of list of dict
        Per image (same order) ``[{"class": name, "score": float, "bbox": [x, y, w, h]}, ...]``.
    classes : sequence of str
        The classes evaluated; boxes of other classes raise.

    Returns
    -------
    dict
        JSON-able: ``{"map": AP@[.5:.95], "map50": AP@.5, "per_class": {name: {"ap50", "ap",
        "n_truth", "best_threshold", "curve": {"thresholds", "precision", "recall", "f1"}}}}``.
        Means are COCO's: over the classes that have truth boxes; a class without any has
        ``ap``/``ap50`` None, and both means are None when no class has one. The curve is
        COCOeval's at IoU 0.5: interpolated precision at recall 0, 0.01, ..., 1 up to the
        highest recall reached, with the score of the detection that reaches each recall;
        ``best_threshold`` is the score where F1 is highest (None without a true positive).
    """
    if len(truth) != len(predictions):
        raise ValidationError(
            f"{len(truth)} truth entries but {len(predictions)} prediction lists",
            field="predictions",
        )
    category = {name: k + 1 for k, name in enumerate(classes)}
    images = [{"id": i + 1} for i in range(len(truth))]
    categories = [{"id": k, "name": name} for name, k in category.items()]
    gt = _coco(images, categories, _truth_annotations(truth, category))
    dt = _coco(images, categories, _prediction_annotations(predictions, category))
    evaluator = COCOeval(gt, dt, iouType="bbox")
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints its progress
        evaluator.evaluate()
        evaluator.accumulate()
    # precision: [IoU threshold, recall threshold, class, area range, max detections]
    precision = evaluator.eval["precision"][:, :, :, 0, -1]
    scores = evaluator.eval["scores"][:, :, :, 0, -1]
    recall = evaluator.params.recThrs
    n_truth = {k: 0 for k in category.values()}
    for ann in gt.dataset["annotations"]:
        n_truth[ann["category_id"]] += 1
    per_class = {
        name: _class_entry(precision[:, :, k], scores[0, :, k], recall, n_truth[k + 1])
        for k, name in enumerate(classes)
    }
    return {"map": _mean(precision), "map50": _mean(precision[0]), "per_class": per_class}


def _coco(images: list[dict], categories: list[dict], annotations: list[dict]) -> COCO:
    coco = COCO()
    coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _category(name: str, category: dict[str, int], where: str) -> int:
    try:
        return category[name]
    except KeyError:
        raise ValidationError(f"{where}: unknown class {name!r}", field="classes") from None


def _annotation(ann_id: int, image_id: int, category_id: int, bbox: Sequence[float]) -> dict:
    x, y, w, h = (float(v) for v in bbox)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": [x, y, w, h],
        "area": w * h,
        "iscrowd": 0,
    }


def _truth_annotations(truth: Sequence[dict], category: dict[str, int]) -> list[dict]:
    out: list[dict] = []
    for i, target in enumerate(truth):
        boxes, names = target.get("boxes", []), target.get("classes", [])
        if len(boxes) != len(names):
            raise ValidationError(
                f"truth {i}: {len(boxes)} boxes but {len(names)} classes", field="truth"
            )
        for box, name in zip(boxes, names, strict=True):
            cat = _category(name, category, f"truth {i}")
            out.append(_annotation(len(out) + 1, i + 1, cat, box))
    return out


def _prediction_annotations(predictions: Sequence[list[dict]], category: dict[str, int]) -> list:
    out: list[dict] = []
    for i, boxes in enumerate(predictions):
        for det in boxes:
            cat = _category(det["class"], category, f"prediction {i}")
            ann = _annotation(len(out) + 1, i + 1, cat, det["bbox"])
            ann["score"] = float(det["score"])
            out.append(ann)
    return out


def _mean(precision: np.ndarray) -> float | None:
    """COCO's summary: the mean over the entries of classes that have truth (others are -1)."""
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else None


def _class_entry(
    precision: np.ndarray, scores: np.ndarray, recall: np.ndarray, n_truth: int
) -> dict:
    """One class: AP over IoU thresholds, AP@.5, and the IoU 0.5 curve with its best F1."""
    entry = {"ap50": _mean(precision[0]), "ap": _mean(precision), "n_truth": n_truth}
    p50 = precision[0]
    # Recall levels never reached hold precision 0 (and score 0): not points of the curve.
    reached = np.flatnonzero(p50 > 0)
    p, r, s = p50[reached], recall[reached], scores[reached]
    f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0.0)
    entry["best_threshold"] = float(s[np.argmax(f1)]) if len(f1) else None
    entry["curve"] = {
        "thresholds": s.tolist(),
        "precision": p.tolist(),
        "recall": r.tolist(),
        "f1": f1.tolist(),
    }
    return entry
