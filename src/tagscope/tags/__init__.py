"""Tag classifiers, calibration, scoring, thresholds, metrics, uncertainty and preview sampling.

Pure functions and estimators over vectors (numpy, scikit-learn, torch): no database, no files.
The service layer embeds prompts, loads vectors, and stores what these return.

- :class:`TagClassifier`: ``fit(X, y, *, prompts_pos, prompts_neg, background)`` learns a tag from
  text prompts, examples or both; ``predict_proba(X)[:, 1]`` is the calibrated score (0.5 is the
  default threshold); ``coef_``/``intercept_`` are all a scoring job needs.
- :func:`score_matrix` / :func:`score_with`: ``sigmoid(X @ coef.T + intercept)`` over millions of
  float16 rows at memory bandwidth, many tags at once.
- :func:`threshold_curves`, :func:`recommend_threshold`, :func:`metrics_at`: precision, recall,
  F1, F0.5 and accuracy over thresholds (agreeing with ``sklearn.metrics``).
- :func:`select_uncertain`: items near the decision boundary, diverse (MMR).
- :func:`preview_sample`, :func:`stratified_sample`, :func:`score_histogram`: what the preview and
  the histogram show.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagscope.tags.classifier import TagClassifier, fbeta_threshold, normalize_rows
    from tagscope.tags.metrics import (
        METRICS,
        ThresholdCurves,
        metrics_at,
        recommend_threshold,
        threshold_curves,
    )
    from tagscope.tags.sampling import (
        Preview,
        ScoreHistogram,
        preview_sample,
        score_histogram,
        stratified_sample,
    )
    from tagscope.tags.scoring import score_matrix, score_with, stack_models
    from tagscope.tags.uncertainty import select_uncertain

# Lazy (PEP 562): importing one of these modules must not load the others' scikit-learn and torch.
_MODULE_OF = {
    "TagClassifier": "classifier",
    "fbeta_threshold": "classifier",
    "normalize_rows": "classifier",
    "METRICS": "metrics",
    "ThresholdCurves": "metrics",
    "metrics_at": "metrics",
    "recommend_threshold": "metrics",
    "threshold_curves": "metrics",
    "Preview": "sampling",
    "ScoreHistogram": "sampling",
    "preview_sample": "sampling",
    "score_histogram": "sampling",
    "stratified_sample": "sampling",
    "score_matrix": "scoring",
    "score_with": "scoring",
    "stack_models": "scoring",
    "select_uncertain": "uncertainty",
}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"tagscope.tags.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'tagscope.tags' has no attribute {name!r}")


__all__ = [
    "METRICS",
    "Preview",
    "ScoreHistogram",
    "TagClassifier",
    "ThresholdCurves",
    "fbeta_threshold",
    "metrics_at",
    "normalize_rows",
    "preview_sample",
    "recommend_threshold",
    "score_histogram",
    "score_matrix",
    "score_with",
    "select_uncertain",
    "stack_models",
    "stratified_sample",
    "threshold_curves",
]
