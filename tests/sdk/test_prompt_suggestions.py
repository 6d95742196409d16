"""Prompt suggestions through the SDK, on coco-mini (text space), without an LLM endpoint."""

from __future__ import annotations

import pytest

from tagscope.domain.tags import Polarity
from tagscope.sdk.workspace import Workspace as SdkWorkspace
from tagscope.service import Workspace


def test_suggest_and_add_in_a_few_lines(
    coco_text_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSCOPE_LLM_URL", raising=False)
    pets = SdkWorkspace(coco_text_ws).dataset("coco").create_tag_group("pets", ["dog"])
    found = pets.suggest_prompts("dog", n=4)
    assert found.source == "dataset" and len(found.suggestions) == 4
    added = pets.add_suggestions("dog", found.suggestions[:2])
    assert [p.text for p in added] == [s.text for s in found.suggestions[:2]]
    (dog,) = pets.tags
    assert dog.texts(Polarity.POSITIVE) == ["dog", *(p.text for p in added)]
