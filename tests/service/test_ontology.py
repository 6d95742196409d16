"""Ontologies: classes renamed everywhere in one change-set and undone, answers checked against
the questions, imports creating their classes; on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tagscope.domain import (
    AlreadyExistsError,
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
from tagscope.service import history as hist
from tagscope.service import ontology as uc
from tagscope.service.datasets import create_dataset, delete_dataset
from tagscope.service.imports import import_coco, import_csv
from tagscope.service.sql import run_sql
from tagscope.store.catalog import label_key
from tagscope.store.label_schema import OntologyClassRow, OntologyQuestionRow
from tagscope.store.schema import LabelRow

CAT = Label(LabelKind.CLASSIFICATION, "cat", is_main=True, score=0.5, attributes={"by": "x"})
CAT_BOX = Label(LabelKind.BOX, "cat", geometry={"bbox": [1, 2, 3, 4]})
CAT_GUESS = Label(LabelKind.CLASSIFICATION, "cat", LabelSource.PREDICTION, score=0.25)
DOG = Label(LabelKind.CLASSIFICATION, "dog")


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _dataset(ws: Workspace, name: str = "d") -> list[int]:
    """Items: 0 a cat (classification, box, prediction), 1 a dog, 2 a cat; their ids."""
    labels = [(CAT, CAT_BOX, CAT_GUESS), (DOG,), (CAT,)]
    ds = create_dataset(ws, name)
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}"), labels=lab)
            for i, lab in enumerate(labels)
        ],
    )
    return ws.catalog.item_ids(ds.id)


def _rows(ws: Workspace) -> list[tuple]:
    """Every label row, every column: what an undo must put back bit for bit."""
    with ws.catalog.session() as s:
        rows = s.query(LabelRow).order_by(LabelRow.id).all()
        cols = [c.name for c in LabelRow.__table__.columns]
        return [tuple(getattr(r, c) for c in cols) for r in rows]


def _sql(ws: Workspace, query: str) -> list[tuple]:
    return [tuple(r) for r in run_sql(ws, query).rows]


_SQL_NAMES = "SELECT name, count(*) FROM labels GROUP BY name ORDER BY name"


def test_labels_added_to_a_dataset_create_their_classes(ws: Workspace) -> None:
    ids = _dataset(ws)
    classes = {c.name: c for c in uc.ontology(ws, "d").classes}
    assert sorted(classes) == ["cat", "dog"]
    assert (classes["cat"].n_labels, classes["dog"].n_labels) == (4, 1)
    assert classes["cat"].color != classes["dog"].color
    by_item = {i: ws.catalog.item_labels(i) for i in ids}
    assert {lab.class_id for lab in by_item[ids[0]]} == {classes["cat"].id}
    assert by_item[ids[1]][0].class_id == classes["dog"].id
    # Another dataset's "cat" is its own class.
    _dataset(ws, "e")
    assert uc.ontology(ws, "e").class_named("cat").id != classes["cat"].id  # type: ignore[union-attr]


def test_a_coco_and_a_csv_import_create_their_classes(ws: Workspace, coco_mini: Path) -> None:
    ann = coco_mini / "annotations"
    import_coco(ws, "coco", ann / "instances_val2017.json", images=coco_mini / "val2017",
                thumbnails=False)  # fmt: skip
    doc = json.loads((ann / "instances_val2017.json").read_text())
    used = {a["category_id"] for a in doc["annotations"]}
    names = {c["name"] for c in doc["categories"] if c["id"] in used}
    classes = uc.ontology(ws, "coco").classes
    assert {c.name for c in classes} == names
    assert len({c.color for c in classes}) == len(classes)  # distinct colours
    with ws.catalog.session() as s:
        unclassed = s.execute(select(func.count()).where(LabelRow.class_id.is_(None))).scalar()
        n_labels = s.execute(select(func.count()).select_from(LabelRow)).scalar()
    assert unclassed == 0 and n_labels >= len(doc["annotations"])  # a box and a polygon each
    assert sum(c.n_labels or 0 for c in classes) == n_labels

    images = sorted((coco_mini / "val2017").iterdir())[:3]
    listing = ws.paths.root / "list.csv"
    listing.write_text("".join(f"{p.name},{lab}\n" for p, lab in zip(images, "xyx", strict=True)))
    import_csv(ws, "csv", listing, base=coco_mini / "val2017", thumbnails=False)
    found = {c.name: c.n_labels for c in uc.ontology(ws, "csv").classes}
    assert found == {"x": 2, "y": 1}


def test_a_rename_renames_every_label_and_sql_sees_it_and_undo_puts_back_every_bit(
    ws: Workspace,
) -> None:
    ids = _dataset(ws)
    rows = _rows(ws)
    assert _sql(ws, _SQL_NAMES) == [("cat", 4), ("dog", 1)]  # the SQL copy, warm
    edit = uc.update_class(ws, "d", "cat", new_name="feline")
    assert (edit.ontology_class.name, edit.ontology_class.n_labels) == ("feline", 4)
    labels = ws.catalog.item_labels(ids[0]) + ws.catalog.item_labels(ids[2])
    assert {lab.name for lab in labels} == {"feline"}
    with ws.catalog.session() as s:  # keys follow the name: re-importing adds nothing
        keys = dict(s.execute(select(LabelRow.id, LabelRow.key)).all())
    assert all(keys[lab.id] == label_key(lab) for lab in labels)  # type: ignore[index]
    assert _sql(ws, _SQL_NAMES) == [("dog", 1), ("feline", 4)]
    assert _sql(ws, "SELECT dataset, name FROM classes ORDER BY name") == [
        ("d", "dog"),
        ("d", "feline"),
    ]
    change = hist.get_change_set(ws, "d", edit.change_set or 0)
    assert change.action == "rename_class" and len(change.changes) == 1
    assert (change.changes[0].before["name"], change.changes[0].after["name"]) == (  # type: ignore[index]
        "cat",
        "feline",
    )

    undone = hist.undo(ws, "d", edit.change_set or 0)
    assert undone.n_restored == 1
    assert _rows(ws) == rows  # names, keys, class ids: all as before
    assert _sql(ws, _SQL_NAMES) == [("cat", 4), ("dog", 1)]
    assert [c.name for c in uc.ontology(ws, "d").classes] == ["cat", "dog"]


def test_an_undo_is_refused_naming_the_class_renamed_again_since(ws: Workspace) -> None:
    _dataset(ws)
    first = uc.update_class(ws, "d", "cat", new_name="feline").change_set or 0
    uc.update_class(ws, "d", "feline", new_name="kitty")
    with pytest.raises(UndoConflictError, match="record itself changed since \\(class 'kitty'\\)"):
        hist.undo(ws, "d", first)
    assert [c.name for c in uc.ontology(ws, "d").classes] == ["dog", "kitty"]


def test_a_rename_to_a_name_taken_is_refused_naming_both(ws: Workspace) -> None:
    _dataset(ws)
    rows = _rows(ws)
    with pytest.raises(AlreadyExistsError, match=r"rename class 'cat' to 'dog'.*'dog' already"):
        uc.update_class(ws, "d", "cat", new_name="dog")
    with pytest.raises(NotFoundError, match="no class named 'owl' \\(classes: cat, dog\\)"):
        uc.update_class(ws, "d", "owl", new_name="emu")
    assert _rows(ws) == rows and hist.history(ws, "d") == []
    assert uc.update_class(ws, "d", "cat", new_name="cat").change_set is None  # nothing changed


def test_classes_are_added_changed_and_deleted_each_undoable(ws: Workspace) -> None:
    create_dataset(ws, "d")
    owl = uc.add_class(ws, "d", " owl ", hotkey="1")
    assert (owl.name, owl.hotkey, owl.n_labels) == ("owl", "1", 0)
    with pytest.raises(ValidationError, match="hotkey '1' is class 'owl''s already"):
        uc.add_class(ws, "d", "emu", hotkey="1")
    with pytest.raises(ValidationError, match="#rrggbb"):
        uc.add_class(ws, "d", "emu", color="red")
    with pytest.raises(AlreadyExistsError, match="'owl'"):
        uc.add_class(ws, "d", "owl")
    edit = uc.update_class(ws, "d", "owl", color="#00FF00", hotkey="")
    assert (edit.ontology_class.color, edit.ontology_class.hotkey) == ("#00ff00", None)
    assert hist.history(ws, "d")[0].action == "update_class"
    gone = uc.delete_class(ws, "d", "owl") or 0
    assert uc.ontology(ws, "d").classes == ()
    hist.undo(ws, "d", gone)
    back = uc.ontology(ws, "d").classes
    assert [(c.id, c.name, c.color) for c in back] == [(owl.id, "owl", "#00ff00")]
    added = next(c for c in hist.history(ws, "d") if c.action == "add_class")
    hist.undo(ws, "d", edit.change_set or 0)
    hist.undo(ws, "d", added.id)
    assert uc.ontology(ws, "d").classes == ()


def test_a_class_labels_use_cannot_be_deleted(ws: Workspace) -> None:
    _dataset(ws)
    with pytest.raises(ValidationError, match="class 'dog' is used by 1 label"):
        uc.delete_class(ws, "d", "dog")
    assert [c.name for c in uc.ontology(ws, "d").classes] == ["cat", "dog"]


def test_answers_are_checked_against_the_questions(ws: Workspace) -> None:
    ds = create_dataset(ws, "d")
    uc.add_question(ws, "d", "pose", "radio", ["sitting", "lying"], required=True)
    uc.add_question(ws, "d", "colours", "checklist", ["black", "white", "red"])
    uc.add_question(ws, "d", "note", "text")
    got = uc.check_answers(ws, ds.id, {"pose": "lying", "colours": "white, black", "note": "hi"})
    assert got == {"pose": "lying", "colours": ["black", "white"], "note": "hi"}
    bad = {
        "unknown question 'size'; the dataset's questions are: colours, note, pose": {
            "pose": "lying",
            "size": "big",
        },
        "answer 'standing' to question 'pose' is not one of its options: sitting, lying": {
            "pose": "standing"
        },
        "answers 'blue' to question 'colours' are not among its options: black, white, red": {
            "pose": "lying",
            "colours": ["black", "blue"],
        },
        "question 'pose' is required \\(one of: sitting, lying\\)": {"colours": ["red"]},
        "question 'note' takes free text": {"pose": "lying", "note": 3},
    }
    for message, answers in bad.items():
        with pytest.raises(ValidationError, match=message) as e:
            uc.check_answers(ws, ds.id, answers)
        assert e.value.field == "answers"


def test_bad_questions_are_refused(ws: Workspace) -> None:
    create_dataset(ws, "d")
    with pytest.raises(ValidationError, match="radio, checklist, text"):
        uc.add_question(ws, "d", "q", "slider", ["a"])
    with pytest.raises(ValidationError, match="needs at least one option"):
        uc.add_question(ws, "d", "q", "radio")
    with pytest.raises(ValidationError, match="free-text question has no options"):
        uc.add_question(ws, "d", "q", "text", ["a"])
    with pytest.raises(ValidationError, match="each once"):
        uc.add_question(ws, "d", "q", "checklist", ["a", "a"])
    uc.add_question(ws, "d", "q", "checklist", ["a", "b"])
    with pytest.raises(AlreadyExistsError, match="question named 'q'"):
        uc.add_question(ws, "d", "q", "text")
    assert _sql(ws, "SELECT name, kind, options, required FROM questions") == [
        ("q", "checklist", '["a","b"]', False)
    ]
    uc.delete_question(ws, "d", "q")
    with pytest.raises(NotFoundError, match="no question named 'q'"):
        uc.delete_question(ws, "d", "q")
    assert uc.ontology(ws, "d").questions == ()
    assert _sql(ws, "SELECT count(*) FROM questions") == [(0,)]


def test_deleting_a_dataset_removes_its_ontology(ws: Workspace) -> None:
    _dataset(ws)
    uc.add_question(ws, "d", "pose", "radio", ["sitting"])
    assert _sql(ws, "SELECT count(*) FROM classes") == [(2,)]
    delete_dataset(ws, "d")
    create_dataset(ws, "d")  # the same name (and, on SQLite, the same id)
    assert uc.ontology(ws, "d").classes == () and uc.ontology(ws, "d").questions == ()
    with ws.catalog.session() as s:
        for row in (OntologyClassRow, OntologyQuestionRow):
            assert s.execute(select(func.count()).select_from(row)).scalar() == 0
    assert _sql(ws, "SELECT count(*) FROM classes") == [(0,)]
    assert _sql(ws, "SELECT count(*) FROM questions") == [(0,)]
