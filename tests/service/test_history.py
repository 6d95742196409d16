"""History and undo of reviews and tag examples, on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tagscope.domain import (
    AlreadyExistsError,
    MediaInfo,
    NewItem,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tagscope.domain.access import Identity, Role
from tagscope.domain.changes import UndoConflictError
from tagscope.service import Workspace, ground_truth
from tagscope.service import history as hist
from tagscope.service import tags as uc
from tagscope.store.tag_catalog import TagCatalog


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _setup(ws: Workspace, n: int = 4) -> tuple[list[int], int]:
    """Dataset ``d`` of ``n`` items with group ``g`` (tags dog, cat); the dog tag's id."""
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(n)]
    )
    ws.catalog.ensure_space(ds.id, "text", "text", "minilm", 384)
    group = uc.create_group(ws, "d", "g", "dog\ncat")
    return ws.catalog.item_ids(ds.id), group.tag("dog").id or 0


def _reviews(ws: Workspace, tag_id: int) -> dict:
    return {
        i: (r.label, r.source, r.reason)
        for i, r in TagCatalog(ws.catalog).review_records(tag_id).items()
    }


def test_a_review_is_a_change_set_and_undo_restores_exactly(ws: Workspace) -> None:
    ids, dog = _setup(ws)
    uc.add_reviews(ws, "d", "g", "dog", {ids[0]: True, ids[1]: False})
    before = TagCatalog(ws.catalog).review_states(dog, ids)
    uc.add_reviews(ws, "d", "g", "dog", {ids[0]: False, ids[1]: False, ids[2]: True})
    [latest, first] = hist.history(ws, "d")
    assert (latest.action, latest.actor, latest.target) == (
        "review",
        ws.actor,
        {"group": "g", "tag": "dog"},
    )
    assert latest.n_changes == 3 and first.n_changes == 2
    detail = hist.get_change_set(ws, "d", latest.id)
    # ids[1] was reviewed again with the same label: a new record (time), so a change too.
    assert {c.item_id: (c.before or {}).get("label") for c in detail.changes} == {
        ids[0]: True,
        ids[1]: False,
        ids[2]: None,
    }
    result = hist.undo(ws, "d", latest.id)
    assert result.n_restored == 3 and result.skipped == ()
    assert TagCatalog(ws.catalog).review_states(dog, ids) == before  # times included
    [undo, *_] = hist.history(ws, "d")
    assert (undo.action, undo.undoes, undo.n_changes) == ("undo", latest.id, 3)
    assert hist.history(ws, "d")[1].undone_by == undo.id
    with pytest.raises(ValidationError, match=f"undone already by change-set {undo.id}"):
        hist.undo(ws, "d", latest.id)
    hist.undo(ws, "d", undo.id)  # undoing the undo redoes
    assert _reviews(ws, dog) == {
        ids[0]: (False, "person", None),
        ids[1]: (False, "person", None),
        ids[2]: (True, "person", None),
    }


def test_undo_is_refused_naming_the_items_changed_since(ws: Workspace) -> None:
    ids, dog = _setup(ws)
    uc.add_reviews(ws, "d", "g", "dog", {ids[0]: True, ids[1]: True})
    [change] = hist.history(ws, "d")
    uc.add_reviews(ws, "d", "g", "dog", {ids[1]: False})  # someone else, later
    with pytest.raises(UndoConflictError, match=rf"1 item\(s\) changed since \({ids[1]}\)") as e:
        hist.undo(ws, "d", change.id)
    assert e.value.items == [ids[1]]
    assert _reviews(ws, dog) == {ids[0]: (True, "person", None), ids[1]: (False, "person", None)}
    assert len(hist.history(ws, "d")) == 2  # nothing written
    result = hist.undo(ws, "d", change.id, force=True)
    assert (result.n_restored, result.skipped) == (1, (ids[1],))
    assert _reviews(ws, dog) == {ids[1]: (False, "person", None)}  # left as it was


