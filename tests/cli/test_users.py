"""`tagscope users ...` on a workspace folder (the owner acts: every right)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import AuthenticationError
from tagscope.service import Workspace
from tagscope.service import accounts as acc

runner = CliRunner()
PASSWORD = "correct-horse-battery"


def _run(workspace: Workspace, *args: str, input: str | None = None):
    return runner.invoke(app, ["users", *args, "-w", str(workspace.paths.root)], input=input)


def _ok(workspace: Workspace, *args: str, input: str | None = None) -> str:
    out = _run(workspace, *args, input=input)
    assert out.exit_code == 0, out.output
    return out.stdout


def test_add_reads_the_password_from_stdin_or_asks_it_twice(workspace: Workspace) -> None:
    assert "added user alice (admin)" in _ok(
        workspace, "add", "alice", "--role", "admin", "--password-stdin", input=PASSWORD + "\n"
    )
    # Asked twice without echo; a mismatch asks again.
    out = _ok(
        workspace, "add", "bob", input=f"{PASSWORD}\ntypo-typo-typo\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert "do not match" in out and "added user bob (viewer)" in out
    assert PASSWORD not in out  # hidden input is not echoed
    for name in ("alice", "bob"):
        assert acc.login(workspace, name, PASSWORD, address=None)[0].name == name
    refused = _run(workspace, "add", "carol", "--password-stdin", input="short\n")
    assert refused.exit_code == 1 and "the password is too short" in refused.output
    bad = _run(workspace, "add", "dave", "--role", "boss", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert bad.exit_code == 1 and "unknown role 'boss'" in bad.output
    assert "Password" not in bad.output  # refused before asking
    taken = _run(workspace, "add", "bob", "--password-stdin", input=PASSWORD + "\n")
    assert taken.exit_code == 1 and "user 'bob' already exists" in taken.output


def test_list_and_set_role_workspace_wide_and_per_dataset(workspace: Workspace) -> None:
    workspace.catalog.create_dataset("birds")
    _ok(workspace, "add", "bob", "--role", "none", "--password-stdin", input=PASSWORD + "\n")
    assert "bob is now editor on birds" in _ok(
        workspace, "set-role", "bob", "editor", "-d", "birds"
    )
    listed = json.loads(_ok(workspace, "list", "--json"))
    assert [(u["name"], u["role"], u["dataset_roles"]) for u in listed] == [
        ("bob", None, {"birds": "editor"})
    ]
    table = _ok(workspace, "list")
    assert "birds: editor" in table and "none" in table
    assert "no role of its own on birds" in _ok(
        workspace, "set-role", "bob", "none", "--dataset", "birds"
    )
    assert "bob is now reviewer" in _ok(workspace, "set-role", "bob", "reviewer")
    listed = json.loads(_ok(workspace, "list", "--json"))
    assert (listed[0]["role"], listed[0]["dataset_roles"]) == ("reviewer", {})
    bad = _run(workspace, "set-role", "bob", "boss")
    assert bad.exit_code == 1 and "unknown role 'boss'" in bad.output
    missing = _run(workspace, "set-role", "bob", "viewer", "-d", "dogs")
    assert missing.exit_code == 1 and "no dataset named 'dogs'" in missing.output


def test_disable_enable_and_the_last_admin(workspace: Workspace) -> None:
    for name, role in (("alice", "admin"), ("bob", "editor")):
        _ok(workspace, "add", name, "--role", role, "--password-stdin", input=PASSWORD + "\n")
    assert "disabled user bob" in _ok(workspace, "disable", "bob")
    assert json.loads(_ok(workspace, "list", "--json"))[1]["disabled"] is True
    with pytest.raises(AuthenticationError, match="account bob is disabled"):
        acc.login(workspace, "bob", PASSWORD, address=None)
    assert "enabled user bob" in _ok(workspace, "enable", "bob")
    acc.login(workspace, "bob", PASSWORD, address=None)
    last = _run(workspace, "disable", "alice")
    assert last.exit_code == 1 and "alice is the last enabled workspace admin" in last.output
    demote = _run(workspace, "set-role", "alice", "viewer")
    assert demote.exit_code == 1 and "last enabled workspace admin" in demote.output


def test_reset_password(workspace: Workspace) -> None:
    _ok(workspace, "add", "bob", "--password-stdin", input=PASSWORD + "\n")
    _, session = acc.login(workspace, "bob", PASSWORD, address=None)
    out = _ok(workspace, "reset-password", "bob", input="brand-new-pass\nbrand-new-pass\n")
    assert "sessions have ended" in out
    with pytest.raises(AuthenticationError):
        acc.identity_for_session(workspace, session)
    assert acc.login(workspace, "bob", "brand-new-pass", address=None)[0].name == "bob"
    _ok(workspace, "reset-password", "bob", "--password-stdin", input="third-password\n")
    acc.login(workspace, "bob", "third-password", address=None)
    unknown = _run(workspace, "reset-password", "nobody", input="whatever-pw\nwhatever-pw\n")
    assert unknown.exit_code == 1 and "no user named 'nobody'" in unknown.output
    assert "Password" not in unknown.output  # refused before asking
