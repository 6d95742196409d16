"""Prompt suggestions (F-30): further text prompts for a tag, and adding the ones picked.

Same paths as :mod:`tagscope.api.routers.tags` (``/api/datasets/{dataset}/tag-groups/{group}/
tags/{tag}/...``). ``GET`` asks the LLM endpoint the judge uses or, without one, draws phrases
from the dataset's own texts; ``POST`` adds the texts picked, all or none.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.routers.tags import TAG, Modality, Polarity, Prompt
from tagscope.service import prompt_suggestions as ps
from tagscope.service.policy import Action

router = APIRouter(prefix="/api", tags=["tags"])

PATH = TAG + "/prompt-suggestions"


class SuggestionOut(BaseModel):
    text: str
    score: float | None = Field(description="cosine to the nearest prompt (dataset phrases)")
    item_ids: list[int] = Field(description="items whose text holds it (dataset phrases)")


class SuggestionsOut(BaseModel):
    tag: str
    modality: str
    source: Literal["llm", "dataset"] = Field(description="the LLM endpoint or the dataset's texts")
    model: str = Field(description="the LLM's model, or the text space's embedding model")
    space: str | None = Field(description="the text space searched (dataset phrases)")
    suggestions: list[SuggestionOut]

    @classmethod
    def from_domain(cls, found: ps.PromptSuggestions) -> SuggestionsOut:
        return cls(
            tag=found.tag,
            modality=str(found.modality),
            source=found.source,  # type: ignore[arg-type]
            model=found.model,
            space=found.space,
            suggestions=[
                SuggestionOut(text=s.text, score=s.score, item_ids=list(s.item_ids))
                for s in found.suggestions
            ],
        )


class AddSuggestions(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=ps.MAX_N, description="suggestions picked")
    modality: Modality = "visual"
    polarity: Polarity = "positive"


@router.get(PATH, openapi_extra=needs(Action.READ))
def suggest_prompts(
    dataset: str,
    group: str,
    tag: str,
    ws: WorkspaceDep,
    modality: Modality = "visual",
    n: Annotated[int, Query(ge=1, le=ps.MAX_N)] = 10,
    source: Literal["auto", "llm", "dataset"] = "auto",
) -> SuggestionsOut:
    """Up to ``n`` new prompts for the tag: from the LLM endpoint when one is configured (or
    ``source=llm``), else from the dataset's captions and transcript cues."""
    found = ps.suggest_prompts(ws, dataset, group, tag, modality=modality, n=n, source=source)
    return SuggestionsOut.from_domain(found)


@router.post(PATH, status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.TAGS_EDIT))
def add_suggestions(
    dataset: str, group: str, tag: str, body: AddSuggestions, ws: WorkspaceDep
) -> list[Prompt]:
    """Add the picked suggestions as prompts of the tag (all, or none when one fails)."""
    added = ps.add_suggestions(
        ws, dataset, group, tag, body.texts, modality=body.modality, polarity=body.polarity
    )
    return [Prompt.from_domain(p) for p in added]
