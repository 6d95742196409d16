"""Tag use cases on a real workspace.

Definitions (groups, prompts, examples, thresholds) run on a small catalog-only dataset; learning,
scoring, applying and evaluating run on coco-mini val2017 (instances + captions) embedded once per
session in the ``text`` space with MiniLM.
"""

from __future__ import annotations

import pytest

from tagscope.domain import AlreadyExistsError, MediaInfo, NewItem, NotFoundError, ValidationError
from tagscope.domain.tags import Polarity, PromptModality, ReadOnlyGroupError, TagState
from tagscope.service import Workspace
from tagscope.service import tags as uc


def _small(ws: Workspace, name: str = "small", *, n: int = 3) -> list[int]:
    ds = ws.catalog.create_dataset(name)
    ws.catalog.add_items(
        ds.id,
        [NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}")) for i in range(n)],
    )
    ws.catalog.ensure_space(ds.id, "text", "text", "minilm", 384)
    return [it.id for it in ws.catalog.iter_items(ds.id)]


def test_create_group_from_lines(workspace: Workspace) -> None:
    _small(workspace)
    group = uc.create_group(workspace, "small", "animals", "dog\n\ncat\n", visibility="shareable")
    assert [t.name for t in group.tags] == ["dog", "cat"]
    dog = group.tags[0]
    # The name is the first positive prompt, for pictures and for transcripts.
    assert dog.texts(Polarity.POSITIVE) == ["dog"]
    assert dog.texts(Polarity.POSITIVE, PromptModality.TRANSCRIPT) == ["dog"]
    assert (group.state, group.space, group.dataset) == (TagState.DRAFT, "text", "small")
    assert [g.name for g in uc.list_groups(workspace, "small")] == ["animals"]


def test_create_group_errors(workspace: Workspace) -> None:
    _small(workspace)
    with pytest.raises(ValidationError, match="line 2: invalid tag name 'test_v1'"):
        uc.create_group(workspace, "small", "animals", "dog\ntest_v1")
    with pytest.raises(ValidationError, match="invalid visibility 'public'"):
        uc.create_group(workspace, "small", "animals", "dog", visibility="public")
    with pytest.raises(NotFoundError, match="no dataset named 'nope'"):
        uc.create_group(workspace, "nope", "animals", "dog")
    with pytest.raises(NotFoundError, match="no embedding space 'clip'"):
        uc.create_group(workspace, "small", "animals", "dog", space="clip")
    workspace.catalog.create_dataset("bare")
    with pytest.raises(ValidationError, match="no embedding space yet"):
        uc.create_group(workspace, "bare", "animals", "dog")
    uc.create_group(workspace, "small", "animals", "dog")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        uc.create_group(workspace, "small", "Animals", "cat")


def test_prompts_examples_and_threshold(workspace: Workspace) -> None:
    items = _small(workspace)
    uc.create_group(workspace, "small", "animals", "dog\ncat")
    neg = uc.add_prompt(workspace, "small", "animals", "dog", "a cat", polarity="negative")
    uc.add_prompt(workspace, "small", "animals", "dog", "barking", modality="transcript")
    uc.edit_prompt(workspace, "small", "animals", "dog", neg.id, text="a kitten")
    assert uc.mark_items(workspace, "small", "animals", "dog", items[:2]) == 2
    assert uc.mark_items(workspace, "small", "animals", "dog", items[1:], polarity="negative") == 2
    assert uc.unmark_items(workspace, "small", "animals", "dog", [items[2]]) == 1
    tag = uc.save_threshold(workspace, "small", "animals", "dog", 0.7)
    assert tag.threshold == 0.7
    assert tag.texts(Polarity.NEGATIVE) == ["a kitten"]
    assert tag.texts(Polarity.POSITIVE, PromptModality.TRANSCRIPT) == ["dog", "barking"]
    assert tag.example_ids(Polarity.POSITIVE) == [items[0]]
    assert tag.example_ids(Polarity.NEGATIVE) == [items[1]]
    uc.remove_prompt(workspace, "small", "animals", "dog", neg.id)
    assert uc.get_group(workspace, "animals").tag("dog").texts(Polarity.NEGATIVE) == []


def test_bad_edits_give_clear_errors(workspace: Workspace) -> None:
    items = _small(workspace)
    uc.create_group(workspace, "small", "animals", "dog")
    with pytest.raises(NotFoundError, match="group 'animals' has no tag 'horse'"):
        uc.add_prompt(workspace, "small", "animals", "horse", "a horse")
    with pytest.raises(NotFoundError, match="no tag group named 'plants'"):
        uc.add_prompt(workspace, "small", "plants", "dog", "a dog")
    with pytest.raises(NotFoundError, match="has no prompt 999"):
        uc.remove_prompt(workspace, "small", "animals", "dog", 999)
    with pytest.raises(ValidationError, match="invalid polarity 'maybe'"):
        uc.add_prompt(workspace, "small", "animals", "dog", "x", polarity="maybe")
    with pytest.raises(ValidationError, match="invalid modality 'audio'"):
        uc.add_prompt(workspace, "small", "animals", "dog", "x", modality="audio")
    with pytest.raises(ValidationError, match="text prompt cannot be empty"):
        uc.add_prompt(workspace, "small", "animals", "dog", "   ")
    with pytest.raises(ValidationError, match=r"threshold must be within 0\.\.1"):
        uc.save_threshold(workspace, "small", "animals", "dog", 2)
    with pytest.raises(ValidationError, match="not in the training dataset"):
        uc.mark_items(workspace, "small", "animals", "dog", [items[0], 10_000])
    with pytest.raises(ValidationError, match="invalid tag name"):
        uc.rename_tag(workspace, "small", "animals", "dog", "dog!")
    with pytest.raises(ValidationError, match="last tag"):
        uc.remove_tag(workspace, "small", "animals", "dog")


def test_only_the_training_dataset_edits(workspace: Workspace) -> None:
    _small(workspace)
    _small(workspace, "other")
    uc.create_group(workspace, "small", "animals", "dog", visibility="shareable")
    with pytest.raises(ReadOnlyGroupError, match=r"trained on dataset 'small'.*'other'.*not edit"):
        uc.add_prompt(workspace, "other", "animals", "dog", "a puppy")
    with pytest.raises(ReadOnlyGroupError):
        uc.add_tags(workspace, "other", "animals", "cat")


def test_add_rename_remove_tags(workspace: Workspace) -> None:
    _small(workspace)
    uc.create_group(workspace, "small", "animals", "dog")
    uc.add_tags(workspace, "small", "animals", "cat\nhorse")
    uc.rename_tag(workspace, "small", "animals", "horse", "pony")
    uc.remove_tag(workspace, "small", "animals", "cat")
    assert [t.name for t in uc.get_group(workspace, "animals").tags] == ["dog", "pony"]
    with pytest.raises(AlreadyExistsError):
        uc.add_tags(workspace, "small", "animals", "dog")
