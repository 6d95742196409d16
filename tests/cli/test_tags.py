"""`tagscope tags ...` and `tagscope sql`, through the command line, on coco-mini (text space)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import JobStatus
from tagscope.domain.tags import ScoringStatus
from tagscope.service import Workspace
from tagscope.service import tags as uc

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _ok(ws: Workspace, *args: str) -> str:
    out = runner.invoke(app, [*args, "-w", str(ws.paths.root)])
    assert out.exit_code == 0, out.output
    return out.stdout


def _json(ws: Workspace, *args: str) -> Any:
    return json.loads(_ok(ws, *args, "--json"))


def _fails(ws: Workspace, *args: str) -> str:
    out = runner.invoke(app, [*args, "-w", str(ws.paths.root)])
    assert out.exit_code == 1, out.output
    return _flat(out.stderr)


@pytest.mark.slow
def test_define_refine_publish_apply_and_query(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    assert "line 2: invalid tag name 'test_v1'" in _fails(
        ws, "tags", "create", "coco", "pets", "dog", "test_v1"
    )
    out = _ok(ws, "tags", "create", "coco", "pets", "dog", "cat", "--visibility", "shareable")
    assert "created tag group 'pets' on 'coco' with 2 tag(s): dog, cat" in _flat(out)
    (row,) = _json(ws, "tags", "list")
    assert (row["name"], row["state"], row["table"]) == ("pets", "draft", "dt_pets_visual")

    out = _ok(ws, "tags", "prompt", "add", "coco", "pets", "dog", "a cat", "--negative")
    assert "added negative visual prompt" in _flat(out)
    shown = _json(ws, "tags", "show", "pets")
    dog = shown["tags"][0]
    assert [(p["text"], p["polarity"]) for p in dog["prompts"]] == [
        ("dog", "positive"),
        ("dog", "positive"),
        ("a cat", "negative"),
    ]
    _ok(ws, "tags", "prompt", "edit", "coco", "pets", "dog", str(dog["prompts"][2]["id"]),
        "--text", "a kitten")  # fmt: skip
    assert "has no prompt 999" in _fails(
        ws, "tags", "prompt", "remove", "coco", "pets", "dog", "999"
    )
    assert "has no tag 'horse'" in _fails(ws, "tags", "mark", "coco", "pets", "horse", "1")

    preview = _json(ws, "tags", "preview", "coco", "pets", "dog", "--n", "4")
    assert preview["live"] and len(preview["negatives"]) == 4
    first = preview["negatives"][0]["item_id"]
    assert "marked 1 item(s) negative" in _flat(
        _ok(ws, "tags", "mark", "coco", "pets", "dog", str(first), "--negative")
    )
    uncertain = _json(ws, "tags", "uncertain", "coco", "pets", "dog", "--k", "3")
    assert len(uncertain) == 3 and first not in {it["item_id"] for it in uncertain}

    out = runner.invoke(app, ["tags", "publish", "coco", "pets", "-w", str(ws.paths.root)])
    assert out.exit_code == 0, out.output
    assert "published 'pets' version 1 on 'coco': 79 item(s) scored" in _flat(out.stdout)
    assert "79/79" in out.stderr  # the progress bar

    hist = _json(ws, "tags", "histogram", "coco", "pets", "dog", "--bins", "4")
    assert sum(b["count"] for b in hist["bins"]) == 79
    assert hist["bins"][-1]["where"] == "tags_pets.dog >= 0.75 AND tags_pets.dog <= 1.0"
    ev = _json(ws, "tags", "evaluate", "coco", "pets", "dog", "--metric", "f0.5")
    assert ev["metric"] == "f0.5" and ev["n_positive"] == 3
    out = _ok(ws, "tags", "threshold", "coco", "pets", "dog", "0.6")
    assert "threshold of 'dog' is 0.600" in _flat(out)
    assert "threshold must be within 0..1" in _fails(
        ws, "tags", "threshold", "coco", "pets", "dog", "7"
    )

    # A second dataset applies the group: it scores it, cannot edit it.
    out = _ok(ws, "tags", "apply", "coco-train", "pets", "-q")
    assert "applied 'pets' version 1 on 'coco-train': 80 item(s) scored" in _flat(out)
    err = _fails(ws, "tags", "prompt", "add", "coco-train", "pets", "dog", "a puppy")
    assert "tag group 'pets' is trained on dataset 'coco'" in err and "not edit" in err
    # A saved threshold needs no new version; an edit of the definition does.
    _ok(ws, "tags", "prompt", "add", "coco", "pets", "dog", "a puppy")
    _ok(ws, "tags", "publish", "coco", "pets", "-q")  # version 2, with the saved threshold
    uses = {u["dataset"]: u for u in _json(ws, "tags", "uses", "pets")}
    assert uses["coco"]["role"] == "training" and uses["coco"]["version"] == 2
    assert uses["coco-train"]["status"] == "scored" and uses["coco-train"]["update_available"]
    table = _ok(ws, "tags", "uses", "pets")
    assert "update" in table and "available" in table
    assert [v["version"] for v in _json(ws, "tags", "versions", "pets")] == [1, 2]

    # SQL over items and the scores of both datasets.
    result = _json(
        ws,
        "sql",
        "SELECT i.dataset, d.version, count(*) AS n, max(d.threshold) AS t "
        "FROM dt_pets_visual d JOIN items i ON i.id = d.item_id "
        "WHERE d.tag = 'dog' GROUP BY ALL ORDER BY 1",
    )
    assert result["columns"] == ["dataset", "version", "n", "t"]
    assert [r[:3] for r in result["rows"]] == [["coco", 2, 79], ["coco-train", 1, 80]]
    assert result["rows"][0][3] == pytest.approx(0.6)
    assert "dt_pets_visual" in _ok(ws, "sql", "--tables")
    table = _ok(ws, "sql", "SELECT name FROM datasets ORDER BY name")
    assert "coco-train" in table
    assert "refused: DELETE is not allowed" in _fails(ws, "sql", "DELETE FROM items")
    assert "refused: INSERT is not allowed" in _fails(ws, "sql", "INSERT INTO labels VALUES (1)")
    assert "table function read_csv() is not allowed" in _fails(
        ws, "sql", "SELECT * FROM read_csv('/etc/passwd')"
    )


_SLOW_PUBLISH = """
import sys, time
from tagscope.store import scores
write_part = scores.ScoreWriter.write_part

