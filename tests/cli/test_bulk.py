"""`tagscope bulk-classify` on a small catalog-only dataset: dry run, run, undo."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

runner = CliRunner()


def _dataset(workspace: Workspace) -> list[int]:
    """Three items, the first classified ``cat``; static collection ``all`` of them."""
    ds = workspace.catalog.create_dataset("d")
    cat = (Label(LabelKind.CLASSIFICATION, "cat", is_main=True),)
    workspace.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}"), labels=cat[: i == 0])
            for i in range(3)
        ],
    )
    ids = workspace.catalog.item_ids(ds.id)
    uc.create_collection(workspace, "d", "all", item_ids=ids)
    return ids


def _names(workspace: Workspace, ids: list[int]) -> list[list[str]]:
    return [[lab.name for lab in workspace.catalog.item_labels(i)] for i in ids]


def test_dry_run_then_run_then_undo(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    before = _names(workspace, ids)
    w = ["-w", str(workspace.paths.root)]
    dry = runner.invoke(app, ["bulk-classify", "d", "all", "--class", "dog", "--dry-run", *w])
    assert dry.exit_code == 0, dry.output
    assert "would classify 2 item(s) as 'dog'" in dry.stdout
    assert "skipped 1 item(s): already classified" in dry.stdout
    assert _names(workspace, ids) == before

    cmd = ["bulk-classify", "d", "all", "--class", "dog", "--overwrite", "--json", *w]
    out = runner.invoke(app, cmd)
    assert out.exit_code == 0, out.output
    done = json.loads(out.stdout)
    assert (done["n_changed"], done["n_skipped"], done["dry_run"]) == (3, 0, False)
    assert _names(workspace, ids) == [["dog"]] * 3
    undone = runner.invoke(app, ["undo", "d", str(done["change_set"]), *w])
    assert undone.exit_code == 0, undone.output
    assert _names(workspace, ids) == before


def test_an_unknown_collection_or_an_empty_class_is_refused(workspace: Workspace) -> None:
    _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]
    out = runner.invoke(app, ["bulk-classify", "d", "nope", "--class", "dog", *w])
    assert out.exit_code == 1 and "'nope'" in out.stderr
    out = runner.invoke(app, ["bulk-classify", "d", "all", "--class", " ", *w])
    assert out.exit_code == 1 and "label is empty" in out.stderr
