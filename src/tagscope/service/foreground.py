"""Smart foreground extraction (F-61): the mask of the object in a rectangle an annotator draws.

:func:`extract_foreground` runs GrabCut (:mod:`tagscope.media.grabcut`) on an item's image with
the rectangle, the annotator's foreground and background strokes and clicks and, to refine, the
previous result; with ``method="sam"`` the clicks (and the rectangle, as a box) prompt a Segment
Anything model instead (:mod:`tagscope.embed.sam`). It answers the mask as COCO's compressed RLE
(what a mask label stores) with its area and, on request, the polygons with holes. It only
computes: the labeling tool saves the label it becomes through the label routes. Reading the item
is enough (:data:`Action.READ`).

:func:`segment_anything_status` says whether a Segment Anything model was provided
(``TAGSCOPE_SAM_DIR``, a folder holding a saved Hugging Face ``SamModel``); none ships with
Tagscope.

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
from tagscope.domain import Modality, ModelUnavailableError, ValidationError
from tagscope.embed import sam
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
METHODS = ("grabcut", "sam")
MAX_BRUSH = 256
MAX_ITERATIONS = 20
MAX_STROKES = 500
SAM_DIR_VARIABLE = "TAGSCOPE_SAM_DIR"
SAM_HOW_TO = (
    f"Segment Anything is not available: no model ships with Tagscope. On a machine with "
    f"internet, download a Hugging Face SAM model into a folder (e.g. `hf download "
    f"facebook/sam-vit-base --local-dir sam-vit-base`), copy it here and start the server with "
    f"{SAM_DIR_VARIABLE} set to that folder. Without one, GrabCut (rectangle and strokes) "
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
    rect: Sequence[float] | None,
    foreground: Sequence[Sequence[float]] = (),
    background: Sequence[Sequence[float]] = (),
    brush: float = 8,
    iterations: int = 5,
    mask: dict[str, Any] | None = None,
    output: str = "mask",
    points: Sequence[Sequence[float]] = (),
    point_labels: Sequence[int] = (),
    method: str = "grabcut",
) -> Foreground:
    """The foreground of item ``item_id``'s image in ``rect`` (``[x, y, width, height]``, image
    pixels; the part inside the image is used), with ``foreground`` / ``background`` strokes
    (flat polylines ``[x0, y0, x1, y1, ...]``, a single point a click) ``brush`` pixels wide,
    starting from ``mask`` (a previous result, the image's size) when given. ``points`` (``[x,
    y]`` clicks) with ``point_labels`` (1 foreground, 0 background) are one-point strokes for
    GrabCut; with ``method="sam"`` they, and ``rect`` as a box when given, prompt the Segment
    Anything model of ``TAGSCOPE_SAM_DIR`` (strokes and ``mask`` are GrabCut's only).

    Raises
    ------
    ValidationError
        An empty rectangle or one outside the image, a stroke off the image, a mask that is not
        an RLE of the image's size, an unknown ``output``, brush or iterations out of range, an
        item that is not an image, or a picture GrabCut cannot cut (no background to learn
        from); ``field`` names the input.
    ModelUnavailableError
        ``method="sam"`` without a usable model folder (the message says how to provide one).
    NotFoundError
        No such dataset, item of it, or its file is missing or changed.
    """
    if method not in METHODS:
        raise ValidationError(f"method must be one of {', '.join(METHODS)}", field="method")
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
    clicks = _checked_points(points, point_labels, width, height)
    if method == "sam":
        found = _segment_anything(image, rect, clicks, foreground, background, mask, item_id)
        return _answer(found, output)
    if rect is None:
        raise ValidationError("GrabCut needs a rectangle around the object", field="rect")
    box = _checked_rect(rect, width, height, item_id)
    foreground = [*foreground, *([x, y] for x, y, fg in clicks if fg)]
    background = [*background, *([x, y] for x, y, fg in clicks if not fg)]
    fg = _checked_strokes(foreground, "foreground", width, height)
    bg = _checked_strokes(background, "background", width, height)
    previous = None if mask is None else decode_mask(mask, width, height)
    try:
        found = grabcut.foreground(image, box, fg, bg, brush, iterations, previous)
    except ValueError as exc:
        raise ValidationError(f"item {item_id}: {exc}", field="rect") from None
    return _answer(found, output)


def _answer(found: np.ndarray, output: str) -> Foreground:
    polygons = grabcut.mask_to_polygons(found) if output == "polygon" else None
    return Foreground(encode_mask(found), int(found.sum()), polygons)


def _segment_anything(
    image: np.ndarray,
    rect: Sequence[float] | None,
    clicks: list[tuple[float, float, bool]],
    foreground: Sequence[Sequence[float]],
    background: Sequence[Sequence[float]],
    mask: dict[str, Any] | None,
    item_id: int,
) -> np.ndarray:
    """SAM's mask for the clicks and the rectangle (as a box); strokes and a previous mask are
    GrabCut's inputs, refused here rather than ignored."""
    if foreground or background or mask is not None:
        field = "mask" if mask is not None else "foreground" if foreground else "background"
        raise ValidationError(
            "method sam takes clicks (points, point_labels) and a rectangle, not strokes or a "
            "previous mask: send all the clicks again",
            field=field,
        )
    height, width = image.shape[:2]
    box = None
    if rect is not None:
        x, y, w, h = _checked_rect(rect, width, height, item_id)
        box = [x, y, x + w, y + h]
    if not clicks and box is None:
        raise ValidationError("method sam needs at least one click or a rectangle", field="points")
    segmenter = sam.load_segmenter(_sam_folder())
    return segmenter.segment(image, [c[:2] for c in clicks], [int(c[2]) for c in clicks], box)


def _sam_folder() -> Path:
    """The checked model folder of ``TAGSCOPE_SAM_DIR``; ModelUnavailableError saying how to
    provide one otherwise."""
    folder = os.environ.get(SAM_DIR_VARIABLE, "").strip()
    if not folder:
        raise ModelUnavailableError(SAM_HOW_TO)
    try:
        return sam.check_folder(folder)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(f"{SAM_DIR_VARIABLE}: {exc}. {SAM_HOW_TO}") from None


def segment_anything_status() -> dict[str, Any]:
    """``{available, how_to}``: whether ``TAGSCOPE_SAM_DIR`` names a folder holding a saved SAM
    model (its config files say so; the weights are not loaded here), and how to provide one."""
    try:
        folder = _sam_folder()
    except ModelUnavailableError as exc:
        return {"available": False, "how_to": str(exc)}
    return {"available": True, "how_to": f"Segment Anything model folder: {folder}"}


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


def _checked_points(
    points: Sequence[Sequence[float]], labels: Sequence[int], width: int, height: int
) -> list[tuple[float, float, bool]]:
    """Clicks ``(x, y, foreground?)`` inside the image, one label (1 or 0) each."""
    if len(points) > MAX_STROKES:
        raise ValidationError(f"more than {MAX_STROKES} points", field="points")
    if len(points) != len(labels):
        raise ValidationError(
            f"{len(points)} points but {len(labels)} point_labels: one label (1 foreground, "
            "0 background) per point",
            field="point_labels",
        )
    out = []
    for k, (point, label) in enumerate(zip(points, labels, strict=True), start=1):
        if len(point) != 2 or not all(_finite(v) for v in point):
            raise ValidationError(f"point {k} must be [x, y], finite numbers", field="points")
        x, y = float(point[0]), float(point[1])
        if not (0 <= x <= width and 0 <= y <= height):
            raise ValidationError(
                f"point {k} [{x:g}, {y:g}] is off the image ({width} x {height} pixels)",
                field="points",
            )
        if label not in (0, 1) or isinstance(label, bool):
            raise ValidationError(
                f"point label {k} is {label!r}: 1 foreground or 0 background", field="point_labels"
            )
        out.append((x, y, label == 1))
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


__all__ = [
    "METHODS",
    "OUTPUTS",
    "SAM_DIR_VARIABLE",
    "Foreground",
    "decode_mask",
    "encode_mask",
    "extract_foreground",
    "segment_anything_status",
]
