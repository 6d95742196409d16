"""Training on a dataset's labels: classifier heads over embedding vectors, validation splits and
training statistics (issue 13; see DESIGN.md, package ``train``)."""

from tagscope.train.detection_metrics import evaluate_detections
from tagscope.train.detector import Detector, default_time_limit
from tagscope.train.finetune import fine_tune_tower
from tagscope.train.heads import HeadClassifier, mean_average_precision
from tagscope.train.statistics import classification_statistics
from tagscope.train.validation import TrainingDataError, validation_split

__all__ = [
    "Detector",
    "HeadClassifier",
    "TrainingDataError",
    "classification_statistics",
    "default_time_limit",
    "evaluate_detections",
    "fine_tune_tower",
    "mean_average_precision",
    "validation_split",
]