def test_examples_and_removed_reviews_are_undone(ws: Workspace) -> None:
    ids, dog = _setup(ws)
    uc.mark_items(ws, "d", "g", "dog", ids[:2], polarity="negative")
    uc.mark_items(ws, "d", "g", "dog", ids[1:3], polarity="positive")
    marked = hist.history(ws, "d")[0]
    assert (marked.action, marked.params, marked.n_changes) == (
        "mark_examples",
        {"polarity": "positive"},
        2,
    )
    hist.undo(ws, "d", marked.id)
    examples = uc.get_group(ws, "g").tag("dog").examples
    assert {(e.item_id, str(e.polarity)) for e in examples} == {
        (ids[0], "negative"),
        (ids[1], "negative"),
    }
    uc.unmark_items(ws, "d", "g", "dog", ids[:1])
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)
    assert len(uc.get_group(ws, "g").tag("dog").examples) == 2
    uc.add_reviews(ws, "d", "g", "dog", {ids[3]: True})
    ground_truth.remove_reviews(ws, "d", "g", "dog", [ids[3]])
    assert hist.history(ws, "d")[0].action == "remove_reviews"
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)
    assert _reviews(ws, dog) == {ids[3]: (True, "person", None)}


def test_an_edit_that_changes_nothing_writes_no_change_set(ws: Workspace) -> None:
    ids, _ = _setup(ws)
    uc.mark_items(ws, "d", "g", "dog", ids[:1])
    uc.mark_items(ws, "d", "g", "dog", ids[:1])
    uc.unmark_items(ws, "d", "g", "dog", ids[1:2])
    assert [c.action for c in hist.history(ws, "d")] == ["mark_examples"]


def test_a_failure_mid_use_case_keeps_neither_the_change_nor_its_change_set(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, dog = _setup(ws)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed while writing the change log")

    # The reviews are written, then writing their change-set fails.
    monkeypatch.setattr("tagscope.store.change_log.ChangeLog.record", crash)
    with pytest.raises(RuntimeError, match="killed"):
        uc.add_reviews(ws, "d", "g", "dog", {ids[0]: True})
    monkeypatch.undo()
    assert _reviews(ws, dog) == {}
    assert hist.history(ws, "d") == []


def test_undo_of_an_unknown_change_set(ws: Workspace) -> None:
    _setup(ws)
    with pytest.raises(NotFoundError, match="no change-set 99"):
        hist.undo(ws, "d", 99)
    with pytest.raises(ValidationError, match="limit"):
        hist.history(ws, "d", limit=0)


def test_undo_after_the_tag_was_removed_names_its_items(ws: Workspace) -> None:
    ids, _ = _setup(ws)
    uc.add_reviews(ws, "d", "g", "cat", {ids[0]: True})
    [change] = hist.history(ws, "d")
    uc.remove_tag(ws, "d", "g", "cat")
    with pytest.raises(UndoConflictError, match=rf"\({ids[0]}\)"):
        hist.undo(ws, "d", change.id)
    assert hist.undo(ws, "d", change.id, force=True).skipped == (ids[0],)


def test_removing_a_tag_is_a_change_set_whose_undo_brings_it_all_back(ws: Workspace) -> None:
    """The tag's prompts, examples and reviews go with it; undo puts them back under the same
    ids, so the change-sets that made them can be undone again; undoing the undo removes it."""
    ids, _ = _setup(ws)
    uc.add_prompt(ws, "d", "g", "cat", "a cat asleep", polarity="negative")
    uc.mark_items(ws, "d", "g", "cat", ids[:2], polarity="negative")
    uc.add_reviews(ws, "d", "g", "cat", {ids[2]: True, ids[3]: False})
    reviewed = hist.history(ws, "d")[0]
    cat = uc.get_group(ws, "g").tag("cat")
    record = TagCatalog(ws.catalog).tag_states(cat.id or 0)
    assert "a cat asleep" in [p.text for p in cat.prompts] and len(cat.examples) == 2

    uc.remove_tag(ws, "d", "g", "cat")
    removed = hist.history(ws, "d")[0]
    assert (removed.action, removed.target, removed.n_changes) == (
        "remove_tag",
        {"group": "g", "tag": "cat"},
        1,
    )
    assert [t.name for t in uc.get_group(ws, "g").tags] == ["dog"]
    assert _reviews(ws, cat.id or 0) == {}

    hist.undo(ws, "d", removed.id)
    back = uc.get_group(ws, "g").tag("cat")
    assert (back.id, back.prompts, back.examples) == (cat.id, cat.prompts, cat.examples)
    assert _reviews(ws, cat.id or 0) == {
        ids[2]: (True, "person", None),
        ids[3]: (False, "person", None),
    }
    assert TagCatalog(ws.catalog).tag_states(cat.id or 0) == record
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)  # undoing the undo removes it again
    assert [t.name for t in uc.get_group(ws, "g").tags] == ["dog"]
    hist.undo(ws, "d", hist.history(ws, "d")[0].id)  # and back once more
    assert TagCatalog(ws.catalog).tag_states(cat.id or 0) == record
    hist.undo(ws, "d", reviewed.id)  # the reviews' own change-set: their tag is back
    assert _reviews(ws, cat.id or 0) == {}


