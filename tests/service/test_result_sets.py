"""Result sets: what a saved set holds, its SQL view ``rs_<name>``, exports of it in every format
(COCO back through the importer), and the names and jobs refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tagscope.domain import AlreadyExistsError, NotFoundError, SqlError, ValidationError
from tagscope.service import Workspace
from tagscope.service import result_sets as rs
from tagscope.service import review as rv
from tagscope.service.exports import FORMATS, export_dataset
from tagscope.service.imports import import_coco
from tagscope.service.sql import run_sql

Made = Callable[..., tuple[list[int], list[int]]]


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _reviewed(ws: Workspace, review_job: Made, **kwargs: object) -> tuple[list[int], list[int]]:
    """Accept 0 (unchanged), 1 (dog->cat), 4 (deleted); reject 2 (geometry), 3 (added), 6
    (cat->dog); 5 stays pending."""
    items, ch = review_job(ws, **kwargs)
    rv.decide(ws, "d", "j", "accepted", ids=[ch[0], ch[1], ch[4]])
    rv.decide(ws, "d", "j", "rejected", ids=[ch[2], ch[3], ch[6]])
    return items, ch


def _bbox_rows(ws: Workspace, sql: str) -> list[tuple]:
    return [tuple(r) for r in run_sql(ws, sql).rows]


def test_a_result_set_keeps_the_reviewed_labels(ws: Workspace, review_job: Made) -> None:
    items, _ = _reviewed(ws, review_job)
    saved = rs.save_result_set(ws, "d", "good", "j", description="first pass")
    assert (saved.n_items, saved.n_labels, saved.n_pending, saved.job) == (3, 4, 1, "j")
    assert saved.created_by == ws.actor and saved.view == "rs_good"
    [listed] = rs.list_result_sets(ws, "d")
    assert (listed.name, listed.description, listed.n_labels, listed.n_pending) == (
        "good",
        "first pass",
        4,
        None,
    )
    rows = _bbox_rows(
        ws,
        "SELECT dataset, item_id, path, kind, class, geometry, area, change, decision "
        "FROM rs_good ORDER BY item_id, area DESC",
    )
    a, b, _, d = items
    cat = ("box", "cat")
    assert [(*r[:5], json.loads(r[5]), *r[6:]) for r in rows] == [
        ("d", a, "/d/0.jpg", *cat, {"bbox": [0, 0, 10, 10]}, 100, "unchanged", "accepted"),
        ("d", a, "/d/0.jpg", *cat, {"bbox": [20, 20, 5, 5]}, 25, "class_changed", "accepted"),
        ("d", b, "/d/1.jpg", *cat, {"bbox": [0, 0, 10, 10]}, 100, "geometry_changed", "rejected"),
        ("d", d, "/d/3.jpg", *cat, {"bbox": [5, 5, 4, 4]}, 16, "class_changed", "rejected"),
    ]
    # A snapshot: deciding afterwards changes the review, not the saved set.
    rv.decide(ws, "d", "j", "accepted")
    assert len(_bbox_rows(ws, "SELECT * FROM rs_good")) == 4


def test_deleting_a_result_set_drops_its_view(ws: Workspace, review_job: Made) -> None:
    _reviewed(ws, review_job)
    rs.save_result_set(ws, "d", "one", "j")
    rs.save_result_set(ws, "d", "two", "j")
    assert _bbox_rows(ws, "SELECT count(*) FROM rs_one") == [(4,)]
    rs.delete_result_set(ws, "d", "one")
    with pytest.raises(SqlError, match="rs_one"):
        run_sql(ws, "SELECT * FROM rs_one")
    assert _bbox_rows(ws, "SELECT count(*) FROM rs_two") == [(4,)]
    assert [r.name for r in rs.list_result_sets(ws, "d")] == ["two"]
    with pytest.raises(NotFoundError, match="no result set named 'one'"):
        rs.delete_result_set(ws, "d", "one")


@pytest.mark.parametrize("name", ["Good", "a-b", "", "rs good", "x" * 61, "drop;"])
def test_bad_names_are_refused(ws: Workspace, review_job: Made, name: str) -> None:
    _reviewed(ws, review_job)
    with pytest.raises(ValidationError) as err:
        rs.save_result_set(ws, "d", name, "j")
    assert err.value.field == "name"
    assert rs.list_result_sets(ws, "d") == []


def test_a_taken_name_or_a_job_not_submitted_is_refused(ws: Workspace, review_job: Made) -> None:
    _reviewed(ws, review_job)
    rs.save_result_set(ws, "d", "good", "j")
    with pytest.raises(AlreadyExistsError, match="'good' already"):
        rs.save_result_set(ws, "d", "good", "j")
    review_job(ws, dataset="e", status="open")
    with pytest.raises(ValidationError, match="'j' is open"):
        rs.save_result_set(ws, "e", "good", "j")
    with pytest.raises(NotFoundError, match="no label job named 'k'"):
        rs.save_result_set(ws, "e", "good", "k")


def test_every_format_exports_the_result_set_and_coco_comes_back(
    ws: Workspace, review_job: Made, coco_mini: Path, tmp_path: Path
) -> None:
    images = sorted((coco_mini / "val2017").glob("*.jpg"))[:4]
    _reviewed(ws, review_job, paths=images)
    rs.save_result_set(ws, "d", "good", "j")
    for fmt in FORMATS:
        report = export_dataset(ws, "d", fmt, tmp_path / fmt, result_set="good")
        written = report.n_labels + sum(report.skipped.values())  # CSV, JSON: classes only
        assert (report.n_items, written, report.problems) == (3, 4, []), fmt
        assert report.n_labels == (0 if fmt in ("csv", "json") else 4), fmt
    with pytest.raises(NotFoundError, match="no result set named 'nope'"):
        export_dataset(ws, "d", "coco", tmp_path / "none", result_set="nope")

    report = export_dataset(ws, "d", "coco", tmp_path / "coco", result_set="good", overwrite=True)
    back = import_coco(ws, "back", Path(report.files[0]), images=report.root, thumbnails=False)
    assert back.n_added == 3, back.problems
    got = {
        Path(item.path).name: sorted(
            (lab.name, lab.geometry["bbox"]) for lab in ws.catalog.item_labels(item.id)
        )
        for item in ws.catalog.iter_items(ws.dataset("back").id)
    }
    a, b, _, d = (images[i].name for i in range(4))
    assert got == {
        a: [("cat", [0, 0, 10, 10]), ("cat", [20, 20, 5, 5])],
        b: [("cat", [0, 0, 10, 10])],
        d: [("cat", [5, 5, 4, 4])],
    }
