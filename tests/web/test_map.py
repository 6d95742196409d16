"""The embedding map page, in a real browser over a real server: a map computed by the service
(UMAP on coco-mini's ``text`` space), painted with WebGL; hover shows the item; a lasso drawn with
the real mouse selects exactly the items whose stored coordinates lie inside it; the selection
opens in the grid and becomes a static collection."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image
from tests.web.conftest import DATASET

from tagscope.service import Workspace

SPACE = "text"


@pytest.fixture(scope="module")
def mapped(web_workspace: Workspace) -> Workspace:
    """coco's ``text`` space mapped (small n_neighbors: coco-mini is small)."""
    from tagscope.service.embedding_map import compute_map, list_maps

    if not any(m.space == SPACE for m in list_maps(web_workspace, DATASET)):
        compute_map(web_workspace, DATASET, SPACE, n_neighbors=10)
    return web_workspace


def _inside(poly: list[tuple[float, float]], x: float, y: float) -> bool:
    """Even-odd point-in-polygon, independent of the page's own."""
    inside = False
    j = len(poly) - 1
    for i, (xi, yi) in enumerate(poly):
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _open_map(page, shot) -> dict:
    page.goto(f"/#/d/{DATASET}/map?space={SPACE}")
    page.wait_for_selector('[data-testid="map"][data-painted="true"]')
    shot("map")
    return page.evaluate("window.__map.view")


def test_map_paints_every_point(mapped, web, api) -> None:
    page, shot = web
    points = api.get(f"/api/datasets/{DATASET}/maps/{SPACE}").json()
    assert points["n"] > 20
    _open_map(page, shot)
    canvas = page.locator('[data-testid="map"]')
    assert int(canvas.get_attribute("data-n-points")) == points["n"]
    # Coloured by label: a legend of the most common labels.
    legend = page.locator('[data-testid="map-legend"]')
    legend.wait_for()
    assert "person" in legend.inner_text()
    # Pixels on screen: the canvas's screenshot has many non-blank pixels.
    shot_png = page.locator('[data-testid="map-canvas"]').screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(shot_png)).convert("RGB"), np.int16)
    background = pixels[0, 0]
    lit = int((np.abs(pixels - background).sum(axis=2) > 60).sum())
    assert lit > 4 * points["n"]  # a few pixels per point at least
    page.select_option('[data-testid="color-by"]', "field")
    page.fill('[data-testid="color-field"]', "width")
    page.keyboard.press("Enter")
    page.locator('[data-testid="map-legend"] .map-ramp').wait_for()
    shot("by-width")
    # By a tag's score: the dataset's tag groups and their tags to choose from.
    page.select_option('[data-testid="color-by"]', "tag")
    page.select_option('[data-testid="color-group"]', index=1)
    with page.expect_response(lambda r: "colors?by=tag" in r.url) as answer:
        page.select_option('[data-testid="color-tag"]', index=1)
    assert answer.value.ok
    page.locator('[data-testid="map-legend"] .map-ramp').wait_for()
    shot("by-tag")


def test_hover_shows_thumbnail_and_path(mapped, web, api) -> None:
    page, shot = web
    points = api.get(f"/api/datasets/{DATASET}/maps/{SPACE}").json()
    _open_map(page, shot)
    k = len(points["ids"]) // 2
    sx, sy = page.evaluate(f"window.__map.toScreen({points['x'][k]}, {points['y'][k]})")
    box = page.locator('[data-testid="map-canvas"]').bounding_box()
    page.mouse.move(box["x"] + sx, box["y"] + sy)
    card = page.locator('[data-testid="map-hover"]')
    card.wait_for()
    hovered = int(card.get_attribute("data-item-id"))
    # The nearest point to the cursor: the one aimed at, or one drawn on top of it.
    hx, hy = points["x"][points["ids"].index(hovered)], points["y"][points["ids"].index(hovered)]
    view = page.evaluate("window.__map.view")
    assert math.hypot(hx - points["x"][k], hy - points["y"][k]) * view["scale"] <= 8
    item = api.get(f"/api/items/{hovered}").json()["item"]
    page.wait_for_function(
        "document.querySelector('[data-testid=\"map-hover-thumb\"]').naturalWidth > 0"
    )
    assert page.locator('[data-testid="map-hover-path"]').inner_text() == item["path"]
    shot("hover")


