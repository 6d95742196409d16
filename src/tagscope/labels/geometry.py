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
holes. Areas are not stored here (the catalog's schema has no column for them yet).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._lazy import deferred

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
