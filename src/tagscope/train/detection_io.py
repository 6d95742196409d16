"""A detector's inputs and outputs without torch: decoding, preprocessing, targets, boxes.

The trained :class:`~tagscope.train.detector.Detector` and the offline bundle (ONNX Runtime, no
torch) share these functions, so both see the same pixels and turn the network's outputs into the
same boxes. Only numpy and Pillow are imported here.

Geometry: an image is resized so that its longer side is ``image_size`` (aspect kept), pasted at
the top left of an ``image_size`` square and the rest filled with zeros after normalisation. The
network's boxes are (centre x, centre y, width, height) as fractions of that square; one factor,
``scale`` (square pixels per original pixel), converts them back to the original image's pixels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from tagscope.bundle.predictor import detection_boxes
from tagscope.bundle.preprocess import decode_rgb, prepare_detector_image
from tagscope.domain import ValidationError

ImageSource = str | os.PathLike[str] | bytes | Image.Image

# ImageNet statistics, those of YOLOS's image processor.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# A box may overhang its image by this many pixels (rounding in annotation tools); it is clipped.
BOX_TOLERANCE = 1.0


def preprocess_parameters(image_size: int) -> dict:
    """The preprocessing of a detector as JSON: what a bundle needs to replicate it."""
    return {
        "image_size": int(image_size),
        "resize": "longer_side",  # longer side -> image_size, aspect kept, size rounded
        "resample": "bilinear",  # Pillow's Image.Resampling.BILINEAR
        "pad": "bottom_right",  # image at the top left of the image_size square
        "pad_value": 0.0,  # after normalisation
        "rescale": 1 / 255,
        "mean": list(MEAN),
        "std": list(STD),
        "layout": "NCHW",
        "channels": "RGB",
        "boxes": "cxcywh fractions of the padded square",
    }


def decode_image(source: ImageSource) -> Image.Image:
    """Decode a file (path or bytes) to upright RGB at full size, as ``media.load_rgb`` does
    (the bundle's decoder: the trained detector and its bundle see the same pixels).

    A PIL image is taken as already decoded and only converted to RGB.

    Raises
    ------
    ValueError
        The file is missing or cannot be decoded; the message is the reason.
    """
    if isinstance(source, Image.Image):
        return source if source.mode == "RGB" else source.convert("RGB")
    if not isinstance(source, bytes):
        try:
            source = Path(source).read_bytes()
        except FileNotFoundError:
            raise ValueError("file not found") from None
    return decode_rgb(source)


def prepare_image(image: Image.Image, preprocess: Mapping) -> tuple[np.ndarray, float]:
    """One RGB image as the network's input: ``(pixels (3, S, S) float32, scale)``, S =
    ``preprocess["image_size"]`` and ``scale`` square pixels per original pixel (the bundle's
    :func:`~tagscope.bundle.preprocess.prepare_detector_image`)."""
    return prepare_detector_image(image, preprocess)


def check_target(target: Mapping, width: int, height: int, *, name: str) -> np.ndarray:
    """Validate one image's boxes against its size; return them clipped, shape (n, 4) xywh.

    Raises
    ------
    ValidationError
        Boxes and classes of different lengths, a malformed box, a box without area or one
        outside the image (beyond ``BOX_TOLERANCE`` pixels); the message names ``name``.
    """
    boxes, classes = target.get("boxes", []), target.get("classes", [])
    if len(boxes) != len(classes):
        raise ValidationError(
            f"{name}: {len(boxes)} boxes but {len(classes)} classes", field="targets"
        )
    out = np.zeros((len(boxes), 4), dtype=np.float64)
    for j, box in enumerate(boxes):
        try:
            x, y, w, h = (float(v) for v in box)
        except (TypeError, ValueError):
            raise ValidationError(f"{name}: box {j} is not [x, y, w, h]", field="targets") from None
        t = BOX_TOLERANCE
        if not (x >= -t and y >= -t and x + w <= width + t and y + h <= height + t):
            raise ValidationError(
                f"{name}: box {j} [{x:g}, {y:g}, {w:g}, {h:g}] lies outside the "
                f"{width}x{height} image",
                field="targets",
            )
        x0, y0 = max(x, 0.0), max(y, 0.0)
        x1, y1 = min(x + w, width), min(y + h, height)
        if x1 <= x0 or y1 <= y0:
            raise ValidationError(f"{name}: box {j} has no area", field="targets")
        out[j] = (x0, y0, x1 - x0, y1 - y0)
    return out


def boxes_to_network(boxes_xywh: np.ndarray, scale: float, image_size: int) -> np.ndarray:
    """Pixel boxes (n, 4) xywh of the original image -> cxcywh fractions of the square."""
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4) * scale / image_size
    return np.stack([b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2, b[:, 2], b[:, 3]], axis=1)


def postprocess(
    logits: np.ndarray,
    pred_boxes: np.ndarray,
    *,
    scale: float,
    width: int,
    height: int,
    classes: Sequence[str],
    preprocess: Mapping,
    min_score: float = 0.05,
) -> list[dict]:
    """One image's network outputs -> its boxes in original pixels, best first: ``{"class",
    "score", "bbox": [x, y, w, h]}``, each query's best class (as DETR's post-processing), the
    bundle's :func:`~tagscope.bundle.predictor.detection_boxes`.

    ``logits`` (Q, K + 1) with "no object" last, ``pred_boxes`` (Q, 4) cxcywh fractions of the
    padded square; ``scale``, ``width``, ``height`` from :func:`prepare_image` and the image.
    """
    return detection_boxes(
        logits,
        pred_boxes,
        scale=scale,
        width=width,
        height=height,
        classes=classes,
        image_size=int(preprocess["image_size"]),
        min_score=min_score,
    )
