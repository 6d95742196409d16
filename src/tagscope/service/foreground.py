"""Smart foreground extraction (F-61): the mask of the object in a rectangle an annotator draws.

:func:`extract_foreground` runs GrabCut (:mod:`tagscope.media.grabcut`) on an item's image with
the rectangle, the annotator's foreground and background strokes and, to refine, the previous
result; it answers the mask as COCO's compressed RLE (what a mask label stores) with its area
and, on request, the polygons with holes. It only computes: the labeling tool saves the label it
becomes through the label routes. Reading the item is enough (:data:`Action.READ`).

:func:`segment_anything_status` says whether a Segment Anything model was provided
(``TAGSCOPE_SAM_DIR``); none ships with Tagscope.

Examples
--------
>>> extract_foreground(ws, "coco", 12, rect=(40, 30, 200, 180)).area        # doctest: +SKIP
21544
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._lazy import deferred
from tagscope.domain import Modality, ValidationError
from tagscope.labels.geometry import InvalidGeometry, check_rle
from tagscope.labels.matching import rle
from tagscope.media import grabcut
from tagscope.media.images import load_rgb
from tagscope.service import policy
from tagscope.service.browse import _imported_file
from tagscope.service.labels import _item
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace

if TYPE_CHECKING:
    from pycocotools import mask as coco_mask
else:
    coco_mask = deferred("pycocotools.mask")

OUTPUTS = ("mask", "polygon")
MAX_BRUSH = 256
MAX_ITERATIONS = 20
MAX_STROKES = 500
SAM_DIR_VARIABLE = "TAGSCOPE_SAM_DIR"
_SAM_FILES = (".pt", ".pth", ".onnx", ".safetensors", ".bin")
SAM_HOW_TO = (
    f"Segment Anything is not available: no model ships with Tagscope. Download a Segment "
    f"Anything family checkpoint (e.g. SAM, SAM 2, MobileSAM) into a folder and start the server "
    f"with {SAM_DIR_VARIABLE} set to that folder. Without one, GrabCut (rectangle and strokes) "
    f"extracts the foreground."
)


@dataclass(frozen=True, slots=True)
class Foreground:
    """A foreground mask: COCO's compressed RLE ``{size: [h, w], counts}``, its pixels, and (when
    asked for) polygons ``[[ring, hole, ...], ...]`` whose flattened rings are a polygon label's
    parts."""

    mask: dict[str, Any]
    area: int
    polygons: list[list[list[float]]] | None = None


def extract_foreground(
    ws: Workspace,
    dataset: str,
    item_id: int,
    rect: Sequence[float],
    foreground: Sequence[Sequence[float]] = (),
    background: Sequence[Sequence[float]] = (),
    brush: float = 8,
    iterations: int = 5,
    mask: dict[str, Any] | None = None,
    output: str = "mask",
) -> Foreground:
    """The foreground of item ``item_id``'s image in ``rect`` (``[x, y, width, height]``, image
    pixels; the part inside the image is used), with ``foreground`` / ``background`` strokes
    (flat polylines ``[x0, y0, x1, y1, ...]``, a single point a click) ``brush`` pixels wide,
    starting from ``mask`` (a previous result, the image's size) when given.

    Raises
    ------
    ValidationError
        An empty rectangle or one outside the image, a stroke off the image, a mask that is not
        an RLE of the image's size, an unknown ``output``, brush or iterations out of range, an
        item that is not an image, or a picture GrabCut cannot cut (no background to learn
        from); ``field`` names the input.
    NotFoundError
        No such dataset, item of it, or its file is missing or changed.
    """
    if output not in OUTPUTS:
        raise ValidationError(f"output must be one of {', '.join(OUTPUTS)}", field="output")
    if not 0 < brush <= MAX_BRUSH:
        raise ValidationError(f"brush must be within 1..{MAX_BRUSH} pixels", field="brush")
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValidationError(f"iterations must be within 1..{MAX_ITERATIONS}", field="iterations")
    ds = policy.dataset(ws, Action.READ, dataset)
    item = _item(ws.catalog.get_item, dataset, ds.id, item_id)
    if item.modality != Modality.IMAGE:
        raise ValidationError(f"item {item_id} is a {item.modality}, not an image", field="item_id")
    image = np.asarray(load_rgb(_imported_file(item)))
    height, width = image.shape[:2]
    box = _checked_rect(rect, width, height, item_id)
    fg = _checked_strokes(foreground, "foreground", width, height)
    bg = _checked_strokes(background, "background", width, height)
    previous = None if mask is None else decode_mask(mask, width, height)
    try:
        found = grabcut.foreground(image, box, fg, bg, brush, iterations, previous)
    except ValueError as exc:
        raise ValidationError(f"item {item_id}: {exc}", field="rect") from None
    polygons = grabcut.mask_to_polygons(found) if output == "polygon" else None
    return Foreground(encode_mask(found), int(found.sum()), polygons)


def segment_anything_status() -> dict[str, Any]:
    """``{available, how_to}``: whether ``TAGSCOPE_SAM_DIR`` names a folder holding a model file
    (``.pt``, ``.pth``, ``.onnx``, ``.safetensors``, ``.bin``), and how to provide one."""
    folder = os.environ.get(SAM_DIR_VARIABLE, "").strip()
    path = Path(folder) if folder else None
    available = bool(
        path and path.is_dir() and any(p.suffix.lower() in _SAM_FILES for p in path.iterdir())
    )
    how_to = f"Segment Anything model folder: {path}" if available else SAM_HOW_TO
    return {"available": available, "how_to": how_to}


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A boolean mask as COCO's compressed RLE, ``counts`` a string (as labels store it)."""
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def decode_mask(data: Any, width: int, height: int) -> np.ndarray:
    """The boolean mask of an RLE (compressed or a list of runs), checked to be ``height x
    width``; ValidationError (field ``mask``) otherwise."""
    try:
        check_rle(data)
    except InvalidGeometry as exc:
        raise ValidationError(f"the mask is not a valid RLE: {exc}", field="mask") from None
    if list(data["size"]) != [height, width]:
        h, w = data["size"]
        raise ValidationError(
            f"the mask is {w} x {h} pixels, the image {width} x {height}", field="mask"
        )
    return coco_mask.decode(rle({"rle": data})).astype(bool)


def _checked_rect(
    rect: Sequence[float], width: int, height: int, item_id: int
) -> tuple[float, float, float, float]:
    """The rectangle clipped to the image; refused when empty or entirely outside it."""
    if len(rect) != 4 or not all(_finite(v) for v in rect):
        raise ValidationError("rect must be 4 finite numbers [x, y, width, height]", field="rect")
    x, y, w, h = (float(v) for v in rect)
    if w < 1 or h < 1:
        raise ValidationError(
            f"the rectangle is empty ({w:g} x {h:g} pixels): draw one at least a pixel wide",
            field="rect",
        )
    x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(width), x + w), min(float(height), y + h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValidationError(
            f"the rectangle [{x:g}, {y:g}, {w:g}, {h:g}] is outside the image of item {item_id} "
            f"({width} x {height} pixels)",
            field="rect",
        )
    return x0, y0, x1 - x0, y1 - y0


def _checked_strokes(
    strokes: Sequence[Sequence[float]], field: str, width: int, height: int
) -> list[list[float]]:
    if len(strokes) > MAX_STROKES:
        raise ValidationError(f"more than {MAX_STROKES} {field} strokes", field=field)
    out = []
    for k, stroke in enumerate(strokes, start=1):
        values = list(stroke)
        if not values or len(values) % 2 or not all(_finite(v) for v in values):
            raise ValidationError(
                f"{field} stroke {k} must be an even number of finite coordinates "
                "[x0, y0, x1, y1, ...]",
                field=field,
            )
        xs, ys = values[::2], values[1::2]
        if min(xs) < 0 or max(xs) > width or min(ys) < 0 or max(ys) > height:
            raise ValidationError(
                f"{field} stroke {k} leaves the image ({width} x {height} pixels)", field=field
            )
        out.append([float(v) for v in values])
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


__all__ = [
    "OUTPUTS",
    "SAM_DIR_VARIABLE",
    "Foreground",
    "decode_mask",
    "encode_mask",
    "extract_foreground",
    "segment_anything_status",
]