def test_lasso_selects_stored_coordinates_and_saves_collection(mapped, web, api) -> None:
    page, shot = web
    points = api.get(f"/api/datasets/{DATASET}/maps/{SPACE}").json()
    view = _open_map(page, shot)
    box = page.locator('[data-testid="map-canvas"]').bounding_box()
    # A star-shaped lasso (concave: the even-odd test matters) around the middle of the map.
    cx, cy = view["width"] / 2, view["height"] / 2
    r_out, r_in = 0.42 * min(cx, cy) * 2, 0.18 * min(cx, cy) * 2
    screen = []
    for i in range(14):
        r = r_out if i % 2 == 0 else r_in
        a = 2 * math.pi * i / 14
        screen.append((round(cx + r * math.cos(a)), round(cy + r * math.sin(a))))
    page.click('[data-testid="mode-lasso"]')
    page.mouse.move(box["x"] + screen[0][0], box["y"] + screen[0][1])
    page.mouse.down()
    for sx, sy in screen[1:]:
        page.mouse.move(box["x"] + sx, box["y"] + sy)
    page.mouse.up()
    page.locator('[data-testid="map-selection"]').wait_for()
    shot("lasso")

    # The expected items, from the stored coordinates and the page's screen -> data transform.
    def to_data(sx: float, sy: float) -> tuple[float, float]:
        return (
            view["cx"] + (sx - view["width"] / 2) / view["scale"],
            view["cy"] - (sy - view["height"] / 2) / view["scale"],
        )

    drawn = [to_data(sx, sy) for sx, sy in screen]
    # The page's lasso is the path the mouse drew (within a pixel: the browser may round the
    # mouse's position); the expected set is computed here on the stored coordinates.
    flat = page.evaluate("window.__map.lasso")
    poly = list(zip(flat[::2], flat[1::2], strict=True))
    assert len(poly) == len(drawn)
    for (px, py), (dx, dy) in zip(poly, drawn, strict=True):
        assert math.hypot(px - dx, py - dy) * view["scale"] <= 1
    expected = sorted(
        i
        for i, x, y in zip(points["ids"], points["x"], points["y"], strict=True)
        if _inside(poly, x, y)
    )
    assert 0 < len(expected) < points["n"]  # the lasso splits the map
    assert int(page.locator('[data-testid="map"]').get_attribute("data-n-selected")) == len(
        expected
    )
    assert page.locator('[data-testid="map-selection-count"]').inner_text() == (
        f"{len(expected)} selected"
    )

    page.click('[data-testid="map-save-collection"]')
    page.fill('[data-testid="collection-title"]', "from the map")
    page.click('[data-testid="save-collection"]')
    page.locator('[data-testid="save-collection-dialog"]').wait_for(state="hidden")
    saved = api.get(f"/api/datasets/{DATASET}/items", params={"collection": "from the map"})
    total = saved.json()["total"]
    got = sorted(
        i["id"]
        for i in api.get(
            f"/api/datasets/{DATASET}/items",
            params={"collection": "from the map", "limit": max(total, 1)},
        ).json()["items"]
    )
    assert got == expected

    # Open in the grid: the grid shows those items.
    page.click('[data-testid="map-open-grid"]')
    page.wait_for_url("**/grid?where=*")
    page.wait_for_function(
        "(document.querySelector('[data-testid=\"grid-total\"]')?.textContent ?? '')"
        ".includes('items')"
    )
    shot("grid")
    total_text = page.locator('[data-testid="grid-total"]').inner_text()
    assert total_text.startswith(f"{len(expected)} items")
    where = page.evaluate("new URLSearchParams(location.hash.split('?')[1]).get('where')")
    assert where == f"id IN ({', '.join(map(str, expected))})"


def test_compute_map_from_the_page(mapped, web, api) -> None:
    """A space without a map: the page offers to compute it, shows the job, then paints it."""
    page, shot = web
    assert not any(m["space"] == "phash" for m in api.get(f"/api/datasets/{DATASET}/maps").json())
    page.goto(f"/#/d/{DATASET}/map?space=phash")
    button = page.locator('[data-testid="compute-map"]')
    button.wait_for()
    assert page.locator('[data-testid="map-compute"] select').input_value() == "phash"
    shot("no-map")
    button.click()
    page.locator('[data-testid="job-progress"]').first.wait_for()
    page.wait_for_selector('[data-testid="map"][data-painted="true"]', timeout=120_000)
    shot("computed")
    points = api.get(f"/api/datasets/{DATASET}/maps/phash").json()
    assert int(page.locator('[data-testid="map"]').get_attribute("data-n-points")) == points["n"]
    job = page.locator('[data-testid="job-progress"]').first
    assert job.get_attribute("data-status") == "done"


def test_wheel_zooms_around_the_cursor_and_drag_pans(mapped, web) -> None:
    page, shot = web
    view = _open_map(page, shot)
    box = page.locator('[data-testid="map-canvas"]').bounding_box()
    sx, sy = 300, 200
    before = page.evaluate(f"window.__map.toData({sx}, {sy})")
    page.mouse.move(box["x"] + sx, box["y"] + sy)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"window.__map.view.scale > {view['scale']} * 1.2")
    after = page.evaluate(f"window.__map.toData({sx}, {sy})")
    zoomed = page.evaluate("window.__map.view")
    # The data point under the cursor stays under it (within a pixel: the browser reports the
    # mouse at whole CSS pixels of the page, the canvas may start at a fraction of one).
    assert math.hypot(after[0] - before[0], after[1] - before[1]) * zoomed["scale"] < 1
    shot("zoomed")
    page.mouse.move(box["x"] + 400, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 500, box["y"] + 250, steps=5)
    page.mouse.up()
    panned = page.evaluate("window.__map.view")
    assert panned["cx"] == pytest.approx(zoomed["cx"] - 100 / zoomed["scale"])
    assert panned["cy"] == pytest.approx(zoomed["cy"] - 50 / zoomed["scale"])
    assert page.locator('[data-testid="map-selection"]').count() == 0  # a pan selects nothing
    shot("panned")
