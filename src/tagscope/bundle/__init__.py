"""Offline model bundles: an exported model's predictions with ONNX Runtime, NumPy and Pillow
alone (no torch, no other part of Tagscope), in process or behind ``tagscope-predict-server``.

Bundles are written by :func:`tagscope.train.export.export_classifier`.
"""

from tagscope.bundle.predictor import (
    BundleError,
    BundlePredictor,
    InputError,
    classifier_prediction,
    detector_prediction,
    read_manifest,
)
from tagscope.bundle.preprocess import ImageError, Preprocessor, decode_rgb

__all__ = [
    "BundleError",
    "BundlePredictor",
    "ImageError",
    "InputError",
    "Preprocessor",
    "classifier_prediction",
    "decode_rgb",
    "detector_prediction",
    "read_manifest",
]
