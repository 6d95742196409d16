"""The validation set (F-62) in real Chromium: "Add to validation set" on the grid's selection
sets the items' split (shown on their cards, in the grid's filter and in SQL), undone from the
history; a viewer finds the button disabled."""

from __future__ import annotations

import httpx
import pytest
from tests.web.conftest import ALPHA, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "coco"
B = f"/api/datasets/{DATASET}"


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def _select(page, n: int) -> list[int]:
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    cards.nth(n - 1).wait_for()
    for i in range(n):
        cards.nth(i).locator("a.card-img").focus()
        page.keyboard.press(" ")
    page.get_by_test_id("selection-bar").wait_for()
    return sorted(
        cards.evaluate_all(f"els => els.slice(0, {n}).map(e => Number(e.dataset.itemId))")
    )


def test_add_the_selection_to_the_validation_set_then_undo(web, api: httpx.Client) -> None:
    page, shot = web
    page.goto(f"/#/d/{DATASET}/grid")
    picked = _select(page, 3)
    with page.expect_response(lambda r: r.url.endswith(f"{B}/split")) as answer:
        page.get_by_test_id("validation-selection").click()
    result = answer.value.json()
    assert answer.value.status == 200 and result["n_changed"] == 3
    chips = page.get_by_test_id("split-chip")
    chips.nth(2).wait_for()
    shot("validation-chips")
    ids = chips.evaluate_all(
        "els => els.map(e => Number(e.closest('[data-testid=thumb]').dataset.itemId))"
    )
    assert sorted(ids) == picked and set(chips.all_inner_texts()) == {"validation"}
    grid = _ok(api.get(f"{B}/items", params={"where": "split = 'validation'", "limit": 500}))
    assert sorted(it["id"] for it in grid["items"]) == picked
    sql = "SELECT id FROM items WHERE split = 'validation' AND dataset = 'coco' ORDER BY id"
    assert [r[0] for r in _ok(api.post("/api/sql", json={"sql": sql}))["rows"]] == picked
    # The History page says what the change-set did, in words.
    page.goto(f"/#/d/{DATASET}/history")
    newest = page.get_by_test_id("change-set").first
    newest.wait_for()
    assert "put 3 items in the validation set" in newest.inner_text()
    shot("validation-history")
    _ok(api.post(f"{B}/history/{result['change_set']}/undo", json={}))  # later tests see coco
    grid = _ok(api.get(f"{B}/items", params={"where": "split = 'validation'"}))
    assert grid["total"] == 0


def test_a_viewer_finds_the_button_disabled(access_web) -> None:
    page, shot = access_web
    page.goto(f"/#/d/{ALPHA}/grid")
    page.get_by_test_id("login-name").fill("vera")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**/#/d/{ALPHA}/grid")
    _select(page, 1)
    button = page.get_by_test_id("validation-selection")
    assert button.is_disabled() and "editor role" in (button.get_attribute("title") or "")
    shot("viewer-validation-disabled")
