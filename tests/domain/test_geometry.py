"""Measures of stored label geometry: areas of boxes, even-odd polygon regions, COCO RLE masks."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from tagscope.domain import LabelKind
from tagscope.domain.geometry import label_area, polygon_region, rle_runs

SQUARE = [0, 0, 10, 0, 10, 10, 0, 10]


def square(x: float, y: float, s: float) -> list[float]:
    return [x, y, x + s, y, x + s, y + s, x, y + s]


def test_a_polygon_region_reads_parts_even_odd_holes_and_islands() -> None:
    region = polygon_region([square(0, 0, 10), square(2, 2, 6), square(4, 4, 2)])
    assert region.area == pytest.approx(100 - 36 + 4)
    assert region.contains(polygon_region([square(4.5, 4.5, 1)]))  # the island
    assert not region.intersects(polygon_region([square(3, 3, 0.5)]))  # inside the hole
    assert polygon_region([]).is_empty


def test_a_self_intersecting_part_still_has_a_region() -> None:
    # A bow-tie (an old row stored before repairs): its two triangles of area 1 each.
    assert polygon_region([[0, 0, 2, 2, 2, 0, 0, 2]]).area == pytest.approx(2.0)


def _compressed(runs: list[int], size: tuple[int, int]) -> str:
    """COCO's compressed RLE of ``runs`` (background first, column-major), by pycocotools."""
    pixels = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
    encoded = coco_mask.encode(np.asfortranarray(pixels.reshape(size, order="F")))
    return encoded["counts"].decode()


def test_areas_of_a_box_a_polygon_with_a_hole_and_its_other_parts() -> None:
    assert label_area(LabelKind.BOX, {"bbox": [5, 6, 2.5, 4]}) == 10.0
    hole = [3, 3, 3, 7, 7, 7, 7, 3]  # 4 x 4 inside the 10 x 10 square
    island = [4, 4, 6, 4, 6, 6, 4, 6]  # 2 x 2 inside the hole: counted again (even-odd)
    apart = [20, 20, 30, 20, 25, 30]  # a triangle of area 50
    assert label_area(LabelKind.POLYGON, {"polygons": [SQUARE, hole]}) == 84.0
    assert label_area(LabelKind.POLYGON, {"polygons": [SQUARE, hole, island, apart]}) == 138.0


def test_a_mask_counts_its_foreground_runs_compressed_or_not() -> None:
    runs = [7, 3, 1000, 40, 2, 148]  # background first: 3 + 40 + 148 foreground pixels
    packed = _compressed(runs, (30, 40))
    assert rle_runs(packed) == runs
    assert rle_runs(packed[:-1]) is None  # cut inside a run
    plain = {"rle": {"size": [30, 40], "counts": runs}}
    packed = {"rle": {"size": [30, 40], "counts": packed}}
    assert label_area(LabelKind.MASK, plain) == label_area(LabelKind.MASK, packed) == 191.0


def test_classifications_and_polylines_have_no_area() -> None:
    assert label_area(LabelKind.CLASSIFICATION, None) is None
    assert label_area(LabelKind.POLYLINE, {"lines": [[0, 0, 10, 10]]}) is None
