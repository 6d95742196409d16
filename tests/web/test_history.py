"""The History page by user and since a time, and undoing all of one user's changes (F-90), in
real Chromium.

A dataset of four photos gets reviews of one tag by the owner (before the time), then by alice
and bob (made through the service acting as them, as the API does for their accounts). The page
filters by user and time from its URL, and the owner (a ``--no-auth`` server: every right) undoes
all of alice's changes since the time, after a confirm step saying how many; a later edit by bob
makes the next such undo refuse, naming the item, until "Undo the rest". On a server with
accounts, an editor gets no such button.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from tests.web.conftest import ALPHA, PASSWORD

from tagscope.domain.access import Identity, Role
from tagscope.service import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATASET = "hist"
GROUP, TAG = "history_pets", "dog"  # a name no other browser test uses (one workspace)


def _ok(r: httpx.Response) -> dict | list:
    assert r.status_code < 400, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


USER_IDS = {"alice": 2, "bob": 3}


def _as(ws: Workspace, name: str) -> Workspace:
    return ws.acting_as(Identity(name=name, role=Role.EDITOR, user_id=USER_IDS[name]))


@pytest.fixture(scope="module")
def history(web_workspace: Workspace, imagenette: Path, tmp_path_factory) -> dict:
    """The dataset's item ids and the time after the owner's review (ISO 8601)."""
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_images
    from tagscope.service.tags import add_reviews, create_group

    ws = web_workspace
    folder = tmp_path_factory.mktemp(DATASET)
    for src in sorted(imagenette.glob("*/*.JPEG"))[::50][:4]:
        (folder / src.name).write_bytes(src.read_bytes())
    import_images(ws, DATASET, folder)
    compute_embeddings(ws, DATASET, kind="phash")
    create_group(ws, DATASET, GROUP, TAG, space="phash")
    ids = ws.catalog.item_ids(ws.dataset(DATASET).id)
    add_reviews(ws, DATASET, GROUP, TAG, {ids[0]: True})  # the owner's, before the time
    since = datetime.now(UTC)
    alice, bob = _as(ws, "alice"), _as(ws, "bob")
    add_reviews(alice, DATASET, GROUP, TAG, {ids[1]: True, ids[2]: True})
    add_reviews(bob, DATASET, GROUP, TAG, {ids[3]: True})
    add_reviews(alice, DATASET, GROUP, TAG, {ids[2]: False})  # alice again, on the same item
    return {"ids": ids, "since": since.isoformat(), "owner": ws.actor}


def _rows(page) -> list[str]:
    """The Who column of the listed change-sets."""
    return page.get_by_test_id("change-set").locator("td:nth-child(4)").all_inner_texts()


def _reviewed(api: httpx.Client) -> dict[int, bool]:
    """Item id -> label of the tag's reviews, from the API."""
    rows = _ok(api.get(f"/api/datasets/{DATASET}/tag-groups/{GROUP}/tags/{TAG}/reviews"))
    return {r["item_id"]: r["label"] for r in rows}


def test_history_filters_by_user_and_undoes_all_of_a_users_changes(web, api, history) -> None:
    page, shot = web
    ids, since = history["ids"], history["since"]
    page.goto(f"/#/d/{DATASET}/history")
    page.wait_for_function("document.querySelectorAll('[data-testid=change-set]').length === 4")
    assert _rows(page) == ["alice", "bob", "alice", history["owner"]]
    users = page.get_by_test_id("filter-user").locator("option").all_inner_texts()
    assert users == ["Everyone", *sorted(["alice", "bob", history["owner"]])]
    assert page.get_by_test_id("undo-user").count() == 0  # only once a user is picked

    # Picking a user keeps it in the URL; the owner may undo all of theirs.
    page.get_by_test_id("filter-user").select_option("alice")
    page.wait_for_url(re.compile(r".*history\?user=alice$"))
    page.wait_for_function("document.querySelectorAll('[data-testid=change-set]').length === 2")
    assert _rows(page) == ["alice", "alice"]
    assert page.get_by_test_id("undo-user").is_disabled()  # no time picked yet
    shot("by-user")
    # A time typed in the browser's time zone goes to the URL as UTC.
    page.get_by_test_id("filter-since").fill("2026-01-01T00:00")
    utc = page.evaluate("new Date('2026-01-01T00:00').toISOString()")
    page.wait_for_url(re.compile(rf".*user=alice&since={re.escape(quote(utc, safe=''))}$"))
    assert page.get_by_test_id("undo-user").is_enabled()

    # A link with both filters (a person's bookmark): the time is shown in the input.
    page.goto(f"/#/d/{DATASET}/history?user=bob&since={quote(since)}")
    page.wait_for_function("document.querySelectorAll('[data-testid=change-set]').length === 1")
    assert page.get_by_test_id("filter-user").input_value() == "bob"
    assert page.get_by_test_id("filter-since").input_value()[:4] == since[:4]
    page.get_by_test_id("filter-user").select_option("alice")
    page.wait_for_url(re.compile(rf".*user=alice&since={re.escape(quote(since, safe=''))}$"))
    page.wait_for_function("document.querySelectorAll('[data-testid=change-set]').length === 2")

    # The confirm step says how many change-sets, then one click undoes them all.
    button = page.get_by_test_id("undo-user")
    assert button.is_enabled() and "Undo all of alice's changes since" in button.inner_text()
    button.click()
    dialog = page.get_by_test_id("undo-user-dialog")
    dialog.get_by_test_id("undo-user-count").wait_for()
    assert "2 change-sets" in dialog.get_by_test_id("undo-user-count").inner_text()
    shot("undo-user-confirm")
    assert _reviewed(api)[ids[1]] is True  # nothing undone before the confirmation
    with page.expect_response(lambda r: r.url.endswith("/history/undo-user")) as answer:
        dialog.get_by_test_id("undo-user-confirm").click()
    assert answer.value.status == 200, answer.value.text()
    done = answer.value.json()
    notice = page.get_by_test_id("undo-result")
    notice.wait_for()
    assert "Undid 2 change-sets of alice" in notice.inner_text()
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=state]')]"
        ".filter(s => s.textContent.includes('undone by')).length === 2"
    )
    shot("undone")
    assert _reviewed(api) == {ids[0]: True, ids[3]: True}  # the owner's and bob's stay
    listed = {c["id"]: c for c in _ok(api.get(f"/api/datasets/{DATASET}/history"))}
    for undone, made in zip(done["undone"], done["change_sets"], strict=True):
        assert listed[made]["undoes"] == undone and listed[made]["actor"] == history["owner"]


