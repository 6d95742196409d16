"""Accounts in the web app (F-90) in real Chromium, on a server with accounts.

The workspace (``access_workspace`` of conftest) has two datasets, ``alpha`` and ``beta``; vera
is a viewer of alpha and nothing of beta, eddie an editor of both. Each test logs in through the
login page, checks what the role shows and hides (and the API agrees), and logs out.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from tests.web.conftest import ACCESS_GROUP, ALPHA, BETA, LOCKOUT_FAILURES, PASSWORD

from tagscope.service import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOGIN = "/api/auth/login"


def _login(page, name: str, password: str = PASSWORD):
    """Log in through the form; the answer of POST /api/auth/login."""
    page.get_by_test_id("login-name").fill(name)
    page.get_by_test_id("login-password").fill(password)
    with page.expect_response(lambda r: r.url.endswith(LOGIN)) as answer:
        page.get_by_test_id("login-submit").click()
    return answer.value


def _select_first_card(page) -> None:
    cards = page.get_by_test_id("grid").get_by_test_id("thumb")
    cards.first.wait_for()
    cards.first.locator("a.card-img").focus()
    page.keyboard.press(" ")
    page.get_by_test_id("selection-bar").wait_for()


def _picker_names(page, n: int) -> list[str]:
    """The datasets of the picker, once the list (with item counts) has come."""
    options = page.get_by_test_id("dataset-picker").locator("option")
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=dataset-picker] option')]"
        ".filter(o => o.textContent.includes('(')).length === n",
        arg=n,
    )
    return options.evaluate_all("els => els.map(o => o.value)")


def _log_out(page, shot) -> None:
    with page.expect_response(lambda r: r.url.endswith("/api/auth/logout")) as answer:
        page.get_by_test_id("logout").click()
    assert answer.value.status == 204
    page.get_by_test_id("login-form").wait_for()
    assert page.url.endswith("#/login")
    shot("logged-out")
    # The session is over for the API too.
    assert page.request.get("/api/datasets").status == 401
    status = page.evaluate("fetch('/api/auth/me').then(r => r.status)")
    assert status == 401


def test_a_viewer_sees_only_their_dataset_and_no_edit_controls(access_web):
    page, shot = access_web
    page.goto(f"/#/d/{ALPHA}/grid")
    # No session: the login page, remembering the page asked for.
    page.get_by_test_id("login-form").wait_for()
    assert page.url.endswith("#/login?next=" + quote(f"/d/{ALPHA}/grid", safe=""))
    shot("login")

    answer = _login(page, "vera")
    assert answer.status == 200, answer.text()
    me = answer.json()
    assert (me["user"], me["auth"], sorted(me["datasets"])) == ("vera", True, [ALPHA])
    assert "tags.edit" not in me["datasets"][ALPHA]["actions"]
    page.wait_for_url(f"**/#/d/{ALPHA}/grid")
    page.get_by_test_id("grid").get_by_test_id("thumb").nth(11).wait_for()
    assert page.get_by_test_id("user-name").inner_text() == "vera"
    assert page.get_by_test_id("user-role").inner_text() == "viewer"
    # Only alpha, in the picker and in the API.
    assert _picker_names(page, 1) == [ALPHA]
    datasets = page.request.get("/api/datasets")
    assert [d["name"] for d in datasets.json()] == [ALPHA]

    # The selection's edit actions are disabled, their title naming the role they need.
    _select_first_card(page)
    for testid in ("add-to-tag", "save-selection-collection", "classify-selection"):
        button = page.get_by_test_id(testid)
        assert button.is_disabled(), testid
        title = button.get_attribute("title")
        assert title == "Needs the editor role (you are viewer on alpha)", (testid, title)
    shot("viewer-grid-selection")

    # Tags: no new group, no publishing, no adding tags.
    page.goto(f"/#/d/{ALPHA}/tags")
    page.get_by_test_id("group").first.wait_for()
    assert page.get_by_test_id("new-group").is_disabled()
    page.goto(f"/#/d/{ALPHA}/tags/{ACCESS_GROUP}")
    page.get_by_test_id("add-tags-denied").wait_for()
    assert page.get_by_test_id("publish").is_disabled()
    assert page.get_by_label("New tag names").count() == 0
    shot("viewer-tag-group")
    # The preview: no marking of examples, no threshold saving, no publishing.
    page.goto(f"/#/d/{ALPHA}/tags/{ACCESS_GROUP}/dog/preview")
    page.get_by_test_id("preview-item").first.wait_for()
    for testid in ("add-from-search", "add-from-uncertain", "publish", "save-threshold"):
        assert page.get_by_test_id(testid).is_disabled(), testid
    assert page.get_by_test_id("mark-positive").count() == 0
    assert page.get_by_role("button", name=re.compile("^Remove prompt")).count() == 0
    assert page.get_by_label("New prompt").count() == 0
    shot("viewer-preview")

    # A dataset vera has no role on: the API says 403, and the page says its message.
    with page.expect_response(
        lambda r: f"/api/datasets/{BETA}" in r.url and r.status == 403
    ) as refused:
        page.goto(f"/#/d/{BETA}/grid")
    message = refused.value.json()["message"]
    assert "vera" in message and "needs a role there" in message, message
    banner = page.get_by_test_id("denied")
    banner.wait_for()
    assert page.get_by_test_id("denied-message").inner_text() == message
    shot("viewer-refused-beta")

    _log_out(page, shot)


def test_an_editor_sees_the_edit_controls_and_a_refusal_after_losing_the_role(
    access_web, access_workspace: Workspace
):
    from tagscope.service import accounts

    page, shot = access_web
    page.goto("/")
    page.get_by_test_id("login-form").wait_for()
    answer = _login(page, "eddie")
    assert answer.status == 200, answer.text()
    # The app opens the first dataset's grid.
    page.wait_for_url(f"**/#/d/{ALPHA}/grid")
    assert page.get_by_test_id("user-role").inner_text() == "editor"
    assert _picker_names(page, 2) == [ALPHA, BETA]
    _select_first_card(page)
    for testid in ("add-to-tag", "save-selection-collection", "classify-selection"):
        button = page.get_by_test_id(testid)
        assert button.is_enabled(), testid
        assert not (button.get_attribute("title") or "").startswith("Needs")
    shot("editor-grid-selection")
    # The preview offers marking, threshold saving and publishing.
    page.goto(f"/#/d/{ALPHA}/tags/{ACCESS_GROUP}/dog/preview")
    page.get_by_test_id("preview-item").first.wait_for()
    assert page.get_by_test_id("mark-positive").count() == 12
    for testid in ("add-from-search", "publish"):
        assert page.get_by_test_id(testid).is_enabled(), testid
    assert page.get_by_label("New prompt").count() == 1
    shot("editor-preview")

    # A change made through the app: it carries the CSRF token (else 403).
    page.goto(f"/#/d/{ALPHA}/tags")
    page.get_by_test_id("new-group").click()
    dialog = page.get_by_test_id("create-group-dialog")
    dialog.get_by_test_id("group-name").fill("eddies")
    dialog.get_by_test_id("group-tags").fill("tench")
    dialog.get_by_test_id("group-space").select_option("phash")
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/datasets/{ALPHA}/tag-groups") and r.request.method == "POST"
    ) as created:
        dialog.get_by_test_id("create-group").click()
    assert created.value.status < 300, created.value.text()
    assert created.value.request.headers["x-csrf-token"] == answer.json()["csrf_token"]
    page.wait_for_url(f"**/#/d/{ALPHA}/tags/eddies")
    adding = page.get_by_label("New tag names")
    adding.wait_for()
    shot("editor-tag-group")

    # An admin makes eddie a viewer of alpha while the page is open: the form is still there,
    # the server refuses, and the page says why, then hides the form.
    accounts.set_role(access_workspace, "eddie", "viewer", dataset=ALPHA)
    try:
        adding.fill("chainsaw")
        with page.expect_response(
            lambda r: "/tag-groups/eddies/tags" in r.url and r.request.method == "POST"
        ) as refused:
            page.get_by_role("button", name="Add tags").click()
        assert refused.value.status == 403, refused.value.text()
        message = refused.value.json()["message"]
        assert "eddie" in message and "editor" in message, message
        page.get_by_test_id("denied").wait_for()
        assert page.get_by_test_id("denied-message").inner_text() == message
        page.get_by_test_id("add-tags-denied").wait_for()
        assert page.get_by_test_id("user-role").inner_text() == "viewer"
        shot("editor-demoted-refused")
    finally:
        accounts.set_role(access_workspace, "eddie", None, dataset=ALPHA)

    _log_out(page, shot)


def test_a_wrong_password_is_said_and_the_next_page_kept(access_web):
    page, shot = access_web
    page.goto(f"/#/d/{ALPHA}/tags")
    page.get_by_test_id("login-form").wait_for()
    answer = _login(page, "vera", "not the password")
    assert answer.status == 401
    error = page.get_by_test_id("login-error")
    error.wait_for()
    assert answer.json()["message"] in error.inner_text()
    assert "wrong user name or password" in error.inner_text()
    assert page.get_by_test_id("login-password").input_value() == ""
    shot("wrong-password")
    # The right one goes on to the page first asked for.
    assert _login(page, "vera").status == 200
    page.wait_for_url(f"**/#/d/{ALPHA}/tags")
    page.get_by_test_id("group").first.wait_for()
    shot("after-login")


def test_a_session_ended_by_the_server_sends_the_app_to_log_in_and_back(
    access_web, access_workspace: Workspace
):
    from tagscope.service import accounts

    page, shot = access_web
    page.goto(f"/#/d/{ALPHA}/grid")
    assert _login(page, "vera").status == 200
    page.get_by_test_id("grid").get_by_test_id("thumb").first.wait_for()
    page.get_by_test_id("nav-tags").click()
    page.get_by_test_id("group").first.wait_for()
    # An admin resets vera's password: her sessions end; the app's next request says 401 —
    # going to the grid, or a request of its own in the background, whichever comes first.
    accounts.reset_password(access_workspace, "vera", PASSWORD)
    with page.expect_response(lambda r: "/api/" in r.url and r.status == 401):
        page.evaluate(f"location.hash = '#/d/{ALPHA}/grid'")
    page.get_by_test_id("login-form").wait_for()
    nexts = {f"/d/{ALPHA}/{where}": where for where in ("grid", "tags")}
    back = next(p for p in nexts if page.url.endswith("#/login?next=" + quote(p, safe="")))
    shot("session-ended")
    assert _login(page, "vera").status == 200
    page.wait_for_url(f"**/#{back}")  # back where it was
    page.get_by_test_id("grid" if nexts[back] == "grid" else "group").first.wait_for()
    shot("back")


def test_a_locked_out_login_says_how_long_to_wait(lockout_web):
    page, shot = lockout_web
    page.goto("/")
    page.get_by_test_id("login-form").wait_for()
    for _ in range(LOCKOUT_FAILURES):
        assert _login(page, "lucy", "not the password").status == 401
    answer = _login(page, "lucy")  # even the right password, while locked out
    assert answer.status == 429
    wait_s = int(answer.headers["retry-after"])
    error = page.get_by_test_id("login-error")
    error.wait_for()
    text = error.inner_text()
    assert re.search(rf"too many failed logins: try again in {wait_s} s", text), text
    assert page.get_by_test_id("login-form").is_visible()
    shot("locked-out")


def test_a_server_without_accounts_says_so_in_the_header(web):
    page, shot = web
    page.goto("/#/d/coco/grid")
    badge = page.get_by_test_id("user-badge")
    badge.wait_for()
    assert badge.inner_text() == "no accounts: local mode"
    assert page.get_by_test_id("logout").count() == 0
    shot("open-mode")
