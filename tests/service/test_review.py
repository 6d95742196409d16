"""Review of a submitted label job: the class-changed table, each filter, decisions by cell and
by ids, back to pending, and their undo; on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest
from sqlalchemy import select

from tagscope.domain import (
    Label,
    LabelKind,
    LabelSource,
    MediaInfo,
    NewItem,
    NotFoundError,
    ValidationError,
)
from tagscope.domain.changes import UndoConflictError
from tagscope.domain.label_jobs import LabelChange
from tagscope.domain.review import ClassChangedRow
from tagscope.service import Workspace
from tagscope.service import collections as uc
from tagscope.service import history as hist
from tagscope.service import label_jobs as lj
from tagscope.service import result_sets as rs
from tagscope.service import review as rv
from tagscope.service.sql import run_sql
from tagscope.store.label_schema import LabelChangeRow

Made = Callable[..., tuple[list[int], list[int]]]


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _statuses(ws: Workspace) -> dict[int, str]:
    with ws.catalog.session() as s:
        return {i: st for i, st in s.execute(select(LabelChangeRow.id, LabelChangeRow.status))}


def _ids(ws: Workspace, **filters: object) -> list[int]:
    return [c.id for c in rv.changes(ws, "d", "j", **filters).changes]  # type: ignore[arg-type]


def test_the_summary_counts_tabs_cells_and_kinds(ws: Workspace, review_job: Made) -> None:
    _, ch = review_job(ws)
    rv.decide(ws, "d", "j", "accepted", ids=[ch[0]])
    rv.decide(ws, "d", "j", "rejected", ids=[ch[4], ch[6]])
    s = rv.summary(ws, "d", "j")
    assert s.tabs == {"pending": 4, "accepted": 1, "rejected": 2}
    assert s.table == [
        ClassChangedRow("cat", False, pending=1, accepted=1),
        ClassChangedRow("cat", True, pending=1),
        ClassChangedRow("dog", False, pending=2),
        ClassChangedRow("dog", True, rejected=1),
        ClassChangedRow(None, False, rejected=1),
    ]
    assert s.changes == {
        "unchanged": 2,
        "class_changed": 2,
        "geometry_changed": 1,
        "added": 1,
        "deleted": 1,
    }


def test_a_reviewed_change_is_the_jobs_label_change_with_its_item(
    ws: Workspace, review_job: Made
) -> None:
    items, _ = review_job(ws)
    reviewed = rv.changes(ws, "d", "j").changes
    assert all(isinstance(c, LabelChange) for c in reviewed)
    # The same records as the job's label changes, whose fields they carry, plus the item's.
    shared = [f.name for f in fields(LabelChange)]
    assert [[getattr(c, f) for f in shared] for c in reviewed] == [
        [getattr(c, f) for f in shared] for c in lj.label_changes(ws, "d", "j")
    ]
    assert {c.path for c in reviewed} == {f"/d/{i}.jpg" for i in range(4)}
    assert {c.item_id for c in reviewed} == set(items)


def test_each_filter_and_the_rows_joined_to_their_items(ws: Workspace, review_job: Made) -> None:
    items, ch = review_job(ws)
    page = rv.changes(ws, "d", "j")
    assert page.total == 7 and [c.id for c in page.changes] == ch
    first = page.changes[2]
    assert (first.item_id, first.path, first.width, first.height) == (items[1], "/d/1.jpg", 100, 80)
    assert (first.change, first.expert_area, first.prelabel_area, first.adjustment) == (
        "geometry_changed",
        200,
        100,
        2.0,
    )
    assert first.expert == {
        "kind": "box",
        "name": "cat",
        "class_id": None,
        "geometry": {"bbox": [0, 0, 20, 10]},
        "area": 200,
    }
    assert _ids(ws, expert_class="cat") == [ch[0], ch[1], ch[2]]
    assert _ids(ws, expert_class="cat", class_changed=True) == [ch[1]]
    assert _ids(ws, class_changed=False, expert_class="dog") == [ch[3], ch[5]]
    assert _ids(ws, change="deleted") == [ch[4]]
    assert _ids(ws, min_area=50, max_area=100) == [ch[0], ch[3]]
    assert _ids(ws, min_adjustment=1.5) == [ch[2]]
    assert _ids(ws, max_adjustment=1.0) == [ch[0], ch[1], ch[5], ch[6]]
    assert _ids(ws, status="accepted") == []
    assert _ids(ws, group_by="class") == [ch[0], ch[1], ch[2], ch[3], ch[5], ch[6], ch[4]]
    assert _ids(ws, group_by="class_changed") == [ch[1], ch[6], ch[0], ch[2], ch[3], ch[5], ch[4]]
    page = rv.changes(ws, "d", "j", limit=2, offset=5)
    assert page.total == 7 and [c.id for c in page.changes] == ch[5:]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"status": "done"}, "status"),
        ({"change": "moved"}, "change"),
        ({"min_area": 5, "max_area": 1}, "min_area"),
        ({"group_by": "item"}, "group_by"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters_are_refused_naming_the_input(
    ws: Workspace, review_job: Made, filters: dict, field: str
) -> None:
    review_job(ws)
    with pytest.raises(ValidationError) as err:
        rv.changes(ws, "d", "j", **filters)
    assert err.value.field == field


def test_deciding_a_cell_then_ids_then_back_to_pending(ws: Workspace, review_job: Made) -> None:
    _, ch = review_job(ws)
    done = rv.decide(ws, "d", "j", "accepted", status="pending", expert_class="dog")
    assert done.n_changed == 3 and done.change_set is not None
    st = _statuses(ws)
    assert [st[i] for i in ch] == ["pending"] * 3 + ["accepted", "pending", "accepted", "accepted"]
    again = rv.decide(ws, "d", "j", "accepted", expert_class="dog")
    assert (again.change_set, again.n_changed) == (None, 0)  # nothing changed: no change-set
    rv.decide(ws, "d", "j", "rejected", ids=[ch[3], ch[4]])
    back = rv.decide(ws, "d", "j", "pending", ids=[ch[3], ch[5]])
    assert back.n_changed == 2
    st = _statuses(ws)
    assert [st[i] for i in ch] == ["pending"] * 4 + ["rejected", "pending", "accepted"]
    [entry, *_] = hist.history(ws, "d")
    assert (entry.action, entry.target, entry.params["decision"]) == (
        "review_decision",
        {"label_job": "j"},
        "pending",
    )


def test_one_change_set_per_decision_undone_restores_exactly(
    ws: Workspace, review_job: Made
) -> None:
    items, ch = review_job(ws)
    rv.decide(ws, "d", "j", "rejected", ids=[ch[1]])
    before = _statuses(ws)
    done = rv.decide(ws, "d", "j", "accepted")  # the whole job: one change-set, per item
    cs = hist.get_change_set(ws, "d", done.change_set)
    assert done.n_changed == 7 and sorted(c.item_id for c in cs.changes) == items
    change = next(c for c in cs.changes if c.item_id == items[0])
    assert change.before == {"status": {str(ch[0]): "pending", str(ch[1]): "rejected"}}
    assert change.after == {"status": {str(ch[0]): "accepted", str(ch[1]): "accepted"}}
    hist.undo(ws, "d", done.change_set)
    assert _statuses(ws) == before


def test_undo_is_refused_naming_the_item_decided_again_since(
    ws: Workspace, review_job: Made
) -> None:
    items, ch = review_job(ws)
    first = rv.decide(ws, "d", "j", "accepted", class_changed=True)
    rv.decide(ws, "d", "j", "rejected", ids=[ch[6]])
    kept = _statuses(ws)
    with pytest.raises(UndoConflictError) as err:
        hist.undo(ws, "d", first.change_set)
    assert err.value.items == [items[3]] and str(items[3]) in str(err.value)
    assert _statuses(ws) == kept
    hist.undo(ws, "d", first.change_set, force=True)  # item 0 back, item 3 left as it is
    st = _statuses(ws)
    assert (st[ch[1]], st[ch[6]]) == ("pending", "rejected")


def test_refusals_name_the_reason_and_change_nothing(ws: Workspace, review_job: Made) -> None:
    _, ch = review_job(ws)
    before = _statuses(ws)
    with pytest.raises(ValidationError, match=r"2 id\(s\) are not label changes.*999998, 999999"):
        rv.decide(ws, "d", "j", "accepted", ids=[ch[0], 999999, 999998])
    with pytest.raises(ValidationError, match="not both"):
        rv.decide(ws, "d", "j", "accepted", ids=[ch[0]], expert_class="cat")
    with pytest.raises(ValidationError) as err:
        rv.decide(ws, "d", "j", "done", ids=[ch[0]])
    assert err.value.field == "decision"
    with pytest.raises(ValidationError, match=r"unknown filter.*colour"):
        rv.decide(ws, "d", "j", "accepted", colour="red")
    with pytest.raises(NotFoundError, match="no label job named 'nope'"):
        rv.decide(ws, "d", "nope", "accepted")
    assert _statuses(ws) == before


def test_a_job_not_submitted_is_not_decided(ws: Workspace, review_job: Made) -> None:
    _, ch = review_job(ws, status="open")
    with pytest.raises(ValidationError, match="'j' is open, not submitted"):
        rv.decide(ws, "d", "j", "accepted", ids=[ch[0]])
    assert set(_statuses(ws).values()) == {"pending"}


def test_end_to_end_from_a_submitted_manual_job(ws: Workspace) -> None:
    def box(name: str, source: LabelSource = LabelSource.GROUND_TRUTH) -> Label:
        return Label(LabelKind.BOX, name, source, geometry={"bbox": [0, 0, 10, 10]})

    pre = LabelSource.PRELABEL
    labels = [(box("cat", pre), box("dog")), (box("cat", pre), box("cat")), (box("bird"),)]
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/d/{i}.jpg", MediaInfo(1, 50, 50, "JPEG", f"h{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    uc.create_collection(ws, "d", "all", item_ids=ws.catalog.item_ids(ds.id))
    lj.create_manual_job(ws, "d", "j", "all")
    lj.submit_job(ws, "d", "j")
    s = rv.summary(ws, "d", "j")
    assert s.tabs == {"pending": 3, "accepted": 0, "rejected": 0}
    assert (s.changes["class_changed"], s.changes["unchanged"], s.changes["added"]) == (1, 1, 1)
    assert rv.decide(ws, "d", "j", "accepted", class_changed=True).n_changed == 1
    assert rv.decide(ws, "d", "j", "rejected", change="added").n_changed == 1
    saved = rs.save_result_set(ws, "d", "reviewed", "j")
    assert (saved.n_labels, saved.n_pending) == (1, 1)
    rows = run_sql(ws, "SELECT path, class, change, decision FROM rs_reviewed").rows
    assert [tuple(r) for r in rows] == [("/d/0.jpg", "dog", "class_changed", "accepted")]
