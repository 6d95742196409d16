"""The models pages (F-80 to F-83) in real Chromium over a real server: a multi-label model
trained on coco's ``text`` space from the form, its learning curves drawn from its history; its
statistics, where the threshold dragged along a class's precision-recall curve is saved and kept
after a reload; its predictions, where "wrong only" keeps only the wrong rows; a run stopped from
the page; an uploaded image predicted by a model on a (tiny, random) CLIP space; a (tiny, random)
detector's statistics and boxes; the grid's selection predicted and written as labels; a viewer
who cannot train."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from tests.web.conftest import ALPHA, DATASET, PASSWORD

from tagscope.service import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

B = f"/api/datasets/{DATASET}"
MODEL = "objects"  # trained on coco's text space through the page
CLIPPED = "clipped"  # imagenette photos in a tiny CLIP's space
KINDS = "kinds"  # a single-label model of CLIPPED
BOXES = "boxes"  # ten coco-mini images with their boxes
FINDER = "finder"  # a detector of BOXES
# The PR chart's drawing box (model.tsx PRChart): viewBox and padding.
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 520, 360, 44, 14, 14, 36


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def clip_model(
    web_workspace: Workspace, imagenette: Path, tiny_clip_dir: Path, tmp_path_factory
) -> tuple[str, list[Path]]:
    """The dataset CLIPPED (12 photos of 3 imagenette classes, embedded by the tiny CLIP) and its
    single-label model KINDS; returns the model's name and photos it never saw."""
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_images
    from tagscope.service.models import train_model

    folder = tmp_path_factory.mktemp(CLIPPED)
    classes = sorted(p for p in imagenette.iterdir() if p.is_dir())[:3]
    unseen: list[Path] = []
    for cls in classes:
        photos = sorted(cls.glob("*.JPEG"))
        (folder / cls.name).mkdir()
        for src in photos[:4]:
            (folder / cls.name / src.name).write_bytes(src.read_bytes())
        unseen.append(photos[-1])
    import_images(web_workspace, CLIPPED, folder, labels_from_folders=True)
    compute_embeddings(web_workspace, CLIPPED, kind="clip", model=str(tiny_clip_dir))
    train_model(
        web_workspace, CLIPPED, KINDS, kind="single-label", space="clip", validation=0.25,
        max_epochs=20,
    )  # fmt: skip
    return KINDS, unseen


def _start_training(page, shot, name: str, **fields: str) -> dict:
    """Fill the Models page's form (a multi-label model on the text space, and ``fields``:
    test id suffix -> value) and submit it; returns the 202's body."""
    page.get_by_test_id("train-form").wait_for()
    page.get_by_test_id("train-name").fill(name)
    page.get_by_test_id("train-kind").select_option("multi-label")
    page.get_by_test_id("train-space").select_option("text")
    for field, value in fields.items():
        page.get_by_test_id(f"train-{field}").fill(value)
    shot("form")
    with page.expect_response(
        lambda r: r.url.endswith(f"{B}/models") and r.request.method == "POST"
    ) as answer:
        page.get_by_test_id("train-submit").click()
    assert answer.value.status == 202, answer.value.text()
    started = answer.value.json()
    assert started["model"]["name"] == name and started["model"]["kind"] == "multi-label"
    assert started["model"]["status"] == "training"
    assert started["job"]["id"] == started["model"]["job_id"]
    return started


def _until_trained(page, name: str) -> None:
    """Wait until the page shows the run ended; fails at once (with its error) if it failed."""
    panel = page.locator(f'[data-testid="training-panel"][data-model="{name}"]')
    page.locator(
        f'[data-testid="training-panel"][data-model="{name}"]:not([data-status="training"])'
    ).wait_for(timeout=120_000)
    status = panel.get_attribute("data-status")
    assert status == "ready", panel.inner_text()


@pytest.fixture(scope="module")
def detector(web_workspace: Workspace, coco_mini: Path, tmp_path_factory) -> list[Path]:
    """The dataset BOXES (10 coco-mini images and their boxes) and its detector FINDER, a tiny
    random YOLOS trained two epochs on 64-pixel images; returns the dataset's image files."""
    from tagscope.service.imports import import_coco
    from tagscope.service.models import train_model

    source = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    images = source["images"][:10]
    ids = {im["id"] for im in images}
    annotations = [a for a in source["annotations"] if a["image_id"] in ids]
    doc = tmp_path_factory.mktemp(BOXES) / "instances.json"
    doc.write_text(json.dumps({**source, "images": images, "annotations": annotations}))
    import_coco(web_workspace, BOXES, doc, images=coco_mini / "val2017")
    tiny = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "num_detection_tokens": 10,
    }
    train_model(
        web_workspace, BOXES, FINDER, kind="detector", architecture=tiny, image_size=64,
        max_epochs=2, patience=100, validation=0.3,
    )  # fmt: skip
    return [coco_mini / "val2017" / im["file_name"] for im in images]


