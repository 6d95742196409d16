"""Prompt suggestions (F-30): from the LLM endpoint (a local fake of it), else from the dataset's
own captions in its MiniLM text space (coco-mini val2017)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tagscope.domain import MediaInfo, NewItem, ValidationError
from tagscope.domain.tags import Polarity, PromptModality
from tagscope.embed.text import TextEmbedder, text_lines
from tagscope.labels.llm_judge import JudgeError
from tagscope.service import Workspace
from tagscope.service import prompt_suggestions as ps
from tagscope.service import tags as uc


@pytest.fixture()
def no_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAGSCOPE_LLM_URL", "TAGSCOPE_LLM_MODEL", "TAGSCOPE_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _captions(ws: Workspace, dataset: str) -> dict[int, list[str]]:
    return {it.id: text_lines(it.text) for it in ws.catalog.iter_items(ws.dataset(dataset).id)}


def test_phrases_are_real_captions_near_the_prompt(coco_text_ws: Workspace, no_llm: None) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog")
    found = ps.suggest_prompts(ws, "coco", "pets", "dog", n=8)
    assert (found.source, found.space, found.modality) == ("dataset", "text", "visual")
    assert "MiniLM" in found.model
    texts = [s.text for s in found.suggestions]
    assert len(texts) == 8
    captions = _captions(ws, "coco")
    model = TextEmbedder.from_pretrained()
    for s in found.suggestions:
        # A caption, word for word (up to spaces), of one of the items it names; the others
        # hold the same words or a near-duplicate.
        assert any(" ".join(c.split()) == s.text for i in s.item_ids for c in captions[i])
        for item_id in s.item_ids:
            lines = captions[item_id]
            near = model.encode_texts(lines) @ model.encode_texts([s.text])[0]
            assert _words(s.text) in map(_words, lines) or near.max() >= ps.NEAR_DUPLICATE
    # Near the prompt: most of them are about dogs, best first.
    assert sum("dog" in t.lower() or "pupp" in t.lower() for t in texts) >= 6
    scores = [s.score for s in found.suggestions]
    assert scores == sorted(scores, reverse=True)
    # De-duplicated: no two the same words, no two near-duplicates in the text space.
    assert len({_words(t) for t in texts}) == len(texts)
    vectors = model.encode_texts(texts)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, 0)
    assert sims.max() < ps.NEAR_DUPLICATE
    assert "dog" not in [t.lower() for t in texts]


def test_added_suggestions_are_not_suggested_again(coco_text_ws: Workspace, no_llm: None) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog")
    first = ps.suggest_prompts(ws, "coco", "pets", "dog", n=5)
    picked = [first.suggestions[0].text, first.suggestions[2].text]
    added = ps.add_suggestions(ws, "coco", "pets", "dog", picked)
    assert [(p.text, p.polarity, p.modality) for p in added] == [
        (t, Polarity.POSITIVE, PromptModality.VISUAL) for t in picked
    ]
    tag = uc.get_group(ws, "pets").tag("dog")
    assert tag.texts(Polarity.POSITIVE) == ["dog", *picked]
    again = [s.text for s in ps.suggest_prompts(ws, "coco", "pets", "dog", n=10).suggestions]
    assert not set(picked) & set(again)
    assert first.suggestions[1].text in again  # the others are still there


def test_adding_keeps_none_when_one_fails(coco_text_ws: Workspace, no_llm: None) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog")
    with pytest.raises(ValidationError, match="suggestion 2 is empty"):
        ps.add_suggestions(ws, "coco", "pets", "dog", ["a dog on a couch", "  "])
    with pytest.raises(ValidationError, match="invalid modality 'audio'"):
        ps.add_suggestions(ws, "coco", "pets", "dog", ["a dog on a couch"], modality="audio")
    assert uc.get_group(ws, "pets").tag("dog").texts(Polarity.POSITIVE) == ["dog"]


def test_transcript_prompts_of_a_dataset_without_cues_draw_on_every_text(
    coco_text_ws: Workspace, no_llm: None
) -> None:
    ws = coco_text_ws
    uc.create_group(ws, "coco", "pets", "dog")
    uc.add_prompt(ws, "coco", "pets", "dog", "a pizza", modality="transcript")
    found = ps.suggest_prompts(ws, "coco", "pets", "dog", modality="transcript", n=3)
    assert found.modality is PromptModality.TRANSCRIPT
    assert all("pizza" in s.text.lower() for s in found.suggestions)


def test_llm_suggestions(coco_text_ws: Workspace, fake_llm) -> None:  # type: ignore[no-untyped-def]
    ws = coco_text_ws
    uc.create_group(ws, "coco", "moods", "scary scenes")
    uc.add_prompt(ws, "coco", "moods", "scary scenes", "a cartoon", polarity="negative")
    answer = {
        "prompts": [
            "a dark forest at night",
            "Scary Scenes!",
            "a dark  forest at night",
            "a horror movie scene",
            "a creepy doll",
            "a haunted house",
        ]
    }
    fake_llm.answer = lambda body: (200, fake_llm.reply(json.dumps(answer)))
    found = ps.suggest_prompts(ws, "coco", "moods", "scary scenes", n=3)
    assert (found.source, found.model, found.space) == ("llm", "judge-1", None)
    # The tag's own prompt and a repeat are left out; at most n.
    assert [s.text for s in found.suggestions] == [
        "a dark forest at night",
        "a horror movie scene",
        "a creepy doll",
    ]
    assert all(s.item_ids == () and s.score is None for s in found.suggestions)
    headers, body = fake_llm.requests[-1]
    assert headers["Authorization"] == "Bearer sk-test" and body["model"] == "judge-1"
    question = body["messages"][-1]["content"]
    assert "Tag: scary scenes" in question and "a cartoon" in question and "Propose 3" in question
    # Forcing the dataset's texts while an endpoint is configured.
    assert ps.suggest_prompts(ws, "coco", "moods", "scary scenes", source="dataset").source == (
        "dataset"
    )


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"prompts": ["a ghost", "a dark alley"]}\n```',
        'Here you go: ["a ghost", "a dark alley"] Hope it helps.',
        '{"suggestions": ["\\"a ghost\\"", " a dark alley "]}',
        "Sure:\n1. a ghost\n2) a dark alley\n",
        "- 'a ghost'\n* a dark alley",
    ],
)
def test_llm_answers_in_json_or_lists(coco_text_ws: Workspace, fake_llm, content: str) -> None:  # type: ignore[no-untyped-def]
    uc.create_group(coco_text_ws, "coco", "moods", "scary")
    fake_llm.answer = lambda body: (200, fake_llm.reply(content))
    found = ps.suggest_prompts(coco_text_ws, "coco", "moods", "scary")
    assert [s.text for s in found.suggestions] == ["a ghost", "a dark alley"]


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        (200, "I would rather not.", "holds no list of prompts: 'I would rather not.'"),
        (200, '{"prompts": [1, 2]}', "is not a list of prompts"),
        (200, '{"answer": "yes"}', "is not a list of prompts"),
        (500, None, "answered 500"),
    ],
)
def test_malformed_llm_answers_are_errors(  # type: ignore[no-untyped-def]
    coco_text_ws: Workspace, fake_llm, status: int, payload: str | None, message: str
) -> None:
    uc.create_group(coco_text_ws, "coco", "moods", "scary")
    reply = fake_llm.reply(payload) if payload is not None else {"error": "overloaded"}
    fake_llm.answer = lambda body: (status, reply)
    with pytest.raises(JudgeError, match=f"prompt suggestions for tag 'scary': .*{message}"):
        ps.suggest_prompts(coco_text_ws, "coco", "moods", "scary")


def test_no_endpoint_and_no_text_space_says_how_to_get_one(
    workspace: Workspace, no_llm: None
) -> None:
    ds = workspace.catalog.create_dataset("pics")
    workspace.catalog.add_items(ds.id, [NewItem("/pics/1.jpg", MediaInfo(1, 1, 1, "JPEG", "h1"))])
    workspace.catalog.ensure_space(ds.id, "clip", "clip", "openai/clip-vit-base-patch32", 512)
    uc.create_group(workspace, "pics", "pets", "dog")
    with pytest.raises(ValidationError, match=r"TAGSCOPE_LLM_URL.*tagscope embed pics --kind text"):
        ps.suggest_prompts(workspace, "pics", "pets", "dog")
    with pytest.raises(ValidationError, match="has no text space"):
        ps.suggest_prompts(workspace, "pics", "pets", "dog", source="dataset")
    with pytest.raises(ValidationError, match="set TAGSCOPE_LLM_URL"):
        ps.suggest_prompts(workspace, "pics", "pets", "dog", source="llm")
    for bad, field in (
        ({"n": 0}, "n"),
        ({"source": "web"}, "source"),
        ({"modality": "x"}, "modality"),
    ):
        with pytest.raises(ValidationError, match=field):
            ps.suggest_prompts(workspace, "pics", "pets", "dog", **bad)  # type: ignore[arg-type]


SRT = """1
00:00:00,000 --> 00:00:01,000
my puppy barks at the mailman every morning

