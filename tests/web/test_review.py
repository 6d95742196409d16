"""The review page of a label job (F-72) in real Chromium.

A dataset of three coco-mini images (their COCO boxes and polygons are the expert labels) gets
prelabels made from them by known perturbations (a class swap, a scaled box, a dropped box, an
extra box), through an auto label job from predictions; a manual job over the same items is
submitted, so its label changes are known exactly. The page's table, tabs, image panel and the
hotkey A are checked against them and against the API.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tagscope.domain import Label, LabelKind, LabelSource
from tagscope.service import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "review"
JOB = "expert-pass"
R = f"/api/datasets/{DATASET}/label-jobs/{JOB}/review"


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def _three_images(coco_mini: Path, out: Path) -> Path:
    """A COCO instances file of the first three images with at least three objects each (no
    crowd regions: each object is a box and a polygon)."""
    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        if not a.get("iscrowd"):
            by_image.setdefault(a["image_id"], []).append(a)
    images = [im for im in doc["images"] if len(by_image.get(im["id"], [])) >= 3][:3]
    keep = {im["id"] for im in images}
    small = {
        "images": images,
        "annotations": [a for i in keep for a in by_image[i]],
        "categories": doc["categories"],
    }
    path = out / "instances_three.json"
    path.write_text(json.dumps(small))
    return path


def _prediction(lab: Label, **changes: object) -> Label:
    fields = {"name": lab.name, "geometry": lab.geometry, **changes}
    return Label(lab.kind, source=LabelSource.PREDICTION, score=0.9, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def expert_job(web_workspace: Workspace, coco_mini: Path, tmp_path_factory) -> dict:
    """The submitted job and the perturbation it was made from."""
    from tagscope.service import label_jobs
    from tagscope.service.collections import create_collection
    from tagscope.service.imports import import_coco

    ws = web_workspace
    instances = _three_images(coco_mini, tmp_path_factory.mktemp("review"))
    import_coco(ws, DATASET, instances, images=coco_mini / "val2017")
    ds = ws.dataset(DATASET)
    ids = ws.catalog.item_ids(ds.id)
    labels = {i: ws.catalog.item_labels(i) for i in ids}
    boxes = {i: [lab for lab in labels[i] if lab.kind == LabelKind.BOX] for i in ids}
    a, b, c = ids
    # a: its first box's class swapped; b: its first box 1.25x wider and taller, its last box
    # dropped; c: one extra box where it has none. Every other box, and every polygon, is
    # copied as it is.
    swapped = next(x for x in ("dog", "cat") if x != boxes[a][0].name)
    x, y, w, h = boxes[b][0].geometry["bbox"]
    predictions = [(a, _prediction(boxes[a][0], name=swapped))]
    predictions += [(a, _prediction(lab)) for lab in boxes[a][1:]]
    predictions.append((b, _prediction(boxes[b][0], geometry={"bbox": [x, y, w * 1.25, h * 1.25]})))
    predictions += [(b, _prediction(lab)) for lab in boxes[b][1:-1]]
    predictions += [(c, _prediction(lab)) for lab in boxes[c]]
    extra = Label(LabelKind.BOX, "kite", LabelSource.PREDICTION, geometry={"bbox": [0, 0, 4, 4]})
    predictions.append((c, extra))
    predictions += [
        (i, _prediction(lab)) for i in ids for lab in labels[i] if lab.kind == LabelKind.POLYGON
    ]
    ws.catalog.add_labels(predictions)
    create_collection(ws, DATASET, "to-review", item_ids=ids)
    label_jobs.create_auto_job(ws, DATASET, "prelabels", "to-review", source_labels="prediction")
    label_jobs.create_manual_job(ws, DATASET, JOB, "to-review")
    job = label_jobs.submit_job(ws, DATASET, JOB)
    n_boxes = sum(len(v) for v in boxes.values())
    assert job.changes, job
    return {
        "job": job,
        "items": ids,
        "swapped": (swapped, boxes[a][0].name),
        "scaled": boxes[b][0].name,
        "n_boxes": n_boxes,
    }


def test_review_a_cell_accepted_with_the_hotkey(web, api, expert_job):
    page, shot = web
    swapped, expert_class = expert_job["swapped"]
    summary = _ok(api.get(f"{R}/summary"))
    every = _ok(api.get(f"{R}/changes", params={"limit": 500}))["changes"]
    kinds = [ch["change"] for ch in every if ch["label_kind"] == "box"]
    # The perturbation, exactly: one class swap, one scaled box, one dropped, one extra.
    assert (kinds.count("class_changed"), kinds.count("geometry_changed")) == (1, 1)
    assert (kinds.count("added"), kinds.count("deleted")) == (1, 1)
    assert kinds.count("unchanged") == expert_job["n_boxes"] - 3
    assert {ch["change"] for ch in every if ch["label_kind"] == "polygon"} == {"unchanged"}
    pending = summary["tabs"]["pending"]
    assert pending == len(every) and summary["tabs"]["accepted"] == 0

    # The job list opens the job's review.
    page.goto(f"/#/d/{DATASET}/grid")
    page.get_by_test_id("nav-label-jobs").click()
    row = page.locator(f"[data-testid=label-job][data-name='{JOB}']")
    row.wait_for()
    assert row.get_by_test_id("status").inner_text() == "submitted"
    assert "1 class changed" in row.get_by_test_id("changes").inner_text()
    # The auto job that wrote the prelabels has nothing to review: no link.
    auto = page.locator("[data-testid=label-job][data-name='prelabels']")
    assert auto.get_by_test_id("open-review").count() == 0
    assert "prelabels written" in auto.get_by_test_id("changes").inner_text()
    shot("label-jobs")
    row.get_by_test_id("open-review").click()
    page.wait_for_url(re.compile(rf"/label-jobs/{JOB}$"))
    tab_count = page.get_by_test_id("tab-pending").get_by_test_id("tab-count")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=tab-pending] [data-testid=tab-count]')"
        f"?.textContent === '{pending}'"
    )
    assert tab_count.inner_text() == str(pending)

    # The class-changed cell of the swapped box: one change, drawn in two colours.
    cell = page.locator(f"[data-testid=cell][data-class='{expert_class}'][data-changed='true']")
    assert cell.inner_text() == "1"
    cell.click()
    changes = page.get_by_test_id("changes").get_by_test_id("change")
    changes.first.wait_for()
    assert changes.count() == 1
    image = page.get_by_test_id("change-image")
    image.get_by_test_id("drawn-expert").wait_for()
    assert image.get_by_test_id("drawn-prelabel").count() == 1
    assert image.get_by_test_id("expert-class").inner_text() == expert_class
    assert image.get_by_test_id("prelabel-class").inner_text() == swapped
    page.locator("[data-testid=change-image][data-loaded=true]").wait_for()
    shot("review-cell")

    # A (nothing focused): the whole cell is accepted; the tabs and the API say so.
    page.locator("body").press("a")
    accepted_count = page.get_by_test_id("tab-accepted").get_by_test_id("tab-count")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=tab-accepted] [data-testid=tab-count]')"
        "?.textContent === '1'"
    )
    assert tab_count.inner_text() == str(pending - 1)
    after = _ok(api.get(f"{R}/summary"))
    assert after["tabs"] == {"pending": pending - 1, "accepted": 1, "rejected": 0}
    accepted = _ok(api.get(f"{R}/changes", params={"status": "accepted"}))["changes"]
    assert [(ch["change"], ch["expert_class"], ch["prelabel_class"]) for ch in accepted] == [
        ("class_changed", expert_class, swapped)
    ]
    shot("review-accepted")

    # The arrows focus changes one by one; R rejects only the focused one.
    page.locator(
        f"[data-testid=cell][data-class='{expert_job['scaled']}'][data-changed='false']"
    ).click()
    changes.first.wait_for()
    page.keyboard.press("ArrowDown")
    focused = page.locator("[data-testid=change][aria-selected=true]")
    focused.wait_for()
    target = int(focused.get_attribute("data-change-id"))
    assert "Acts on change" in page.get_by_test_id("decide-target").inner_text()
    page.keyboard.press("r")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=tab-rejected] [data-testid=tab-count]')"
        "?.textContent === '1'"
    )
    rejected = _ok(api.get(f"{R}/changes", params={"status": "rejected"}))["changes"]
    assert [ch["id"] for ch in rejected] == [target]
    assert accepted_count.inner_text() == "1"
    page.get_by_test_id("tab-rejected").click()
    page.locator("[data-testid=cell].clickable").first.click()
    changes.first.wait_for()
    shot("review-rejected-tab")

    # Grouped by class changed, then narrowed by the adjustment factor to the scaled box alone.
    scaled = _ok(api.get(f"{R}/changes", params={"change": "geometry_changed"}))["changes"]
    status = scaled[0]["status"]
    page.get_by_test_id(f"tab-{status}").click()
    page.get_by_test_id("group-by").select_option("class_changed")
    unchanged_class = page.locator("[data-testid=cell][data-changed='false']")
    want = {"status": status, "class_changed": "false", "limit": 1}
    n_false = _ok(api.get(f"{R}/changes", params=want))["total"]
    page.wait_for_function(
        "n => document.querySelector(\"[data-testid=cell][data-changed='false']\")"
        "?.textContent === String(n)",
        arg=n_false,
    )
    unchanged_class.click()
    total = page.get_by_test_id("changes-total")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=changes-total]')?.textContent.startsWith(t)",
        arg=f"{n_false} in {status}",
    )
    page.get_by_test_id("filter-max_adjustment").fill("0.9")
    page.get_by_test_id("filter-max_adjustment").press("Enter")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=changes-total]')?.textContent.startsWith(t)",
        arg=f"1 in {status}",
    )
    assert total.inner_text() == f"1 in {status}"
    assert page.get_by_test_id("ranges-note").is_visible()
    row = page.get_by_test_id("changes").get_by_test_id("change")
    assert row.get_attribute("data-change-id") == str(scaled[0]["id"])
    assert page.get_by_test_id("change-kind").inner_text() == "geometry changed"
    shot("review-grouped-filtered")

    # Each decision is a change-set: the History page says it in words and undoes it.
    page.get_by_test_id("nav-history").click()
    newest = page.get_by_test_id("change-set").first
    newest.wait_for()
    assert newest.get_attribute("data-action") == "review_decision"
    assert newest.get_by_test_id("what").inner_text() == (
        f"rejected 1 label change of the label job {JOB}"
    )
    newest.get_by_test_id("undo").click()
    page.get_by_test_id("undo-result").wait_for()
    shot("history-review-undone")
    tabs = _ok(api.get(f"{R}/summary"))["tabs"]
    assert tabs == {"pending": pending - 1, "accepted": 1, "rejected": 0}
