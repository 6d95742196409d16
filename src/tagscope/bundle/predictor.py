"""Predictions from an exported model bundle with ONNX Runtime: the app's prediction JSON,
without torch.

A bundle is a folder: ``manifest.json``, ``image_encoder.onnx`` and ``head.onnx`` for a
classifier (:func:`tagscope.train.export.export_classifier`), ``detector.onnx`` for a detector
(:func:`tagscope.train.export.export_detector`). The decision rules
(:func:`classifier_prediction`, :func:`detector_prediction`) are those of the app's predictions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tagscope.bundle.preprocess import (
    ImageError,
    Preprocessor,
    check_detector_preprocess,
    decode_rgb,
    prepare_detector_image,
)

FORMAT = "tagscope-model-bundle"
FORMAT_VERSION = 1
KINDS = ("single-label", "multi-label", "detector")
# The files of each kind of bundle, by their manifest key.
FILES = {
    "single-label": ("image_encoder", "head"),
    "multi-label": ("image_encoder", "head"),
    "detector": ("detector",),
}


class BundleError(ValueError):
    """A folder that is not a usable bundle; the message says what is wrong."""


class InputError(ValueError):
    """An input image the bundle refuses: ``file`` names it, ``reason`` says why."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's manifest, checked: format, version, kind, classes, a threshold per class.

    Raises
    ------
    BundleError
        No manifest, not a bundle's, a newer format, or inconsistent fields.
    """
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{folder}: no manifest.json (not a model bundle)") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path}: format version {manifest.get('format_version')!r}; this reader knows "
            f"{FORMAT_VERSION}"
        )
    if manifest.get("kind") not in KINDS:
        raise BundleError(f"{path}: kind {manifest.get('kind')!r} is not one of {KINDS}")
    classes, thresholds = manifest.get("classes"), manifest.get("thresholds")
    if not isinstance(classes, list) or not classes:
        raise BundleError(f"{path}: no classes")
    missing = [c for c in classes if c not in (thresholds or {})]
    if missing:
        raise BundleError(f"{path}: no threshold for classes {missing}")
    return manifest


def predicted_classes(
    scores: Mapping[str, float], thresholds: Mapping[str, float], *, multi_label: bool
) -> list[str]:
    """A classifier's decisions: multi-label, every class at or above its threshold (in the
    class order); single-label, the best class when it reaches its threshold, else none."""
    if multi_label:
        return [c for c in scores if _reaches(scores[c], thresholds[c])]
    best = max(scores, key=lambda c: scores[c])  # ties: the first class
    return [best] if _reaches(scores[best], thresholds[best]) else []


def _reaches(score: float, threshold: float) -> bool:
    # In float32, the scores' precision, as the app compares them.
    return bool(np.float32(score) >= np.float32(threshold))


def classifier_prediction(
    file: str,
    proba: Sequence[float],
    classes: Sequence[str],
    thresholds: Mapping[str, float],
    *,
    multi_label: bool,
) -> dict[str, Any]:
    """One image's entry of the prediction JSON: ``{"file", "scores", "predicted"}``."""
    scores = {c: float(p) for c, p in zip(classes, proba, strict=True)}
    return {
        "file": file,
        "scores": scores,
        "predicted": predicted_classes(scores, thresholds, multi_label=multi_label),
    }


def detector_prediction(
    file: str, boxes: Sequence[Mapping[str, Any]], thresholds: Mapping[str, float]
) -> dict[str, Any]:
    """One image's entry of a detector: the boxes reaching their class's threshold (best
    first, as given) and their distinct classes, sorted."""
    kept = [dict(b) for b in boxes if _reaches(b["score"], thresholds[b["class"]])]
    return {"file": file, "boxes": kept, "predicted": sorted({b["class"] for b in kept})}


def detection_boxes(
    logits: np.ndarray,
    pred_boxes: np.ndarray,
    *,
    scale: float,
    width: int,
    height: int,
    classes: Sequence[str],
    image_size: int,
    min_score: float,
) -> list[dict[str, Any]]:
    """One image's detector outputs as boxes in its pixels, best first (the trained
    detector's post-processing: each query's best class, as DETR's).

    ``logits`` (Q, K + 1) with "no object" last; ``pred_boxes`` (Q, 4) cxcywh fractions of the
    padded square; ``scale`` square pixels per original pixel.
    """
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    probs = (z / z.sum(axis=1, keepdims=True))[:, :-1]
    labels = probs.argmax(axis=1)
    scores = probs[np.arange(len(labels)), labels]
    b = np.asarray(pred_boxes, dtype=np.float64) * (float(image_size) / scale)
    x0 = np.clip(b[:, 0] - b[:, 2] / 2, 0, width)
    y0 = np.clip(b[:, 1] - b[:, 3] / 2, 0, height)
    x1 = np.clip(b[:, 0] + b[:, 2] / 2, 0, width)
    y1 = np.clip(b[:, 1] + b[:, 3] / 2, 0, height)
    keep = (scores >= min_score) & (x1 > x0) & (y1 > y0)
    return [
        {
            "class": classes[labels[i]],
            "score": float(scores[i]),
            "bbox": [float(x0[i]), float(y0[i]), float(x1[i] - x0[i]), float(y1[i] - y0[i])],
        }
        for i in np.argsort(-scores, kind="stable")
        if keep[i]
    ]


