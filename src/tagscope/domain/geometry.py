"""Measures of label geometry: the region and area a label covers, COCO's compressed RLE.

Pure functions of a label's stored geometry (:class:`tagscope.domain.Label` says its forms), shared
by the catalog (which stores each label's area), its migrations and the label engine (matching,
validation). :func:`label_area` is the area the catalog stores with a label: the pixels a box, a
polygon (parts read even-odd) or a mask covers; a classification or a polyline has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._lazy import deferred
from tagscope.domain.items import LabelKind

if TYPE_CHECKING:
    import shapely
else:
    shapely = deferred("shapely")  # loaded when a polygon is first measured (~0.1 s)


def polygon_region(parts: Sequence[Sequence[float]]) -> shapely.Geometry:
    """The region of a polygon label's parts under the even-odd rule: each ring toggles what
    it encloses, so a part inside another is a hole (and one inside that, an island)."""
    polygons = []
    for part in parts:
        polygon = shapely.Polygon(np.asarray(part, dtype=np.float64).reshape(-1, 2))
        # Stored parts are valid rings; an old row or a drawn part that is not still has a region.
        polygons.append(polygon if polygon.is_valid else shapely.make_valid(polygon))
    return reduce(shapely.symmetric_difference, polygons, shapely.Polygon())


def rle_runs(counts: str) -> list[int] | None:
    """Run lengths of COCO's compressed RLE (``rleFrString`` of pycocotools), or None."""
    runs: list[int] = []
    pos = 0
    while pos < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(counts):
                return None
            c = ord(counts[pos]) - 48
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift
        # After the first two runs each one is stored as its difference to the run two back.
        runs.append(value + runs[-2] if len(runs) > 2 else value)
    return runs


def label_area(kind: LabelKind | str, geometry: dict[str, Any] | None) -> float | None:
    """The pixels a label covers: a box's width x height, a polygon's parts read with the
    even-odd rule (a part inside a part is a hole), a mask's foreground pixels (the odd runs:
    COCO's RLE starts with background); None for a classification or a polyline, or a
    geometry that does not say (an old row without one)."""
    geometry = geometry or {}
    if kind == LabelKind.BOX and "bbox" in geometry:
        return float(geometry["bbox"][2]) * float(geometry["bbox"][3])
    if kind == LabelKind.POLYGON and "polygons" in geometry:
        return float(polygon_region(geometry["polygons"]).area)
    if kind == LabelKind.MASK and "rle" in geometry:
        counts = geometry["rle"]["counts"]
        runs = rle_runs(counts) if isinstance(counts, str) else counts
        return float(sum(runs[1::2])) if runs is not None else None
    return None