def _train_through_the_form(page, shot, api: httpx.Client) -> dict:
    """Train MODEL (multi-label, text space) from the Models page; returns it once ready."""
    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("nav-models").click()
    _start_training(page, shot, MODEL, patience="5")
    # The curves appear (first epochs while it trains), then the run ends by itself.
    panel = page.locator(f'[data-testid="training-panel"][data-model="{MODEL}"]')
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=learning-curves]')?.dataset.epochs) > 0"
    )
    shot("curves-live")
    _until_trained(page, MODEL)
    model = _ok(api.get(f"{B}/models/{MODEL}"))
    assert model["status"] == "ready" and len(model["history"]) > 0
    curves = panel.get_by_test_id("learning-curves")
    assert curves.get_attribute("data-epochs") == str(len(model["history"]))
    # One segment per epoch in each drawn line (train and validation loss and mAP).
    for path in ("path-loss-train", "path-loss-val", "path-metric-train", "path-metric-val"):
        d = curves.get_by_test_id(path).get_attribute("d")
        assert d.count("L") == len(model["history"]) - 1, path
    shot("curves-done")
    # The list says it is ready, with its mAP.
    row = page.locator(f'[data-testid="model-row"][data-model="{MODEL}"][data-status="ready"]')
    row.wait_for()
    assert row.locator("td").nth(5).inner_text() == f"{model['metrics']['map']:.3f}"
    return model


def _point(box: dict, recall: float, precision: float) -> tuple[float, float]:
    """The page coordinates of (recall, precision) on the PR chart whose box is ``box``."""
    x = PAD_L + recall * (W - PAD_L - PAD_R)
    y = H - PAD_B - precision * (H - PAD_T - PAD_B)
    return box["x"] + x / W * box["width"], box["y"] + y / H * box["height"]


