"""`tagscope tags review / reviews / judge` on coco-mini (text space), the judge being a local
OpenAI-compatible server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace
from tagscope.service import tags as uc

runner = CliRunner()


def _run(ws: Workspace, *args: str) -> str:
    out = runner.invoke(app, ["tags", *args, "-w", str(ws.paths.root)])
    assert out.exit_code == 0, out.output
    return out.stdout


def test_judge_list_and_clean(coco_text_ws: Workspace, fake_llm) -> None:
    ws = coco_text_ws
    fake_llm.yes_words = {"dog"}
    uc.create_group(ws, "coco", "pets", "dog")
    uc.publish_group(ws, "coco", "pets")

    out = _run(ws, "judge", "coco", "pets", "dog", "--n", "12", "--quiet")
    assert "12 item(s) judged" in out and "0 failed" in out
    listed = json.loads(_run(ws, "reviews", "coco", "pets", "dog", "--source", "llm", "--json"))
    assert len(listed) == 12 and {r["source"] for r in listed} == {"llm"}

    first, second = listed[0]["item_id"], listed[1]["item_id"]
    assert "removed 1 review" in _run(ws, "review", "coco", "pets", "dog", str(first), "--remove")
    assert "recorded 1 review" in _run(ws, "review", "coco", "pets", "dog", str(second), "--no")
    now = json.loads(_run(ws, "reviews", "coco", "pets", "dog", "--json"))
    assert len(now) == 11
    assert [(r["label"], r["source"]) for r in now if r["item_id"] == second] == [(False, "person")]
    table = _run(ws, "reviews", "coco", "pets", "dog")
    assert "seen in the text" in table and "person" in table


def test_judge_without_an_endpoint_says_what_to_set(coco_text_ws: Workspace, monkeypatch) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    uc.create_group(coco_text_ws, "coco", "pets", "dog")
    uc.publish_group(coco_text_ws, "coco", "pets")
    out = runner.invoke(
        app, ["tags", "judge", "coco", "pets", "dog", "-w", str(coco_text_ws.paths.root)]
    )
    assert out.exit_code != 0
    assert "TAGSCOPE_LLM_URL" in out.output
