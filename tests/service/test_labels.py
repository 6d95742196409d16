"""Label edits (add, update, delete, set), each one change-set undone exactly, on SQLite and (in
CI) PostgreSQL."""

from __future__ import annotations

import dataclasses
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
from tagscope.domain.access import Identity
from tagscope.domain.changes import UndoConflictError
from tagscope.service import Workspace, ontology
from tagscope.service import history as hist
from tagscope.service import labels as ul
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.schema import LabelRow

CAT = Label(LabelKind.CLASSIFICATION, "cat", is_main=True)
DOG = Label(LabelKind.CLASSIFICATION, "dog")
BOX = Label(LabelKind.BOX, "dog", geometry={"bbox": [1, 2, 3, 4]})
PREDICTED = Label(LabelKind.BOX, "dog", LabelSource.PREDICTION, score=0.5, geometry=BOX.geometry)
# The square's right edge leaves at (10, 5) for a thin triangle and comes back to the same
# point: make_valid repairs it into the square and the triangle, within 1% of its area.
SPIKED = [0, 0, 10, 0, 10, 5, 12, 4.9, 12, 5.1, 10, 5, 10, 10, 0, 10]
BOWTIE = [0, 0, 10, 10, 10, 0, 0, 10]  # loops cancel: refused


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws").acting_as(Identity.owner("alice"))


def _dataset(ws: Workspace, name: str = "d") -> list[int]:
    """Items 40 x 30 pixels: 0 with cat (main) + dog + a predicted box, 1 unlabelled."""
    ds = ws.catalog.create_dataset(name)
    media = [MediaInfo(1, 40, 30, "JPEG", f"{name}{i}") for i in range(2)]
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/0.jpg", media[0], labels=(CAT, DOG, PREDICTED)),
            NewItem(f"/{name}/1.jpg", media[1]),
        ],
    )
    return ws.catalog.item_ids(ds.id)


def _rows(ws: Workspace) -> list[tuple]:
    """Every label row of the catalog, every column: what undo must put back bit for bit."""
    with ws.catalog.session() as s:
        rows = s.query(LabelRow).order_by(LabelRow.id).all()
        cols = [c.name for c in LabelRow.__table__.columns]
        return [tuple(getattr(r, c) for c in cols) for r in rows]


def _ids(ws: Workspace, item_id: int, name: str, kind: LabelKind) -> int:
    return next(
        lab.id or 0
        for lab in ws.catalog.item_labels(item_id)
        if lab.name == name and lab.kind == kind and lab.source == LabelSource.GROUND_TRUTH
    )


def test_adding_a_label_is_one_change_set_with_its_provenance_and_undo_removes_it(
    ws: Workspace,
) -> None:
    ids = _dataset(ws)
    rows = _rows(ws)
    edit = ul.add_label(ws, "d", ids[1], BOX)
    [box] = edit.labels
    assert (box.kind, box.name, box.geometry, box.area, box.author) == (
        LabelKind.BOX,
        "dog",
        {"bbox": [1, 2, 3, 4]},
        12.0,
        "alice",
    )
    assert box.created_at is not None and box.id is not None
    assert box.class_id == OntologyCatalog(ws.catalog).class_ids(1, ["dog"], create=False)["dog"]
    [latest, *_] = hist.history(ws, "d")
    assert (latest.id, latest.action, latest.actor, latest.n_changes) == (
        edit.change_set,
        "add_label",
        "alice",
        1,
    )
    [change] = hist.get_change_set(ws, "d", latest.id).changes
    assert (change.item_id, change.entity, change.before) == (ids[1], "annotations", None)
    hist.undo(ws, "d", latest.id)
    assert _rows(ws) == rows


