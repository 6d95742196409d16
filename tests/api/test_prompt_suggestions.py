"""Prompt suggestions over HTTP: phrases of the dataset's captions without an LLM endpoint, the
endpoint's (a local OpenAI-compatible server) with one, and adding the ones picked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

BASE = "/api/datasets/coco/tag-groups"
TAG = f"{BASE}/suggested/tags/dog"


@pytest.fixture(scope="module")
def group(client: TestClient) -> None:
    r = client.post(BASE, json={"name": "suggested", "tags": "dog", "space": "text"})
    assert r.status_code == 201, r.text


def _prompts(client: TestClient) -> list[tuple[str, str]]:
    (tag,) = client.get("/api/tag-groups/suggested").json()["tags"]
    return [(p["text"], p["modality"]) for p in tag["prompts"]]


def test_suggest_from_captions_and_add(
    client: TestClient, group: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    r = client.get(f"{TAG}/prompt-suggestions", params={"n": 3})
    assert r.status_code == 200, r.text
    found = r.json()
    assert (found["source"], found["space"], found["modality"]) == ("dataset", "text", "visual")
    texts = [s["text"] for s in found["suggestions"]]
    assert len(texts) == 3 and all(s["item_ids"] and s["score"] > 0 for s in found["suggestions"])

    r = client.post(f"{TAG}/prompt-suggestions", json={"texts": texts[:2]})
    assert r.status_code == 201, r.text
    assert [(p["text"], p["polarity"]) for p in r.json()] == [(t, "positive") for t in texts[:2]]
    assert set(_prompts(client)) >= {(t, "visual") for t in texts[:2]}
    again = client.get(f"{TAG}/prompt-suggestions", params={"n": 3}).json()["suggestions"]
    assert not {s["text"] for s in again} & set(texts[:2])


def test_suggest_from_the_llm_for_transcripts(client: TestClient, group: None, fake_llm) -> None:  # type: ignore[no-untyped-def]
    fake_llm.answer = lambda body: (200, fake_llm.reply('["barking", "good boy"]'))
    r = client.get(f"{TAG}/prompt-suggestions", params={"modality": "transcript"})
    assert r.status_code == 200, r.text
    found = r.json()
    assert (found["source"], found["model"], found["modality"]) == ("llm", "judge-1", "transcript")
    assert [s["text"] for s in found["suggestions"]] == ["barking", "good boy"]
    body = {"texts": ["barking", "good boy"], "modality": "transcript"}
    assert client.post(f"{TAG}/prompt-suggestions", json=body).status_code == 201
    assert {("barking", "transcript"), ("good boy", "transcript")} <= set(_prompts(client))

    fake_llm.answer = lambda body: (200, fake_llm.reply("I cannot"))
    r = client.get(f"{TAG}/prompt-suggestions")
    assert r.status_code == 400 and "holds no list of prompts" in r.json()["message"]


def test_bad_requests(client: TestClient, group: None) -> None:
    r = client.get(f"{TAG}/prompt-suggestions", params={"n": 0})
    assert r.status_code == 422 and r.json()["field"] == "n"
    r = client.post(f"{TAG}/prompt-suggestions", json={"texts": ["ok", " "]})
    assert r.status_code == 422 and "suggestion 2 is empty" in r.json()["message"]
    assert ("ok", "visual") not in _prompts(client)
    r = client.get(f"{BASE}/suggested/tags/nope/prompt-suggestions")
    assert r.status_code == 404
