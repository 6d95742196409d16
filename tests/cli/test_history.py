"""`tagscope history` and `tagscope undo` on a small catalog-only dataset."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import tags as uc

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
