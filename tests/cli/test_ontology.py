"""`tagscope ontology ...` and `bulk-classify --answer` on a small catalog-only dataset."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service import collections as uc

runner = CliRunner()


def _dataset(workspace: Workspace) -> list[int]:
    """Two items, the first classified ``cat``; static collection ``all`` of them."""
    ds = workspace.catalog.create_dataset("d")
    cat = (Label(LabelKind.CLASSIFICATION, "cat", is_main=True),)
    workspace.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}"), labels=cat[: i == 0])
            for i in range(2)
        ],
    )
    ids = workspace.catalog.item_ids(ds.id)
    uc.create_collection(workspace, "d", "all", item_ids=ids)
    return ids


def _run(workspace: Workspace, *args: str) -> str:
    out = runner.invoke(app, [*args, "-w", str(workspace.paths.root)])
    assert out.exit_code == 0, out.output
    return out.stdout


def test_classes_and_questions_are_shown_added_renamed_and_undone(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    shown = json.loads(_run(workspace, "ontology", "d", "--json"))
    assert [(c["name"], c["n_labels"]) for c in shown["classes"]] == [("cat", 1)]
    assert shown["questions"] == []
    assert "added class 'owl' (#00ff00)" in _run(
        workspace, "ontology", "add-class", "d", "owl", "--color", "#00FF00", "--hotkey", "2"
    )
    _run(workspace, "ontology", "add-question", "d", "pose", "--kind", "radio", "-o", "sitting",
         "-o", "lying", "--required")  # fmt: skip
    renamed = _run(workspace, "ontology", "rename-class", "d", "cat", "lynx")
    assert "renamed class 'cat' to 'lynx' (1 label(s))" in renamed
    assert [lab.name for lab in workspace.catalog.item_labels(ids[0])] == ["lynx"]
    shown = json.loads(_run(workspace, "ontology", "show", "d", "--json"))
    assert [c["name"] for c in shown["classes"]] == ["lynx", "owl"]
    assert shown["questions"] == [
        {"id": 1, "name": "pose", "kind": "radio", "options": ["sitting", "lying"],
         "required": True}
    ]  # fmt: skip
    change_set = renamed.split("tagscope undo d ")[1].split(")")[0]
    _run(workspace, "undo", "d", change_set)
    assert [lab.name for lab in workspace.catalog.item_labels(ids[0])] == ["cat"]
    table = _run(workspace, "ontology", "d")
    assert "owl" in table and "pose" in table and "sitting, lying" in table


def test_bulk_classify_with_answers(workspace: Workspace) -> None:
    ids = _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]
    _run(workspace, "ontology", "add-question", "d", "colours", "--kind", "checklist",
         "-o", "black", "-o", "white")  # fmt: skip
    cmd = ["bulk-classify", "d", "all", "--class", "owl", "--answer", "colours=white,black"]
    done = json.loads(_run(workspace, *cmd, "--overwrite", "--json"))
    assert done["n_changed"] == 2
    labels = workspace.catalog.item_labels(ids[1])
    assert [(lab.name, lab.attributes) for lab in labels] == [
        ("owl", {"answers": {"colours": ["black", "white"]}})
    ]
    bad = runner.invoke(app, [*cmd[:-1], "colours=red", *w])
    assert bad.exit_code == 1
    said = " ".join(bad.stderr.split())  # the console wraps long lines
    assert "'red' to question 'colours' are not among its options: black, white" in said
    bad = runner.invoke(app, [*cmd[:-1], "colours", *w])
    assert bad.exit_code == 1 and "QUESTION=VALUE" in bad.stderr


def test_refusals_name_what_is_wrong(workspace: Workspace) -> None:
    _dataset(workspace)
    w = ["-w", str(workspace.paths.root)]
    _run(workspace, "ontology", "add-class", "d", "dog")
    out = runner.invoke(app, ["ontology", "rename-class", "d", "cat", "dog", *w])
    assert out.exit_code == 1 and "cannot rename class 'cat' to 'dog'" in out.stderr
    out = runner.invoke(app, ["ontology", "delete-class", "d", "cat", *w])
    assert out.exit_code == 1 and "class 'cat' is used by 1 label(s)" in out.stderr
    assert "deleted class 'dog'" in _run(workspace, "ontology", "delete-class", "d", "dog")
    out = runner.invoke(app, ["ontology", "nope", "--json", *w])
    assert out.exit_code == 1 and "no dataset named 'nope'" in out.stderr
