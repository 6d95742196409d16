"""Bulk classify (one classification on a collection or a selection) and its undo, on SQLite
and (in CI) PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

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
from tagscope.service import Workspace
from tagscope.service import collections as uc
from tagscope.service import history as hist
from tagscope.service import tags as ut
from tagscope.service.bulk import ALREADY_CLASSIFIED, ALREADY_THIS_LABEL, bulk_classify
from tagscope.service.sql import run_sql
from tagscope.store.schema import LabelRow

CAT = Label(LabelKind.CLASSIFICATION, "cat", is_main=True, score=0.8125, attributes={"by": "x"})
DOG = Label(LabelKind.CLASSIFICATION, "dog")
BIRD = Label(LabelKind.CLASSIFICATION, "bird", is_main=True)
PREDICTED = Label(LabelKind.CLASSIFICATION, "fox", LabelSource.PREDICTION, score=0.3)
BOX = Label(LabelKind.BOX, "cat", geometry={"bbox": [1, 2, 3, 4]})


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _dataset(ws: Workspace, name: str = "d") -> list[int]:
    """Items: 0 unlabelled, 1 cat + dog, 2 bird, 3 a prediction and a box only, 4 unlabelled;
    static collection ``all`` of them; their ids."""
    labels: list[tuple[Label, ...]] = [(), (CAT, DOG), (BIRD,), (PREDICTED, BOX), ()]
    ds = ws.catalog.create_dataset(name)
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    ids = ws.catalog.item_ids(ds.id)
    uc.create_collection(ws, name, "all", item_ids=ids)
    return ids


def _rows(ws: Workspace) -> list[tuple]:
    """Every label row of the catalog, every column: what undo must put back bit for bit."""
    with ws.catalog.session() as s:
        rows = s.query(LabelRow).order_by(LabelRow.id).all()
        cols = [c.name for c in LabelRow.__table__.columns]
        return [tuple(getattr(r, c) for c in cols) for r in rows]


def _classes(ws: Workspace, item_id: int) -> list[tuple[str, bool, str]]:
    labels = ws.catalog.item_labels(item_id)
    return [(lab.name, lab.is_main, lab.source) for lab in labels if lab.kind == "classification"]


def test_the_dry_run_counts_what_the_real_run_does_and_changes_nothing(ws: Workspace) -> None:
    ids = _dataset(ws)
    rows = _rows(ws)
    dry = bulk_classify(ws, "d", collection="all", label="bird", dry_run=True)
    assert (dry.n_changed, dry.n_skipped, dry.change_set, dry.dry_run) == (3, 2, None, True)
    assert dry.skipped == {ALREADY_CLASSIFIED: 1, ALREADY_THIS_LABEL: 1}
    assert _rows(ws) == rows and hist.history(ws, "d")[0].action != "bulk_classify"
    real = bulk_classify(ws, "d", collection="all", label="bird")
    assert (real.n_changed, real.n_skipped, real.skipped) == (dry.n_changed, 2, dry.skipped)
    # Items without a ground-truth classification got it as main; predictions, boxes stay.
    assert _classes(ws, ids[0]) == [("bird", True, "ground_truth")]
    assert ("fox", False, "prediction") in _classes(ws, ids[3])
    assert ("bird", True, "ground_truth") in _classes(ws, ids[3])
    assert any(lab.kind == "box" for lab in ws.catalog.item_labels(ids[3]))
    assert _classes(ws, ids[1]) == [("cat", True, "ground_truth"), ("dog", False, "ground_truth")]
    change = hist.get_change_set(ws, "d", real.change_set or 0)
    assert change.action == "bulk_classify" and change.target == {"collection": "all"}
    assert change.params["label"] == "bird" and change.params["overwrite"] is False
    assert sorted(c.item_id for c in change.changes) == [ids[0], ids[3], ids[4]]


def test_overwrite_replaces_the_classifications_and_undo_puts_back_every_bit(
    ws: Workspace,
) -> None:
    ids = _dataset(ws)
    rows = _rows(ws)
    dry = bulk_classify(ws, "d", collection="all", label="dog", overwrite=True, dry_run=True)
    real = bulk_classify(ws, "d", collection="all", label="dog", overwrite=True)
    assert (dry.n_changed, dry.n_skipped) == (real.n_changed, real.n_skipped) == (5, 0)
    assert all(_classes(ws, i)[-1:] == [("dog", True, "ground_truth")] for i in ids)
    assert _classes(ws, ids[1]) == [("dog", True, "ground_truth")]
    again = bulk_classify(ws, "d", collection="all", label="dog", overwrite=True)
    assert (again.n_changed, again.skipped, again.change_set) == (0, {ALREADY_THIS_LABEL: 5}, None)
    undone = hist.undo(ws, "d", real.change_set or 0)
    assert undone.n_restored == 5
    assert _rows(ws) == rows  # ids, keys, scores, attributes: all as before


def test_a_selection_is_classified_whatever_its_review_state(ws: Workspace) -> None:
    ids = _dataset(ws)
    ds = ws.dataset("d")
    ws.catalog.ensure_space(ds.id, "text", "text", "minilm", 384)
    ut.create_group(ws, "d", "g", "odd")
    ut.add_reviews(ws, "d", "g", "odd", {ids[0]: True, ids[4]: False})
    done = bulk_classify(ws, "d", item_ids=[ids[0], ids[4], ids[0]], label="cat")
    assert done.n_changed == 2
    assert hist.get_change_set(ws, "d", done.change_set or 0).target == {"selection": 2}
    assert _classes(ws, ids[0]) == _classes(ws, ids[4]) == [("cat", True, "ground_truth")]


def test_a_dynamic_collection_is_evaluated_now(ws: Workspace) -> None:
    ids = _dataset(ws)
    uc.create_collection(ws, "d", "some", where=f"id IN ({ids[0]}, {ids[1]})")
    done = bulk_classify(ws, "d", collection="some", label="owl")
    assert (done.n_changed, done.skipped) == (1, {ALREADY_CLASSIFIED: 1})
    assert _classes(ws, ids[0]) == [("owl", True, "ground_truth")]


def test_undo_is_refused_naming_an_item_relabelled_since(ws: Workspace) -> None:
    ids = _dataset(ws)
    first = bulk_classify(ws, "d", collection="all", label="owl").change_set or 0
    bulk_classify(ws, "d", item_ids=[ids[4]], label="emu", overwrite=True)
    with pytest.raises(UndoConflictError, match=rf"1 item\(s\) changed since \({ids[4]}\)") as e:
        hist.undo(ws, "d", first)
    assert e.value.items == [ids[4]]
    assert hist.undo(ws, "d", first, force=True).skipped == (ids[4],)
    assert _classes(ws, ids[0]) == [] and _classes(ws, ids[4]) == [("emu", True, "ground_truth")]


def test_a_failure_mid_run_keeps_none_of_it(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    _dataset(ws)
    rows, n_history = _rows(ws), len(hist.history(ws, "d"))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed while writing the change log")

    # The labels are written, then writing their change-set fails.
    monkeypatch.setattr("tagscope.store.change_log.ChangeLog.record", crash)
    with pytest.raises(RuntimeError, match="killed"):
        bulk_classify(ws, "d", collection="all", label="owl", overwrite=True)
    monkeypatch.undo()
    assert _rows(ws) == rows and len(hist.history(ws, "d")) == n_history


_KILLED_MID_RUN = """
import os, signal, sys
from tagscope.service import Workspace
from tagscope.service.bulk import bulk_classify
from tagscope.store.change_log import ChangeLog

