"""Training statistics of a classifier: per-class PR curves, average precision, the F1-best
threshold, and for single-label models accuracy and a confusion matrix (F-81).

Examples
--------
>>> import numpy as np
>>> stats = classification_statistics(
...     np.array([[1, 0], [0, 1], [1, 0]]), np.array([[0.9, 0.1], [0.3, 0.7], [0.4, 0.6]]),
...     ["cat", "dog"], multi_label=False)
>>> stats["accuracy"], stats["confusion_matrix"]
(0.6666666666666666, [[1, 1], [0, 1]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix

from tagscope.tags.metrics import recommend_threshold, threshold_curves
from tagscope.train.validation import TrainingDataError

__all__ = ["classification_statistics"]

_CURVE_POINTS = 101  # thresholds 0, 0.01, ..., 1: what a chart draws and a slider snaps to


def classification_statistics(
    y_true: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    multi_label: bool,
    thresholds: Mapping[str, float] | None = None,
) -> dict:
    """Per-class precision-recall curves, AP and best thresholds; accuracy and confusion matrix.

    Parameters
    ----------
    y_true : array-like of shape (n_items, n_classes)
        0/1 ground-truth indicator (single-label: one 1 per row).
    proba : array-like of shape (n_items, n_classes)
        The model's scores of the same items.
    classes : sequence of str
        The class names, one per column.
    multi_label : bool
        Single-label adds ``accuracy`` and ``confusion_matrix`` (of the argmax prediction).
    thresholds : mapping of str to float, optional
        The user's thresholds by class: each such class also reports ``threshold`` and the
        precision, recall and F1 there (``at_threshold``).

    Returns
    -------
    dict
        JSON-able: ``classes``, ``per_class`` {name: {``ap`` (None without positives),
        ``n_positive``, ``best_threshold`` (max F1), ``curve`` {``thresholds``, ``precision``,
        ``recall``, ``f1``} (101 points)}}, ``map`` (mean AP over classes with positives, None
        if none) and, for single-label, ``accuracy`` and ``confusion_matrix`` (rows: truth,
        columns: prediction, in ``classes`` order).
    """
    y, p = _validate(y_true, proba, classes)
    per_class: dict[str, dict] = {}
    for j, name in enumerate(classes):
        curves = threshold_curves(y[:, j], p[:, j], thresholds=_CURVE_POINTS)
        n_pos = int(y[:, j].sum())
        entry: dict = {
            "ap": float(average_precision_score(y[:, j], p[:, j])) if n_pos else None,
            "n_positive": n_pos,
            "best_threshold": recommend_threshold(curves, "f1"),
            "curve": {
                "thresholds": curves.thresholds.tolist(),
                "precision": curves.precision.tolist(),
                "recall": curves.recall.tolist(),
                "f1": curves.f1.tolist(),
            },
        }
        if thresholds is not None and name in thresholds:
            at = curves.at(float(thresholds[name]))
            entry["threshold"] = float(thresholds[name])
            entry["at_threshold"] = {k: at[k] for k in ("precision", "recall", "f1")}
        per_class[name] = entry
    aps = [c["ap"] for c in per_class.values() if c["ap"] is not None]
    out: dict = {
        "classes": list(classes),
        "per_class": per_class,
        "map": float(np.mean(aps)) if aps else None,
    }
    if not multi_label:
        truth, predicted = y.argmax(axis=1), p.argmax(axis=1)
        out["accuracy"] = float((truth == predicted).mean())
        out["confusion_matrix"] = confusion_matrix(
            truth, predicted, labels=np.arange(len(classes))
        ).tolist()
    return out


def _validate(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if y.ndim != 2 or y.shape != p.shape or y.shape[1] != len(classes):
        raise TrainingDataError(
            f"y_true {y.shape} and proba {p.shape} must both be (n_items, {len(classes)}), one "
            f"column per class",
            field="y_true",
        )
    if len(y) == 0:
        raise TrainingDataError("no items to compute statistics on", field="y_true")
    if not np.isin(y, [0, 1]).all():
        raise TrainingDataError("y_true must be a 0/1 indicator", field="y_true")
    if not np.isfinite(p).all():
        raise TrainingDataError("proba holds NaN or infinite scores", field="proba")
    return y.astype(int), p
