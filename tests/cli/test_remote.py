"""`tagscope remote ...` against a real server with accounts, the token from TAGSCOPE_TOKEN.

The servers are uvicorn on 127.0.0.1 in threads of the test process, serving ``create_app(ws,
auth=True)`` (and ``auth=False``, for ``--no-auth``) over coco-mini (captions embedded in a
``text`` space) and an empty ``photos``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.live_server import serve
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace, accounts

runner = CliRunner()
PASSWORD = "a-long-test-password"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, coco_mini: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """The server's URL and the tokens of vic (viewer), dana (viewer of coco only) and a revoked
    one; under "open" the URL of the same workspace served with auth=False (--no-auth)."""
    from tagscope.api.app import create_app
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_coco

    ws = Workspace.open(tmp_path_factory.mktemp("remote-cli") / "ws")
    annotations = coco_mini / "annotations"
    import_coco(
        ws,
        "coco",
        annotations / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=annotations / "captions_val2017.json",
    )
    compute_embeddings(ws, "coco", kind="text")
    ws.catalog.create_dataset("photos")
    accounts.add_user(ws, "vic", PASSWORD, role="viewer")
    accounts.add_user(ws, "dana", PASSWORD, role=None)
    accounts.set_role(ws, "dana", "viewer", dataset="coco")
    tokens = {
        who: accounts.create_token(ws, who, "cli", scope="read")[1] for who in ("vic", "dana")
    }
    tokens["revoked"] = accounts.create_token(ws, "vic", "old", scope="read")[1]
    accounts.revoke_token(ws, "vic", "old")

    with serve(create_app(ws, auth=True)) as url, serve(create_app(ws, auth=False)) as open_url:
        yield url, {**tokens, "open": open_url}


def _remote(
    server: tuple[str, dict[str, str]], who: str | None, *args: str, url: bool = True
) -> tuple[int, str]:
    """Run `tagscope remote ARGS` with TAGSCOPE_URL and TAGSCOPE_TOKEN set (who None: no
    token; url False: no URL)."""
    base, tokens = server
    env = {"TAGSCOPE_URL": base if url else "", "TAGSCOPE_TOKEN": tokens[who] if who else ""}
    result = runner.invoke(app, ["remote", *args], env=env)
    return result.exit_code, " ".join(result.output.split())


def test_datasets_as_a_table_and_as_json(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, "vic", "datasets")
    assert code == 0, out
    assert "coco" in out and "79" in out and "photos" in out
    code, out = _remote(server, "dana", "datasets", "--json")
    assert code == 0, out
    assert [(d["name"], d["n_items"]) for d in json.loads(out)] == [("coco", 79)]


def test_the_url_option_comes_before_the_verb(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, "vic", "--url", server[0], "me", url=False)
    assert code == 0, out
    assert "vic (workspace role: viewer)" in out


def test_me_on_a_no_auth_server(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, None, "--url", server[1]["open"], "me", url=False)
    assert code == 0, out
    assert "without authentication" in out


def test_items_with_a_filter_and_a_limit(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(
        server, "vic", "items", "coco", "--where", "has_label(id, 'dog')", "-n", "3", "--json"
    )
    assert code == 0, out
    found = json.loads(out)
    assert len(found) == 3 and all("dog" in it["labels"] for it in found)
    ids = [it["id"] for it in found]
    assert ids == sorted(ids)
    code, out = _remote(server, "vic", "items", "coco", "--limit", "2", "--desc")
    assert code == 0, out
    assert "2 item(s)" in out and "labels" in out


def test_search_by_text(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(
        server, "vic", "search", "coco", "a dog", "--space", "text", "-k", "3", "--json"
    )
    assert code == 0, out
    hits = json.loads(out)
    assert len(hits) == 3 and hits[0]["score"] >= hits[2]["score"]
    code, out = _remote(server, "vic", "search", "coco", "a dog", "--space", "text", "-k", "3")
    assert code == 0 and "rank" in out and "a dog" in out


def test_sql_as_a_table_and_as_json(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, "vic", "sql", "SELECT count(*) AS n FROM items", "--json")
    assert code == 0, out
    assert json.loads(out)["rows"] == [[79]]
    code, out = _remote(server, "vic", "sql", "SELECT 'x' AS answer")
    assert code == 0 and "answer" in out and "1 row(s)" in out
    code, out = _remote(server, "vic", "sql", "DELETE FROM items")
    assert code == 1 and "error:" in out and "not allowed" in out


def test_a_dataset_without_a_role_exits_1_saying_why(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, "dana", "items", "photos")
    assert code == 1
    assert "dana" in out and "may not read" in out


def test_no_token_exits_1_naming_the_variable(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, None, "datasets")
    assert code == 1
    assert "set TAGSCOPE_TOKEN" in out and "Traceback" not in out


def test_a_revoked_token_exits_1_without_showing_it(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, "revoked", "me")
    assert code == 1
    assert "revoked" in out and server[1]["revoked"] not in out


def test_no_url_exits_1_naming_the_variable(server: tuple[str, dict[str, str]]) -> None:
    code, out = _remote(server, "vic", "datasets", url=False)
    assert code == 1 and "TAGSCOPE_URL" in out


def test_the_help_says_the_token_is_read_from_the_environment_only() -> None:
    result = runner.invoke(app, ["remote", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "TAGSCOPE_TOKEN" in text and "shell's history" in text
    assert "--token" not in text
