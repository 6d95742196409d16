"""Foreground extraction in a rectangle (F-61): OpenCV's GrabCut, refined by strokes.

:func:`foreground` gives the mask of the object in a rectangle: GrabCut models the colours of the
rectangle's inside (probable foreground) and outside (background) and cuts between them.
Strokes the user draws are hard constraints (``fg_strokes`` foreground, ``bg_strokes``
background), and a previous result (``init_mask``) is the starting guess, so repeating with more
strokes refines the mask. :func:`mask_to_polygons` turns a mask into polygons with holes.

GrabCut's cost grows with the pixels, so it runs on the image brought down to at most
:data:`MAX_SIDE` pixels a side; the mask comes back at full size (interpolated, then the strokes
painted on at full size, so they hold exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tagscope._lazy import deferred

if TYPE_CHECKING:
    import cv2
    import shapely
else:
    cv2 = deferred("cv2")  # OpenCV loads in ~0.2 s, only when a mask is first asked for
    shapely = deferred("shapely")

MAX_SIDE = 1024  # GrabCut runs on at most this many pixels a side
Rect = tuple[float, float, float, float]  # x, y, width, height in image pixels
Stroke = Sequence[float]  # a flat polyline [x0, y0, x1, y1, ...] in image pixels


def foreground(
    image: np.ndarray,
    rect: Rect,
    fg_strokes: Sequence[Stroke] = (),
    bg_strokes: Sequence[Stroke] = (),
    brush: float = 8,
    iterations: int = 5,
    init_mask: np.ndarray | None = None,
) -> np.ndarray:
    """The foreground mask (bool, the image's height x width) of the object in ``rect``.

    ``image`` is RGB uint8 (height x width x 3). Without strokes or ``init_mask`` GrabCut starts
    from the rectangle alone; with them it starts from ``init_mask`` (or the rectangle) with the
    strokes drawn ``brush`` pixels wide as sure foreground / background. Pixels outside the
    rectangle are background unless ``init_mask`` or a foreground stroke says otherwise.

    Raises
    ------
    ValueError
        GrabCut has no foreground or no background to learn from (e.g. a rectangle covering the
        whole image with no background stroke).
    """
    height, width = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    small = _resized(np.ascontiguousarray(image[..., :3], dtype=np.uint8), scale)
    sh, sw = small.shape[:2]
    x0, y0, x1, y1 = _scaled_rect(rect, scale, sw, sh)
    thick = max(1, round(brush * scale))
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    if not fg_strokes and not bg_strokes and init_mask is None:
        mask = np.zeros((sh, sw), np.uint8)
        _grabcut(
            small, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT
        )
    else:
        inside = np.zeros((sh, sw), bool)
        inside[y0:y1, x0:x1] = True
        # The starting guess: the previous mask where there is one, else the rectangle.
        guess = inside
        if init_mask is not None:
            guess = _resized(init_mask.astype(np.uint8), scale, nearest=True).astype(bool)
        unsure = np.where(inside, cv2.GC_PR_BGD, cv2.GC_BGD)
        mask = np.where(guess, cv2.GC_PR_FGD, unsure).astype(np.uint8)
        _draw(mask, bg_strokes, scale, thick, cv2.GC_BGD)
        _draw(mask, fg_strokes, scale, thick, cv2.GC_FGD)
        _grabcut(small, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    chosen = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
    if scale < 1:
        chosen = cv2.resize(chosen, (width, height), interpolation=cv2.INTER_LINEAR)
    out = (chosen >= 0.5).astype(np.uint8)
    # The strokes hold at full size too (the small image blurs them by the scale).
    _draw(out, bg_strokes, 1.0, max(1, round(brush)), 0)
    _draw(out, fg_strokes, 1.0, max(1, round(brush)), 1)
    return out.astype(bool)


def mask_to_polygons(mask: np.ndarray, tolerance: float = 0.7) -> list[list[list[float]]]:
    """The mask as polygons: each ``[ring, hole, ...]`` with flat rings ``[x0, y0, ...]`` on the
    pixels' edges (pixel ``(x, y)`` covers ``[x, x + 1] x [y, y + 1]``), simplified by
    ``tolerance`` pixels.

    Contours come with their hierarchy (``RETR_CCOMP``: outer boundaries and the holes inside
    each); every polygon is made valid (a ring touching itself along a one-pixel neck becomes
    several), so the flattened list is a polygon label's parts (the even-odd rule makes each hole
    a hole).
    """
    binary = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]
    rings = [_ring(c, tolerance) for c in contours]
    out: list[list[list[float]]] = []
    for i, (_next, _prev, child, parent) in enumerate(links):
        if parent != -1:
            continue
        holes = []
        while child != -1:
            if len(rings[child]) >= 3:
                holes.append(rings[child])
            child = links[child][0]
        # The rings run through boundary pixels' centres: half a pixel out puts them on the
        # pixels' edges (a hole's ring runs on the foreground around it: it shrinks to its edges),
        # and gives a one-pixel line or dot its area.
        region = _shape(rings[i], holes).buffer(0.5, join_style="mitre")
        out.extend(_parts(p) for p in _polygons(region) if p.area > 0)
    return out


def _grabcut(
    image: np.ndarray,
    mask: np.ndarray,
    rect: tuple[int, int, int, int] | None,
    bgd: np.ndarray,
    fgd: np.ndarray,
    iterations: int,
    mode: int,
) -> None:
    cv2.setRNGSeed(0)  # its GMMs start from k-means++ on OpenCV's global generator
    try:
        cv2.grabCut(image, mask, rect, bgd, fgd, iterations, mode)
    except cv2.error as exc:  # its GMMs need samples of both sides
        raise ValueError(
            "GrabCut needs both foreground and background pixels: leave some of the image "
            f"outside the rectangle or draw a background stroke ({str(exc).strip()[-80:]})"
        ) from None


def _resized(array: np.ndarray, scale: float, *, nearest: bool = False) -> np.ndarray:
    if scale >= 1:
        return array
    h, w = array.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _scaled_rect(rect: Rect, scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The rectangle's corners on the small image, inside it and at least a pixel wide."""
    x, y, w, h = (float(v) * scale for v in rect)
    x0, y0 = min(max(0, int(x)), width - 1), min(max(0, int(y)), height - 1)
    x1, y1 = min(width, max(x0 + 1, round(x + w))), min(height, max(y0 + 1, round(y + h)))
    return x0, y0, x1, y1


