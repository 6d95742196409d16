"""`tagscope tags suggest` on coco-mini (text space), with and without the LLM endpoint (a local
OpenAI-compatible server)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain.tags import Polarity, PromptModality
from tagscope.service import Workspace
from tagscope.service import tags as uc

runner = CliRunner()


def _run(ws: Workspace, *args: str, code: int = 0) -> str:
    out = runner.invoke(app, ["tags", "suggest", *args, "-w", str(ws.paths.root)])
    assert out.exit_code == code, out.output
    return " ".join((out.stdout if code == 0 else out.stderr).split())


@pytest.fixture()
def no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    monkeypatch.delenv("TAGSCOPE_LLM_MODEL", raising=False)


def test_suggest_from_captions_then_add_two(coco_text_ws: Workspace, no_llm: None) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog")
    out = _run(ws, "coco", "pets", "dog", "-n", "4")
    assert "4 visual prompt suggestion(s) for 'dog' from the dataset's texts (space text" in out
    assert "--add all" in out
    found = json.loads(_run(ws, "coco", "pets", "dog", "-n", "4", "--json"))
    assert (found["source"], found["space"], found["added"]) == ("dataset", "text", [])
    texts = [s["text"] for s in found["suggestions"]]
    assert len(texts) == 4 and all(s["item_ids"] for s in found["suggestions"])

    added = json.loads(_run(ws, "coco", "pets", "dog", "-n", "4", "--add", "1,3", "--json"))
    assert [p["text"] for p in added["added"]] == [texts[0], texts[2]]
    tag = uc.get_group(ws, "pets").tag("dog")
    assert tag.texts(Polarity.POSITIVE, PromptModality.VISUAL) == ["dog", texts[0], texts[2]]

    err = _run(ws, "coco", "pets", "dog", "-n", "4", "--add", "1,9", code=1)
    assert "--add '1,9': '9' is not a suggestion number (1 to 4) nor 'all'" in err


def test_suggest_from_the_llm_and_add_all_for_transcripts(
    coco_text_ws: Workspace,
    fake_llm,  # type: ignore[no-untyped-def]
) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "moods", "scary")
    reply = fake_llm.reply('{"prompts": ["a scream", "footsteps in the dark"]}')
    fake_llm.answer = lambda body: (200, reply)
    out = _run(ws, "coco", "moods", "scary", "--modality", "transcript", "--add", "all")
    assert (
        "2 transcript prompt suggestion(s) for 'scary' from the LLM endpoint (model judge-1)" in out
    )
    assert "added positive transcript prompt" in out
    tag = uc.get_group(ws, "moods").tag("scary")
    assert tag.texts(Polarity.POSITIVE, PromptModality.TRANSCRIPT) == [
        "scary",
        "a scream",
        "footsteps in the dark",
    ]
    fake_llm.answer = lambda body: (200, fake_llm.reply("no idea"))
    err = _run(ws, "coco", "moods", "scary", code=1)
    assert "error: prompt suggestions for tag 'scary': the LLM's answer holds no list" in err
