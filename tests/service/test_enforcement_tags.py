"""The policy inside the tag use cases (issue 10): a secret group is invisible outside its
training dataset (unknown, as a name no group has), a shareable one is applied by editors of the
target; definitions need tags.edit, reviews tags.review, reads read.

A real SQLite workspace of two catalog-only datasets (``a`` trains the groups, ``b`` may apply
them); identities are built directly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest

from tagscope.domain import (
    MediaInfo,
    NewItem,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tagscope.domain.access import Identity, Role, Scope
from tagscope.domain.tags import ReadOnlyGroupError
from tagscope.service import Workspace, ground_truth, prompt_suggestions
from tagscope.service import tags as uc
from tagscope.store.tag_catalog import TagCatalog


@dataclass
class Setup:
    ws: Workspace  # the owner's
    a: int
    b: int
    items: dict[str, list[int]]

    def as_(self, scope: Scope = Scope.ADMIN, name: str = "u", **roles: Role) -> Workspace:
        by_id = {getattr(self, ds): role for ds, role in roles.items()}
        who = Identity(
            name=name, role=None, dataset_roles=MappingProxyType(by_id), scope=scope, user_id=3
        )
        return self.ws.acting_as(who)


@pytest.fixture()
def s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ids, items = {}, {}
    for name in ("a", "b"):
        ds = ws.catalog.create_dataset(name)
        ws.catalog.add_items(
            ds.id,
            [
                NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}"))
                for i in range(3)
            ],
        )
        ws.catalog.ensure_space(ds.id, "text", "text", "minilm", 384)
        ids[name], items[name] = ds.id, ws.catalog.item_ids(ds.id)
    uc.create_group(ws, "a", "sec", "dog")  # secret
    uc.create_group(ws, "a", "pub", "cat", visibility="shareable")
    return Setup(ws, ids["a"], ids["b"], items)


def _unknown(call, name: str = "sec") -> None:  # type: ignore[no-untyped-def]
    """``call`` fails as for a group nobody ever made (same error, same message)."""
    with pytest.raises(NotFoundError) as err:
        call()
    assert str(err.value) == f"no tag group named {name!r}"


# -- visibility -----------------------------------------------------------------------------
def test_a_secret_group_is_seen_only_from_its_training_dataset(s: Setup) -> None:
    a_viewer = s.as_(a=Role.VIEWER, b=Role.VIEWER)
    assert uc.get_group(a_viewer, "sec").dataset == "a"
    assert [g.name for g in uc.list_groups(a_viewer)] == ["pub", "sec"]
    assert [g.name for g in uc.list_groups(a_viewer, "a")] == ["pub", "sec"]
    assert [v.version for v in uc.list_versions(a_viewer, "sec")] == []
    assert [u.dataset for u in uc.list_uses(a_viewer, "sec")] == ["a"]
    assert ground_truth.list_reviews(a_viewer, "a", "sec", "dog") == []
    # Who has no role on "a" never learns the group exists: as a name no group has.
    b_editor = s.as_(b=Role.EDITOR)
    _unknown(lambda: uc.get_group(s.ws, "nope"), "nope")
    _unknown(lambda: uc.get_group(b_editor, "sec"))
    _unknown(lambda: uc.list_uses(b_editor, "sec"))
    _unknown(lambda: uc.list_versions(b_editor, "sec"))
    _unknown(lambda: uc.apply_group(b_editor, "b", "sec"))
    assert [g.name for g in uc.list_groups(b_editor)] == ["pub"]
    # From another dataset it is unknown even to who may read its training dataset.
    for who in (a_viewer, s.ws):
        _unknown(lambda w=who: ground_truth.list_reviews(w, "b", "sec", "dog"))
        _unknown(lambda w=who: uc.preview_tag(w, "b", "sec", "dog"))
    _unknown(lambda: uc.add_prompt(s.ws, "b", "sec", "dog", "a puppy"))
    # One who sees it from its training dataset is told why it cannot be applied.
    with pytest.raises(ValidationError, match="'sec' is secret"):
        uc.apply_group(s.as_(a=Role.VIEWER, b=Role.EDITOR), "b", "sec")


def test_uses_of_a_group_made_secret_are_hidden_outside_its_training_dataset(s: Setup) -> None:
    tc = TagCatalog(s.ws.catalog)
    tc.add_use(tc.get_group("pub").id, s.b)  # as applying it left it, then made secret
    both = s.as_(a=Role.VIEWER, b=Role.VIEWER)
    assert [u.dataset for u in uc.list_uses(both, "pub")] == ["a", "b"]
    assert [u.group for u in uc.dataset_uses(both, "b")] == ["pub"]
    assert [u.dataset for u in uc.list_uses(s.as_(a=Role.VIEWER), "pub")] == ["a"]
    uc.set_visibility(s.ws, "a", "pub", "secret")
    assert [u.dataset for u in uc.list_uses(both, "pub")] == ["a"]
    assert uc.dataset_uses(both, "b") == []
    assert uc.list_groups(both, "b") == []
    assert [u.group for u in uc.dataset_uses(both, "a")] == ["pub", "sec"]


def test_a_shareable_group_is_applied_by_editors_of_the_target(s: Setup) -> None:
    assert uc.get_group(s.as_(b=Role.VIEWER), "pub").dataset == "a"  # seen from anywhere
    with pytest.raises(PermissionDeniedError, match=r"viewer on dataset 'b'.*tags\.apply"):
        uc.apply_group(s.as_(a=Role.ADMIN, b=Role.VIEWER), "b", "pub")
    with pytest.raises(PermissionDeniedError, match="no role on dataset 'b'"):
        uc.apply_group(s.as_(a=Role.EDITOR), "b", "pub")
    with pytest.raises(PermissionDeniedError, match="scope read"):
        uc.apply_group(s.as_(Scope.READ, b=Role.EDITOR), "b", "pub")
    # The policy lets an editor of "b" through; the group was never published.
    with pytest.raises(ValidationError, match="never published"):
        uc.apply_group(s.as_(b=Role.EDITOR), "b", "pub")
    # It scores "b" but "b" cannot edit it.
    with pytest.raises(ReadOnlyGroupError):
        uc.add_prompt(s.as_(b=Role.EDITOR), "b", "pub", "cat", "a kitten")


# -- definitions, reviews, reads ------------------------------------------------------------
def test_definitions_are_edited_by_editors_of_the_training_dataset(s: Setup) -> None:
    editor = s.as_(a=Role.EDITOR)
    item = s.items["a"][0]
    for who in (s.as_(a=Role.REVIEWER), s.as_(Scope.READ, a=Role.EDITOR)):
        for attempt in (
            lambda w: uc.create_group(w, "a", "new", "bird"),
            lambda w: uc.set_visibility(w, "a", "sec", "shareable"),
            lambda w: uc.add_tags(w, "a", "sec", "wolf"),
            lambda w: uc.rename_tag(w, "a", "sec", "dog", "hound"),
            lambda w: uc.remove_tag(w, "a", "pub", "cat"),
            lambda w: uc.add_prompt(w, "a", "sec", "dog", "a puppy"),
            lambda w: uc.edit_prompt(w, "a", "sec", "dog", 1, text="x"),
            lambda w: uc.remove_prompt(w, "a", "sec", "dog", 1),
            lambda w: uc.mark_items(w, "a", "sec", "dog", [item]),
            lambda w: uc.unmark_items(w, "a", "sec", "dog", [item]),
            lambda w: uc.save_threshold(w, "a", "sec", "dog", 0.7),
            lambda w: uc.publish_group(w, "a", "sec"),
            lambda w: ground_truth.judge_tag(w, "a", "sec", "dog"),
            lambda w: prompt_suggestions.add_suggestions(w, "a", "sec", "dog", ["a puppy"]),
        ):
            with pytest.raises(PermissionDeniedError, match=r"tags\.edit"):
                attempt(who)
    assert uc.create_group(editor, "a", "new", "bird").name == "new"
    assert uc.add_prompt(editor, "a", "sec", "dog", "a puppy").text == "a puppy"
    assert uc.mark_items(editor, "a", "sec", "dog", [item]) == 1
    assert uc.save_threshold(editor, "a", "sec", "dog", 0.7).threshold == 0.7
    assert uc.set_visibility(editor, "a", "sec", "shareable").visibility == "shareable"


def test_reviews_are_given_by_reviewers_and_read_by_viewers(s: Setup) -> None:
    item = s.items["a"][1]
    for who in (s.as_(a=Role.ANNOTATOR), s.as_(Scope.READ, a=Role.REVIEWER)):
        with pytest.raises(PermissionDeniedError, match=r"tags\.review"):
            uc.add_reviews(who, "a", "sec", "dog", {item: True})
        with pytest.raises(PermissionDeniedError, match=r"tags\.review"):
            ground_truth.remove_reviews(who, "a", "sec", "dog", [item])
    reviewer = s.as_(a=Role.REVIEWER)
    assert uc.add_reviews(reviewer, "a", "sec", "dog", {item: True}) == 1
    viewer = s.as_(a=Role.VIEWER)
    assert [r.item_id for r in ground_truth.list_reviews(viewer, "a", "sec", "dog")] == [item]
    with pytest.raises(PermissionDeniedError, match="no role on dataset 'a'"):
        ground_truth.list_reviews(s.as_(b=Role.ADMIN), "a", "sec", "dog")
    assert ground_truth.remove_reviews(reviewer, "a", "sec", "dog", [item]) == 1
