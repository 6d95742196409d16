"""Tag names, prompts, reviews and versions: the plain rules of tags."""

from __future__ import annotations

import pytest

from tagscope.domain import NotFoundError, ValidationError
from tagscope.domain.tags import (
    Example,
    GroupUse,
    Polarity,
    PromptModality,
    Review,
    ScoringStatus,
    Tag,
    TagGroup,
    TagState,
    TextPrompt,
    Visibility,
    group_slug,
    parse_tag_names,
    validate_group_name,
    validate_tag_name,
    validate_threshold,
)


@pytest.mark.parametrize(
    ("raw", "name"),
    [("dog", "dog"), ("  hot  dog ", "hot dog"), ("Café 2", "Café 2"), ("B52", "B52")],
)
def test_valid_tag_names(raw: str, name: str) -> None:
    assert validate_tag_name(raw) == name


@pytest.mark.parametrize("raw", ["test_v1", "dog!", "a-b", "", "   ", "x" * 65, "dog/cat"])
def test_invalid_tag_names(raw: str) -> None:
    with pytest.raises(ValidationError):
        validate_tag_name(raw)


def test_bulk_names_skip_blank_lines() -> None:
    assert parse_tag_names("dog\n\ncat\n  traffic light  \n") == ["dog", "cat", "traffic light"]


def test_bulk_names_error_names_the_bad_line() -> None:
    with pytest.raises(ValidationError, match=r"line 3: invalid tag name 'andres_2024'"):
        parse_tag_names("dog\ncat\nandres_2024\n")


def test_bulk_names_refuse_repeats_and_empty_input() -> None:
    with pytest.raises(ValidationError, match="line 3: tag 'Dog' repeats line 1"):
        parse_tag_names("dog\ncat\nDog")
    with pytest.raises(ValidationError, match="at least one"):
        parse_tag_names("\n \n")


def test_group_names_and_slugs() -> None:
    assert validate_group_name(" Street Scenes ") == "Street Scenes"
    assert group_slug("Street Scenes") == "street_scenes"
    assert group_slug("my-group_2") == "my_group_2"
    for bad in ["", "dt;drop", "über", "a  b", "x" * 65]:
        with pytest.raises(ValidationError, match="invalid group name"):
            validate_group_name(bad)


def test_threshold_range() -> None:
    assert validate_threshold(0.7) == 0.7
    with pytest.raises(ValidationError, match=r"0\.\.1"):
        validate_threshold(1.5)


def test_prompts_must_have_text() -> None:
    with pytest.raises(ValidationError):
        TextPrompt("  ")


def test_tag_prompt_and_example_views() -> None:
    tag = Tag(
        "dog",
        prompts=(
            TextPrompt("dog"),
            TextPrompt("a cat", Polarity.NEGATIVE),
            TextPrompt("barking", modality=PromptModality.TRANSCRIPT),
        ),
        examples=(Example(1), Example(2, Polarity.NEGATIVE)),
    )
    assert tag.texts(Polarity.POSITIVE) == ["dog"]
    assert tag.texts(Polarity.NEGATIVE) == ["a cat"]
    assert tag.texts(Polarity.POSITIVE, PromptModality.TRANSCRIPT) == ["barking"]
    assert tag.example_ids(Polarity.POSITIVE) == [1]
    assert not tag.is_autotag
    assert Tag("x", examples=(Example(3),)).is_autotag


def test_review_from_verdict() -> None:
    assert Review.from_verdict(1, "dog", decision=True, correct=True).label is True
    assert Review.from_verdict(1, "dog", decision=True, correct=False).label is False
    assert Review.from_verdict(1, "dog", decision=False, correct=False).label is True


def test_group_tables_and_tag_lookup() -> None:
    group = TagGroup(
        1, "Street Scenes", 1, "coco", "text", Visibility.SECRET, TagState.DRAFT, 0,
        tags=(Tag("dog"), Tag("traffic light")),
    )  # fmt: skip
    assert group.table() == "dt_street_scenes_visual"
    assert group.tag("Traffic Light").name == "traffic light"
    with pytest.raises(NotFoundError, match=r"no tag .horse.*dog, traffic light"):
        group.tag("horse")


def test_update_available_when_an_older_version_was_scored() -> None:
    use = GroupUse("g", "d", False, ScoringStatus.SCORED, version=1, latest_version=2)
    assert use.update_available
    assert not GroupUse("g", "d", False, ScoringStatus.UNSCORED, None, 2).update_available
