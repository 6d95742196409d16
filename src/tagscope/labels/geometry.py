"""Box and polygon geometry of labels, checked where an import reads it.

A polygon label is a list of parts, each a flat ring ``[x0, y0, x1, y1, ...]`` (its closing point
repeated or not); holes are parts inside parts, as :class:`tagscope.domain.Label` says. Each part
is checked on its own:

- it is an even number of finite numbers with at least 3 distinct points;
- a simple ring is kept exactly as it was given;
- a ring that crosses or touches itself is repaired with :func:`shapely.make_valid`, and the
  repair is kept when the area of its polygons is within 1% of the ring's drawn area, else the
  part is refused. The drawn area is the absolute value of the ring's shoelace (signed) area,
  which counts every region by how many times the ring winds around it: a tiny spike or a vertex
  the ring touches twice changes it by next to nothing, but the two loops of a bow-tie wind in
  opposite directions and cancel (a symmetric one has area 0, its repair two triangles), and a
  ring drawn twice around has twice the area of its repair (which halves it);
- a ring of zero area (its points on one line, or a line walked there and back) is refused.

A repaired part is stored as the exterior rings of the repair's polygons, each followed by its
holes.

A polyline is ``{"lines": [[x0, y0, x1, y1, ...], ...]}``, each line at least 2 distinct points
(:func:`check_polyline`); a mask is a COCO RLE (:func:`check_rle`). The measures of a stored
geometry (its area, a polygon's even-odd region) are in :mod:`tagscope.domain.geometry`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._lazy import deferred
from tagscope.domain.geometry import rle_runs

if TYPE_CHECKING:
    import shapely
else:
    shapely = deferred("shapely")  # loaded when a polygon is first checked (~0.1 s)

# The most a repair may change a ring's drawn area, relative to it.
AREA_TOLERANCE = 0.01


class InvalidGeometry(ValueError):
    """Why a geometry cannot be stored, phrased to follow its subject ("part 2 has ...")."""


def polygon_parts(parts: Sequence[Any]) -> list[list[float]]:
    """The parts to store for a polygon label of ``parts``: a simple ring as it is, a
    self-intersecting one repaired (see the module's description).

    Raises
    ------
    InvalidGeometry
        A part cannot be stored; the reason names it, e.g. ``part 2 has zero area``.
    """
    stored: list[list[float]] = []
    for k, part in enumerate(parts, start=1):
        try:
            stored.extend(ring_parts(part))
        except InvalidGeometry as exc:
            raise InvalidGeometry(f"part {k} {exc}") from None
    return stored


def ring_parts(values: Any) -> list[list[float]]:
    """The parts to store for one ring: ``[values]`` when it is simple, else its repair.

    Raises
    ------
    InvalidGeometry
        Not a ring, or a self-intersecting one that no repair keeps the area of; the reason
        follows the ring as a subject, e.g. ``has fewer than 3 distinct points``.
    """
    if not isinstance(values, list) or not all(_is_number(v) for v in values):
        raise InvalidGeometry("is not a list of numbers")
    if len(values) % 2:
        raise InvalidGeometry(f"has an odd number of coordinates ({len(values)})")
    if len(values) < 6:
        raise InvalidGeometry("has fewer than 3 points")
    bad = next((v for v in values if not math.isfinite(v)), None)
    if bad is not None:
        raise InvalidGeometry(f"has a non-finite coordinate ({bad})")
    if len(set(zip(values[::2], values[1::2], strict=True))) < 3:
        raise InvalidGeometry("has fewer than 3 distinct points")
    points = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    polygon = shapely.Polygon(points)
    if polygon.is_valid:
        return [values]
    return _repaired(polygon, points)


def check_box(bbox: Sequence[float]) -> None:
    """Check a box's four numbers (``[x, y, width, height]``, or YOLO's centre first).

    Raises
    ------
    InvalidGeometry
        A number is not finite, or the width or height is not positive.
    """
    for name, value in zip(("x", "y", "width", "height"), bbox, strict=True):
        if not math.isfinite(value):
            raise InvalidGeometry(f"{name} {value} is not finite")
    for name, value in (("width", bbox[2]), ("height", bbox[3])):
        if value <= 0:
            raise InvalidGeometry(f"{name} {value} is not positive")


def check_polyline(lines: Any) -> None:
    """Check a polyline's lines (``[[x0, y0, x1, y1, ...], ...]``).

    Raises
    ------
    InvalidGeometry
        Not a non-empty list of lines, or a line that is not an even number of finite numbers
        with at least 2 distinct points; the reason names it, e.g. ``line 2 has an odd number
        of coordinates (5)``.
    """
    if not isinstance(lines, list) or not lines:
        raise InvalidGeometry("a polyline needs a non-empty list of lines")
    for k, values in enumerate(lines, start=1):
        if not isinstance(values, list) or not all(_is_number(v) for v in values):
            raise InvalidGeometry(f"line {k} is not a list of numbers")
        if len(values) % 2:
            raise InvalidGeometry(f"line {k} has an odd number of coordinates ({len(values)})")
        bad = next((v for v in values if not math.isfinite(v)), None)
        if bad is not None:
            raise InvalidGeometry(f"line {k} has a non-finite coordinate ({bad})")
        if len(set(zip(values[::2], values[1::2], strict=True))) < 2:
            raise InvalidGeometry(f"line {k} has fewer than 2 distinct points")


def check_rle(rle: Any) -> list[int]:
    """The run lengths of a COCO RLE ``{"size": [h, w], "counts": ...}`` (counts a list of
    runs or pycocotools' compressed string), checked to cover ``h x w`` pixels exactly.

    Raises
    ------
    InvalidGeometry
        Why the RLE cannot be read, e.g. ``run lengths add up to 5, not height x width = 6``.
    """
    if not isinstance(rle, dict):
        raise InvalidGeometry("an RLE must be an object with 'size' and 'counts'")
    size, counts = rle.get("size"), rle.get("counts")
    if (
        not (isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) for n in size))
        or min(size) < 0
    ):
        raise InvalidGeometry(f"'size' must be [height, width], not {size!r}")
    if isinstance(counts, str):
        runs = rle_runs(counts)
        if runs is None:
            raise InvalidGeometry("compressed 'counts' cannot be decoded")
    elif isinstance(counts, list) and all(isinstance(n, int) for n in counts):
        runs = counts
    else:
        raise InvalidGeometry("'counts' must be a list of run lengths or a compressed string")
    if any(n < 0 for n in runs):
        raise InvalidGeometry("'counts' holds a negative run length")
    if sum(runs) != size[0] * size[1]:
        raise InvalidGeometry(
            f"run lengths add up to {sum(runs)}, not height x width = {size[0] * size[1]}"
        )
    return runs


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _repaired(polygon: shapely.Polygon, points: np.ndarray) -> list[list[float]]:
    """The rings of ``make_valid``'s polygons for a self-intersecting ring whose repair keeps
    its drawn area."""
    polygons = _polygons(shapely.make_valid(polygon))
    area = sum(p.area for p in polygons)
    if area == 0:
        raise InvalidGeometry("has zero area")
    drawn = abs(_shoelace(points))
    where = _where(polygon)
    if not math.isfinite(drawn):
        raise InvalidGeometry(f"is self-intersecting{where} and too large to measure")
    if drawn == 0:
        raise InvalidGeometry(
            f"is self-intersecting{where} and its loops cancel out (signed area 0): "
            "no repair keeps its area"
        )
    change = abs(area - drawn) / drawn
    if change > AREA_TOLERANCE:
        raise InvalidGeometry(
            f"is self-intersecting{where} and a repair would change its area by "
            f"{change:.1%} (more than {AREA_TOLERANCE:.0%})"
        )
    return [_flat(ring) for p in polygons for ring in (p.exterior, *p.interiors)]


def _polygons(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    """The polygons of a geometry, collections and multi-polygons taken apart, lines and
    points (no area) left out."""
    if isinstance(geometry, shapely.Polygon):
        return [] if geometry.is_empty else [geometry]
    if isinstance(geometry, shapely.MultiPolygon | shapely.GeometryCollection):
        return [p for part in geometry.geoms for p in _polygons(part)]
    return []


def _shoelace(points: np.ndarray) -> float:
    """The signed area of the ring through ``points`` (closed or not)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _where(polygon: shapely.Polygon) -> str:
    """`` at (x, y)``, the first self-intersection GEOS finds, or nothing."""
    found = re.search(r"\[(\S+) (\S+)\]", shapely.is_valid_reason(polygon))
    return f" at ({float(found[1]):.6g}, {float(found[2]):.6g})" if found else ""


def _flat(ring: shapely.LinearRing) -> list[float]:
    """A ring's coordinates as ``[x0, y0, x1, y1, ...]``, its closing point left out."""
    return shapely.get_coordinates(ring)[:-1].ravel().tolist()
