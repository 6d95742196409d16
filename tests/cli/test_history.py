"""`tagscope history` and `tagscope undo` on a small catalog-only dataset."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import MediaInfo, NewItem
from tagscope.domain.access import Identity, Role
from tagscope.service import Workspace
from tagscope.service import history as hist
from tagscope.service import tags as uc
from tagscope.store.tag_catalog import TagCatalog

runner = CliRunner()


def _ws_with_reviews(workspace: Workspace) -> list[int]:
    ds = workspace.catalog.create_dataset("d")
    workspace.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    workspace.catalog.ensure_space(ds.id, "text", "text", "minilm", 384)
    uc.create_group(workspace, "d", "pets", "dog")
    ids = workspace.catalog.item_ids(ds.id)
    uc.add_reviews(workspace, "d", "pets", "dog", {ids[0]: True, ids[1]: True})
    return ids


def test_history_and_undo(workspace: Workspace) -> None:
    ids = _ws_with_reviews(workspace)
    w = ["-w", str(workspace.paths.root)]
    out = runner.invoke(app, ["history", "d", "--json", *w])
    assert out.exit_code == 0, out.output
    [entry] = json.loads(out.stdout)
    assert (entry["action"], entry["n_changes"], entry["actor"]) == ("review", 2, workspace.actor)
    assert entry["target"] == {"group": "pets", "tag": "dog"}

    uc.add_reviews(workspace, "d", "pets", "dog", {ids[1]: False})
    refused = runner.invoke(app, ["undo", "d", str(entry["id"]), *w])
    assert refused.exit_code == 1
    assert f"1 item(s) changed since ({ids[1]})" in refused.stderr

    done = runner.invoke(app, ["undo", "d", str(entry["id"]), "--force", *w])
    assert done.exit_code == 0, done.output
    assert "1 record(s) restored" in done.stdout and f"item(s) {ids[1]}" in done.stdout
    table = runner.invoke(app, ["history", "d", *w])
    assert table.exit_code == 0 and "undoes" in table.stdout and "undone by" in table.stdout


def test_undo_of_an_unknown_change_set(workspace: Workspace) -> None:
    _ws_with_reviews(workspace)
    out = runner.invoke(app, ["undo", "d", "999", "-w", str(workspace.paths.root)])
    assert out.exit_code == 1 and "no change-set 999" in out.stderr


def test_history_by_user_since_and_undo_all_of_a_user(workspace: Workspace) -> None:
    ids = _ws_with_reviews(workspace)  # the owner's, before the time
    since = datetime.now(UTC)
    alice = workspace.acting_as(Identity(name="alice", role=Role.EDITOR, user_id=2))
    uc.add_reviews(alice, "d", "pets", "dog", {ids[1]: False, ids[2]: True})
    uc.add_reviews(alice, "d", "pets", "dog", {ids[2]: False})
    w = ["-w", str(workspace.paths.root)]
    when = since.replace(tzinfo=None).isoformat()  # no offset: UTC
    out = runner.invoke(app, ["history", "d", "--user", "alice", "--since", when, "--json", *w])
    assert out.exit_code == 0, out.output
    listed = [e["id"] for e in json.loads(out.stdout)]
    assert len(listed) == 2
    other = runner.invoke(app, ["history", "d", "--user", workspace.actor, "--json", *w])
    assert len(json.loads(other.stdout)) == 1

    dry = runner.invoke(app, ["undo", "d", "--user", "alice", "--since", when, *w], input="n\n")
    assert dry.exit_code == 1 and "Undo these 2 change-set(s)?" in dry.stdout
    assert "to undo, newest first" in dry.stdout and str(listed[0]) in dry.stdout
    assert len(hist.history(workspace, "d")) == 3  # nothing undone

    done = runner.invoke(app, ["undo", "d", "--user", "alice", "--since", when, "--yes", *w])
    assert done.exit_code == 0, done.output
    assert f"undid 2 change-set(s) of alice ({listed[0]} by " in done.stdout
    assert "3 record(s) restored" in done.stdout
    reviews = TagCatalog(workspace.catalog).review_records(
        uc.get_group(workspace, "pets").tag("dog").id
    )
    assert {i: r.label for i, r in reviews.items()} == {ids[0]: True, ids[1]: True}
    again = runner.invoke(app, ["undo", "d", "--user", "alice", "--since", when, *w])
    assert again.exit_code == 0 and "nothing to undo" in again.stdout


def test_undo_user_needs_a_time_and_refuses_bad_ones(workspace: Workspace) -> None:
    _ws_with_reviews(workspace)
    w = ["-w", str(workspace.paths.root)]
    no_time = runner.invoke(app, ["undo", "d", "--user", "alice", *w])
    assert no_time.exit_code == 2 and "--user needs --since" in no_time.output
    bad = runner.invoke(app, ["undo", "d", "--user", "alice", "--since", "monday", *w])
    assert bad.exit_code == 2 and "no ISO 8601 time" in bad.output
    both = runner.invoke(app, ["undo", "d", "1", "--user", "alice", "--since", "2026-01-01", *w])
    assert both.exit_code == 2 and "not both" in both.output