def test_train_drag_a_threshold_save_and_browse_predictions(web, api: httpx.Client) -> None:
    page, shot = web
    model = _train_through_the_form(page, shot, api)
    with page.expect_response(
        lambda r: f"/models/{MODEL}/statistics?subset=validation" in r.url
    ) as answer:
        page.get_by_test_id("open-model").click()
    stats = answer.value.json()
    chart = page.get_by_test_id("pr-chart")
    chart.wait_for()
    # First shown: the class with the most validation positives.
    cls = max(stats["classes"], key=lambda c: stats["per_class"][c]["n_positive"])
    assert chart.get_attribute("data-class") == cls
    assert page.get_by_test_id("stats-map").inner_text() == f"{stats['map']:.3f}"
    curve = stats["per_class"][cls]["curve"]
    before_attr = chart.get_attribute("data-threshold")
    before = float(before_attr)
    assert before == pytest.approx(model["thresholds"][cls])
    # The F1-optimal point is marked at the class's best threshold.
    best = float(page.get_by_test_id("f1-best").get_attribute("data-threshold"))
    assert best == pytest.approx(stats["per_class"][cls]["best_threshold"])
    shot("statistics")

    # Drag the handle to the point of the curve farthest from it (a real one: precision > 0).
    now = min(range(len(curve["thresholds"])), key=lambda i: abs(curve["thresholds"][i] - before))
    target = max(
        (i for i in range(len(curve["thresholds"])) if curve["precision"][i] > 0),
        key=lambda i: (
            (curve["recall"][i] - curve["recall"][now]) ** 2
            + (curve["precision"][i] - curve["precision"][now]) ** 2
        ),
    )
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    handle = page.get_by_test_id("threshold-handle").locator("circle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    tx, ty = _point(box, curve["recall"][target], curve["precision"][target])
    page.mouse.move((tx + handle["x"]) / 2, (ty + handle["y"]) / 2, steps=4)
    page.mouse.move(tx, ty, steps=4)
    page.mouse.up()
    expect(chart).not_to_have_attribute("data-threshold", before_attr)
    dragged = float(chart.get_attribute("data-threshold"))
    # It snapped onto the curve: a point of it at the target's place (curves repeat points).
    snapped = curve["thresholds"].index(dragged)
    assert (curve["recall"][snapped], curve["precision"][snapped]) == (
        curve["recall"][target],
        curve["precision"][target],
    )
    assert dragged != pytest.approx(before)
    assert not page.get_by_test_id("use-optimized").is_checked()
    assert page.get_by_test_id("threshold-input").input_value() == f"{dragged:.3f}"
    shot("dragged")
    with page.expect_response(lambda r: r.url.endswith(f"/models/{MODEL}/thresholds")) as answer:
        page.get_by_test_id("save-thresholds").click()
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.json()["thresholds"][cls] == pytest.approx(dragged)
    assert _ok(api.get(f"{B}/models/{MODEL}"))["thresholds"][cls] == pytest.approx(dragged)

    # Kept after a reload.
    with page.expect_response(lambda r: f"/models/{MODEL}/statistics" in r.url):
        page.reload()
    chart.wait_for()
    assert float(chart.get_attribute("data-threshold")) == pytest.approx(dragged)
    assert page.get_by_test_id("saved-threshold").inner_text() == f"{dragged:.3f}"
    row = page.locator(f'[data-testid="class-row"][data-class="{cls}"]')
    assert row.get_by_test_id("class-threshold").inner_text() == f"{dragged:.3f}"
    shot("kept")

    # The optimized thresholds again: every class's max-F1 one.
    page.get_by_test_id("use-optimized").check()
    with page.expect_response(lambda r: r.url.endswith(f"/models/{MODEL}/thresholds")) as answer:
        page.get_by_test_id("save-thresholds").click()
    saved = answer.value.json()
    assert saved["thresholds"] == pytest.approx(saved["optimized_thresholds"])
    expect(page.get_by_test_id("saved-threshold")).to_have_text(
        f"{saved['optimized_thresholds'][cls]:.3f}"
    )

    # The train items' predictions; "wrong only" keeps exactly the wrong ones. (At 0.5 the
    # head, fitted closely to its train items, gets some right: max-F1 thresholds of the few
    # validation positives are too low for that.)
    half = {c: 0.5 for c in model["classes"]}
    _ok(api.put(f"{B}/models/{MODEL}/thresholds", json={"thresholds": half}))
    with page.expect_response(lambda r: f"/models/{MODEL}/predictions" in r.url):
        page.reload()
    every = _ok(api.get(f"{B}/models/{MODEL}/predictions", params={"subset": "train"}))
    wrong = _ok(
        api.get(f"{B}/models/{MODEL}/predictions", params={"subset": "train", "wrong": "true"})
    )
    assert 0 < wrong["total"] < every["total"], (wrong["total"], every["total"])
    browser = page.get_by_test_id("predictions")
    total = browser.get_by_test_id("predictions-total")
    with page.expect_response(
        lambda r: "/predictions?subset=train" in r.url and "wrong" not in r.url
    ):
        browser.get_by_test_id("predictions-subset").get_by_text("train").click()
    page.locator('[data-testid="predictions-total"][data-key^="train|false"]').wait_for()
    assert total.inner_text() == str(every["total"])
    rows = browser.get_by_test_id("prediction-row")
    shown = rows.evaluate_all("els => els.map(e => Number(e.dataset.itemId))")
    assert shown == [r["item_id"] for r in every["rows"][:50]]
    assert rows.first.locator("img").get_attribute("src") == f"/api/items/{shown[0]}/thumbnail"
    shot("predictions-all")
    with page.expect_response(
        lambda r: "/predictions?subset=train" in r.url and "wrong=true" in r.url
    ):
        browser.get_by_test_id("wrong-only").check()
    page.locator('[data-testid="predictions-total"][data-key^="train|true"]').wait_for()
    assert total.inner_text() == str(wrong["total"])
    shown = rows.evaluate_all("els => els.map(e => Number(e.dataset.itemId))")
    assert shown == [r["item_id"] for r in wrong["rows"][:50]]
    assert set(rows.evaluate_all("els => els.map(e => e.dataset.wrong)")) == {"true"}
    shot("predictions-wrong")
    # The same items in the grid.
    page.get_by_test_id("predictions-in-grid").click()
    expect(page.get_by_test_id("grid-total")).to_have_text(
        f"{min(50, wrong['total'])} items matching"
    )
    on_grid = page.get_by_test_id("grid").get_by_test_id("thumb")
    assert sorted(on_grid.evaluate_all("els => els.map(e => Number(e.dataset.itemId))")) == sorted(
        r["item_id"] for r in wrong["rows"][:50]
    )


def test_stop_a_training_run_from_the_page(web, api: httpx.Client) -> None:
    page, shot = web
    page.goto(f"/#/d/{DATASET}/models")
    # It would run for minutes: no early stopping, no epoch limit to speak of (the time limit
    # only ends it should Stop fail).
    limits = {"patience": "100000", "max-epochs": "1000000", "time-limit": "300"}
    _start_training(page, shot, "endless", **limits)
    curves = page.locator('[data-testid="training-panel"][data-model="endless"]').get_by_test_id(
        "learning-curves"
    )
    epochs = "Number(document.querySelector('[data-testid=learning-curves]')?.dataset.epochs)"
    page.wait_for_function(f"() => {epochs} > 2")
    seen = int(curves.get_attribute("data-epochs"))
    page.wait_for_function(f"() => {epochs} > {seen}")  # the page follows the run, live
    shot("live")
    with page.expect_response(lambda r: r.url.endswith(f"{B}/models/endless/stop")) as answer:
        page.get_by_test_id("stop-training").click()
    assert answer.value.status == 200, answer.value.text()
    _until_trained(page, "endless")
    model = _ok(api.get(f"{B}/models/endless"))
    assert model["metrics"]["stop_reason"] == "stopped"
    assert curves.get_attribute("data-epochs") == str(len(model["history"]))
    shot("stopped")
    _ok(api.delete(f"{B}/models/endless"))


def test_predict_an_uploaded_image(web, clip_model, api: httpx.Client) -> None:
    page, shot = web
    name, unseen = clip_model
    model = _ok(api.get(f"/api/datasets/{CLIPPED}/models/{name}"))
    page.goto(f"/#/d/{CLIPPED}/models/{name}")
    upload = page.get_by_test_id("predict-upload")
    upload.wait_for()
    with page.expect_response(lambda r: r.url.endswith(f"/api/predict/{CLIPPED}/{name}")) as answer:
        upload.get_by_test_id("predict-file").set_input_files([str(p) for p in unseen[:2]])
    assert answer.value.status == 200, answer.value.text()
    result = answer.value.json()
    assert result["kind"] == "single-label" and result["checkpoint"] == "best"
    results = page.get_by_test_id("predict-result")
    results.nth(1).wait_for()
    assert results.count() == 2
    for i, p in enumerate(result["predictions"]):
        assert p["file"] == unseen[i].name
        bars = results.nth(i).get_by_test_id("predict-scores").locator("tr")
        assert bars.count() == len(model["classes"])
        on_page = {
            tr.get_attribute("data-class"): float(tr.get_attribute("data-score"))
            for tr in bars.all()
        }
        assert on_page == pytest.approx(p["scores"])
        assert sum(on_page.values()) == pytest.approx(1.0, abs=1e-4)  # softmax
        chips = results.nth(i).get_by_test_id("predict-predicted").locator(".chip")
        assert chips.all_inner_texts() == p["predicted"]
    shot("uploaded")
    # The latest checkpoint instead of the best: the same images again, at .../last.
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/predict/{CLIPPED}/{name}/last")
    ) as answer:
        upload.get_by_test_id("predict-last").check()
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.json()["checkpoint"] == "last"
    page.locator('[data-testid="predict-results"][data-checkpoint="last"]').wait_for()
    assert results.count() == 2


