"""Ground truth over HTTP: people's reviews, the LLM judge as a background job (against a local
OpenAI-compatible server), listing and cleaning its proposals, metrics counting what is left."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

BASE = "/api/datasets/coco/tag-groups"
TAG = f"{BASE}/judged/tags/dog"


@pytest.fixture(scope="module")
def judged(client: TestClient, finish_job: Callable[[dict], dict]) -> None:
    r = client.post(BASE, json={"name": "judged", "tags": "dog", "space": "text"})
    assert r.status_code == 201, r.text
    job = finish_job(client.post(f"{BASE}/judged/publish").json())
    assert job["status"] == "done", job


def test_judge_review_and_clean(
    client: TestClient, judged: None, fake_llm, finish_job: Callable[[dict], dict]
) -> None:
    fake_llm.yes_words = {"dog"}
    r = client.post(f"{TAG}/judge", json={"n": 30})
    assert r.status_code == 202 and r.json()["kind"] == "judge"
    job = finish_job(r.json())
    assert job["status"] == "done", job
    assert job["result"]["n_judged"] == 30

    proposals = client.get(f"{TAG}/reviews", params={"source": "llm"}).json()
    assert len(proposals) == 30
    first = proposals[0]
    assert first["source"] == "llm" and first["reason"] == "seen in the text"
    assert first["thumbnail_url"] == f"/api/items/{first['item_id']}/thumbnail"
    assert any(p["label"] for p in proposals)

    # A person overrules one proposal and removes two; metrics count what is left.
    person = {"reviews": [{"item_id": proposals[0]["item_id"], "label": not first["label"]}]}
    assert client.post(f"{TAG}/reviews", json=person).json() == {"n": 1}
    gone = [p["item_id"] for p in proposals[1:3]]
    assert client.post(f"{TAG}/reviews/remove", json={"item_ids": gone}).json() == {"n": 2}
    everything = client.get(f"{TAG}/reviews").json()
    assert len(everything) == 28
    assert [r["source"] for r in everything if r["item_id"] == first["item_id"]] == ["person"]
    assert client.get(f"{TAG}/metrics").json()["n_reviewed"] == 28


def test_judge_errors(client: TestClient, judged: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    r = client.post(f"{TAG}/judge", json={"n": 5})
    assert r.status_code == 422 and "TAGSCOPE_LLM_URL" in r.json()["message"]
    assert client.post(f"{TAG}/judge", json={"n": 0}).status_code == 422
    assert client.post(f"{TAG}/reviews/remove", json={"item_ids": []}).status_code == 422
    assert client.get(f"{TAG}/reviews", params={"source": "robot"}).status_code == 422
    assert client.post(f"{BASE}/judged/tags/unicorn/judge", json={"n": 5}).status_code == 404