def test_undoing_a_tags_removal_refuses_when_its_name_is_taken_again(ws: Workspace) -> None:
    """The new tag of that name has a new id (ids are never reused, SQLite's included)."""
    _setup(ws)
    uc.remove_tag(ws, "d", "g", "cat")
    removed = hist.history(ws, "d")[0]
    uc.add_tags(ws, "d", "g", "cat")
    with pytest.raises(AlreadyExistsError, match="has a tag named 'cat' again"):
        hist.undo(ws, "d", removed.id)
    assert [t.name for t in uc.get_group(ws, "g").tags] == ["dog", "cat"]
    assert hist.history(ws, "d")[0].id == removed.id  # nothing written


_KILLED_MID_REVIEW = """
import os, signal, sys
from tagscope.service import Workspace
from tagscope.service import tags as uc
from tagscope.store.change_log import ChangeLog

def die(*args, **kwargs):  # the reviews are written, the change-set is not: kill -9
    os.kill(os.getpid(), signal.SIGKILL)

ChangeLog.record = die
uc.add_reviews(Workspace.open(sys.argv[1]), "d", "g", "dog", {int(sys.argv[2]): True})
"""


def test_a_process_killed_mid_change_leaves_nothing(ws: Workspace) -> None:
    ids, dog = _setup(ws)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_REVIEW, str(ws.paths.root), str(ids[0])],
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL
    assert _reviews(ws, dog) == {} and hist.history(ws, "d") == []
    uc.add_reviews(ws, "d", "g", "dog", {ids[0]: True})  # the catalog is not left locked
    assert len(hist.history(ws, "d")) == 1


# -- by user, since a time, and undoing all of one user's changes (issue 10) -----------------


def _as(ws: Workspace, name: str, role: Role, user_id: int) -> Workspace:
    return ws.acting_as(Identity(name=name, role=role, user_id=user_id))


def test_history_filters_by_actor_and_since_and_lists_the_actors(ws: Workspace) -> None:
    ids, _ = _setup(ws)
    alice, bob = _as(ws, "alice", Role.EDITOR, 2), _as(ws, "bob", Role.EDITOR, 3)
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: True})
    between = datetime.now(UTC)
    uc.add_reviews(bob, "d", "g", "dog", {ids[1]: True})
    uc.add_reviews(alice, "d", "g", "dog", {ids[2]: True})
    assert [c.actor for c in hist.history(ws, "d")] == ["alice", "bob", "alice"]
    assert [c.actor for c in hist.history(ws, "d", actor="alice")] == ["alice", "alice"]
    assert [c.actor for c in hist.history(ws, "d", since=between)] == ["alice", "bob"]
    [late] = hist.history(ws, "d", actor="alice", since=between)
    assert late.created_at >= between and late.created_at.tzinfo is not None
    # The same instant in another time zone, and as a naive UTC time, select the same.
    est = between.astimezone(timezone(timedelta(hours=-5)))
    assert [c.id for c in hist.history(ws, "d", since=est)] == [
        c.id for c in hist.history(ws, "d", since=between.replace(tzinfo=None))
    ]
    assert hist.history(ws, "d", actor="carol") == []
    assert hist.actors(ws, "d") == ["alice", "bob"]
    assert hist.actors(_as(ws, "vera", Role.VIEWER, 4), "d") == ["alice", "bob"]  # read is enough