def test_a_detector_s_statistics_predictions_and_boxes(web, detector, api: httpx.Client) -> None:
    page, shot = web
    base = f"/api/datasets/{BOXES}/models/{FINDER}"
    model = _ok(api.get(base))
    stats = _ok(api.get(f"{base}/statistics"))
    with page.expect_response(lambda r: f"/models/{FINDER}/predictions?subset=validation" in r.url):
        page.goto(f"/#/d/{BOXES}/models/{FINDER}")
    table = page.get_by_test_id("class-table")
    assert "AP@0.5" in table.locator("thead").inner_text()
    rows = table.get_by_test_id("class-row")
    assert rows.evaluate_all("els => els.map(e => e.dataset.class)") == model["classes"]
    for c in model["classes"]:
        cells = page.locator(f'[data-testid="class-row"][data-class="{c}"] td').all_inner_texts()
        assert cells[3] == str(stats["per_class"][c]["n_truth"]), c
    # Its predictions on the items: boxes, counted.
    every = _ok(api.get(f"{base}/predictions", params={"subset": "validation"}))
    page.get_by_test_id("predictions-total").wait_for()  # drawn with its rows
    listed = page.get_by_test_id("prediction-row")
    assert listed.count() == every["total"]
    for i, row in enumerate(every["rows"]):
        n = len(row["boxes"])
        assert listed.nth(i).locator("td").nth(3).inner_text() == f"{n} box{'' if n == 1 else 'es'}"
    shot("detector-statistics")
    # At threshold 0 the random detector keeps every box it finds: drawn over the upload.
    _ok(api.put(f"{base}/thresholds", json={"thresholds": {c: 0.0 for c in model["classes"]}}))
    page.reload()
    upload = page.get_by_test_id("predict-upload")
    with page.expect_response(lambda r: r.url.endswith(f"/api/predict/{BOXES}/{FINDER}")) as answer:
        upload.get_by_test_id("predict-file").set_input_files(str(detector[0]))
    assert answer.value.status == 200, answer.value.text()
    boxes = answer.value.json()["predictions"][0]["boxes"]
    assert boxes, "a detector at threshold 0 finds boxes"
    result = page.get_by_test_id("predict-result")
    result.locator(".pred-box rect").nth(len(boxes) - 1).wait_for()
    assert result.locator(".pred-box rect").count() == len(boxes)
    first = result.locator(".pred-box rect").first
    drawn = [float(first.get_attribute(k)) for k in ("x", "y", "width", "height")]
    assert drawn == pytest.approx(boxes[0]["bbox"])
    assert result.get_by_test_id("predict-boxes").locator("li").count() == len(boxes)
    shot("detector-boxes")