def slow(self, *args, **kwargs):
    path = write_part(self, *args, **kwargs)
    time.sleep(0.5)
    return path

scores.ScoreWriter.write_part = slow
from tagscope.cli.main import app
app(sys.argv[1:])
"""


def _digest(folder: Path) -> dict[str, str]:
    files = (p for p in sorted(folder.rglob("*")) if p.is_file())  # the parts' twins too
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.slow
def test_a_killed_publish_resumes_and_versions_never_overwrite(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    root = str(ws.paths.root)
    uc.create_group(ws, "coco", "pets", "dog")
    folder = ws.paths.scores / "pets" / str(ws.dataset("coco").id) / "visual"
    partial = folder / "v000001.partial"

    # Publish in another process, writing a part every half second; kill it after the first.
    env = {k: v for k, v in os.environ.items() if k != "TAGSCOPE_DATABASE_URL"}
    env["HF_HUB_OFFLINE"] = "1"
    args = ["tags", "publish", "coco", "pets", "--chunk-size", "10", "-q", "-w", root]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_PUBLISH, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not (partial / "part-00000.parquet").exists():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no score part was written in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (folder / "v000001").exists()
    (use,) = uc.list_uses(ws, "pets")
    assert use.status is ScoringStatus.SCORING and use.version is None

    # Running it again finishes the parts the killed run did not write.
    out = _ok(ws, "tags", "publish", "coco", "pets", "--chunk-size", "10", "-q")
    assert "already there" in _flat(out)
    job = ws.catalog.list_jobs()[0]
    assert job.status is JobStatus.DONE and job.result["version"] == 1
    assert job.result["n_resumed"] >= 10
    assert job.result["n_scored"] + job.result["n_resumed"] == 79
    assert not partial.exists() and len(list((folder / "v000001").glob("*.parquet"))) == 8
    n = _json(ws, "sql", "SELECT count(DISTINCT item_id) FROM dt_pets_visual")["rows"][0][0]
    assert n == 79
    (use,) = uc.list_uses(ws, "pets")
    assert (use.status, use.version) == (ScoringStatus.SCORED, 1)

    # A new version lands beside the old one, which stays byte for byte.
    before = _digest(folder / "v000001")
    _ok(ws, "tags", "prompt", "add", "coco", "pets", "dog", "a cat", "--negative")
    assert "version 2" in _flat(_ok(ws, "tags", "publish", "coco", "pets", "-q"))
    assert _digest(folder / "v000001") == before
    assert sorted(p.name for p in folder.iterdir()) == ["v000001", "v000002"]


def test_create_without_space_takes_the_semantic_one_and_says_so(workspace: Workspace) -> None:
    for name, kinds in (("demo", ("phash", "text")), ("hashed", ("phash",))):
        ds = workspace.catalog.create_dataset(name)
        for kind in kinds:
            workspace.catalog.ensure_space(ds.id, kind, kind, kind, 8)
    out = _flat(_ok(workspace, "tags", "create", "demo", "pets", "dog"))
    assert "created tag group 'pets' on 'demo' with 1 tag(s): dog" in out
    assert "space 'text' (the default semantic space; choose another with --space)" in out
    assert "space 'phash'" in _flat(
        _ok(workspace, "tags", "create", "demo", "hashes", "dog", "--space", "phash")
    )
    err = _fails(workspace, "tags", "create", "hashed", "pets", "dog")
    assert "no semantic embedding space, only phash" in err
    assert "tagscope embed hashed --kind clip" in err
