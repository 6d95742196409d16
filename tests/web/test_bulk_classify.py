"""Bulk classify (F-53) in real Chromium: the dialog's dry-run counts, the real run, and its undo
from the History page, on the coco fixture workspace (coco items have boxes and polygons, no
classification)."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from tagscope.sdk.workspace import Workspace as SdkWorkspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "coco"
B = f"/api/datasets/{DATASET}"


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def _first_ids(api: httpx.Client, n: int, offset: int) -> list[int]:
    page = _ok(api.get(f"{B}/items", params={"limit": offset + n, "sort": "id"}))
    return [it["id"] for it in page["items"]][offset : offset + n]


def _labels(api: httpx.Client, sdk_ds, ids: list[int]) -> dict[int, tuple[list, list]]:
    """Each item's labels as the REST API and the SDK read them."""
    return {i: (_ok(api.get(f"/api/items/{i}"))["labels"], sdk_ds.labels(i)) for i in ids}


def test_bulk_classify_a_collection_then_undo_it_from_history(web, api, web_workspace):
    page, shot = web
    sdk_ds = SdkWorkspace(web_workspace).dataset(DATASET)
    ids = _first_ids(api, 5, offset=40)
    title = "web-bulk"
    _ok(api.post(f"{B}/collections", json={"title": title, "item_ids": ids}))
    # One item has a classification already: skipped without overwrite, for that reason.
    kept = _ok(api.post(f"{B}/bulk-classify", json={"label": "kept", "item_ids": ids[:1]}))
    try:
        _classify_and_undo(page, shot, api, sdk_ds, ids, title)
    finally:  # later tests see coco's own labels
        _ok(api.post(f"{B}/history/{kept['change_set']}/undo", json={}))


def _classify_and_undo(page, shot, api, sdk_ds, ids: list[int], title: str) -> None:
    before = _labels(api, sdk_ds, ids)

    page.goto(f"/#/d/{DATASET}/collections")
    row = page.locator(f"[data-testid=collection][data-title='{title}']")
    row.get_by_test_id("classify").click()
    dialog = page.get_by_test_id("bulk-dialog")
    assert f"collection {title}" in dialog.get_by_test_id("bulk-what").inner_text()
    assert dialog.get_by_test_id("bulk-apply").is_disabled()  # a preview comes first
    dialog.get_by_test_id("bulk-class").fill("web-bulk-class")
    dialog.get_by_test_id("bulk-preview-run").click()
    preview = dialog.get_by_test_id("bulk-preview")
    preview.wait_for()
    assert preview.inner_text() == "4 items change, 1 skipped (1 already classified)."
    shot("bulk-preview")
    assert _labels(api, sdk_ds, ids) == before  # the dry run changed nothing

    # Editing a choice asks for a new preview; overwrite counts the classified item too.
    dialog.get_by_test_id("bulk-overwrite").check()
    preview.wait_for(state="detached")
    assert dialog.get_by_test_id("bulk-apply").is_disabled()
    dialog.get_by_test_id("bulk-preview-run").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=bulk-preview]')?.textContent"
        " === '5 items change, 0 skipped.'"
    )
    dialog.get_by_test_id("bulk-overwrite").uncheck()
    dialog.get_by_test_id("bulk-preview-run").click()
    preview.wait_for()
    assert dialog.get_by_test_id("bulk-n-changed").inner_text() == "4 items"

    dialog.get_by_test_id("bulk-apply").click()
    applied = dialog.get_by_test_id("bulk-applied")
    applied.wait_for()
    change_set = int(re.search(r"change-set #(\d+)", applied.inner_text()).group(1))
    assert applied.inner_text().startswith("Classified 4 items as web-bulk-class")
    shot("bulk-applied")
    for i in ids[1:]:
        gt = [lab for lab in sdk_ds.labels(i) if str(lab.kind) == "classification"]
        assert [(lab.name, lab.is_main) for lab in gt] == [("web-bulk-class", True)]
    assert [lab.name for lab in sdk_ds.labels(ids[0]) if str(lab.kind) == "classification"] == [
        "kept"
    ]

    # The link goes to History, whose newest entry says it in words; its Undo puts all back.
    dialog.get_by_test_id("bulk-history").click()
    page.wait_for_url(re.compile(r"/history"))
    newest = page.get_by_test_id("change-set").first
    newest.wait_for()
    assert newest.get_attribute("data-change-id") == str(change_set)
    assert newest.get_by_test_id("what").inner_text() == (
        f"classified 4 items as web-bulk-class in {title}"
    )
    newest.get_by_test_id("expand").click()
    page.get_by_test_id("changes").get_by_test_id("change").first.wait_for()
    texts = page.get_by_test_id("changes").get_by_test_id("change-text").all_inner_texts()
    assert texts == ["no labels → web-bulk-class (main)"] * 4
    shot("history-bulk")
    newest.get_by_test_id("undo").click()
    result = page.get_by_test_id("undo-result")
    result.wait_for()
    assert "restored 4" in result.inner_text()
    shot("history-undone")
    assert _labels(api, sdk_ds, ids) == before


