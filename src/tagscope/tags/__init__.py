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
from tagscope.tags.sampling import (
    Preview,
    ScoreHistogram,
    preview_sample,
    score_histogram,
    stratified_sample,
)
from tagscope.tags.scoring import score_matrix, score_with, stack_models
from tagscope.tags.uncertainty import select_uncertain

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
