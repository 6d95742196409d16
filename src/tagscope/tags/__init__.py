"""Tag classifiers, calibration, scoring, thresholds, metrics, uncertainty and preview sampling.

Pure functions and estimators over vectors (numpy, scikit-learn, torch): no database, no files.
The service layer embeds prompts, loads vectors, and stores what these return.
"""

from tagscope.tags.classifier import TagClassifier, fbeta_threshold, normalize_rows
from tagscope.tags.metrics import (
    METRICS,
    ThresholdCurves,
    metrics_at,
    recommend_threshold,
    threshold_curves,
)
from tagscope.tags.scoring import score_matrix, score_with, stack_models

__all__ = [
    "METRICS",
    "TagClassifier",
    "ThresholdCurves",
    "fbeta_threshold",
    "metrics_at",
    "normalize_rows",
    "recommend_threshold",
    "score_matrix",
    "score_with",
    "stack_models",
    "threshold_curves",
]
