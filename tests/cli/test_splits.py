"""`tagscope split`: items or a collection to a split, undone with `tagscope undo`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

runner = CliRunner()


def _ids(ws: Workspace) -> list[int]:
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    return ws.catalog.item_ids(ds.id)


def _splits(ws: Workspace) -> list[str | None]:
    return [it.split for it in ws.catalog.iter_items(ws.dataset("d").id)]


def test_ids_then_a_collection_then_undo(workspace: Workspace) -> None:
    ids = _ids(workspace)
    w = ["-w", str(workspace.paths.root)]
    out = runner.invoke(
        app, ["split", "d", "--ids", f"{ids[0]},{ids[1]}", "--to", "validation", *w]
    )
    assert out.exit_code == 0, out.output
    assert "2 item(s) now in split validation" in out.stdout
    assert _splits(workspace) == ["validation", "validation", None]
    uc.create_collection(workspace, "d", "rest", item_ids=ids[1:])
    cmd = ["split", "d", "--collection", "rest", "--to", "test", "--json", *w]
    done = json.loads(runner.invoke(app, cmd).stdout)
    assert done["n_changed"] == 2 and _splits(workspace) == ["validation", "test", "test"]
    undone = runner.invoke(app, ["undo", "d", str(done["change_set"]), *w])
    assert undone.exit_code == 0, undone.output
    assert _splits(workspace) == ["validation", "validation", None]


def test_an_unknown_split_or_bad_ids_are_refused(workspace: Workspace) -> None:
    _ids(workspace)
    w = ["-w", str(workspace.paths.root)]
    bad = runner.invoke(app, ["split", "d", "--ids", "1", "--to", "holdout", *w])
    assert bad.exit_code != 0 and "unknown split 'holdout'" in bad.output
    bad = runner.invoke(app, ["split", "d", "--ids", "1,x", "--to", "test", *w])
    assert bad.exit_code != 0 and "comma-separated integers" in bad.output
