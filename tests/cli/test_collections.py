"""`tagscope collections ...` on a small catalog-only dataset."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace

runner = CliRunner()


def _dataset(workspace: Workspace, name: str = "d") -> list[int]:
    ds = workspace.catalog.create_dataset(name)
    workspace.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 100 * (i + 1), 1, "JPEG", f"{name}{i}"))
            for i in range(4)
        ],
    )
    return workspace.catalog.item_ids(ds.id)


def test_create_list_show_add_remove_freeze_delete(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]

    def ok(*args: str) -> str:
        out = runner.invoke(app, ["collections", *args, *w])
        assert out.exit_code == 0, out.output
        return out.stdout

    assert "static collection 'pets' (2 items)" in ok(
        "create", "d", "pets", "--items", f"{ids[0]},{ids[1]}", "--description", "cute"
    )
    assert "dynamic collection 'wide' (2 items)" in ok(
        "create", "d", "wide", "--where", "width > 250"
    )
    listed = json.loads(ok("list", "d", "--json"))
    assert [(c["title"], c["kind"], c["n_items"]) for c in listed] == [
        ("pets", "static", 2),
        ("wide", "dynamic", None),
    ]
    assert "has 3 item(s)" in ok("add", "d", "pets", str(ids[3]))
    assert "has 1 item(s)" in ok("remove", "d", "pets", f"{ids[0]} {ids[3]}")
    shown = json.loads(ok("show", "d", "wide", "--json"))
    assert (shown["n_items"], shown["item_ids"], shown["filter"]) == (2, ids[2:], "width > 250")
    assert "froze collection 'wide': 2 items" in ok("freeze", "d", "wide")
    assert "items: " in ok("show", "d", "pets")
    assert "deleted collection 'pets'" in ok("delete", "d", "pets")
    assert [c["title"] for c in json.loads(ok("list", "d", "--json"))] == ["wide"]
    history = json.loads(runner.invoke(app, ["history", "d", "--json", *w]).stdout)
    assert history[0]["action"] == "delete_collection"
    undone = runner.invoke(app, ["undo", "d", str(history[0]["id"]), *w])
    assert undone.exit_code == 0, undone.output
    assert json.loads(ok("show", "d", "pets", "--json"))["item_ids"] == [ids[1]]


def test_errors_name_what_is_wrong(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    other = _dataset(workspace, "e")
    w = ["-w", str(workspace.paths.root)]

    def refused(*args: str) -> str:
        out = runner.invoke(app, ["collections", *args, *w])
        assert out.exit_code == 1, out.output
        return out.stderr

    assert f"not items of the dataset: {other[0]}" in refused(
        "create", "d", "x", "--items", f"{ids[0]},{other[0]}"
    )
    assert "nope" in refused("create", "d", "x", "--where", "nope > 1")
    assert "integers" in refused("create", "d", "x", "--items", "1,a")
    assert "not both" in refused("create", "d", "x")
    runner.invoke(app, ["collections", "create", "d", "x", "--items", str(ids[0]), *w])
    assert "already" in refused("create", "d", "x", "--items", str(ids[0]))
    assert "no collection titled 'y'" in refused("show", "d", "y")
