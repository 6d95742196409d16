"""Tags and tag groups: the definitions people write (names, prompts, examples, reviews).

A :class:`Tag` is data only: it never fits or saves itself (the classifier lives in
``tagscope.tags``, persistence in ``tagscope.store``). A :class:`TagGroup` holds the tags trained on
one dataset; committing it freezes a :class:`TagVersion` that scoring jobs read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tagscope.domain.errors import NotFoundError, TagscopeError, ValidationError

MAX_NAME = 64

# Letters (any script) and digits, single spaces between words.
_TAG_NAME = re.compile(r"^[^\W_]+( [^\W_]+)*$")
# Group names also name SQL tables (``dt_<slug>_visual``): ASCII only.
_GROUP_NAME = re.compile(r"^[A-Za-z0-9]+([ _-][A-Za-z0-9]+)*$")


class ReadOnlyGroupError(TagscopeError):
    """Editing a tag group from a dataset that only applies it (not its training dataset)."""


class Polarity(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class PromptModality(StrEnum):
    """What a text prompt describes: the pictures (frames, images, shots) or spoken text."""

    VISUAL = "visual"
    TRANSCRIPT = "transcript"


class TagState(StrEnum):
    """``draft``: never committed; ``published``: the committed version is current;
    ``pending``: published, then edited, not yet committed again."""

    DRAFT = "draft"
    PUBLISHED = "published"
    PENDING = "pending"


class Visibility(StrEnum):
    """``secret``: only the training dataset uses the group; ``shareable``: others may apply it."""

    SECRET = "secret"
    SHAREABLE = "shareable"


class ScoringStatus(StrEnum):
    UNSCORED = "unscored"
    QUEUED = "queued"
    SCORING = "scoring"
    SCORED = "scored"
    ERROR = "error"


# Item modalities (``domain.items.Modality``) and the score table each one lands in.
SCORE_MODALITY = {
    "image": "visual",
    "keyframe": "visual",
    "transcript": "transcript",
    "shot": "shot",
    "video": "video",
}

SCORE_CHUNK_SIZE = 50_000
"""Items per score-file part: what a killed scoring job loses at most."""


def validate_tag_name(name: str, *, line: int | None = None) -> str:
    """Return ``name`` stripped if it is letters, digits and single spaces, else raise.

    ``line`` (1-based) names the line of a bulk input in the error.
    """
    clean = " ".join((name or "").split())
    where = f"line {line}: " if line is not None else ""
    if not clean:
        raise ValidationError(f"{where}a tag name cannot be empty", field="name")
    if len(clean) > MAX_NAME or not _TAG_NAME.match(clean):
        raise ValidationError(
            f"{where}invalid tag name {name.strip()!r}: use letters, digits and spaces "
            f"(at most {MAX_NAME} characters)",
            field="name",
        )
    return clean


def parse_tag_names(text: str) -> list[str]:
    """Tag names from a bulk input, one per line; blank lines are skipped.

    Raises :class:`ValidationError` naming the first bad line (invalid or repeated name).
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if not raw.strip():
            continue
        name = validate_tag_name(raw, line=number)
        if name.casefold() in seen:
            raise ValidationError(
                f"line {number}: tag {name!r} repeats line {seen[name.casefold()]}",
                field="names",
            )
        seen[name.casefold()] = number
        names.append(name)
    if not names:
        raise ValidationError("give at least one tag name, one per line", field="names")
    return names


def validate_group_name(name: str) -> str:
    """Return ``name`` if it is a valid group name (ASCII letters, digits, spaces, ``_``, ``-``)."""
    clean = (name or "").strip()
    if len(clean) > MAX_NAME or not _GROUP_NAME.match(clean):
        raise ValidationError(
            f"invalid group name {name!r}: use ASCII letters, digits, spaces, '_' or '-' "
            f"(at most {MAX_NAME} characters)",
            field="group",
        )
    return clean


