"""The labeling tool (F-60) in real Chromium, driven by the real mouse and keyboard.

A dataset of three coco-mini photos with an ontology (cat with hotkey 1, dog, a radio question)
is labeled on the page: a box, a polygon with two parts and a hole, a polyline, a brush mask then
erased in part then filled; a class is given by a hotkey assigned in the labeling settings; undo
and redo; one save. Each stored label is read back through the REST API and compared with the
geometry drawn, in image pixels (the page's screen <-> image transform: ``window.__labeling``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from tagscope.domain.geometry import label_area, polygon_region
from tagscope.service import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "draw"  # a name no other browser test uses (one workspace)
BRUSH = 10  # the page's default brush radius, image pixels


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def draw_items(web_workspace: Workspace, coco_mini: Path, tmp_path_factory) -> list[int]:
    """The ids of the dataset's three photos (an ontology: cat [1], dog, car; "weather")."""
    from tagscope.service.imports import import_images
    from tagscope.service.ontology import add_class, add_question

    folder = tmp_path_factory.mktemp(DATASET)
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[:3]:
        (folder / src.name).write_bytes(src.read_bytes())
    import_images(web_workspace, DATASET, folder)
    add_class(web_workspace, DATASET, "cat", hotkey="1")
    add_class(web_workspace, DATASET, "dog")
    add_class(web_workspace, DATASET, "car")
    add_question(web_workspace, DATASET, "weather", "radio", options=["sunny", "rainy"])
    return web_workspace.catalog.item_ids(web_workspace.dataset(DATASET).id)


def _open(page, item_id: int, query: str = "") -> None:
    page.goto(f"/#/d/{DATASET}/label/{item_id}{query}")
    page.wait_for_function("window.__labeling && window.__labeling.ready()")


def _screen(page, x: float, y: float) -> tuple[int, int]:
    sx, sy = page.evaluate("([x, y]) => window.__labeling.toScreen(x, y)", [x, y])
    return round(sx), round(sy)


def _image(page, sx: int, sy: int) -> tuple[float, float]:
    return tuple(page.evaluate("([x, y]) => window.__labeling.toImage(x, y)", [sx, sy]))


def _click(page, x: float, y: float) -> tuple[float, float]:
    """Clicks at image point (x, y); returns the image point the click really hit."""
    sx, sy = _screen(page, x, y)
    page.mouse.click(sx, sy)
    return _image(page, sx, sy)