def test_update_and_delete_are_change_sets_undone_exactly(ws: Workspace) -> None:
    ids = _dataset(ws)
    ul.add_label(ws, "d", ids[0], Label(LabelKind.POLYGON, "cat", geometry={"polygons": [SPIKED]}))
    rows = _rows(ws)
    polygon = _ids(ws, ids[0], "cat", LabelKind.POLYGON)
    edit = ul.update_label(
        ws, "d", polygon, name="lion", geometry={"polygons": [[0, 0, 4, 0, 4, 5]]}
    )
    lion = next(lab for lab in edit.labels if lab.id == polygon)
    assert (lion.name, lion.area, lion.geometry) == (
        "lion",
        10.0,
        {"polygons": [[0, 0, 4, 0, 4, 5]]},
    )
    assert hist.history(ws, "d")[0].action == "update_label"
    hist.undo(ws, "d", edit.change_set or 0)
    assert _rows(ws) == rows
    deleted = ul.delete_label(ws, "d", polygon)
    assert polygon not in [lab.id for lab in deleted.labels]
    assert hist.history(ws, "d")[0].action == "delete_label"
    hist.undo(ws, "d", deleted.change_set or 0)
    assert _rows(ws) == rows


def test_set_labels_replaces_the_ground_truth_keeps_the_same_ones_and_undoes_exactly(
    ws: Workspace,
) -> None:
    ids = _dataset(ws)
    rows = _rows(ws)
    cat = _ids(ws, ids[0], "cat", LabelKind.CLASSIFICATION)
    line = Label(LabelKind.POLYLINE, "road", geometry={"lines": [[0, 0, 10, 10, 20, 0]]})
    edit = ul.set_labels(ws, "d", ids[0], [CAT, line])
    ground = [lab for lab in edit.labels if lab.source == LabelSource.GROUND_TRUTH]
    assert [(lab.name, lab.kind) for lab in ground] == [
        ("cat", LabelKind.CLASSIFICATION),
        ("road", LabelKind.POLYLINE),
    ]
    assert ground[0].id == cat and ground[0].author is None  # kept as imported
    assert ground[1].area is None and ground[1].author == "alice"
    assert any(lab.source == LabelSource.PREDICTION for lab in edit.labels)  # untouched
    assert hist.history(ws, "d")[0].action == "set_labels"
    assert ul.set_labels(ws, "d", ids[0], [CAT, line]).change_set is None  # nothing changed
    hist.undo(ws, "d", edit.change_set or 0)
    assert _rows(ws) == rows


def test_undo_is_refused_naming_the_item_when_its_labels_changed_since(ws: Workspace) -> None:
    ids = _dataset(ws)
    first = ul.add_label(ws, "d", ids[1], BOX)
    ul.add_label(ws, "d", ids[1], Label(LabelKind.CLASSIFICATION, "bird"))
    with pytest.raises(UndoConflictError, match=rf"1 item\(s\) changed since \({ids[1]}\)") as e:
        hist.undo(ws, "d", first.change_set or 0)
    assert e.value.items == [ids[1]]


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        (
            Label(LabelKind.POLYGON, "cat", geometry={"polygons": [BOWTIE]}),
            r"invalid polygon: part 1 is self-intersecting at \(5, 5\) and its loops cancel out",
        ),
        (
            Label(LabelKind.POLYLINE, "road", geometry={"lines": [[0, 0, 0, 0]]}),
            "invalid polyline: line 1 has fewer than 2 distinct points",
        ),
        (
            Label(LabelKind.BOX, "dog", geometry={"bbox": [0, 0, -1, 2]}),
            "invalid box: width -1 is not positive",
        ),
        (
            Label(LabelKind.MASK, "dog", geometry={"rle": {"size": [3, 4], "counts": [2, 10]}}),
            r"invalid mask: RLE size \[3, 4\] is not the item's \[height, width\] \[30, 40\]",
        ),
        (
            Label(LabelKind.MASK, "dog", geometry={"rle": {"size": [30, 40], "counts": [5]}}),
            "invalid mask: run lengths add up to 5, not height x width = 1200",
        ),
        (Label(LabelKind.BOX, "dog", is_main=True, geometry=BOX.geometry), "only a classif"),
        (Label(LabelKind.CLASSIFICATION, " "), "the label's name is empty"),
        (dataclasses.replace(DOG, source=LabelSource.PREDICTION), "ground truth, not predict"),
    ],
)
def test_an_invalid_label_is_refused_with_its_reason_and_loses_nothing(
    ws: Workspace, label: Label, reason: str
) -> None:
    ids = _dataset(ws)
    rows = _rows(ws)
    n_history = len(hist.history(ws, "d"))
    with pytest.raises(ValidationError, match=reason):
        ul.add_label(ws, "d", ids[0], label)
    with pytest.raises(ValidationError, match=reason):
        ul.set_labels(ws, "d", ids[0], [CAT, label])
    assert _rows(ws) == rows and len(hist.history(ws, "d")) == n_history