def test_bulk_classify_the_grid_selection_with_the_ontology_questions(web, api, web_workspace):
    page, shot = web
    sdk_ds = SdkWorkspace(web_workspace).dataset(DATASET)
    questions = [
        {"name": "view", "kind": "radio", "options": ["front", "side"], "required": True},
        {"name": "notes", "kind": "text"},
    ]
    for q in questions:
        _ok(api.post(f"{B}/ontology/questions", json=q))
    try:
        _classify_selection(page, shot, api, sdk_ds)
    finally:  # later tests see coco's own ontology
        for q in questions:
            _ok(api.delete(f"{B}/ontology/questions/{q['name']}"))


def _classify_selection(page, shot, api, sdk_ds) -> None:
    page.goto(f"/#/d/{DATASET}/grid")
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    cards.nth(2).wait_for()
    picked = sorted(cards.evaluate_all("els => els.slice(0, 3).map(e => Number(e.dataset.itemId))"))
    for i in (0, 1, 2):
        cards.nth(i).locator("a.card-img").focus()
        page.keyboard.press(" ")
    page.get_by_test_id("classify-selection").click()
    dialog = page.get_by_test_id("bulk-dialog")
    assert dialog.get_by_test_id("bulk-what").inner_text().startswith("Gives 3 selected items")
    # The classes are the ontology's (coco's categories); a new name is said to be new.
    options = dialog.locator("#bulk-classes option")
    options.first.wait_for(state="attached")
    assert {"person", "dog"} <= set(options.evaluate_all("els => els.map(o => o.value)"))
    dialog.get_by_test_id("bulk-class").fill("street-scene")
    assert "street-scene is a new class" in dialog.inner_text()
    # The required question must be answered before a preview.
    view = dialog.locator("[data-testid=bulk-answer][data-question=view]")
    view.wait_for()
    assert dialog.get_by_test_id("bulk-preview-run").is_disabled()
    assert "Answer view" in dialog.inner_text()
    view.get_by_label("side").check()
    dialog.locator("[data-testid=bulk-answer][data-question=notes]").fill("from the web")
    dialog.get_by_test_id("bulk-preview-run").click()
    dialog.get_by_test_id("bulk-preview").wait_for()
    assert dialog.get_by_test_id("bulk-preview").inner_text() == "3 items change, 0 skipped."
    shot("grid-selection-preview")
    dialog.get_by_test_id("bulk-apply").click()
    applied = dialog.get_by_test_id("bulk-applied")
    applied.wait_for()
    change_set = int(re.search(r"change-set #(\d+)", applied.inner_text()).group(1))
    try:
        for i in picked:
            gt = [lab for lab in sdk_ds.labels(i) if str(lab.kind) == "classification"]
            assert [(lab.name, lab.attributes) for lab in gt] == [
                ("street-scene", {"answers": {"view": "side", "notes": "from the web"}})
            ]
        dialog.get_by_role("button", name="Done").click()
        dialog.wait_for(state="hidden")
    finally:
        _ok(api.post(f"{B}/history/{change_set}/undo", json={}))


def test_bulk_classify_the_grid_filter_saves_it_as_a_collection_first(web, api):
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid?where={quote('width > 600')}")
    page.wait_for_function(
        "() => /^[\\d,]+ items/.test(document.querySelector('[data-testid=grid-total]')"
        "?.textContent ?? '')"
    )
    total = int(page.get_by_test_id("grid-total").inner_text().split()[0])
    page.get_by_test_id("classify-filter").click()
    save = page.get_by_test_id("save-collection-dialog")
    save.get_by_test_id("collection-title").fill("web-bulk-wide")
    save.get_by_test_id("save-collection").click()
    try:
        dialog = page.get_by_test_id("bulk-dialog")
        dialog.get_by_test_id("bulk-what").wait_for()
        assert "collection web-bulk-wide" in dialog.get_by_test_id("bulk-what").inner_text()
        dialog.get_by_test_id("bulk-class").fill("wide")
        dialog.get_by_test_id("bulk-preview-run").click()
        dialog.get_by_test_id("bulk-preview").wait_for()
        assert dialog.get_by_test_id("bulk-preview").inner_text() == (
            f"{total} items change, 0 skipped."
        )
        shot("filter-preview")
        dialog.get_by_role("button", name="Cancel").click()
    finally:
        _ok(api.delete(f"{B}/collections/web-bulk-wide"))
