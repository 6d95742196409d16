"""Polygon and box checks: simple rings kept, self-intersections repaired within 1% or refused."""

from __future__ import annotations

import math

import pytest
import shapely

from tagscope.labels.geometry import (
    InvalidGeometry,
    check_box,
    check_polyline,
    polygon_parts,
    ring_parts,
)

SQUARE = [0, 0, 10, 0, 10, 10, 0, 10]


def _polygon(ring: list[float]) -> shapely.Polygon:
    return shapely.Polygon(list(zip(ring[::2], ring[1::2], strict=True)))


def _area(parts: list[list[float]]) -> float:
    """The area of parts read with the even-odd rule (holes are parts inside parts)."""
    area = shapely.Polygon()
    for part in parts:
        area = area.symmetric_difference(_polygon(part))
    return area.area


def test_a_simple_ring_is_kept_exactly_as_given() -> None:
    assert ring_parts(SQUARE) == [SQUARE]
    closed = [*SQUARE, 0, 0]  # the closing point repeated
    assert ring_parts(closed) == [closed]


def test_several_parts_and_a_hole_are_kept_and_a_bad_part_is_named() -> None:
    hole = [3, 3, 3, 7, 7, 7, 7, 3]
    other = [20, 20, 30, 20, 25, 30]
    assert polygon_parts([SQUARE, hole, other]) == [SQUARE, hole, other]
    with pytest.raises(InvalidGeometry, match=r"^part 3 has fewer than 3 distinct points$"):
        polygon_parts([SQUARE, hole, [0, 0, 1, 1, 0, 0]])


def test_a_bow_tie_is_refused_its_loops_cancel_out() -> None:
    # Two triangles of area 1 winding in opposite directions: signed area 0, repaired area 2.
    with pytest.raises(InvalidGeometry) as err:
        ring_parts([0, 0, 2, 2, 2, 0, 0, 2])
    assert str(err.value) == (
        "is self-intersecting at (1, 1) and its loops cancel out (signed area 0): "
        "no repair keeps its area"
    )


def test_an_uneven_bow_tie_is_refused_with_the_area_change() -> None:
    # Loops of 16/3 and 4/3 winding apart: the ring's signed area is 4, its repair's 20/3.
    with pytest.raises(InvalidGeometry) as err:
        polygon_parts([[0, 0, 4, 4, 4, 0, 0, 2]])
    assert str(err.value) == (
        "part 1 is self-intersecting at (1.33333, 1.33333) and a repair would change its area "
        "by 66.7% (more than 1%)"
    )


def test_a_ring_walked_twice_around_is_refused() -> None:
    with pytest.raises(InvalidGeometry, match=r"change its area by 50\.0%"):
        ring_parts(SQUARE * 2)