def test_predict_the_grid_selection_and_write_labels(web, clip_model, api: httpx.Client) -> None:
    page, shot = web
    name, _ = clip_model
    page.goto(f"/#/d/{CLIPPED}/grid")
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    cards.nth(1).wait_for()
    for i in range(2):
        cards.nth(i).locator("a.card-img").focus()
        page.keyboard.press(" ")
    picked = sorted(cards.evaluate_all("els => els.slice(0, 2).map(e => Number(e.dataset.itemId))"))
    page.get_by_test_id("predict-selection").click()
    dialog = page.get_by_test_id("predict-dialog")
    expect(dialog.get_by_test_id("predict-model")).to_have_value(name)
    dialog.get_by_test_id("predict-write").check()
    with page.expect_response(lambda r: r.url.endswith(f"/models/{name}/predict")) as answer:
        dialog.get_by_test_id("predict-run").click()
    assert answer.value.status == 200, answer.value.text()
    out = answer.value.json()
    assert sorted(p["item_id"] for p in out["predictions"]) == picked
    assert answer.value.request.post_data_json == {"item_ids": picked, "write_labels": True}
    listed = dialog.get_by_test_id("predict-selection-results").locator("li")
    listed.nth(1).wait_for()
    assert (
        sorted(int(x) for x in listed.evaluate_all("els => els.map(e => e.dataset.itemId)"))
        == picked
    )
    shot("predicted-selection")
    # Written as labels of source prediction (one change-set).
    assert out["change_set"] is not None
    for p in out["predictions"]:
        labels = _ok(api.get(f"/api/datasets/{CLIPPED}/items/{p['item_id']}/labels"))
        mine = labels["labels"] if isinstance(labels, dict) else labels
        written = sorted(lab["name"] for lab in mine if lab["source"] == "prediction")
        assert written == sorted(p["predicted"])


def test_a_viewer_cannot_train(access_web) -> None:
    page, shot = access_web
    page.goto(f"/#/d/{ALPHA}/models")
    page.get_by_test_id("login-name").fill("vera")
    page.get_by_test_id("login-password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith(f"/api/datasets/{ALPHA}/models")) as answer:
        page.get_by_test_id("login-submit").click()
    assert answer.value.status == 200 and answer.value.json() == []
    page.get_by_test_id("train-name").fill("mine")
    button = page.get_by_test_id("train-submit")
    assert button.is_disabled() and "editor role" in (button.get_attribute("title") or "")
    shot("viewer-train-disabled")


def test_a_refused_training_says_why_on_the_form(web) -> None:
    page, shot = web
    page.goto(f"/#/d/{DATASET}/models")
    page.get_by_test_id("train-name").fill("nosplit")
    page.get_by_test_id("train-space").select_option("text")
    page.get_by_test_id("validation-split").check()  # coco has no validation set
    with page.expect_response(
        lambda r: r.url.endswith(f"{B}/models") and r.request.method == "POST"
    ) as answer:
        page.get_by_test_id("train-submit").click()
    assert answer.value.status == 422, answer.value.text()
    assert answer.value.request.post_data_json["validation"] == "split"
    body = answer.value.json()
    assert body["field"] == "validation"
    message = body["message"]
    expect(page.get_by_test_id("train-error")).to_contain_text(message)
    shot("refused")