class BundlePredictor:
    """An exported model, loaded for predictions with ONNX Runtime.

    Parameters
    ----------
    folder : path-like
        The bundle (see the module docstring).
    batch_size : int, default=32
        Images per forward pass; more are split.
    threads : int, optional
        ONNX Runtime's intra-op threads (default: its own choice, the physical cores).

    Examples
    --------
    >>> bundle = BundlePredictor("coco-m1-bundle")  # doctest: +SKIP
    >>> bundle.predict([("a.jpg", open("a.jpg", "rb").read())])["predictions"][0]["predicted"]
    ['cat']
    """

    def __init__(
        self, folder: str | os.PathLike[str], *, batch_size: int = 32, threads: int | None = None
    ) -> None:
        # Here, not at the top: the decision rules above serve the app without ONNX Runtime.
        import onnxruntime as ort

        self.folder = Path(folder)
        self.batch_size = batch_size
        self.manifest = read_manifest(self.folder)
        self.kind: str = self.manifest["kind"]
        self.classes: list[str] = list(self.manifest["classes"])
        self.thresholds: dict[str, float] = {
            c: float(self.manifest["thresholds"][c]) for c in self.classes
        }
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        files = self.manifest.get("files") or {}
        self.sessions = {}
        for key in FILES[self.kind]:
            path = self.folder / str(files.get(key, f"{key}.onnx"))
            if not path.is_file():
                raise BundleError(f"{self.folder}: the {key} model {path.name} is missing")
            try:
                self.sessions[key] = ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # ONNX Runtime's own error types
                raise BundleError(f"{path}: not a usable ONNX model ({exc})") from None
        try:
            if self.kind == "detector":
                check_detector_preprocess(self.manifest["preprocess"])
                self.preprocess = None
            else:
                self.preprocess = Preprocessor(self.manifest["preprocess"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{self.folder}: unusable preprocess settings ({exc})") from None

    @property
    def dataset(self) -> str:
        return str(self.manifest.get("dataset"))

    @property
    def model(self) -> str:
        return str(self.manifest.get("model"))

    def predict(self, files: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
        """Predict image files: the prediction JSON of the app.

        Parameters
        ----------
        files : sequence of (name, bytes)
            Image files; all are decoded before any is predicted.

        Returns
        -------
        dict
            ``{"dataset", "model", "kind", "checkpoint", "predictions": [{"file", "scores",
            "predicted"} or {"file", "boxes", "predicted"}, ...]}`` in the order of ``files``.

        Raises
        ------
        InputError
            A file is not a usable image (the first such, by name and reason).
        """
        images = [self._decode(name, data) for name, data in files]
        names = [name for name, _ in files]
        if self.kind == "detector":
            entries = [
                detector_prediction(name, boxes, self.thresholds)
                for name, boxes in zip(names, self.predict_boxes(images), strict=True)
            ]
        else:
            multi = self.kind == "multi-label"
            entries = [
                classifier_prediction(name, row, self.classes, self.thresholds, multi_label=multi)
                for name, row in zip(names, self.predict_proba(images), strict=True)
            ]
        return {
            "dataset": self.manifest.get("dataset"),
            "model": self.manifest.get("model"),
            "kind": self.kind,
            "checkpoint": self.manifest.get("checkpoint"),
            "predictions": entries,
        }

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """A classifier's class probabilities of RGB images, (n, k) float32."""
        return self.head(self.embed(images))

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """The image tower's unit vectors of RGB images, (n, d) float32."""
        assert self.preprocess is not None
        encoder = self.sessions["image_encoder"]
        out = [
            encoder.run(None, {"pixel_values": self.preprocess(images[i : i + self.batch_size])})[0]
            for i in range(0, len(images), self.batch_size)
        ]
        dim = int(self.manifest.get("embedding_dim") or 0)
        return np.concatenate(out) if out else np.zeros((0, dim), np.float32)

    def head(self, vectors: np.ndarray) -> np.ndarray:
        """The head's probabilities of (n, d) vectors, (n, k) float32."""
        if not len(vectors):
            return np.zeros((0, len(self.classes)), np.float32)
        return self.sessions["head"].run(None, {"embeddings": vectors.astype(np.float32)})[0]

    def predict_boxes(self, images: Sequence[Image.Image]) -> list[list[dict[str, Any]]]:
        """A detector's boxes of RGB images (all at or above the manifest's ``min_score``,
        before the class thresholds), best first: ``{"class", "score", "bbox": [x, y, w, h]}``
        in pixels of each image."""
        params = self.manifest["preprocess"]
        min_score = float(self.manifest.get("min_score", 0.05))
        out: list[list[dict[str, Any]]] = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            prepared = [prepare_detector_image(im, params) for im in batch]
            pixels = np.stack([p for p, _ in prepared])
            logits, boxes = self.sessions["detector"].run(None, {"pixel_values": pixels})
            out += [
                detection_boxes(
                    logits[j],
                    boxes[j],
                    scale=scale,
                    width=im.width,
                    height=im.height,
                    classes=self.classes,
                    image_size=int(params["image_size"]),
                    min_score=min_score,
                )
                for j, (im, (_, scale)) in enumerate(zip(batch, prepared, strict=True))
            ]
        return out

    @staticmethod
    def _decode(name: str, data: bytes) -> Image.Image:
        try:
            return decode_rgb(data)
        except ImageError as exc:
            raise InputError(name, str(exc)) from None
