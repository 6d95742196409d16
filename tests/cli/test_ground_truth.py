"""`tagscope tags review / reviews / judge` on coco-mini (text space), the judge being a local
OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace
from tagscope.service import ground_truth as gt
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


def test_a_killed_judge_resumes_with_the_items_left(coco_text_ws: Workspace, fake_llm) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog")
    uc.publish_group(ws, "coco", "pets")
    first_run = fake_llm.answer

    def slow(body: dict) -> tuple[int, object]:
        time.sleep(0.1)  # ~40 answers a second at 4 in flight: the kill lands mid-run
        return first_run(body)

    fake_llm.answer = slow
    env = {k: v for k, v in os.environ.items() if k != "TAGSCOPE_DATABASE_URL"}
    args = ["tags", "judge", "coco", "pets", "dog", "--n", "79", "-q", "-w", str(ws.paths.root)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagscope.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while len(gt.list_reviews(ws, "coco", "pets", "dog")) < 20:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no verdict was saved in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    saved = len(gt.list_reviews(ws, "coco", "pets", "dog"))
    assert 20 <= saved < 79

    fake_llm.answer = first_run
    asked_before = len(fake_llm.requests)
    result = json.loads(_run(ws, "judge", "coco", "pets", "dog", "--n", "79", "--json"))
    assert result["n_skipped"] == saved and result["n_judged"] == 79 - saved
    assert len(fake_llm.requests) - asked_before == 79 - saved
    assert len(gt.list_reviews(ws, "coco", "pets", "dog")) == 79
