"""Prompt suggestions (F-30) in real Chromium, on the preview page: Suggest lists phrases of the
dataset's captions (no LLM endpoint on the test server), Add puts one in the prompt list and the
preview scores again."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "coco"


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


def test_suggest_then_add_one_and_all(web, api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)  # the server runs in this process
    page, shot = web
    body = {"name": "suggested-web", "tags": "dog", "space": "text"}
    _ok(api.post(f"/api/datasets/{DATASET}/tag-groups", json=body))
    page.goto(f"/#/d/{DATASET}/tags/suggested-web/dog/preview")
    box = page.get_by_test_id("prompt-suggestions")
    box.get_by_role("button", name="Suggest visual prompts").click()
    source = box.get_by_test_id("suggestion-source")
    source.wait_for()
    assert "from this dataset's texts (space text)" in source.inner_text()
    shot("suggestions")
    first = box.locator(".suggestion .prompt-text").first.inner_text()
    n = box.locator(".suggestion").count()
    assert n == 10 and "dog" in first.lower()

    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/preview")):
        box.get_by_role("button", name=f"Add suggestion {first}").click()
    prompts = page.get_by_test_id("prompts").locator(".prompt-list").first
    prompts.get_by_text(first, exact=True).wait_for()
    assert box.locator(".suggestion").count() == n - 1  # the added one leaves the list
    shot("added-one")

    box.get_by_role("button", name="Add all").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=prompt-suggestions] .suggestion')"
        ".length === 0"
    )
    (tag,) = _ok(api.get("/api/tag-groups/suggested-web"))["tags"]
    assert len(tag["prompts"]) == 2 + n  # the name's two (visual, transcript) and the n added
    assert first in [p["text"] for p in tag["prompts"]]
