"""`tagscope.connect`: the SDK against a real server with accounts and API tokens (F-90).

The servers are uvicorn on 127.0.0.1 in threads of the test process, serving ``create_app(ws,
auth=True)`` and (``--no-auth``) ``auth=False`` over coco-mini (its captions embedded in a
``text`` space) and a second dataset, ``photos``. Accounts and tokens are made with
``service.accounts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.live_server import free_port, serve

import tagscope as ts
from tagscope.domain import (
    AlreadyExistsError,
    AuthenticationError,
    LockedOutError,
    NotFoundError,
    PermissionDeniedError,
    SqlError,
    TagscopeError,
    ValidationError,
)
from tagscope.service import Workspace, accounts

PASSWORD = "a-long-test-password"


class Server:
    """The URLs of the test servers and the secrets of the tokens, by name."""

    def __init__(
        self, url: str, open_url: str, tokens: dict[str, str], dog_files: set[str]
    ) -> None:
        self.url = url
        self.open_url = open_url  # the same workspace, served with auth=False (--no-auth)
        self.tokens = tokens
        self.dog_files = dog_files

    def connect(self, who: str) -> ts.RemoteWorkspace:
        return ts.connect(self.url, self.tokens[who])


def _dog_files(coco_mini: Path) -> set[str]:
    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    dog = next(c["id"] for c in doc["categories"] if c["name"] == "dog")
    dogs = {a["image_id"] for a in doc["annotations"] if a["category_id"] == dog}
    return {im["file_name"] for im in doc["images"] if im["id"] in dogs}


def _accounts(ws: Workspace) -> dict[str, str]:
    """Tokens of ada (admin), vic (viewer), dana (no workspace role; viewer of coco only), and
    two more of vic's: one reaching coco only, one revoked."""
    accounts.add_user(ws, "ada", PASSWORD, role="admin")
    accounts.add_user(ws, "vic", PASSWORD, role="viewer")
    accounts.add_user(ws, "dana", PASSWORD, role=None)
    accounts.set_role(ws, "dana", "viewer", dataset="coco")
    tokens = {"ada": accounts.create_token(ws, "ada", "sdk")[1]}
    for who in ("vic", "dana"):  # a viewer's token is read-only
        tokens[who] = accounts.create_token(ws, who, "sdk", scope="read")[1]
    tokens["vic-coco"] = accounts.create_token(ws, "vic", "coco", scope="read", dataset="coco")[1]
    tokens["revoked"] = accounts.create_token(ws, "vic", "old", scope="read")[1]
    accounts.revoke_token(ws, "vic", "old")
    return tokens


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, coco_mini: Path) -> Iterator[Server]:
    from tagscope.api.app import create_app
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_coco

    ws = Workspace.open(tmp_path_factory.mktemp("remote") / "ws")
    annotations = coco_mini / "annotations"
    import_coco(
        ws,
        "coco",
        annotations / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=annotations / "captions_val2017.json",
    )
    compute_embeddings(ws, "coco", kind="text")
    ws.catalog.create_dataset("photos", "a second dataset")
    tokens = _accounts(ws)

    with serve(create_app(ws, auth=True)) as url, serve(create_app(ws, auth=False)) as open_url:
        yield Server(url, open_url, tokens, _dog_files(coco_mini))


@pytest.fixture()
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGSCOPE_URL", raising=False)
    monkeypatch.delenv("TAGSCOPE_TOKEN", raising=False)


def test_connect_without_a_url_says_how_to_give_one(no_env: None) -> None:
    with pytest.raises(ValidationError, match="TAGSCOPE_URL") as caught:
        ts.connect()
    assert caught.value.field == "url"


@pytest.mark.parametrize("url", ["ftp://example.org", "example.org:8000", "http://u:p@h.org"])
def test_connect_refuses_a_url_that_is_no_server(no_env: None, url: str) -> None:
    with pytest.raises(ValidationError, match="server URL"):
        ts.connect(url)


def test_connect_reads_the_url_and_the_token_from_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGSCOPE_URL", server.url)
    monkeypatch.setenv("TAGSCOPE_TOKEN", server.tokens["vic"])
    with ts.connect() as ws:
        me = ws.me()
        assert (me["auth"], me["user"], me["role"]) == (True, "vic", "viewer")
        assert server.tokens["vic"] not in repr(ws)
        # a viewer of the workspace reads every dataset (other tests may add some)
        assert {"coco", "photos"} <= {d.name for d in ws.datasets()}


def test_a_no_auth_server_needs_no_token(server: Server, no_env: None) -> None:
    with ts.connect(server.open_url) as ws:
        assert ws.me()["auth"] is False
        assert ws.dataset("coco").count() == 79
        assert ws.create_dataset("made-without-auth").count() == 0


def test_the_host_header_is_the_urls_host(server: Server) -> None:
    # localhost is a name the server answers; it sees it in Host, not 127.0.0.1.
    url = server.url.replace("127.0.0.1", "localhost")
    with ts.connect(url, server.tokens["vic"]) as ws:
        assert ws.me()["user"] == "vic"