def test_undo_user_undoes_newest_first_in_one_go_as_the_admin(ws: Workspace) -> None:
    ids, dog = _setup(ws)
    alice, bob = _as(ws, "alice", Role.EDITOR, 2), _as(ws, "bob", Role.EDITOR, 3)
    admin = _as(ws, "root", Role.ADMIN, 1)
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: True})  # before the time: stays
    since = datetime.now(UTC)
    uc.add_reviews(bob, "d", "g", "dog", {ids[3]: True})  # someone else's: stays
    # Alice edits the same item three times; her own later edits are no conflict.
    uc.add_reviews(alice, "d", "g", "dog", {ids[1]: True, ids[2]: True})
    uc.add_reviews(alice, "d", "g", "dog", {ids[1]: False})
    uc.mark_items(alice, "d", "g", "dog", ids[1:2], polarity="negative")
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: False, ids[1]: True})
    undo_of_own = hist.undo(alice, "d", hist.history(ws, "d")[0].id)  # an undo: not undone again
    # Newest first: the undo, the change-set it undid, then the three to undo.
    mine = [c.id for c in hist.history(ws, "d", actor="alice", since=since)][2:]

    result = hist.undo_user(admin, "d", "alice", since)
    assert result.undone == tuple(mine) and len(result.change_sets) == 3
    assert result.skipped == ()
    assert _reviews(ws, dog) == {ids[0]: (True, "person", None), ids[3]: (True, "person", None)}
    assert uc.get_group(ws, "g").tag("dog").examples == ()
    made = {c.id: c for c in hist.history(ws, "d")}
    for undone, compensating in zip(result.undone, result.change_sets, strict=True):
        cs = made[compensating]
        assert (cs.actor, cs.action, cs.undoes) == ("root", "undo", undone)
        assert cs.params["change_set"] == undone and cs.params["user"] == "alice"
        assert made[undone].undone_by == compensating
    assert made[undo_of_own.change_set.id].undone_by is None
    assert hist.undo_user(admin, "d", "alice", since).undone == ()  # nothing left


def test_undo_user_is_atomic_and_names_the_conflicts_unless_forced(ws: Workspace) -> None:
    ids, dog = _setup(ws)
    alice, bob = _as(ws, "alice", Role.EDITOR, 2), _as(ws, "bob", Role.EDITOR, 3)
    admin = _as(ws, "root", Role.ADMIN, 1)
    since = datetime.now(UTC)
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: True})
    uc.add_reviews(alice, "d", "g", "dog", {ids[1]: True, ids[2]: True})
    uc.add_reviews(bob, "d", "g", "dog", {ids[2]: False})  # bob changed one of alice's items
    [blocked, clean] = [c.id for c in hist.history(ws, "d", actor="alice")]
    n_before = len(hist.history(ws, "d"))
    with pytest.raises(UndoConflictError, match=rf"change-set {blocked}: 1 item\(s\)") as e:
        hist.undo_user(admin, "d", "alice", since)
    assert e.value.items == [ids[2]] and e.value.change_sets == [blocked]
    assert "nothing was undone" in str(e.value)
    assert len(hist.history(ws, "d")) == n_before  # not even the clean change-set
    assert _reviews(ws, dog)[ids[0]] == (True, "person", None)

    result = hist.undo_user(admin, "d", "alice", since, force=True)
    assert result.undone == (blocked, clean) and result.skipped == (ids[2],)
    assert _reviews(ws, dog) == {ids[2]: (False, "person", None)}  # bob's edit stays


def test_undo_user_needs_an_admin_and_undo_an_editor(ws: Workspace) -> None:
    ids, _ = _setup(ws)
    alice = _as(ws, "alice", Role.EDITOR, 2)
    since = datetime.now(UTC)
    uc.add_reviews(alice, "d", "g", "dog", {ids[0]: True})
    with pytest.raises(
        PermissionDeniedError,
        match=r"alice \(editor on dataset 'd'\) may not undo all of a user's changes \(history",
    ):
        hist.undo_user(alice, "d", "alice", since)
    viewer = _as(ws, "vera", Role.VIEWER, 4)
    with pytest.raises(PermissionDeniedError):
        hist.undo(viewer, "d", hist.history(ws, "d")[0].id)
    assert len(hist.history(viewer, "d")) == 1  # a viewer reads the history
    stranger = ws.acting_as(Identity(name="x", role=None, user_id=5))
    with pytest.raises(PermissionDeniedError):
        hist.history(stranger, "d")
    assert hist.undo_user(ws, "d", "alice", since).undone  # the owner may
