"""History and undo of reviews and tag examples, on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tagscope.domain import MediaInfo, NewItem, NotFoundError, ValidationError
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