def _draw(
    mask: np.ndarray, strokes: Sequence[Stroke], scale: float, thick: int, value: int
) -> None:
    for stroke in strokes:
        points = np.round(np.asarray(stroke, np.float64).reshape(-1, 2) * scale).astype(np.int32)
        if len(points) == 1:  # a click: a dot of the brush's size
            cv2.circle(mask, tuple(int(v) for v in points[0]), max(1, thick // 2), value, -1)
        else:
            cv2.polylines(mask, [points], False, value, thick)


def _ring(contour: np.ndarray, tolerance: float) -> np.ndarray:
    points = cv2.approxPolyDP(contour, tolerance, True) if tolerance > 0 else contour
    return points.reshape(-1, 2).astype(np.float64) + 0.5  # the pixels' centres


def _shape(ring: np.ndarray, holes: list[np.ndarray]) -> shapely.Geometry:
    """The region of a contour and its holes; a contour of one or two points (a dot, a
    line one pixel wide) is a point or a line."""
    if len(ring) >= 3:
        return shapely.make_valid(shapely.Polygon(ring, holes))
    return shapely.LineString(ring) if len(ring) == 2 else shapely.Point(ring[0])


def _polygons(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    if hasattr(geometry, "geoms"):
        return [p for g in geometry.geoms for p in _polygons(g)]
    return []  # a line or a point: no area


def _parts(polygon: shapely.Polygon) -> list[list[float]]:
    rings = [polygon.exterior, *polygon.interiors]
    # shapely repeats the first point at the end; a label's ring need not.
    return [[round(float(v), 2) for v in np.asarray(r.coords)[:-1].ravel()] for r in rings]


__all__ = ["MAX_SIDE", "foreground", "mask_to_polygons"]
