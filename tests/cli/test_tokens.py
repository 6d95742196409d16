"""`tagscope tokens ...`: a token printed once, listed without its secret, revoked."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.cli.tokens import parse_expires
from tagscope.domain import AuthenticationError, ValidationError
from tagscope.service import Workspace
from tagscope.service import accounts as acc

runner = CliRunner()


def _run(workspace: Workspace, *args: str):
    return runner.invoke(app, ["tokens", *args, "-w", str(workspace.paths.root)])


def _ok(workspace: Workspace, *args: str):
    out = _run(workspace, *args)
    assert out.exit_code == 0, out.output
    return out


def test_parse_expires() -> None:
    assert parse_expires("30d") == timedelta(days=30)
    assert parse_expires("12h") == timedelta(hours=12)
    assert parse_expires("90m") == timedelta(minutes=90)
    assert parse_expires("never") is None
    for bad in ("0d", "3y", "soon", "-1d"):
        with pytest.raises(ValidationError, match="invalid expiry"):
            parse_expires(bad)


def test_create_prints_the_token_once_and_list_never_shows_it(workspace: Workspace) -> None:
    workspace.catalog.create_dataset("birds")
    acc.add_user(workspace, "ed", "correct-horse-battery", role="editor")
    made = _ok(workspace, "create", "--user", "ed", "--name", "ci", "--dataset", "birds")
    secret = made.stdout.strip()  # alone on stdout
    assert secret.startswith("tsk_") and "\n" not in secret
    assert made.output.count(secret) == 1
    assert "will not be shown again" in made.output
    assert "scope write, dataset birds" in made.output
    identity = acc.identity_for_token(workspace, secret)
    assert identity.name == "ed" and identity.token_dataset is not None

    _ok(workspace, "create", "-u", "ed", "-n", "forever", "--expires", "never", "--scope", "read")
    table = _ok(workspace, "list").output
    listed = json.loads(_ok(workspace, "list", "--user", "ed", "--json").stdout)
    assert secret not in table and secret not in json.dumps(listed)
    assert "ci" in table and "birds" in table and "never" in table
    by_name = {t["name"]: t for t in listed}
    assert (by_name["ci"]["scope"], by_name["ci"]["dataset"]) == ("write", "birds")
    assert by_name["ci"]["last_used_at"] is not None  # the token was used above
    assert by_name["forever"]["expires_at"] is None and by_name["ci"]["expires_at"] is not None

    assert (
        "revoked token 'ci' of ed"
        in _ok(workspace, "revoke", "--user", "ed", "--name", "ci").output
    )
    listed = json.loads(_ok(workspace, "list", "--json").stdout)
    assert {t["name"]: t["revoked_at"] is not None for t in listed} == {
        "ci": True,
        "forever": False,
    }
    with pytest.raises(AuthenticationError, match="was revoked"):
        acc.identity_for_token(workspace, secret)


def test_refusals_say_why(workspace: Workspace) -> None:
    acc.add_user(workspace, "vic", "correct-horse-battery", role="viewer")
    for args, message in (
        (("--scope", "write"), "scope read at most, not write"),
        (("--expires", "soon"), "invalid expiry 'soon'"),
        (("--dataset", "nope", "--scope", "read"), "vic has no role on a dataset named 'nope'"),
    ):
        out = _run(workspace, "create", "--user", "vic", "--name", "t", *args)
        assert out.exit_code == 1 and message in out.output, out.output
    out = _run(workspace, "create", "--user", "nobody", "--name", "t")
    assert out.exit_code == 1 and "no user named 'nobody'" in out.output
    out = _run(workspace, "revoke", "--user", "vic", "--name", "t")
    assert out.exit_code == 1 and "no token named 't'" in out.output