def die(*args, **kwargs):  # the labels are written, the change-set is not: kill -9
    os.kill(os.getpid(), signal.SIGKILL)

ChangeLog.record = die
bulk_classify(Workspace.open(sys.argv[1]), "d", collection="all", label="owl", overwrite=True)
"""


def test_a_process_killed_mid_run_leaves_nothing(ws: Workspace) -> None:
    _dataset(ws)
    rows, n_history = _rows(ws), len(hist.history(ws, "d"))
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_RUN, str(ws.paths.root)], timeout=120, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert _rows(ws) == rows and len(hist.history(ws, "d")) == n_history
    assert bulk_classify(ws, "d", collection="all", label="owl").n_changed == 3  # not locked


def test_bad_targets_are_refused_naming_them(ws: Workspace) -> None:
    ids = _dataset(ws)
    other = _dataset(ws, "e")
    rows = _rows(ws)
    with pytest.raises(NotFoundError, match="'nope'"):
        bulk_classify(ws, "d", collection="nope", label="x")
    with pytest.raises(ValidationError, match=rf"2 item id\(s\).*{other[0]}, {other[1]}") as e:
        bulk_classify(ws, "d", item_ids=[ids[0], other[0], other[1]], label="x")
    assert e.value.field == "items"
    with pytest.raises(ValidationError, match="either a collection or item ids"):
        bulk_classify(ws, "d", collection="all", item_ids=ids, label="x")
    with pytest.raises(ValidationError, match="label is empty"):
        bulk_classify(ws, "d", collection="all", label="  ")
    with pytest.raises(NotFoundError):
        bulk_classify(ws, "nope", collection="all", label="x")
    assert _rows(ws) == rows


def test_the_sql_console_sees_the_labels_replaced_and_put_back(ws: Workspace) -> None:
    ids = _dataset(ws)
    sql = f"SELECT name FROM labels WHERE kind = 'classification' AND item_id = {ids[1]} ORDER BY 1"
    assert run_sql(ws, sql).rows == [["cat"], ["dog"]]  # the copy is made before the edit
    change = bulk_classify(ws, "d", collection="all", label="owl", overwrite=True).change_set
    assert run_sql(ws, sql).rows == [["owl"]]
    hist.undo(ws, "d", change or 0)
    assert run_sql(ws, sql).rows == [["cat"], ["dog"]]


def test_a_class_with_answers_is_stored_on_every_item_and_undo_puts_back_every_bit(
    ws: Workspace,
) -> None:
    from tagscope.service import ontology as uo

    ids = _dataset(ws)
    uo.add_question(ws, "d", "pose", "radio", ["sitting", "lying"], required=True)
    uo.add_question(ws, "d", "colours", "checklist", ["black", "white"])
    rows = _rows(ws)
    answers = {"pose": "sitting", "colours": "white,black"}
    dry = bulk_classify(ws, "d", collection="all", label="lynx", answers=answers, dry_run=True)
    assert uo.ontology(ws, "d").class_named("lynx") is None  # a dry run creates nothing
    done = bulk_classify(ws, "d", collection="all", label="lynx", answers=answers)
    assert done.n_changed == dry.n_changed == 3
    lynx = uo.ontology(ws, "d").class_named("lynx")
    assert lynx is not None and lynx.n_labels == 3
    labels = [lab for lab in ws.catalog.item_labels(ids[0]) if lab.kind == "classification"]
    assert [(lab.name, lab.class_id, lab.attributes) for lab in labels] == [
        ("lynx", lynx.id, {"answers": {"pose": "sitting", "colours": ["black", "white"]}})
    ]
    assert labels[0].author == ws.actor and labels[0].created_at is not None
    change = hist.get_change_set(ws, "d", done.change_set or 0)
    assert change.params["answers"] == {"pose": "sitting", "colours": ["black", "white"]}
    changed = [ids[0], ids[3], ids[4]]
    again = bulk_classify(ws, "d", item_ids=changed, label="lynx", answers=answers, overwrite=True)
    assert (again.n_changed, again.skipped) == (0, {ALREADY_THIS_LABEL: 3})  # same class, answers
    other = bulk_classify(
        ws, "d", item_ids=[ids[0]], label="lynx", answers={"pose": "lying"}, overwrite=True
    )
    assert other.n_changed == 1  # other answers: a change
    hist.undo(ws, "d", other.change_set or 0)
    hist.undo(ws, "d", done.change_set or 0)
    assert _rows(ws) == rows


def test_answers_the_questions_do_not_allow_change_nothing(ws: Workspace) -> None:
    from tagscope.service import ontology as uo

    _dataset(ws)
    uo.add_question(ws, "d", "pose", "radio", ["sitting", "lying"], required=True)
    rows, n_history = _rows(ws), len(hist.history(ws, "d"))
    for answers, message in (
        ({"pose": "flying"}, "'flying' to question 'pose' is not one of its options: sitting"),
        ({}, "question 'pose' is required"),
        ({"pose": "lying", "size": "big"}, "unknown question 'size'"),
    ):
        with pytest.raises(ValidationError, match=message):
            bulk_classify(ws, "d", collection="all", label="lynx", answers=answers)
    assert _rows(ws) == rows and len(hist.history(ws, "d")) == n_history
    assert uo.ontology(ws, "d").class_named("lynx") is None
