"""Tag groups in the SDK: a handle seen from one dataset, over the tag use cases.

Examples
--------
>>> import tagscope as ts
>>> ds = ts.open().dataset("coco")                                        # doctest: +SKIP
>>> pets = ds.create_tag_group("pets", ["dog", "cat"], visibility="shareable")  # doctest: +SKIP
>>> pets.add_prompt("dog", "a cat", negative=True)                       # doctest: +SKIP
>>> pets.preview("dog").positives[:3]                                    # doctest: +SKIP
>>> pets.publish()                                                       # doctest: +SKIP
>>> ts.open().sql("SELECT tag, count(*) FROM dt_pets_visual GROUP BY tag")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from tagscope._lazy import deferred
from tagscope.domain import Job
from tagscope.domain.tags import SCORE_CHUNK_SIZE, GroupUse, Tag, TagVersion, TextPrompt
from tagscope.domain.tags import TagGroup as _Group

if TYPE_CHECKING:
    from tagscope.service import ground_truth as _ground_truth
    from tagscope.service import prompt_suggestions as _suggestions
    from tagscope.service import tags as _tags
    from tagscope.service.workspace import Workspace as _Workspace
else:
    # Deferred: the tag use cases load scikit-learn, torch and the LLM client.
    _ground_truth = deferred("tagscope.service.ground_truth")
    _suggestions = deferred("tagscope.service.prompt_suggestions")
    _tags = deferred("tagscope.service.tags")

Bar = Callable[[bool, str], AbstractContextManager[Callable[[int, int], None] | None]]


class TagGroup:
    """A tag group as ``dataset`` sees it: its training dataset edits and publishes it, any
    dataset it is applied to scores and reads it."""

    def __init__(self, service_ws: _Workspace, dataset: str, name: str, bar: Bar) -> None:
        self._ws = service_ws
        self.dataset = dataset
        self.name = name
        self._bar = bar

    def __repr__(self) -> str:
        g = self.definition()
        return f"TagGroup({g.name!r}, dataset={g.dataset!r}, {g.state}, version {g.version})"

    # -- reading ------------------------------------------------------------------------------
    def definition(self) -> _Group:
        """The group as it is now: tags, prompts (with ids), examples, state, version."""
        return _tags.get_group(self._ws, self.name)

    @property
    def tags(self) -> list[Tag]:
        return list(self.definition().tags)

    def uses(self) -> list[GroupUse]:
        """Datasets using the group, with scoring status and ``update_available``."""
        return _tags.list_uses(self._ws, self.name)

    def versions(self) -> list[TagVersion]:
        return _tags.list_versions(self._ws, self.name)

    # -- editing (training dataset only) ------------------------------------------------------
    def add_tags(self, names: str | Sequence[str]) -> None:
        _tags.add_tags(self._ws, self.dataset, self.name, _lines(names))

    def remove_tag(self, tag: str) -> None:
        _tags.remove_tag(self._ws, self.dataset, self.name, tag)

    def add_prompt(
        self, tag: str, text: str, *, negative: bool = False, modality: str = "visual"
    ) -> TextPrompt:
        polarity = "negative" if negative else "positive"
        return _tags.add_prompt(
            self._ws, self.dataset, self.name, tag, text, polarity=polarity, modality=modality
        )

    def remove_prompt(self, tag: str, prompt_id: int) -> None:
        _tags.remove_prompt(self._ws, self.dataset, self.name, tag, prompt_id)

    def suggest_prompts(
        self, tag: str, *, modality: str = "visual", n: int = 10, source: str = "auto"
    ) -> _suggestions.PromptSuggestions:
        """Up to ``n`` new text prompts for ``tag``: from the LLM endpoint when one is
        configured (``TAGSCOPE_LLM_URL``, ``TAGSCOPE_LLM_MODEL``), else phrases of the dataset's
        own captions and transcript cues near the tag's prompts (``source`` forces one)."""
        return _suggestions.suggest_prompts(
            self._ws, self.dataset, self.name, tag, modality=modality, n=n, source=source
        )

    def add_suggestions(
        self,
        tag: str,
        suggestions: Sequence[str | _suggestions.Suggestion],
        *,
        modality: str = "visual",
        negative: bool = False,
    ) -> list[TextPrompt]:
        """Add suggestions (or their texts) as prompts of ``tag``: all, or none when one fails."""
        polarity = "negative" if negative else "positive"
        return _suggestions.add_suggestions(
            self._ws,
            self.dataset,
            self.name,
            tag,
            [s if isinstance(s, str) else s.text for s in suggestions],
            modality=modality,
            polarity=polarity,
        )

    def mark(self, tag: str, item_ids: Sequence[int], *, negative: bool = False) -> int:
        """Mark items as positive (or negative) examples, in bulk."""
        polarity = "negative" if negative else "positive"
        return _tags.mark_items(self._ws, self.dataset, self.name, tag, item_ids, polarity=polarity)

    def unmark(self, tag: str, item_ids: Sequence[int]) -> int:
        return _tags.unmark_items(self._ws, self.dataset, self.name, tag, item_ids)

    def save_threshold(self, tag: str, threshold: float) -> Tag:
        return _tags.save_threshold(self._ws, self.dataset, self.name, tag, threshold)

    def review(self, tag: str, labels: Mapping[int, bool]) -> int:
        """Ground truth: item id → shows the tag (True) or not (False)."""
        return _tags.add_reviews(self._ws, self.dataset, self.name, tag, labels)

    def reviews(self, tag: str, *, source: str | None = None) -> list[_ground_truth.ReviewedItem]:
        """The tag's reviews (``source``: ``"person"`` or ``"llm"``), with the judge's reasons."""
        return _ground_truth.list_reviews(self._ws, self.dataset, self.name, tag, source=source)

    def remove_reviews(self, tag: str, item_ids: Sequence[int]) -> int:
        """Remove reviews, e.g. the LLM judge's wrong verdicts."""
        return _ground_truth.remove_reviews(self._ws, self.dataset, self.name, tag, list(item_ids))

    def judge(self, tag: str, *, n: int = 400, progress: bool = True) -> Job:
        """Ask the configured LLM judge (``TAGSCOPE_LLM_URL``, ``TAGSCOPE_LLM_MODEL``) about a
        stratified sample of ``n`` items; its verdicts become reviews to clean."""
        with self._bar(progress, "judging") as report:
            return _ground_truth.judge_tag(
                self._ws, self.dataset, self.name, tag, n=n, progress=report
            )

    # -- scoring --------------------------------------------------------------------------------
    def publish(
        self, *, visibility: str | None = None, chunk_size: int | None = None, progress: bool = True
    ) -> Job:
        """Commit the group (a new version if it changed) and score the training dataset."""
        size = chunk_size or SCORE_CHUNK_SIZE
        with self._bar(progress, "scoring") as report:
            return _tags.publish_group(
                self._ws,
                self.dataset,
                self.name,
                visibility=visibility,
                chunk_size=size,
                on_progress=report,
            )

    def apply(self, *, chunk_size: int | None = None, progress: bool = True) -> Job:
        """Score this (non-training) dataset with the group's latest version."""
        size = chunk_size or SCORE_CHUNK_SIZE
        with self._bar(progress, "scoring") as report:
            return _tags.apply_group(
                self._ws, self.dataset, self.name, chunk_size=size, on_progress=report
            )

    # -- looking at scores ----------------------------------------------------------------------
    def preview(
        self,
        tag: str,
        *,
        threshold: float | None = None,
        view: str = "compare",
        n: int = 24,
        modality: str = "visual",
    ) -> _tags.TagPreview:
        return _tags.preview_tag(
            self._ws,
            self.dataset,
            self.name,
            tag,
            threshold=threshold,
            view=view,
            n=n,
            modality=modality,
        )

    def uncertain(self, tag: str, *, k: int = 20, modality: str = "visual") -> list[int]:
        """Ids of the items worth labelling next (near the boundary, diverse)."""
        items = _tags.uncertain_items(
            self._ws, self.dataset, self.name, tag, k=k, modality=modality
        )
        return [it.item_id for it in items]

    def histogram(self, tag: str, *, bins: int = 20, min_score: float = 0.0) -> _tags.TagHistogram:
        return _tags.tag_histogram(
            self._ws, self.dataset, self.name, tag, bins=bins, min_score=min_score
        )

    def evaluate(
        self, tag: str, *, metric: str = "f1", labels: Sequence[str] | None = None
    ) -> _tags.TagEvaluation:
        return _tags.evaluate_tag(
            self._ws, self.dataset, self.name, tag, metric=metric, labels=labels
        )


def _lines(names: str | Sequence[str]) -> str:
    return names if isinstance(names, str) else "\n".join(names)


def create_group(
    service_ws: _Workspace,
    dataset: str,
    name: str,
    tags: str | Sequence[str],
    *,
    visibility: str,
    space: str | None,
    bar: Bar,
) -> TagGroup:
    _tags.create_group(service_ws, dataset, name, _lines(tags), visibility=visibility, space=space)
    return TagGroup(service_ws, dataset, name, bar)


def groups_of(service_ws: _Workspace, dataset: str, bar: Bar) -> Iterator[TagGroup]:
    for g in _tags.list_groups(service_ws, dataset):
        yield TagGroup(service_ws, dataset, g.name, bar)
