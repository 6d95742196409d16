"""Label jobs: auto jobs pre-label a collection (from a tag's decisions or from predictions, one
undoable change-set), manual jobs are labelled and submitted, and the submission's matching of
expert labels to prelabels is checked on coco-mini against known perturbations. SQLite and (in
CI) PostgreSQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

import numpy as np
import pytest
import shapely

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
from tagscope.service import Workspace
from tagscope.service import collections as uc
from tagscope.service import history as hist
from tagscope.service import label_jobs as lj
from tagscope.service import tags as ut
from tagscope.service.imports import import_coco
from tagscope.service.sql import run_sql

GT, PRE, PRED = LabelSource.GROUND_TRUTH, LabelSource.PRELABEL, LabelSource.PREDICTION


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _box(name: str, x: float, y: float, w: float, h: float, source: LabelSource = GT) -> Label:
    return Label(LabelKind.BOX, name, source, geometry={"bbox": [x, y, w, h]})


def _small(ws: Workspace, n: int = 4) -> list[int]:
    """Dataset ``d`` of ``n`` items; collection ``all`` of them and an empty one ``none``."""
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 100, 100, "JPEG", f"h{i}")) for i in range(n)]
    )
    ids = ws.catalog.item_ids(ds.id)
    uc.create_collection(ws, "d", "all", item_ids=ids)
    uc.create_collection(ws, "d", "none", item_ids=[])
    return ids


def _prelabels(ws: Workspace, item_id: int) -> list[Label]:
    return [lab for lab in ws.catalog.item_labels(item_id) if lab.source == PRE]


# -- manual jobs ---------------------------------------------------------------------------------
def test_a_manual_job_hands_items_round_robin_and_submits_its_matching(ws: Workspace) -> None:
    ids = _small(ws)
    ws.catalog.add_labels(
        [
            (ids[0], _box("cat", 0, 0, 10, 10)),
            (ids[0], _box("cat", 0, 0, 10, 8, PRE)),  # geometry changed: 80 -> 100
            (ids[1], _box("dog", 50, 50, 10, 10)),
            (ids[1], _box("cat", 50, 50, 10, 10, PRE)),  # class changed
            (ids[2], _box("cat", 5, 5, 5, 5)),  # added
            (ids[3], _box("bird", 1, 1, 4, 4, PRE)),  # deleted
        ]
    )
    job = lj.create_manual_job(ws, "d", "fix", "all", assignees=["ann", "bob", "ann"])
    assert (job.kind, job.status, job.n_items, job.assignees) == (
        "manual",
        "open",
        4,
        ("ann", "bob"),
    )
    items = lj.job_items(ws, "d", "fix", assignee="bob")
    assert [(i.item_id, i.assignee) for i in items] == [(ids[1], "bob"), (ids[3], "bob")]
    assert [p["name"] for p in items[0].prelabels] == ["cat"]
    assert [e["name"] for e in items[0].expert] == ["dog"]
    assert lj.mark_done(ws, "d", "fix", [ids[0], ids[1]]) == 2
    assert lj.mark_done(ws, "d", "fix", [ids[0]]) == 0  # done already
    assert lj.get_job(ws, "d", "fix").n_done == 2

    done = lj.submit_job(ws, "d", "fix")
    assert done.status == "submitted" and done.submitted_at is not None
    assert done.params["iou"] == 0.5
    assert done.changes == {
        "geometry_changed": 1,
        "class_changed": 1,
        "added": 1,
        "deleted": 1,
    }
    rows = {r.item_id: r for r in lj.label_changes(ws, "d", "fix")}
    grown = rows[ids[0]]
    assert (grown.iou, grown.expert_area, grown.prelabel_area, grown.adjustment) == (
        0.8,
        100.0,
        80.0,
        1.25,
    )
    assert grown.status == "pending" and grown.expert and grown.prelabel
    assert grown.expert["geometry"] == {"bbox": [0, 0, 10, 10]}
    assert grown.prelabel["geometry"] == {"bbox": [0, 0, 10, 8]}
    labels = {lab.id: lab for lab in ws.catalog.item_labels(ids[0])}
    assert labels[grown.expert_label_id].source == GT
    assert labels[grown.prelabel_label_id].source == PRE
    swapped = rows[ids[1]]
    assert (swapped.expert_class, swapped.prelabel_class, swapped.iou) == ("dog", "cat", 1.0)
    assert (rows[ids[2]].change, rows[ids[2]].prelabel) == ("added", None)
    assert (rows[ids[3]].change, rows[ids[3]].expert, rows[ids[3]].prelabel_class) == (
        "deleted",
        None,
        "bird",
    )
    with pytest.raises(ValidationError, match="'fix' is submitted already"):
        lj.submit_job(ws, "d", "fix")
    with pytest.raises(ValidationError, match="submitted already"):
        lj.mark_done(ws, "d", "fix", [ids[2]])
    assert len(lj.label_changes(ws, "d", "fix")) == 4  # nothing written twice


def test_the_iou_threshold_of_a_submission(ws: Workspace) -> None:
    ids = _small(ws, 1)
    ws.catalog.add_labels(
        [(ids[0], _box("a", 0, 0, 10, 10)), (ids[0], _box("a", 6, 0, 10, 10, PRE))]
    )
    for bad in (0, 1.01, -1, float("nan")):
        lj.create_manual_job(ws, "d", f"j{bad}", "all")
        with pytest.raises(ValidationError, match=r"iou must be within \(0, 1\]") as err:
            lj.submit_job(ws, "d", f"j{bad}", iou=bad)
        assert err.value.field == "iou"
    lj.create_manual_job(ws, "d", "strict", "all")
    lj.create_manual_job(ws, "d", "loose", "all")
    assert lj.submit_job(ws, "d", "strict").changes == {"added": 1, "deleted": 1}
    assert lj.submit_job(ws, "d", "loose", iou=0.25).changes == {"geometry_changed": 1}


def test_jobs_are_listed_shown_and_deleted_and_bad_input_is_refused(ws: Workspace) -> None:
    ids = _small(ws)
    lj.create_manual_job(ws, "d", "first", "all")
    lj.create_manual_job(ws, "d", "second", "all", assignees="ann")
    assert [j.name for j in lj.list_jobs(ws, "d")] == ["second", "first"]
    assert lj.get_job(ws, "d", "second").assignees == ("ann",)
    with pytest.raises(AlreadyExistsError, match="label job named 'first' already"):
        lj.create_manual_job(ws, "d", "first", "all")
    with pytest.raises(NotFoundError, match="no collection titled 'nope'"):
        lj.create_manual_job(ws, "d", "x", "nope")
    with pytest.raises(ValidationError, match="collection 'none' has no items"):
        lj.create_manual_job(ws, "d", "x", "none")
    with pytest.raises(ValidationError, match="a label job name") as err:
        lj.create_manual_job(ws, "d", "  ", "all")
    assert err.value.field == "name"
    with pytest.raises(ValidationError, match="an assignee") as err:
        lj.create_manual_job(ws, "d", "x", "all", assignees=["ann", ""])
    assert err.value.field == "assignees"
    with pytest.raises(ValidationError, match=r"1 item id\(s\) are not items of label job"):
        lj.mark_done(ws, "d", "first", [ids[0], 999_999])
    with pytest.raises(NotFoundError, match="no label job named 'nope'"):
        lj.submit_job(ws, "d", "nope")
    lj.delete_job(ws, "d", "first")
    assert [j.name for j in lj.list_jobs(ws, "d")] == ["second"]
    with pytest.raises(NotFoundError, match="no label job named 'first'"):
        lj.get_job(ws, "d", "first")
    assert [j.name for j in lj.list_jobs(ws, "d")] == ["second"]


# -- auto jobs -----------------------------------------------------------------------------------
def test_an_auto_job_copies_predictions_as_prelabels_and_undo_removes_them(ws: Workspace) -> None:
    ids = _small(ws, 3)
    predicted = Label(
        LabelKind.BOX, "cat", PRED, score=0.75, geometry={"bbox": [1, 2, 3, 4]}, model="det-1"
    )
    other = Label(LabelKind.CLASSIFICATION, "dog", PRED, score=0.5, model="det-2")
    ws.catalog.add_labels([(ids[0], predicted), (ids[1], other), (ids[2], _box("cat", 0, 0, 1, 1))])
    before = [ws.catalog.item_labels(i) for i in ids]
    job = lj.create_auto_job(ws, "d", "pre", "all", source_labels="prediction", model="det-1")
    assert (job.kind, job.status, job.n_items) == ("auto", "done", 3)
    assert job.params["n_prelabels"] == 1 and job.params["model"] == "det-1"
    (copied,) = _prelabels(ws, ids[0])
    assert (copied.kind, copied.name, copied.score, copied.model, copied.geometry) == (
        "box",
        "cat",
        0.75,
        "det-1",
        {"bbox": [1, 2, 3, 4]},
    )
    assert copied.area == 12.0 and copied.author == ws.actor and copied.class_id is not None
    assert _prelabels(ws, ids[1]) == [] == _prelabels(ws, ids[2])
    change = hist.get_change_set(ws, "d", job.params["change_set"])
    assert change.action == "auto_label_job"
    assert change.target == {"label_job": "pre", "collection": "all"}
    assert {(c.item_id, c.entity) for c in change.changes} == {(ids[0], "prelabels")}
    with pytest.raises(ValidationError, match="auto job"):
        lj.submit_job(ws, "d", "pre")

    hist.undo(ws, "d", job.params["change_set"])
    assert [ws.catalog.item_labels(i) for i in ids] == before


def test_auto_job_input_is_checked(ws: Workspace) -> None:
    _small(ws)
    with pytest.raises(ValidationError, match="either a tag") as err:
        lj.create_auto_job(ws, "d", "x", "all")
    assert err.value.field == "tag"
    with pytest.raises(ValidationError, match="either a tag"):
        lj.create_auto_job(ws, "d", "x", "all", tag="dog", group="g", source_labels="prediction")
    with pytest.raises(ValidationError, match="a tag needs its group"):
        lj.create_auto_job(ws, "d", "x", "all", tag="dog")
    with pytest.raises(ValidationError, match="source_labels must be 'prediction'"):
        lj.create_auto_job(ws, "d", "x", "all", source_labels="model")
    with pytest.raises(NotFoundError):
        lj.create_auto_job(ws, "d", "x", "all", tag="dog", group="no-such-group")
    with pytest.raises(ValidationError, match="has no items"):
        lj.create_auto_job(ws, "d", "x", "none", source_labels="prediction")
    assert lj.list_jobs(ws, "d") == []


def test_an_auto_job_refused_writes_no_prelabel(ws: Workspace) -> None:
    ids = _small(ws, 2)
    ws.catalog.add_labels([(i, Label(LabelKind.CLASSIFICATION, "cat", PRED)) for i in ids])
    lj.create_manual_job(ws, "d", "taken", "all")
    n_changes = len(hist.history(ws, "d"))
    with pytest.raises(AlreadyExistsError, match="'taken' already"):
        lj.create_auto_job(ws, "d", "taken", "all", source_labels="prediction")
    assert all(_prelabels(ws, i) == [] for i in ids)
    assert len(hist.history(ws, "d")) == n_changes


def test_an_auto_job_from_a_tags_decisions_and_its_undo(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    ut.create_group(ws, "coco", "pets", "dog")
    ut.publish_group(ws, "coco", "pets")
    ids = ws.catalog.item_ids(ws.dataset("coco").id)
    uc.create_collection(ws, "coco", "all", item_ids=ids)
    before = {i: ws.catalog.item_labels(i) for i in ids}
    sql = "SELECT item_id, score FROM dt_pets_visual WHERE tag = 'dog' AND decision ORDER BY 1"
    decided = {int(i): s for i, s in run_sql(ws, sql).rows}
    assert 0 < len(decided) < len(ids)
    with pytest.raises(NotFoundError, match="unicorn"):
        lj.create_auto_job(ws, "coco", "x", "all", tag="unicorn", group="pets")
    with pytest.raises(ValidationError, match=r"threshold must be within 0\.\.1"):
        lj.create_auto_job(ws, "coco", "x", "all", tag="dog", group="pets", threshold=2)

    job = lj.create_auto_job(ws, "coco", "dogs", "all", tag="dog", group="pets")
    assert job.params["threshold"] == 0.5 and job.params["n_prelabels"] == len(decided)
    got = {}
    for i in ids:
        for lab in _prelabels(ws, i):
            got[i] = lab
            assert (lab.kind, lab.name, lab.model, lab.is_main) == (
                "classification",
                "dog",
                "tag:pets/dog",
                False,
            )
    assert sorted(got) == sorted(decided)
    assert all(got[i].score == pytest.approx(decided[i], abs=1e-6) for i in got)
    # A lower threshold pre-labels more items; the ones there already are kept, not doubled.
    more = lj.create_auto_job(ws, "coco", "dogs-0", "all", tag="dog", group="pets", threshold=0.0)
    assert more.params["n_prelabels"] == len(ids)
    assert all(len(_prelabels(ws, i)) == 1 for i in ids)
    change = hist.get_change_set(ws, "coco", more.params["change_set"])
    assert len(change.changes) == len(ids) - len(decided)

    hist.undo(ws, "coco", more.params["change_set"])
    assert sorted(i for i in ids if _prelabels(ws, i)) == sorted(decided)
    hist.undo(ws, "coco", job.params["change_set"])
    assert {i: ws.catalog.item_labels(i) for i in ids} == before


# -- coco-mini: the real instances are the expert labels, prelabels known perturbations ----------
BOX_SCALE = 1.25  # area factor 1.5625, IoU 0.64
SHIFT = 0.1  # of the box's width: IoU 0.9 / 1.1
POLY_SCALE = 1.1  # area factor 1.21
OPS = {
    LabelKind.BOX: ("keep", "swap", "shift", "scale", "drop"),
    LabelKind.POLYGON: ("keep", "swap", "scale"),
    LabelKind.MASK: ("keep", "swap", "drop"),
}
CHANGE_OF = {
    "keep": "unchanged",
    "swap": "class_changed",
    "shift": "geometry_changed",
    "scale": "geometry_changed",
    "drop": "added",
}


@dataclass
class Perturbation:
    prelabels: list[tuple[int, Label]] = field(default_factory=list)
    changes: Counter = field(default_factory=Counter)  # (kind, change)
    swaps: Counter = field(default_factory=Counter)  # (prelabel class, expert class)
    # expert label id -> (adjustment, IoU) of its geometry_changed prelabel
    factors: dict[int, tuple[float, float]] = field(default_factory=dict)
    dropped: set[int] = field(default_factory=set)  # expert label ids
    extras: list[tuple[int, list[float]]] = field(default_factory=list)  # (item, bbox)


def _grown(b: list[float], k: float) -> list[float]:
    x, y, w, h = b
    return [x - (k - 1) * w / 2, y - (k - 1) * h / 2, w * k, h * k]


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _region(parts: list[list[float]]) -> shapely.Geometry:
    rings = [shapely.make_valid(shapely.Polygon(np.reshape(p, (-1, 2)))) for p in parts]
    return reduce(shapely.symmetric_difference, rings, shapely.Polygon())


def _scaled(parts: list[list[float]], b: list[float], k: float) -> list[list[float]]:
    cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
    return [
        [(cx + k * (v - cx)) if j % 2 == 0 else (cy + k * (v - cy)) for j, v in enumerate(p)]
        for p in parts
    ]


def _perturb(ws: Workspace, dataset_id: int, seed: int = 7) -> Perturbation:
    """Prelabels made from every item's instances: boxes and polygons of instances far from any
    other get a random operation (kept, class swapped, shifted, scaled, dropped), the rest are
    kept; masks are kept, swapped or dropped; some items get an extra box far from every box."""
    rng = np.random.default_rng(seed)
    names = sorted(ws.catalog.label_names(dataset_id))
    out = Perturbation()
    for item in ws.catalog.iter_items(dataset_id):
        labels = ws.catalog.item_labels(item.id)
        boxes = {
            lab.attributes["coco_id"]: lab.geometry["bbox"] for lab in labels if lab.kind == "box"
        }
        far = {
            cid
            for cid, b in boxes.items()
            if not any(_overlap(_grown(b, 1.5), o) for oid, o in boxes.items() if oid != cid)
        }
        for lab in labels:
            cid = lab.attributes["coco_id"]
            kind = LabelKind(lab.kind)
            op = str(rng.choice(OPS[kind])) if cid in far or kind == LabelKind.MASK else "keep"
            name, geometry, factor = lab.name, lab.geometry, None
            b = boxes[cid]
            if op == "swap":
                name = str(rng.choice([n for n in names if n != lab.name]))
                out.swaps[name, lab.name] += 1
            elif op == "shift":
                dx = SHIFT * b[2]
                geometry = {"bbox": [b[0] + dx, b[1], b[2], b[3]]}
                factor = (1.0, (b[2] - dx) / (b[2] + dx))
            elif op == "scale" and kind == LabelKind.BOX:
                geometry = {"bbox": _grown(b, BOX_SCALE)}
                factor = (1 / BOX_SCALE**2, 1 / BOX_SCALE**2)
            elif op == "scale":
                parts = _scaled(lab.geometry["polygons"], b, POLY_SCALE)
                e, p = _region(lab.geometry["polygons"]), _region(parts)
                iou = e.intersection(p).area / e.union(p).area
                if iou < 0.6:  # a shape its own scaling barely overlaps: keep it
                    op = "keep"
                else:
                    geometry = {"polygons": parts}
                    factor = (1 / POLY_SCALE**2, iou)
            out.changes[str(kind), CHANGE_OF[op]] += 1
            if op == "drop":
                out.dropped.add(lab.id)
                continue
            if factor is not None:
                out.factors[lab.id] = factor
            out.prelabels.append((item.id, Label(kind, name, PRE, geometry=geometry)))
        # An extra box where no box is: a prelabel without expert label.
        if rng.random() < 0.5:
            spot = next(
                (
                    [x, y, 4.0, 4.0]
                    for x in range(0, (item.media.width if item.media else 0) - 4, 8)
                    for y in range(0, (item.media.height if item.media else 0) - 4, 8)
                    if not any(_overlap(_grown(o, 1.5), [x, y, 4, 4]) for o in boxes.values())
                ),
                None,
            )
            if spot is not None:
                out.extras.append((item.id, spot))
                out.prelabels.append((item.id, _box(str(rng.choice(names)), *spot, PRE)))
                out.changes["box", "deleted"] += 1
    return out


def test_coco_mini_submission_gives_the_perturbations_counts_and_factors_exactly(
    ws: Workspace, coco_mini: Path
) -> None:
    ann = coco_mini / "annotations" / "instances_val2017.json"
    import_coco(ws, "coco", ann, images=coco_mini / "val2017", thumbnails=False)
    ds = ws.dataset("coco")
    ids = ws.catalog.item_ids(ds.id)
    uc.create_collection(ws, "coco", "val", item_ids=ids)
    truth = _perturb(ws, ds.id)
    # Every kind of change is there, for every geometry kind where it can be.
    for key in [
        ("box", "unchanged"),
        ("box", "class_changed"),
        ("box", "geometry_changed"),
        ("box", "added"),
        ("box", "deleted"),
        ("polygon", "class_changed"),
        ("polygon", "geometry_changed"),
        ("mask", "unchanged"),
        ("mask", "class_changed"),
    ]:
        assert truth.changes[key] > 0, key
    assert ws.catalog.add_labels(truth.prelabels) == len(truth.prelabels)

    lj.create_manual_job(ws, "coco", "experts", "val", assignees=["ann", "bob"])
    job = lj.submit_job(ws, "coco", "experts")
    rows = lj.label_changes(ws, "coco", "experts")

    assert Counter((r.label_kind, str(r.change)) for r in rows) == truth.changes
    by_change: Counter = Counter()
    for (_, change), n in truth.changes.items():
        by_change[change] += n
    assert job.changes == dict(by_change)
    swapped = [r for r in rows if r.change == "class_changed"]
    assert Counter((r.prelabel_class, r.expert_class) for r in swapped) == truth.swaps
    # The class-changed counts per expert class.
    assert Counter(r.expert_class for r in swapped) == Counter(e for _, e in truth.swaps.elements())
    assert all(r.iou == pytest.approx(1.0) for r in swapped)
    for r in rows:
        if r.change == "geometry_changed":
            adjustment, iou = truth.factors[r.expert_label_id]
            assert r.adjustment == pytest.approx(adjustment, rel=1e-12), r
            assert r.iou == pytest.approx(iou, rel=1e-9), r
            assert r.adjustment == r.expert_area / r.prelabel_area
        elif r.change == "unchanged":
            assert r.adjustment == 1.0 and r.iou == pytest.approx(1.0)
    assert {r.expert_label_id for r in rows if r.change == "geometry_changed"} == set(truth.factors)
    assert {r.expert_label_id for r in rows if r.change == "added"} == truth.dropped
    deleted = sorted(
        (r.item_id, r.prelabel["geometry"]["bbox"]) for r in rows if r.change == "deleted"
    )
    assert deleted == sorted(truth.extras)
    assert all(r.status == "pending" for r in rows)
