"""Matching expert labels to prelabels: IoU of boxes, polygons (even-odd holes) and masks (COCO
RLE), Hungarian pairing, the threshold, classifications by item."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from tagscope.domain import Label, LabelKind
from tagscope.domain.geometry import polygon_region
from tagscope.labels.matching import (
    box_iou,
    mask_iou,
    match,
    polygon_iou,
    rle,
)


def box(name: str, x: float, y: float, w: float, h: float) -> Label:
    return Label(LabelKind.BOX, name, geometry={"bbox": [x, y, w, h]})


def square(x: float, y: float, s: float) -> list[float]:
    return [x, y, x + s, y, x + s, y + s, x, y + s]


def polygon(name: str, *parts: list[float]) -> Label:
    return Label(LabelKind.POLYGON, name, geometry={"polygons": list(parts)})


def mask(name: str, pixels: np.ndarray, *, compressed: bool = True) -> Label:
    encoded = coco_mask.encode(np.asfortranarray(pixels.astype(np.uint8)))
    if compressed:
        counts: object = encoded["counts"].decode()
    else:  # COCO's uncompressed form: run lengths, column-major, starting with background
        flat = pixels.flatten(order="F").astype(int)
        change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]])) if flat.size else []
        counts = np.diff(np.r_[0, change]).tolist()
    return Label(
        LabelKind.MASK, name, geometry={"rle": {"size": list(pixels.shape), "counts": counts}}
    )


def cls(name: str, main: bool = False) -> Label:
    return Label(LabelKind.CLASSIFICATION, name, is_main=main)


def changes(ms) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m.change) for m in ms]


def test_box_iou_of_every_pair() -> None:
    a = np.array([[0, 0, 10, 10], [100, 100, 1, 1]])
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 5, 5]])
    assert box_iou(a, b) == pytest.approx(np.array([[50 / 150, 1, 0.25], [0, 0, 0]]))
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_polygon_iou_of_even_odd_regions() -> None:
    ring = polygon_region([square(0, 0, 10), square(2, 2, 6), square(4, 4, 2)])  # area 68
    full = polygon_region([square(0, 0, 10)])
    assert polygon_iou([ring], [full])[0, 0] == pytest.approx(68 / 100)
    # Two separate parts are one region; a far one overlaps nothing.
    two = polygon_region([square(0, 0, 10), square(20, 0, 10)])
    far = polygon_region([square(500, 500, 3)])
    assert polygon_iou([two], [full, far]) == pytest.approx(np.array([[0.5, 0.0]]))


def test_mask_iou_of_compressed_and_uncompressed_rle() -> None:
    a = np.zeros((20, 30), bool)
    a[2:10, 3:13] = True  # 80 pixels
    b = np.zeros((20, 30), bool)
    b[6:14, 3:13] = True  # 80 pixels, 40 shared
    other_size = np.ones((5, 5), bool)
    ea = rle(mask("a", a).geometry or {})
    eb = rle(mask("b", b, compressed=False).geometry or {})
    ec = rle(mask("c", other_size).geometry or {})
    assert coco_mask.area(eb) == 80
    assert mask_iou([ea], [eb, ec, ea]) == pytest.approx(np.array([[40 / 120, 0.0, 1.0]]))


def test_each_box_ends_in_one_change_with_iou_areas_and_adjustment() -> None:
    expert = [
        box("cat", 0, 0, 10, 10),  # the same
        box("dog", 100, 0, 10, 10),  # class changed (prelabel says cat)
        box("cat", 200, 0, 20, 10),  # grown: geometry changed
        box("cat", 400, 0, 5, 5),  # no prelabel near: added
    ]
    prelabels = [
        box("cat", 200, 0, 16, 10),
        box("cat", 0, 0, 10, 10),
        box("cat", 100, 0, 10, 10),
        box("bird", 900, 900, 5, 5),  # no expert label near: deleted
    ]
    found = {(m.expert, m.prelabel): m for m in match(expert, prelabels)}
    assert {k: str(m.change) for k, m in found.items()} == {
        (0, 1): "unchanged",
        (1, 2): "class_changed",
        (2, 0): "geometry_changed",
        (3, None): "added",
        (None, 3): "deleted",
    }
    grown = found[2, 0]
    assert (grown.iou, grown.expert_area, grown.prelabel_area) == (0.8, 200.0, 160.0)
    assert grown.adjustment == 200 / 160
    assert found[1, 2].iou == 1.0 and found[1, 2].adjustment == 1.0
    assert found[3, None].expert_area == 25.0 and found[3, None].adjustment is None
    assert found[None, 3].prelabel_area == 25.0


def test_hungarian_pairs_for_the_largest_total_iou_not_greedily() -> None:
    # Greedy would pair e0-p0 (0.9) and leave e1-p1 (0.36) below the threshold; the best total
    # is e0-p1 (0.8) + e1-p0 (0.6): both matched.
    expert = [box("a", 0, 0, 10, 1), box("a", 4, 0, 7, 1)]
    prelabels = [box("a", 1, 0, 9, 1), box("a", 0, 0, 8, 1)]
    pairs = sorted((m.expert, m.prelabel, round(m.iou or 0, 6)) for m in match(expert, prelabels))
    assert pairs == [(0, 1, 0.8), (1, 0, 0.6)]


def test_pairs_below_the_threshold_are_no_pairs() -> None:
    expert, prelabels = [box("a", 0, 0, 10, 10)], [box("a", 6, 0, 10, 10)]  # IoU 40/160
    assert Counter(changes(match(expert, prelabels))) == {"added": 1, "deleted": 1}
    assert changes(match(expert, prelabels, iou=0.25)) == ["geometry_changed"]
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"iou must be within \(0, 1\]"):
            match(expert, prelabels, iou=bad)


def test_between_equal_ious_same_class_pairs_win() -> None:
    expert = [box("cat", 0, 0, 10, 10), box("dog", 0, 0, 10, 10)]
    prelabels = [box("dog", 0, 0, 10, 10), box("cat", 0, 0, 10, 10)]
    assert changes(match(expert, prelabels)) == ["unchanged", "unchanged"]


def test_kinds_are_matched_apart_polygons_and_masks_by_iou() -> None:
    a = np.zeros((10, 10), bool)
    a[0:4, 0:5] = True
    b = a.copy()
    b[4, 0:5] = True
    expert = [
        polygon("cat", square(0, 0, 10), square(2, 2, 2)),
        mask("cat", a),
        box("cat", 0, 0, 10, 10),
    ]
    prelabels = [mask("dog", b), polygon("cat", square(0, 0, 10)), box("cat", 0, 0, 10, 10)]
    found = {str(m.label_kind): m for m in match(expert, prelabels)}
    assert str(found["polygon"].change) == "geometry_changed"
    assert found["polygon"].iou == pytest.approx(0.96) and found["polygon"].adjustment == 0.96
    assert str(found["mask"].change) == "class_changed"
    assert (found["mask"].iou, found["mask"].expert_area, found["mask"].prelabel_area) == (
        pytest.approx(20 / 25),
        20.0,
        25.0,
    )
    assert str(found["box"].change) == "unchanged"


def test_classifications_match_by_item_main_label_then_each_class() -> None:
    # Single-label: the one class each side has, changed.
    assert changes(match([cls("cat")], [cls("dog")])) == ["class_changed"]
    # Main labels with each other, the other classes by name (multi-label).
    found = match([cls("cat", True), cls("fluffy")], [cls("dog", True), cls("fluffy"), cls("old")])
    assert [(m.expert, m.prelabel, str(m.change)) for m in found] == [
        (0, 0, "class_changed"),
        (1, 1, "unchanged"),
        (None, 2, "deleted"),
    ]
    found = match([cls("cat"), cls("dog")], [cls("cat"), cls("bird")])
    assert Counter(changes(found)) == {"unchanged": 1, "added": 1, "deleted": 1}
    assert all(m.iou is None and m.adjustment is None for m in found)


def test_polylines_pair_when_their_points_are_the_same() -> None:
    line = {"lines": [[0, 0, 5, 5]]}
    expert = [Label(LabelKind.POLYLINE, "lane", geometry=line)]
    same = [Label(LabelKind.POLYLINE, "road", geometry=line)]
    moved = [Label(LabelKind.POLYLINE, "lane", geometry={"lines": [[0, 0, 5, 6]]})]
    assert changes(match(expert, same)) == ["class_changed"]
    assert Counter(changes(match(expert, moved))) == {"added": 1, "deleted": 1}