def test_a_mask_of_the_items_size_is_stored_with_its_pixel_count(ws: Workspace) -> None:
    ids = _dataset(ws)
    mask = Label(
        LabelKind.MASK, "dog", geometry={"rle": {"size": [30, 40], "counts": [100, 50, 1050]}}
    )
    [stored] = ul.add_label(ws, "d", ids[1], mask).labels
    assert stored.area == 50.0 and stored.geometry == mask.geometry


def test_a_self_intersecting_polygon_is_stored_repaired(ws: Workspace) -> None:
    ids = _dataset(ws)
    label = Label(LabelKind.POLYGON, "cat", geometry={"polygons": [SPIKED]})
    [stored] = ul.add_label(ws, "d", ids[1], label).labels
    assert stored.geometry != label.geometry and len(stored.geometry["polygons"]) == 2
    assert stored.area == pytest.approx(100.2)


def test_setting_the_main_classification_takes_it_off_the_others(ws: Workspace) -> None:
    ids = _dataset(ws)
    dog = _ids(ws, ids[0], "dog", LabelKind.CLASSIFICATION)
    edit = ul.update_label(ws, "d", dog, is_main=True)
    mains = {lab.name: lab.is_main for lab in edit.labels if lab.kind == "classification"}
    assert mains == {"cat": False, "dog": True}
    added = ul.add_label(ws, "d", ids[0], Label(LabelKind.CLASSIFICATION, "bird", is_main=True))
    mains = {lab.name: lab.is_main for lab in added.labels if lab.kind == "classification"}
    assert mains == {"cat": False, "dog": False, "bird": True}
    with pytest.raises(ValidationError, match="2 main classifications"):
        ul.set_labels(ws, "d", ids[0], [CAT, dataclasses.replace(DOG, is_main=True)])


def test_unknown_items_labels_of_other_datasets_and_predictions_are_refused(ws: Workspace) -> None:
    ids = _dataset(ws)
    other = _dataset(ws, "e")
    with pytest.raises(NotFoundError, match="dataset 'd' has no item 999"):
        ul.add_label(ws, "d", 999, DOG)
    with pytest.raises(NotFoundError, match=f"dataset 'd' has no item {other[0]}"):
        ul.set_labels(ws, "d", other[0], [])
    cat_of_e = _ids(ws, other[0], "cat", LabelKind.CLASSIFICATION)
    with pytest.raises(NotFoundError, match=f"dataset 'd' has no label {cat_of_e}"):
        ul.delete_label(ws, "d", cat_of_e)
    with pytest.raises(NotFoundError, match="dataset 'd' has no label 12345"):
        ul.update_label(ws, "d", 12345, name="x")
    predicted = next(lab.id for lab in ws.catalog.item_labels(ids[0]) if lab.score == 0.5)
    with pytest.raises(ValidationError, match=f"label {predicted} of item {ids[0]} is a pred"):
        ul.delete_label(ws, "d", predicted or 0)
    with pytest.raises(ValidationError, match="has this label already"):
        ul.add_label(ws, "d", ids[0], DOG)


def test_a_classifications_answers_are_checked_against_the_questions(ws: Workspace) -> None:
    ids = _dataset(ws)
    ontology.add_question(ws, "d", "pose", "radio", ["sitting", "lying"], required=True)
    answered = dataclasses.replace(DOG, attributes={"answers": {"pose": "sitting"}, "by": "x"})
    [stored] = ul.add_label(ws, "d", ids[1], answered).labels
    assert stored.attributes == {"answers": {"pose": "sitting"}, "by": "x"}
    with pytest.raises(ValidationError, match=f"item {ids[1]}: question 'pose' is required"):
        ul.add_label(ws, "d", ids[1], Label(LabelKind.CLASSIFICATION, "bird"))
    wrong = dataclasses.replace(DOG, name="cow", attributes={"answers": {"pose": "flying"}})
    with pytest.raises(ValidationError, match="pose"):
        ul.add_label(ws, "d", ids[1], wrong)
    assert ul.add_label(ws, "d", ids[1], BOX).labels[-1].attributes == {}  # a box needs none