@pytest.mark.parametrize(
    "spike",
    [[12, 5.1, 12, 4.9], [12, 4.9, 12, 5.1]],
    ids=["crossing", "self-touching"],
)
def test_a_tiny_spike_is_repaired_into_polygon_parts_within_one_percent(
    spike: list[float],
) -> None:
    # The square's right edge leaves at (10, 5) for a thin triangle of area 0.2 and comes back
    # to the same point: an invalid ring whose repair is the square and the triangle.
    ring = [0, 0, 10, 0, 10, 5, *spike, 10, 5, 10, 10, 0, 10]
    assert not _polygon(ring).is_valid
    parts = ring_parts(ring)
    assert len(parts) == 2
    assert sorted(len(p) // 2 for p in parts) == [3, 5]
    assert _area(parts) == pytest.approx(100.2)
    drawn = abs(_polygon(ring).area)  # shoelace: 99.8 or 100.2
    assert abs(_area(parts) - drawn) / drawn <= 0.01
    assert all(_polygon(p).is_valid for p in parts)


@pytest.mark.parametrize(("half_width", "kept"), [(0.1, True), (0.15, False)])
def test_the_limit_is_one_percent_of_the_drawn_area(half_width: float, kept: bool) -> None:
    # A crossing spike of area a = 4 * half_width winds against the square: drawn 100 - a,
    # repaired 100 + a, a change of 2a / (100 - a): 0.80% for a = 0.4, 1.21% for a = 0.6.
    ring = [0, 0, 10, 0, 10, 5, 14, 5 + half_width, 14, 5 - half_width, 10, 5, 10, 10, 0, 10]
    if kept:
        assert _area(ring_parts(ring)) == pytest.approx(100.4)
    else:
        with pytest.raises(InvalidGeometry, match=r"change its area by 1\.2% \(more than 1%\)"):
            ring_parts(ring)


def test_a_repair_keeps_the_hole_a_ring_draws_as_a_part_inside_a_part() -> None:
    # Around the square, in along a cut to a hole walked the other way, back out along the cut.
    ring = [*SQUARE, 0, 0, 3, 3, 3, 7, 7, 7, 7, 3, 3, 3]
    parts = ring_parts(ring)
    assert len(parts) == 2
    assert _area(parts) == pytest.approx(100 - 16)
    exterior, hole = (_polygon(p) for p in parts)
    assert exterior.area == 100 and hole.area == 16 and exterior.contains(hole)


@pytest.mark.parametrize(
    ("ring", "reason"),
    [
        ([0, 0, 1, 1, 2, 2], "has zero area"),  # on one line
        ([0, 0, 1, 0, 1, 1, 1, 0], "has zero area"),  # a path walked there and back
        ([0, 0, 0, 0, 1, 1, 1, 1], "has fewer than 3 distinct points"),
        ([0, 0, 1, 1], "has fewer than 3 points"),
        ([0, 0, 1, 1, 2], "has an odd number of coordinates (5)"),
        ([0, 0, 1, "a", 2, 2], "is not a list of numbers"),
        ([0, 0, 1, True, 2, 2], "is not a list of numbers"),
        ("0 0 1 0 1 1", "is not a list of numbers"),
        ([0, 0, math.nan, 1, 1, 1], "has a non-finite coordinate (nan)"),
        ([0, 0, 1, math.inf, 1, 1], "has a non-finite coordinate (inf)"),
    ],
)
def test_degenerate_and_non_finite_rings_are_refused_with_the_reason(
    ring: object, reason: str
) -> None:
    with pytest.raises(InvalidGeometry) as err:
        ring_parts(ring)
    assert str(err.value) == reason


def test_boxes_need_finite_numbers_and_a_positive_width_and_height() -> None:
    check_box([0, 0, 10, 0.5])
    for box, reason in [
        ([0, 0, 0, 5], "width 0 is not positive"),
        ([0, 0, 5, -1], "height -1 is not positive"),
        ([math.nan, 0, 5, 5], "x nan is not finite"),
        ([0, 0, math.inf, 5], "width inf is not finite"),
    ]:
        with pytest.raises(InvalidGeometry) as err:
            check_box(box)
        assert str(err.value) == reason


def test_a_polyline_needs_lines_of_two_distinct_finite_points() -> None:
    check_polyline([[0, 0, 5, 5, 9, 1], [1, 1, 2, 2]])
    for lines, reason in [
        ([], "a polyline needs a non-empty list of lines"),
        ([[0, 0, 1, 1], [0, 0, 1]], "line 2 has an odd number of coordinates (3)"),
        ([[0, 0, 0, 0]], "line 1 has fewer than 2 distinct points"),
        ([[0, 0, math.inf, 1]], "line 1 has a non-finite coordinate (inf)"),
        ([[0, 0, "1", 1]], "line 1 is not a list of numbers"),
        ("0,0,1,1", "a polyline needs a non-empty list of lines"),
    ]:
        with pytest.raises(InvalidGeometry) as caught:
            check_polyline(lines)
        assert str(caught.value) == reason
