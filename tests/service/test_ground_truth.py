"""Ground truth from an LLM judge (a local OpenAI-compatible server) on coco-mini's captions:
proposals for a stratified sample, people's reviews kept, cleaning, resuming, metrics."""

from __future__ import annotations

import pytest

from tagscope.domain import ValidationError
from tagscope.domain.tags import ReviewSource
from tagscope.labels.llm_judge import JudgeConfig, JudgeError
from tagscope.service import Workspace
from tagscope.service import ground_truth as gt
from tagscope.service import history as hist
from tagscope.service import tags as uc


@pytest.fixture()
def dogs(coco_text_ws: Workspace) -> Workspace:
    uc.create_group(coco_text_ws, "coco", "pets", "dog")
    uc.publish_group(coco_text_ws, "coco", "pets")
    return coco_text_ws


def test_judge_proposes_reviews_for_a_stratified_sample(dogs: Workspace, fake_llm) -> None:
    ws = dogs
    fake_llm.yes_words = {"dog", "puppy"}
    person = ws.catalog.item_ids(ws.dataset("coco").id)[0]
    uc.add_reviews(ws, "coco", "pets", "dog", {person: True})

    job = gt.judge_tag(ws, "coco", "pets", "dog", n=40)
    result = job.result
    assert job.status.value == "done"
    assert result["n_sampled"] == 40 and result["n_failed"] == 0
    assert result["n_judged"] + result["n_skipped"] == 40
    reviews = gt.list_reviews(ws, "coco", "pets", "dog")
    by_llm = [r for r in reviews if r.source == "llm"]
    assert len(by_llm) == result["n_judged"]
    # The verdicts are the judge's: yes exactly where the item's captions mention a dog.
    assert all(
        r.label == any(w in (r.text or "").lower() for w in ("dog", "puppy")) for r in by_llm
    )
    assert any(r.label for r in by_llm) and not all(r.label for r in by_llm)
    assert all(r.reason == "seen in the text" for r in by_llm)
    # A person's review stays the person's.
    mine = [r for r in reviews if r.item_id == person]
    assert [(r.label, r.source) for r in mine] == [(True, "person")]
    # The request named the tag and its prompt.
    _, body = fake_llm.requests[0]
    assert "Tag: dog" in body["messages"][-1]["content"][0]["text"]

    # Metrics count the proposals; cleaning removes them; a rerun asks only about the rest.
    before = uc.evaluate_tag(ws, "coco", "pets", "dog")
    wrong = [r.item_id for r in by_llm[:5]]
    assert gt.remove_reviews(ws, "coco", "pets", "dog", wrong) == 5
    after = uc.evaluate_tag(ws, "coco", "pets", "dog")
    assert after.n_reviewed == before.n_reviewed - 5
    n_requests = len(fake_llm.requests)
    again = gt.judge_tag(ws, "coco", "pets", "dog", n=40).result
    assert (again["n_judged"], again["n_skipped"]) == (5, 35)
    assert len(fake_llm.requests) - n_requests == 5
    only_llm = gt.list_reviews(ws, "coco", "pets", "dog", source=ReviewSource.LLM.value)
    assert len(only_llm) == len(by_llm)


def test_items_the_judge_cannot_answer_are_reported(dogs: Workspace, fake_llm) -> None:
    answers = iter(range(10_000))
    fake_llm.answer = lambda body: (
        (500, {"error": "overloaded"}) if next(answers) % 2 else (200, fake_llm.reply("no"))
    )
    result = gt.judge_tag(dogs, "coco", "pets", "dog", n=20).result
    assert result["n_failed"] > 0 and result["n_judged"] > 0
    assert result["n_failed"] + result["n_judged"] == 20
    assert all("answered 500" in p["reason"] for p in result["problems"])
    assert {p["item_id"] for p in result["problems"]}.isdisjoint(
        r.item_id for r in gt.list_reviews(dogs, "coco", "pets", "dog")
    )


def test_a_judge_that_answers_nothing_fails_the_job(dogs: Workspace, fake_llm) -> None:
    fake_llm.answer = lambda body: (401, {"error": "bad key"})
    with pytest.raises(JudgeError, match=r"answered no item; first: item \d+: .*answered 401"):
        gt.judge_tag(dogs, "coco", "pets", "dog", n=5)
    assert gt.list_reviews(dogs, "coco", "pets", "dog") == []


def test_bad_requests(dogs: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    with pytest.raises(ValidationError, match="no LLM judge is configured"):
        gt.judge_tag(dogs, "coco", "pets", "dog")
    config = JudgeConfig("http://127.0.0.1:9/v1", "m")
    with pytest.raises(ValidationError, match="n must be within"):
        gt.judge_tag(dogs, "coco", "pets", "dog", n=0, config=config)
    with pytest.raises(ValidationError, match="give the ids"):
        gt.remove_reviews(dogs, "coco", "pets", "dog", [])


def test_each_saved_batch_of_verdicts_is_an_undoable_change_set(dogs: Workspace, fake_llm) -> None:
    fake_llm.yes_words = {"dog"}
    gt.judge_tag(dogs, "coco", "pets", "dog", n=30)
    batches = hist.history(dogs, "coco")
    # Batches of 20 verdicts, newest first: the last 10, then the first 20.
    assert [(c.action, c.n_changes) for c in batches] == [("judge", 10), ("judge", 20)]
    assert batches[0].params == {"model": "judge-1"}
    hist.undo(dogs, "coco", batches[0].id)
    assert len(gt.list_reviews(dogs, "coco", "pets", "dog", source="llm")) == 20