def _drag(page, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Presses at the first image point, moves through the others, releases; the points hit."""
    hit = []
    for k, (x, y) in enumerate(points):
        sx, sy = _screen(page, x, y)
        page.mouse.move(sx, sy, steps=1 if k == 0 else 12)
        if k == 0:
            page.mouse.down()
        hit.append(_image(page, sx, sy))
    page.mouse.up()
    return hit


def _state(page) -> dict:
    return page.evaluate("window.__labeling.state()")


def _close(actual: list[float], expected: list[tuple[float, float]]) -> None:
    flat = [v for p in expected for v in p]
    assert len(actual) == len(flat), (actual, flat)
    assert max(abs(a - b) for a, b in zip(actual, flat, strict=True)) <= 1.0, (actual, flat)


def test_draw_every_geometry_undo_redo_and_save(web, api, draw_items) -> None:
    page, shot = web
    item = draw_items[0]
    _open(page, item, f"?from=grid&ids={','.join(map(str, draw_items))}")
    assert page.get_by_test_id("label-position").inner_text() == "1 / 3"
    shot("opened")

    # A hotkey assigned in the labeling settings (PATCH of the ontology class).
    page.get_by_test_id("label-settings").locator("summary").click()
    page.get_by_test_id("hotkey-dog").fill("2")
    with page.expect_response(
        lambda r: r.request.method == "PATCH" and "/ontology/classes/dog" in r.url
    ) as answer:
        page.get_by_test_id("hotkey-save-dog").click()
    assert answer.value.status == 200, answer.value.text()
    page.get_by_test_id("label-canvas").hover()

    # A box, then class dog by its new hotkey (the box is selected after drawing).
    page.keyboard.press("b")
    box = _drag(page, [(40, 40), (90, 60), (140, 110)])
    page.keyboard.press("2")
    assert _state(page)["shapes"][-1]["name"] == "dog"

    # A polygon (class cat by hotkey 1) with a hole (H) and a second part (G).
    page.keyboard.press("Escape")
    page.keyboard.press("1")
    page.keyboard.press("p")
    outer = [_click(page, x, y) for x, y in [(200, 60), (360, 60), (360, 220), (200, 220)]]
    _click(page, 200, 60)  # on the first point: closes the ring
    page.keyboard.press("h")
    hole = [_click(page, x, y) for x, y in [(240, 100), (320, 100), (320, 180), (240, 180)]]
    page.keyboard.press("Enter")
    page.keyboard.press("g")
    part = [_click(page, x, y) for x, y in [(400, 60), (500, 60), (450, 160)]]
    _click(page, 400, 60)
    shot("polygon")

    # A polyline (L), finished with Enter.
    page.keyboard.press("l")
    line = [_click(page, x, y) for x, y in [(40, 250), (120, 300), (200, 260)]]
    page.keyboard.press("Enter")

    # A mask: a square outline with the brush, a bite of its outer edge erased (R), the inside
    # filled (G).
    page.keyboard.press("m")
    corners = [(260, 250), (360, 250), (360, 350), (260, 350), (260, 250)]
    painted = _drag(page, corners)
    page.keyboard.press("r")
    erased = _drag(page, [(310, 240), (312, 240)])
    page.keyboard.press("g")
    _click(page, 310, 300)
    state = _state(page)
    assert [s["kind"] for s in state["shapes"]] == ["box", "polygon", "polyline", "mask"], state
    filled_area = state["shapes"][-1]["area"]
    shot("drawn")

    # Undo takes the fill back, redo makes it again.
    page.keyboard.press("Control+z")
    assert _state(page)["shapes"][-1]["area"] < filled_area * 0.6
    page.keyboard.press("Control+Shift+z")
    assert _state(page)["shapes"][-1]["area"] == filled_area

    with page.expect_response(
        lambda r: r.request.method == "PUT" and r.url.endswith(f"/items/{item}/labels")
    ) as answer:
        page.keyboard.press("Control+s")
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.json()["change_set"]
    page.get_by_test_id("label-message").filter(has_text="saved").wait_for()
    shot("saved")

    stored = {
        lab["kind"]: lab
        for lab in _ok(api.get(f"/api/datasets/{DATASET}/items/{item}/labels"))["labels"]
    }
    assert set(stored) == {"box", "polygon", "polyline", "mask"}
    (x0, y0), (x1, y1) = box[0], box[-1]
    _close_box = stored["box"]["geometry"]["bbox"]
    assert stored["box"]["name"] == "dog"
    _close(_close_box, [(x0, y0), (x1 - x0, y1 - y0)])

    rings = stored["polygon"]["geometry"]["polygons"]
    assert stored["polygon"]["name"] == "cat"
    assert len(rings) == 3
    _close(rings[0], outer)
    _close(rings[1], hole)
    _close(rings[2], part)
    # The hole is a hole: the stored region excludes it.
    region = polygon_region(rings)
    assert not region.contains(Point(280, 140))
    assert region.contains(Point(210, 140)) and region.contains(Point(450, 100))
    expected = Polygon(outer).area - Polygon(hole).area + Polygon(part).area
    assert abs(region.area - expected) < 1

    _close(stored["polyline"]["geometry"]["lines"][0], line)

    # The mask: the outline's band filled in, less the bite (shapely, in image pixels).
    square = Polygon(painted[:-1]).buffer(BRUSH, join_style="round")
    bite = LineString(erased).buffer(BRUSH)
    want = shapely.difference(square, bite).area
    got = label_area("mask", stored["mask"]["geometry"])
    assert stored["mask"]["geometry"]["rle"]["size"] == [
        _state_size(page)[1],
        _state_size(page)[0],
    ]
    assert abs(got - want) / want < 0.02, (got, want)
    assert not _state(page)["dirty"]


def _state_size(page) -> tuple[int, int]:
    return tuple(page.evaluate("[window.__labeling.image().w, window.__labeling.image().h]"))


def test_edit_vertices_polyline_points_select_move_and_answers(web, api, draw_items) -> None:
    """E drags a vertex, inserts one on an edge's projection and deletes one; K and R add and
    remove polyline points; Select moves and deletes; the classification question is answered;
    next warns about unsaved changes; what is saved is what the page shows."""
    page, shot = web
    item = draw_items[1]
    _open(page, item, f"?from=grid&ids={','.join(map(str, draw_items))}")
    assert page.get_by_test_id("label-position").inner_text() == "2 / 3"

    page.keyboard.press("p")
    square = [(100, 100), (200, 100), (200, 200), (100, 200)]
    for x, y in square:
        _click(page, x, y)
    page.keyboard.press("Enter")
    page.keyboard.press("e")
    moved = _drag(page, [(200, 200), (230, 230)])[-1]  # vertex 3 dragged
    inserted = _click(page, 150, 100)  # on the top edge: a new vertex between 1 and 2
    ring = _state(page)["shapes"][0]["geometry"]["polygons"][0]
    assert len(ring) == 10
    _close(ring[2:4], [inserted])
    _close(ring[6:8], [moved])
    _click(page, 100, 200)  # picks vertex 5 (the last corner) ...
    page.keyboard.press("Delete")  # ... and removes it
    ring = _state(page)["shapes"][0]["geometry"]["polygons"][0]
    assert len(ring) == 8 and [100, 200] not in [ring[i : i + 2] for i in range(0, 8, 2)]

    page.keyboard.press("l")
    line = [_click(page, x, y) for x, y in [(300, 300), (400, 300)]]
    page.keyboard.press("Enter")
    page.keyboard.press("k")
    line.append(_click(page, 450, 350))
    page.keyboard.press("r")
    _click(page, 400, 300)
    del line[1]
    _close(_state(page)["shapes"][1]["geometry"]["lines"][0], line)

    # Select: a box drawn, moved by 20 px, then deleted.
    page.keyboard.press("b")
    _drag(page, [(400, 50), (450, 90)])
    page.keyboard.press("v")
    start = _drag(page, [(425, 70), (445, 90)])
    assert [s["kind"] for s in _state(page)["shapes"]] == ["polygon", "polyline", "box"]
    bx, by, _, _ = _state(page)["shapes"][2]["geometry"]["bbox"]
    dx, dy = start[-1][0] - start[0][0], start[-1][1] - start[0][1]
    assert abs(bx - (400 + dx)) <= 1 and abs(by - (50 + dy)) <= 1
    page.keyboard.press("Delete")
    assert [s["kind"] for s in _state(page)["shapes"]] == ["polygon", "polyline"]

    # The classification and a radio question.
    page.get_by_label("Item class").select_option("car")
    page.get_by_test_id("label-questions").get_by_label("rainy").check()
    shot("edited")

    # Next with unsaved changes asks first; dismissed, the page stays.
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_test_id("label-next").click()
    assert page.get_by_test_id("label-position").inner_text() == "2 / 3"

    with page.expect_response(
        lambda r: r.request.method == "PUT" and r.url.endswith(f"/items/{item}/labels")
    ) as answer:
        page.get_by_test_id("label-save").click()
    assert answer.value.status == 200, answer.value.text()
    stored = _ok(api.get(f"/api/datasets/{DATASET}/items/{item}/labels"))["labels"]
    by_kind = {lab["kind"]: lab for lab in stored}
    assert set(by_kind) == {"polygon", "polyline", "classification"}
    shown = _state(page)["shapes"]
    assert by_kind["polygon"]["geometry"]["polygons"] == shown[0]["geometry"]["polygons"]
    assert by_kind["polyline"]["geometry"]["lines"] == shown[1]["geometry"]["lines"]
    assert by_kind["classification"]["name"] == "car"
    assert by_kind["classification"]["attributes"]["answers"] == {"weather": "rainy"}
    # One change-set: undone on the History page, the item has no ground truth again.
    change_set = answer.value.json()["change_set"]
    _ok(api.post(f"/api/datasets/{DATASET}/history/{change_set}/undo", json={}))
    stored = _ok(api.get(f"/api/datasets/{DATASET}/items/{item}/labels"))["labels"]
    assert not [lab for lab in stored if lab["source"] == "ground_truth"]

    # Saved: next goes on without asking.
    page.get_by_test_id("label-next").click()
    page.wait_for_function(f"location.hash.includes('/label/{draw_items[2]}')")
    page.get_by_test_id("label-position").filter(has_text="3 / 3").wait_for()


def test_viewer_sees_labels_read_only(access_web, access_workspace) -> None:
    """A viewer of the dataset gets the labels drawn but no tools and no save."""
    from tests.web.conftest import ALPHA, PASSWORD

    page, shot = access_web
    item = access_workspace.catalog.item_ids(access_workspace.dataset(ALPHA).id)[0]
    page.goto(f"/#/login?next=/d/{ALPHA}/label/{item}")
    page.get_by_test_id("login-name").fill("vera")
    page.get_by_test_id("login-password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as answer:
        page.get_by_test_id("login-submit").click()
    assert answer.value.status == 200
    page.wait_for_function("window.__labeling && window.__labeling.ready()")
    page.get_by_test_id("label-readonly").wait_for()
    assert page.get_by_test_id("label-save").count() == 0
    assert page.get_by_test_id("tool-polygon").count() == 0
    shot("read-only")


@pytest.fixture(scope="module")
def job_items(web_workspace: Workspace, coco_mini: Path, tmp_path_factory) -> list[int]:
    """Two photos of a dataset with a prediction box each, pre-labelled by an auto job, and a
    manual job ``draw-job`` over them."""
    from tagscope.domain import Label, LabelKind, LabelSource
    from tagscope.service import label_jobs
    from tagscope.service.collections import create_collection
    from tagscope.service.imports import import_images

    ws = web_workspace
    folder = tmp_path_factory.mktemp("drawjob")
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[3:5]:
        (folder / src.name).write_bytes(src.read_bytes())
    import_images(ws, "drawjob", folder)
    ids = ws.catalog.item_ids(ws.dataset("drawjob").id)
    box = {"bbox": [20.0, 30.0, 120.0, 80.0]}
    ws.catalog.add_labels(
        [(i, Label(LabelKind.BOX, "cat", LabelSource.PREDICTION, geometry=box)) for i in ids]
    )
    create_collection(ws, "drawjob", "to-label", item_ids=ids)
    label_jobs.create_auto_job(ws, "drawjob", "pre", "to-label", source_labels="prediction")
    label_jobs.create_manual_job(ws, "drawjob", "draw-job", "to-label")
    return ids


def test_label_job_items_with_prelabels(web, api, job_items) -> None:
    """From the Label jobs page: the job's items in order, prelabels drawn dashed and copied
    into labels, saved."""
    page, shot = web
    page.goto("/#/d/drawjob/label-jobs")
    page.locator("[data-testid=label-job][data-name=draw-job]").get_by_test_id(
        "label-job-items"
    ).click()
    page.wait_for_function("window.__labeling && window.__labeling.ready()")
    assert "from=job%3Adraw-job" in page.url or "from=job:draw-job" in page.url
    assert page.get_by_test_id("label-position").inner_text() == "1 / 2"
    shapes = _state(page)["shapes"]
    assert [(s["kind"], s["prelabel"]) for s in shapes] == [("box", True)]
    shot("prelabel")
    page.get_by_role("button", name="Copy prelabels as labels").click()
    with page.expect_response(
        lambda r: r.request.method == "PUT" and r.url.endswith(f"/items/{job_items[0]}/labels")
    ) as answer:
        page.keyboard.press("Control+s")
    assert answer.value.status == 200, answer.value.text()
    stored = _ok(api.get(f"/api/datasets/drawjob/items/{job_items[0]}/labels"))["labels"]
    truth = [lab for lab in stored if lab["source"] == "ground_truth"]
    assert [(t["kind"], t["name"], t["geometry"]["bbox"]) for t in truth] == [
        ("box", "cat", [20.0, 30.0, 120.0, 80.0])
    ]
    assert any(lab["source"] == "prelabel" for lab in stored)


def test_smart_tool_grabcut_to_polygon(web, draw_items) -> None:
    """Smart: a rectangle gives GrabCut's mask, a foreground stroke refines it, and it is
    accepted as a polygon; without a Segment Anything model the tool says so."""
    page, shot = web
    _open(page, draw_items[2])
    page.keyboard.press("s")
    page.get_by_test_id("sam-missing").wait_for()
    assert "GrabCut only" in page.get_by_test_id("sam-missing").inner_text()
    fg = f"/items/{draw_items[2]}/foreground"
    with page.expect_response(lambda r: r.url.endswith(fg)) as answer:
        _drag(page, [(60, 60), (300, 300)])
    assert answer.value.status == 200, answer.value.text()
    with page.expect_response(lambda r: r.url.endswith(fg)) as answer:
        _drag(page, [(170, 170), (190, 190)])  # a foreground stroke (A is the mode after the box)
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.request.post_data_json["foreground"]
    shot("smart-mask")
    with page.expect_response(lambda r: r.url.endswith(fg)) as answer:
        page.get_by_test_id("smart-accept-polygon").click()
    assert answer.value.request.post_data_json["output"] == "polygon"
    page.wait_for_function("window.__labeling.state().shapes.length === 1")
    shape = _state(page)["shapes"][0]
    assert shape["kind"] == "polygon" and shape["geometry"]["polygons"]
    xs = [v for ring in shape["geometry"]["polygons"] for v in ring[::2]]
    assert min(xs) >= 59 and max(xs) <= 301  # inside the rectangle
    shot("smart-polygon")


def test_smart_tool_clicks_prompt_segment_anything(
    web, draw_items, tiny_sam_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a Segment Anything model (a tiny random one: its masks are arbitrary, so only the
    requests and answers are checked), a click asks for a foreground point, a right click adds a
    background one, and no rectangle is needed."""
    monkeypatch.setenv("TAGSCOPE_SAM_DIR", str(tiny_sam_dir))  # the server runs in this process
    page, shot = web
    _open(page, draw_items[2])
    page.keyboard.press("s")
    page.get_by_test_id("sam-on").wait_for()
    fg = f"/items/{draw_items[2]}/foreground"
    with page.expect_response(lambda r: r.url.endswith(fg)) as answer:
        hit = _click(page, 150, 150)
    assert answer.value.status == 200, answer.value.text()
    sent = answer.value.request.post_data_json
    assert sent["method"] == "sam" and sent["point_labels"] == [1] and "rect" not in sent
    assert max(abs(a - b) for a, b in zip(sent["points"][0], hit, strict=True)) <= 1.0
    with page.expect_response(lambda r: r.url.endswith(fg)) as answer:
        sx, sy = _screen(page, 60, 60)
        page.mouse.click(sx, sy, button="right")
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.request.post_data_json["point_labels"] == [1, 0]
    assert answer.value.json()["mask"]["size"][0] > 0
    shot("smart-sam")


def test_opened_from_the_grid_filter_selection_and_item_page(web, draw_items) -> None:
    """The grid's "Label these" iterates over the filter's items in the grid's order, its
    selection's "Label" over the selected ones; the item page links to the tool."""
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid?where=id%20%3E%3D%20{draw_items[1]}&order=desc")
    page.get_by_test_id("label-filtered").click()
    page.wait_for_function("window.__labeling && window.__labeling.ready()")
    assert f"/label/{draw_items[2]}" in page.url
    assert page.get_by_test_id("label-position").inner_text() == "1 / 2"
    page.keyboard.press(".")  # next
    page.get_by_test_id("label-position").filter(has_text="2 / 2").wait_for()
    assert f"/label/{draw_items[1]}" in page.url
    shot("from-filter")

    page.goto(f"/#/d/{DATASET}/grid")
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    cards.first.wait_for()
    cards.first.locator("a.card-img").focus()
    page.keyboard.press(" ")
    page.get_by_test_id("label-selected").click()
    page.wait_for_function("window.__labeling && window.__labeling.ready()")
    assert page.get_by_test_id("label-position").inner_text() == "1 / 1"
    assert f"/label/{draw_items[0]}" in page.url

    page.goto(f"/#/items/{draw_items[0]}")
    page.get_by_test_id("open-labeler").click()
    page.wait_for_function("window.__labeling && window.__labeling.ready()")
    assert f"/d/{DATASET}/label/{draw_items[0]}" in page.url


def test_wheel_zooms_around_the_cursor_and_space_drag_pans(web, draw_items) -> None:
    page, shot = web
    _open(page, draw_items[0])
    sx, sy = _screen(page, 300, 200)
    page.mouse.move(sx, sy)
    before = _image(page, sx, sy)
    scale = page.evaluate("window.__labeling.view().scale")
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"window.__labeling.view().scale > {scale} * 1.5")
    after = _image(page, sx, sy)
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) < 0.5
    view = page.evaluate("window.__labeling.view()")
    n_shapes = len(_state(page)["shapes"])
    page.keyboard.down(" ")
    page.mouse.down()
    page.mouse.move(sx + 120, sy + 60, steps=6)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = page.evaluate("window.__labeling.view()")
    assert round(moved["tx"] - view["tx"]) == 120 and round(moved["ty"] - view["ty"]) == 60
    assert len(_state(page)["shapes"]) == n_shapes  # panning drew nothing
    shot("zoomed")
    page.keyboard.press("f")
    assert page.evaluate("window.__labeling.view().scale") == scale
