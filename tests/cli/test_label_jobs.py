"""`tagscope label-jobs`: create (manual and auto), list, show, items, done, submit, delete."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Label, LabelKind, LabelSource, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

runner = CliRunner()
PRE = LabelSource.PRELABEL


def _dataset(workspace: Workspace) -> list[int]:
    """Item 0: an expert ``cat`` classification, a ``dog`` prelabel; item 1: a predicted box;
    static collection ``all`` of both."""
    ds = workspace.catalog.create_dataset("d")
    labels = [
        (
            Label(LabelKind.CLASSIFICATION, "cat", is_main=True),
            Label(LabelKind.CLASSIFICATION, "dog", PRE),
        ),
        (Label(LabelKind.BOX, "car", LabelSource.PREDICTION, geometry={"bbox": [0, 0, 2, 2]}),),
    ]
    workspace.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 9, 9, "JPEG", f"h{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    ids = workspace.catalog.item_ids(ds.id)
    uc.create_collection(workspace, "d", "all", item_ids=ids)
    return ids


def _ok(*args: str) -> str:
    out = runner.invoke(app, list(args))
    assert out.exit_code == 0, out.output
    return out.stdout


def test_a_manual_job_from_creation_to_submission(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]
    made = _ok("label-jobs", "create", "d", "fix", "-c", "all", "-a", "ann", "-a", "bob", *w)
    assert "created manual label job 'fix' of 2 item(s), given to ann, bob" in made
    listed = json.loads(_ok("label-jobs", "list", "d", "--json", *w))
    assert [(j["name"], j["kind"], j["status"]) for j in listed] == [("fix", "manual", "open")]
    items = json.loads(_ok("label-jobs", "items", "d", "fix", "--assignee", "ann", "--json", *w))
    assert [(i["item_id"], i["assignee"]) for i in items] == [(ids[0], "ann")]
    assert [p["name"] for p in items[0]["prelabels"]] == ["dog"]
    assert [e["name"] for e in items[0]["expert"]] == ["cat"]
    assert "marked 1 item(s) done" in _ok("label-jobs", "done", "d", "fix", str(ids[0]), *w)
    table = _ok("label-jobs", "items", "d", "fix", *w)
    assert "ann" in table and "bob" in table

    submitted = _ok("label-jobs", "submit", "d", "fix", *w)
    assert "submitted label job 'fix': class_changed 1" in submitted
    shown = json.loads(_ok("label-jobs", "show", "d", "fix", "--json", *w))
    assert (shown["status"], shown["n_done"], shown["changes"]) == (
        "submitted",
        1,
        {"class_changed": 1},
    )
    again = runner.invoke(app, ["label-jobs", "submit", "d", "fix", *w])
    assert again.exit_code == 1 and "submitted already" in again.stderr
    assert "deleted label job 'fix'" in _ok("label-jobs", "delete", "d", "fix", *w)
    assert json.loads(_ok("label-jobs", "list", "d", "--json", *w)) == []


def test_an_auto_job_from_predictions_is_undone_with_its_change_set(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]
    out = _ok("label-jobs", "create", "d", "pre", "-c", "all", "--from-predictions", *w)
    assert "created auto label job 'pre': 1 prelabel(s) on 2 item(s)" in out
    job = json.loads(_ok("label-jobs", "show", "d", "pre", "--json", *w))
    assert [lab.name for lab in workspace.catalog.item_labels(ids[1]) if lab.source == PRE] == [
        "car"
    ]
    _ok("undo", "d", str(job["params"]["change_set"]), *w)
    assert [lab.source for lab in workspace.catalog.item_labels(ids[1])] == ["prediction"]


def test_bad_input_gives_its_reason(workspace: Workspace) -> None:
    _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]
    cases = [
        (["create", "d", "x", "-c", "nope"], "no collection titled 'nope'"),
        (["create", "d", "x", "-c", "all", "--tag", "dog"], "a tag needs its group"),
        (["show", "d", "nope"], "no label job named 'nope'"),
        (["submit", "d", "nope", "--iou", "2"], "iou must be within (0, 1]"),
    ]
    for args, reason in cases:
        out = runner.invoke(app, ["label-jobs", *args, *w])
        assert out.exit_code == 1, out.output
        assert reason in out.stderr
