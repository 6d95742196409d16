"""`tagscope review` (summary, changes, accept / reject / pending), `tagscope result-sets` and
`tagscope export --result-set` on a catalog-only dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace

runner = CliRunner()


def _run(workspace: Workspace, *args: str) -> str:
    out = runner.invoke(app, [*args, "-w", str(workspace.paths.root)])
    assert out.exit_code == 0, out.output
    return out.stdout


def test_summary_changes_and_decisions(workspace: Workspace, review_job: Callable) -> None:
    _, ch = review_job(workspace)
    text = _run(workspace, "review", "d", "j")
    assert "pending: 7  accepted: 0  rejected: 0" in text and "(deleted)" in text
    summary = json.loads(_run(workspace, "review", "d", "j", "--json"))
    assert summary["table"][1] == {
        "expert_class": "cat",
        "class_changed": True,
        "pending": 1,
        "accepted": 0,
        "rejected": 0,
    }
    dogs = ["--class", "dog", "--class-unchanged", "--json"]
    page = json.loads(_run(workspace, "review", "changes", "d", "j", *dogs))
    assert page["total"] == 2 and [c["id"] for c in page["changes"]] == [ch[3], ch[5]]

    text = _run(workspace, "review", "accept", "d", "j", "--class", "cat", "--status", "pending")
    assert "accepted 3 change(s) of j" in text and "tagscope undo d" in text
    done = json.loads(_run(workspace, "review", "reject", "d", "j", "--ids", f"{ch[4]}", "--json"))
    assert done["n_changed"] == 1
    back = json.loads(
        _run(workspace, "review", "pending", "d", "j", "--ids", f"{ch[0]},{ch[4]}", "--json")
    )
    assert back["n_changed"] == 2
    _run(workspace, "undo", "d", str(back["change_set"]))
    tabs = json.loads(_run(workspace, "review", "d", "j", "--json"))["tabs"]
    assert tabs == {"pending": 3, "accepted": 3, "rejected": 1}


def test_bad_ids_are_refused_naming_them(workspace: Workspace, review_job: Callable) -> None:
    review_job(workspace)
    w = ["-w", str(workspace.paths.root)]
    out = runner.invoke(app, ["review", "accept", "d", "j", "--ids", "999999", *w])
    assert out.exit_code == 1 and "not label changes of job 'j': 999999" in out.output
    out = runner.invoke(app, ["review", "accept", "d", "j", "--ids", "x", *w])
    assert out.exit_code == 1 and "change ids are integers" in out.output


def test_result_sets_and_their_export(
    workspace: Workspace, review_job: Callable, tmp_path: Path
) -> None:
    _, ch = review_job(workspace)
    _run(workspace, "review", "accept", "d", "j", "--ids", f"{ch[0]},{ch[1]}")
    text = _run(workspace, "result-sets", "save", "d", "good", "--job", "j")
    assert "2 label(s) of 1 item(s), SQL view rs_good" in text and "left out 5" in text
    [listed] = json.loads(_run(workspace, "result-sets", "list", "d", "--json"))
    assert (listed["name"], listed["n_labels"]) == ("good", 2)
    out = tmp_path / "out"
    args = ["-f", "coco", "-o", str(out), "--result-set", "good", "--json", "-q"]
    report = json.loads(_run(workspace, "export", "d", *args))
    assert (report["n_items"], report["n_labels"]) == (1, 2)
    doc = json.loads((out / "annotations.json").read_text())
    assert sorted(a["bbox"] for a in doc["annotations"]) == [[0, 0, 10, 10], [20, 20, 5, 5]]
    _run(workspace, "result-sets", "delete", "d", "good")
    assert json.loads(_run(workspace, "result-sets", "list", "d", "--json")) == []