2
00:00:01,000 --> 00:00:02,000
we cook pasta with tomatoes tonight

3
00:00:02,000 --> 00:00:03,000
the dog chased a ball across the park
"""


def test_transcript_prompts_draw_on_cues_and_visual_ones_on_captions(
    workspace: Workspace,
    make_video,
    tmp_path,
    no_llm: None,  # type: ignore[no-untyped-def]
) -> None:
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.video_import import import_video

    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "talk.mp4", [((200, 40, 40), 40), ((40, 40, 200), 40)])
    (folder / "talk.srt").write_text(SRT)
    import_video(workspace, "talks", folder, thumbnails=False)
    ds = workspace.dataset("talks")
    captions = ["A dog sleeps on a sofa.", "A bowl of pasta on a table."]
    workspace.catalog.add_items(
        ds.id,
        [
            NewItem(f"/photos/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"p{i}"), text=c)
            for i, c in enumerate(captions)
        ],
    )
    compute_embeddings(workspace, "talks", kind="text")
    uc.create_group(workspace, "talks", "pets", "dog", space="text")
    cues = ps.suggest_prompts(workspace, "talks", "pets", "dog", modality="transcript", n=2)
    # The two cues about dogs, not the pasta cue nor the captions.
    assert {s.text for s in cues.suggestions} == {
        "the dog chased a ball across the park",
        "my puppy barks at the mailman every morning",
    }
    cue_items = {it.id: it for it in workspace.catalog.iter_items(ds.id)}
    assert all(cue_items[i].modality == "transcript" for s in cues.suggestions for i in s.item_ids)
    pictures = ps.suggest_prompts(workspace, "talks", "pets", "dog", n=2)
    assert [s.text for s in pictures.suggestions] == captions