def group_slug(name: str) -> str:
    """The identifier of a group in SQL table names: ``"Street Scenes"`` → ``street_scenes``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def validate_threshold(value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ValidationError(f"threshold must be within 0..1, got {value}", field="threshold")
    return float(value)


@dataclass(frozen=True, slots=True)
class TextPrompt:
    """A text prompt of a tag: what to look for (positive) or to ignore (negative)."""

    text: str
    polarity: Polarity = Polarity.POSITIVE
    modality: PromptModality = PromptModality.VISUAL
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.text or not self.text.strip():
            raise ValidationError("a text prompt cannot be empty", field="text")
        if len(self.text) > 1000:
            raise ValidationError("a text prompt is at most 1000 characters", field="text")


@dataclass(frozen=True, slots=True)
class Example:
    """A visual prompt: an item of the training dataset marked positive or negative."""

    item_id: int
    polarity: Polarity = Polarity.POSITIVE


VisualPrompt = Example


class ReviewSource(StrEnum):
    """Who gave a review: a person, or an LLM judge (a proposal people clean, F-29)."""

    PERSON = "person"
    LLM = "llm"


@dataclass(frozen=True, slots=True)
class Review:
    """Ground truth for one tag on one item: ``label`` is True where the item shows the tag."""

    item_id: int
    tag: str
    label: bool
    source: ReviewSource = ReviewSource.PERSON
    reason: str | None = None

    @classmethod
    def from_verdict(cls, item_id: int, tag: str, *, decision: bool, correct: bool) -> Review:
        """A person judged the tag's ``decision`` on the item ``correct`` (yes) or not (no)."""
        return cls(item_id, tag, decision if correct else not decision)


@dataclass(frozen=True, slots=True)
class Tag:
    """A learned concept: name, text prompts, visual prompts (examples) and a threshold.

    ``revision`` grows with every edit, so a fitted model knows when it is stale.
    """

    name: str
    prompts: tuple[TextPrompt, ...] = ()
    examples: tuple[Example, ...] = ()
    threshold: float = 0.5
    revision: int = 0
    id: int | None = None

    def texts(
        self, polarity: Polarity, modality: PromptModality = PromptModality.VISUAL
    ) -> list[str]:
        return [p.text for p in self.prompts if p.polarity == polarity and p.modality == modality]

    def example_ids(self, polarity: Polarity) -> list[int]:
        return [e.item_id for e in self.examples if e.polarity == polarity]

    @property
    def is_autotag(self) -> bool:
        """Built from visual prompts alone (no text prompt)."""
        return not self.prompts and bool(self.examples)


@dataclass(frozen=True, slots=True)
class TagGroup:
    """Tags trained on one dataset (``dataset``), scored wherever the group is applied.

    ``version`` is the latest committed version (0 before the first commit).
    """

    id: int
    name: str
    dataset_id: int
    dataset: str
    space: str
    visibility: Visibility
    state: TagState
    version: int
    tags: tuple[Tag, ...] = ()
    created_at: datetime | None = None

    @property
    def slug(self) -> str:
        return group_slug(self.name)

    def table(self, modality: str = "visual") -> str:
        """The SQL table of the group's scores for ``modality``: ``dt_<slug>_<modality>``."""
        return f"dt_{self.slug}_{modality}"

    def tag(self, name: str) -> Tag:
        for tag in self.tags:
            if tag.name.casefold() == name.strip().casefold():
                return tag
        known = ", ".join(t.name for t in self.tags) or "none"
        raise NotFoundError(f"group {self.name!r} has no tag {name!r} (tags: {known})")


@dataclass(frozen=True, slots=True)
class TagVersion:
    """A committed, frozen definition of a group's tags; scoring jobs read only these."""

    group_id: int
    version: int
    space: str
    tags: tuple[Tag, ...]
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GroupUse:
    """A dataset that uses a group (its training dataset, or one it was applied to)."""

    group: str
    dataset: str
    is_training: bool
    status: ScoringStatus
    version: int | None  # the version whose scores are current for this dataset
    latest_version: int  # the group's latest committed version
    target_version: int | None = None  # the version being scored (queued / scoring / error)
    n_done: int = 0
    n_total: int = 0
    error: str | None = None
    job_id: int | None = None
    updated_at: datetime | None = None

    @property
    def update_available(self) -> bool:
        """Scored an older version than the group's latest one."""
        return self.version is not None and self.version < self.latest_version
