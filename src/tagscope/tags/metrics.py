"""Precision, recall, F1, F0.5 and accuracy of a tag over thresholds; the recommended threshold.

An item is predicted positive when its score is at least the threshold (``score >= t``), the same
rule as the score tables' decision column. Every value agrees with ``sklearn.metrics``
(``precision_score``, ``recall_score``, ``f1_score``, ``fbeta_score(beta=0.5)``,
``accuracy_score``, each with ``zero_division=0``) on ``scores >= t``; the curves are computed for
all thresholds at once from one sort, so thousands of ground-truth items and 101 thresholds cost
well under a millisecond.

Examples
--------
>>> curves = threshold_curves([1, 0, 1, 0], [0.9, 0.6, 0.55, 0.1])
>>> recommend_threshold(curves, "f1")  # F1 = 0.8 for any threshold in (0.1, 0.55]
0.33
>>> curves.at(0.5)["precision"]
0.6666666666666666
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["METRICS", "ThresholdCurves", "metrics_at", "recommend_threshold", "threshold_curves"]

METRICS = ("precision", "recall", "f1", "f0.5", "accuracy")
"""The metrics the curves hold, by name."""


@dataclass(frozen=True)
class ThresholdCurves:
    """Metrics of ``score >= threshold`` for each threshold.

    Attributes
    ----------
    thresholds : ndarray of shape (n_thresholds,)
        Increasing thresholds.
    precision, recall, f1, f05, accuracy : ndarray of shape (n_thresholds,)
        The metric at each threshold (0 where undefined, as ``zero_division=0``).
    n_positive : float
        (Weighted) number of ground-truth positives.
    n_total : float
        (Weighted) number of ground-truth items.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    f05: np.ndarray
    accuracy: np.ndarray
    n_positive: float
    n_total: float

    def metric(self, name: str) -> np.ndarray:
        """The curve of the metric called ``name`` (one of :data:`METRICS`)."""
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
        return self.f05 if name == "f0.5" else getattr(self, name)

    def at(self, threshold: float) -> dict[str, float]:
        """Every metric at the listed threshold nearest to ``threshold``."""
        i = int(np.argmin(np.abs(self.thresholds - threshold)))
        return {name: float(self.metric(name)[i]) for name in METRICS}

    def to_dict(self) -> dict[str, list[float] | float]:
        """Plain lists, for JSON."""
        out: dict[str, list[float] | float] = {"thresholds": self.thresholds.tolist()}
        out.update({name: self.metric(name).tolist() for name in METRICS})
        out["n_positive"] = self.n_positive
        out["n_total"] = self.n_total
        return out


def _validate(
    y_true: np.ndarray, scores: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(
            f"y_true and scores must be 1-d of one length, got {y.shape} and {s.shape}"
        )
    if len(y) == 0:
        raise ValueError("no ground truth: y_true is empty")
    if not np.isin(y, [0, 1]).all():
        raise ValueError("y_true must hold 0/1 or bool labels")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if w.shape != y.shape or (w < 0).any():
        raise ValueError("sample_weight must be non-negative, one per item")
    return y.astype(bool), s, w


def threshold_curves(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    thresholds: np.ndarray | str | int = 101,
    sample_weight: np.ndarray | None = None,
) -> ThresholdCurves:
    """Precision, recall, F1, F0.5 and accuracy of ``scores >= t`` for many thresholds ``t``.

    Parameters
    ----------
    y_true : array-like of shape (n_items,)
        Ground truth, 0/1 or bool (1: the tag applies).
    scores : array-like of shape (n_items,)
        The tag's scores of the same items.
    thresholds : int, "unique" or array-like, default=101
        An int ``n``: ``n`` evenly spaced thresholds over [0, 1] (101: steps of 0.01);
        ``"unique"``: every distinct score; or the thresholds themselves.
    sample_weight : array-like of shape (n_items,), optional
        Weight of each item.

    Returns
    -------
    ThresholdCurves

    Raises
    ------
    ValueError
        Empty or mismatched inputs, labels other than 0/1, non-finite scores.
    """
    y, s, w = _validate(y_true, scores, sample_weight)
    if isinstance(thresholds, str):
        if thresholds != "unique":
            raise ValueError(f"thresholds must be an int, 'unique' or an array, not {thresholds!r}")
        t = np.unique(s)
    elif isinstance(thresholds, (int, np.integer)):
        if thresholds < 2:
            raise ValueError("ask for at least 2 thresholds")
        t = np.linspace(0.0, 1.0, int(thresholds))
    else:
        t = np.sort(np.asarray(thresholds, dtype=np.float64).ravel())
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    # Weight of positives / of all items strictly below each threshold.
    cum_pos = np.r_[0.0, np.cumsum(w[order] * y[order])]
    cum_all = np.r_[0.0, np.cumsum(w[order])]
    below = np.searchsorted(s_sorted, t, side="left")
    total_pos, total = cum_pos[-1], cum_all[-1]
    tp = total_pos - cum_pos[below]
    pred_pos = total - cum_all[below]
    fp = pred_pos - tp
    fn = total_pos - tp
    tn = total - total_pos - fp
    precision = _div(tp, pred_pos)
    recall = _div(tp, np.full_like(tp, total_pos))
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    f05 = _div(1.25 * tp, 1.25 * tp + 0.25 * fn + fp)
    accuracy = _div(tp + tn, np.full_like(tp, total))
    return ThresholdCurves(t, precision, recall, f1, f05, accuracy, float(total_pos), float(total))


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def metrics_at(
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    *,
    sample_weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Every metric of :data:`METRICS` for ``scores >= threshold``."""
    curves = threshold_curves(
        y_true, scores, thresholds=np.array([threshold]), sample_weight=sample_weight
    )
    return curves.at(threshold)


def recommend_threshold(curves: ThresholdCurves, metric: str = "f1") -> float:
    """The threshold that maximises ``metric`` on ``curves``.

    Where several adjacent thresholds tie at the maximum, the middle of the first such run is
    returned (a plateau's centre is the safest cut on new data).

    Parameters
    ----------
    curves : ThresholdCurves
    metric : {"precision", "recall", "f1", "f0.5", "accuracy"}, default="f1"

    Returns
    -------
    float
    """
    values = curves.metric(metric)
    best = values.max()
    at_best = np.isclose(values, best, rtol=0, atol=1e-12)
    first = int(np.argmax(at_best))
    end = first
    while end + 1 < len(values) and at_best[end + 1]:
        end += 1
    return float(curves.thresholds[(first + end) // 2])