def test_items_page_through_the_grid_by_cursor(server: Server) -> None:
    with server.connect("vic") as ws:
        ds = ws.dataset("coco")
        ids = [it["id"] for it in ds.items(page_size=30)]  # 3 pages of 30, 30 and 19
        assert len(ids) == len(set(ids)) == ds.count() == 79
        assert ids == sorted(ids)
        assert [it["id"] for it in ds.items(limit=45, page_size=30)] == ids[:45]
        assert [it["id"] for it in ds.items(order="desc", limit=3)] == ids[::-1][:3]

        dogs = list(ds.items("has_label(id, 'dog')"))
        assert len(dogs) == ds.count("has_label(id, 'dog')") == ds.label_counts()["dog"]
        assert {Path(it["path"]).name for it in dogs} == server.dog_files
        assert all("dog" in it["labels"] for it in dogs)
        detail = ws.item(dogs[0]["id"])
        assert detail["dataset"] == "coco"
        assert "dog" in {lab["name"] for lab in detail["labels"]}


def test_search_and_similar(server: Server) -> None:
    with server.connect("vic") as ws:
        ds = ws.dataset("coco")
        hits = ds.search("a dog", space="text", k=3)
        assert [Path(h.path).name in server.dog_files for h in hits] == [True, True, True]
        assert hits[0].score >= hits[1].score >= hits[2].score
        similar = ds.similar(hits[0].item_id, space="text", k=5)
        assert len(similar) == 5 and hits[0].item_id not in {h.item_id for h in similar}


def test_sql_tag_groups_and_history(server: Server) -> None:
    with server.connect("vic") as ws:
        result = ws.sql("SELECT count(*) AS n FROM items WHERE path LIKE '%.jpg'")
        assert result.records() == [{"n": 79}] and result.columns == ["n"]
        assert "items" in ws.sql_tables()
        assert ws.tag_groups() == []
        ds = ws.dataset("coco")
        assert ds.tag_groups() == [] and ds.history() == []
        with pytest.raises(SqlError, match="not allowed") as caught:
            ws.sql("DELETE FROM items")
        assert caught.value.field == "sql"


def test_no_token_is_refused_saying_how_to_give_one(server: Server, no_env: None) -> None:
    with ts.connect(server.url) as ws:
        assert "token=none" in repr(ws)
        with pytest.raises(AuthenticationError, match="set TAGSCOPE_TOKEN"):
            ws.datasets()


def test_a_revoked_token_is_refused_and_never_shown(server: Server) -> None:
    secret = server.tokens["revoked"]
    with ts.connect(server.url, secret) as ws, pytest.raises(AuthenticationError) as caught:
        ws.me()
    message = str(caught.value)
    assert "TAGSCOPE_TOKEN" in message and "refused" in message
    assert secret not in message and secret[4:12] not in message


def test_a_viewer_cannot_write(server: Server) -> None:
    with server.connect("vic") as ws:
        with pytest.raises(PermissionDeniedError) as caught:
            ws.create_dataset("made-by-a-viewer")
        assert "vic" in str(caught.value)
        assert server.tokens["vic"] not in str(caught.value)
    with server.connect("ada") as ws:
        assert "made-by-a-viewer" not in {d.name for d in ws.datasets()}


def test_a_dataset_without_a_role_is_refused(server: Server) -> None:
    with server.connect("dana") as ws:
        assert [d.name for d in ws.datasets()] == ["coco"]
        assert ws.dataset("coco").count() == 79
        with pytest.raises(PermissionDeniedError):
            ws.dataset("photos")


def test_the_servers_errors_come_back_as_domain_errors(server: Server) -> None:
    with server.connect("ada") as ws:
        with pytest.raises(NotFoundError, match="nope"):
            ws.dataset("nope")
        with pytest.raises(AlreadyExistsError, match="coco"):
            ws.create_dataset("coco")
        with pytest.raises(ValidationError) as caught:
            ws.create_dataset("no spaces allowed")
        assert caught.value.field == "name"
        with pytest.raises(ValidationError) as caught:
            ws.dataset("coco").search("a dog", k=0)
        assert caught.value.field == "k"
        made = ws.create_dataset("made-by-ada", description="by the admin's token")
        assert made.count() == 0


def test_repeated_failed_logins_come_back_as_locked_out(server: Server) -> None:
    body = {"name": "dana", "password": "wrong password!"}
    refused: list[AuthenticationError] = []
    with server.connect("ada") as ws:
        for _ in range(accounts.LockoutPolicy().max_failures + 1):
            with pytest.raises(AuthenticationError) as caught:
                ws.request("POST", "/api/auth/login", json=body)
            refused.append(caught.value)
        assert not isinstance(refused[0], LockedOutError)
        assert isinstance(refused[-1], LockedOutError) and refused[-1].retry_after_s >= 1
        assert ws.me()["user"] == "ada"  # tokens are not locked out


def test_a_token_with_a_line_break_is_refused_without_showing_it(no_env: None) -> None:
    with pytest.raises(ValidationError, match="TAGSCOPE_TOKEN") as caught:
        ts.connect("http://127.0.0.1:9", "tsk_secretpart\nmore")
    assert "secretpart" not in str(caught.value)


def test_an_unreachable_server_is_named(no_env: None) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    unreachable = pytest.raises(TagscopeError, match="cannot reach the Tagscope server at")
    with ts.connect(url, "tsk_whatever") as ws, unreachable as caught:
        ws.datasets()
    assert url in str(caught.value) and "tsk_whatever" not in str(caught.value)


def test_a_token_scoped_to_one_dataset_reaches_only_it(server: Server) -> None:
    with server.connect("vic-coco") as ws:
        assert [d.name for d in ws.datasets()] == ["coco"]
        with pytest.raises(PermissionDeniedError):
            ws.dataset("photos")
