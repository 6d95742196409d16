"""`tagscope labels`: show, add and delete an item's labels, each edit undoable."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace

runner = CliRunner()


def _item(workspace: Workspace) -> int:
    ds = workspace.catalog.create_dataset("d")
    workspace.catalog.add_items(ds.id, [NewItem("/d/0.jpg", MediaInfo(1, 40, 30, "JPEG", "h"))])
    return workspace.catalog.item_ids(ds.id)[0]


def test_add_show_delete_and_undo(workspace: Workspace) -> None:
    item = _item(workspace)
    w = ["-w", str(workspace.paths.root)]
    box = runner.invoke(
        app, ["labels", "add", "d", str(item), "--kind", "box", "--name", "dog",
              "--bbox", "1,2,3,4", "--json", *w],
    )  # fmt: skip
    assert box.exit_code == 0, box.output
    added = json.loads(box.stdout)
    assert [(lab["kind"], lab["area"]) for lab in added["labels"]] == [("box", 12.0)]
    line = runner.invoke(
        app, ["labels", "add", "d", str(item), "--kind", "polyline", "--name", "road",
              "--polyline", "[[0, 0, 10, 10, 20, 0]]", *w],
    )  # fmt: skip
    assert line.exit_code == 0, line.output
    assert "change-set" in line.stdout and "road" in line.stdout
    shown = json.loads(runner.invoke(app, ["labels", "d", str(item), "--json", *w]).stdout)
    assert [(lab["name"], lab["geometry"]) for lab in shown["labels"]] == [
        ("dog", {"bbox": [1.0, 2.0, 3.0, 4.0]}),
        ("road", {"lines": [[0, 0, 10, 10, 20, 0]]}),
    ]
    assert shown["labels"][0]["author"] == workspace.actor
    dog = shown["labels"][0]["id"]
    deleted = runner.invoke(app, ["labels", "delete", "d", str(dog), "--json", *w])
    assert deleted.exit_code == 0, deleted.output
    change_set = json.loads(deleted.stdout)["change_set"]
    assert [lab["name"] for lab in json.loads(deleted.stdout)["labels"]] == ["road"]
    assert runner.invoke(app, ["undo", "d", str(change_set), *w]).exit_code == 0
    again = json.loads(runner.invoke(app, ["labels", "d", str(item), "--json", *w]).stdout)
    assert again["labels"] == shown["labels"]


def test_bad_geometry_is_refused_with_its_reason(workspace: Workspace) -> None:
    item = _item(workspace)
    w = ["-w", str(workspace.paths.root)]
    bad = runner.invoke(
        app, ["labels", "add", "d", str(item), "--kind", "polyline", "--name", "road",
              "--polyline", "[[0, 0, 0, 0]]", *w],
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "invalid polyline: line 1 has fewer than 2 distinct points" in bad.output
    not_json = runner.invoke(
        app, ["labels", "add", "d", str(item), "--kind", "polygon", "--name", "x",
              "--polygon", "[[0, 0", *w],
    )  # fmt: skip
    assert not_json.exit_code == 1 and "--polygon is not JSON" in not_json.output
    missing = runner.invoke(app, ["labels", "delete", "d", "999", *w])
    assert missing.exit_code == 1 and "dataset 'd' has no label 999" in missing.output
    assert json.loads(runner.invoke(app, ["labels", "d", str(item), "--json", *w]).stdout) == {
        "item_id": item,
        "labels": [],
    }