def test_undo_user_blocked_by_another_users_edit_then_undo_the_rest(
    web, api, history, web_workspace: Workspace
) -> None:
    from tagscope.service.tags import add_reviews

    page, shot = web
    ids = history["ids"]
    since = datetime.now(UTC).isoformat()
    add_reviews(_as(web_workspace, "alice"), DATASET, GROUP, TAG, {ids[1]: False, ids[2]: True})
    add_reviews(_as(web_workspace, "bob"), DATASET, GROUP, TAG, {ids[2]: False})
    page.goto(f"/#/d/{DATASET}/history?user=alice&since={quote(since)}")
    page.wait_for_function("document.querySelectorAll('[data-testid=change-set]').length === 1")
    page.get_by_test_id("undo-user").click()
    dialog = page.get_by_test_id("undo-user-dialog")
    assert "1 change-set" in dialog.get_by_test_id("undo-user-count").inner_text()  # the dry run
    with page.expect_response(lambda r: r.url.endswith("/history/undo-user")) as answer:
        dialog.get_by_test_id("undo-user-confirm").click()
    assert answer.value.status == 409
    dialog.get_by_test_id("undo-user-blocked").wait_for()
    assert "nothing was undone" in dialog.get_by_test_id("undo-user-blocked").inner_text()
    blocked = dialog.get_by_test_id("blocked-item")
    assert blocked.count() == 1 and blocked.first.get_attribute("data-item-id") == str(ids[2])
    shot("undo-user-blocked")
    assert _reviewed(api)[ids[1]] is False  # still alice's

    dialog.get_by_test_id("undo-user-force").click()
    page.get_by_test_id("undo-result").wait_for()
    assert "left 1 item" in page.get_by_test_id("undo-result").inner_text()
    shot("undo-user-forced")
    reviews = _reviewed(api)
    assert ids[1] not in reviews and reviews[ids[2]] is False  # bob's edit stays


def test_an_editor_has_no_undo_of_a_users_changes(access_web) -> None:
    page, shot = access_web
    since = datetime.now(UTC).isoformat()
    page.goto(f"/#/d/{ALPHA}/history?user=eddie&since={quote(since)}")
    page.get_by_test_id("login-name").fill("eddie")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("history-filters").wait_for()
    assert page.get_by_test_id("filter-user").input_value() == "eddie"
    me = page.evaluate("fetch('/api/auth/me').then(r => r.json())")
    assert "history.undo_user" not in me["datasets"][ALPHA]["actions"]
    assert page.get_by_test_id("undo-user").count() == 0
    shot("editor-history")


def test_a_tag_removed_is_one_change_to_the_record_itself_and_undo_brings_it_back(
    web, api, web_workspace: Workspace, imagenette: Path, tmp_path: Path
) -> None:
    """The History page says which tag went, shows the change as the tag's record (no item
    thumbnail: item 0 is no item), and its Undo puts the tag back with its prompts."""
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_images
    from tagscope.service.tags import create_group

    for src in sorted(imagenette.glob("*/*.JPEG"))[:2]:
        (tmp_path / src.name).write_bytes(src.read_bytes())
    import_images(web_workspace, "hist-tags", tmp_path)
    compute_embeddings(web_workspace, "hist-tags", kind="phash")
    create_group(web_workspace, "hist-tags", "history_birds", "owl\nheron", space="phash")
    url = "/api/datasets/hist-tags/tag-groups/history_birds/tags"
    prompts = _ok(api.get("/api/tag-groups/history_birds"))["tags"][1]["prompts"]
    assert api.delete(f"{url}/heron").status_code == 204

    page, shot = web
    page.goto("/#/d/hist-tags/history")
    row = page.get_by_test_id("change-set").first
    row.wait_for()
    assert row.get_by_test_id("what").inner_text() == "removed the tag history_birds / heron"
    row.get_by_test_id("expand").click()
    change = page.get_by_test_id("changes").get_by_test_id("change")
    change.first.wait_for()
    assert change.count() == 1 and change.locator("img").count() == 0
    assert change.inner_text().startswith("the tag itself")
    text = change.get_by_test_id("change-text").inner_text()
    assert text.startswith(f"tag heron: {len(prompts)} prompt") and text.endswith("no such tag")
    shot("tag-removed")
    page.once("dialog", lambda d: d.accept())
    with page.expect_response(lambda r: r.url.endswith("/undo")) as answer:
        row.get_by_test_id("undo").click()
    assert answer.value.status == 200, answer.value.text()
    page.get_by_test_id("undo-result").wait_for()
    shot("tag-back")
    tags = _ok(api.get("/api/tag-groups/history_birds"))["tags"]
    assert [t["name"] for t in tags] == ["owl", "heron"] and tags[1]["prompts"] == prompts
