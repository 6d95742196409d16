"""Metadata import (F-40): CSV or JSON fields keyed by file name become columns of ``items``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagscope.domain import MediaInfo, Modality, NewItem, NotFoundError, ValidationError
from tagscope.service import Workspace
from tagscope.service.metadata_import import import_metadata
from tagscope.service.sql import run_sql

PATHS = {
    "/media/s1/ep1.mp4": Modality.VIDEO,
    "/media/s2/ep1.mp4": Modality.VIDEO,
    "/media/s1/ep2.mp4": Modality.VIDEO,
    "/media/poster.jpg": Modality.IMAGE,
    "/ws/keyframes/ab/ep2.mp4": Modality.KEYFRAME,  # not a file of the dataset's own
}


@pytest.fixture()
def ws(workspace: Workspace) -> Workspace:
    ds = workspace.catalog.create_dataset("shows")
    items = [
        NewItem(p, MediaInfo(10, 64, 48, "mp4", f"h{i}"), modality=m, metadata={"fps": 25})
        for i, (p, m) in enumerate(PATHS.items())
    ]
    workspace.catalog.add_items(ds.id, items)
    return workspace


def _meta(ws: Workspace) -> dict[str, dict]:
    return {i.path: i.metadata for i in ws.catalog.iter_items(ws.dataset("shows").id)}


def test_csv_fields_become_typed_columns_of_items(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "meta.csv"
    source.write_text(
        "File_Name,series_name,Episode Name,season,rating,final,path\n"
        "s1/ep1.mp4,Echo,Pilot,1,4.5,false,x\n"
        "ep2.mp4,Echo,Second,1,,true,x\n"
        "ep1.mp4,Echo,Which?,2,3,false,x\n"
        "nothing.mp4,None,,3,,,x\n"
        "poster.jpg,Echo,,,,,\n"
    )
    report = import_metadata(ws, "shows", source)
    assert report.n_updated == 3 and report.n_unchanged == 0
    assert report.fields == ["Episode_Name", "final", "rating", "season", "series_name"]
    reasons = {p.source.rsplit(": ", 1)[-1]: p.reason for p in report.problems}
    assert reasons == {
        str(source): "field 'path' is a column of items already: left out",
        "ep1.mp4": "names 2 items (give more of its path)",
        "nothing.mp4": "names no item of the dataset",
    }
    meta = _meta(ws)
    assert meta["/media/s1/ep1.mp4"] == {
        "fps": 25,
        "series_name": "Echo",
        "Episode_Name": "Pilot",
        "season": 1,
        "rating": 4.5,
        "final": False,
    }
    assert "rating" not in meta["/media/s1/ep2.mp4"]  # an empty cell sets nothing
    assert meta["/ws/keyframes/ab/ep2.mp4"] == {"fps": 25}  # keyframes are not named
    assert meta["/media/s2/ep1.mp4"] == {"fps": 25}

    result = run_sql(
        ws,
        "SELECT path, series_name, episode_name, season, rating, final FROM items "
        "WHERE series_name IS NOT NULL ORDER BY path",
    )
    assert result.types[3:] == ["BIGINT", "DOUBLE", "BOOLEAN"]
    assert result.rows == [
        ["/media/poster.jpg", "Echo", None, None, None, None],
        ["/media/s1/ep1.mp4", "Echo", "Pilot", 1, 4.5, False],
        ["/media/s1/ep2.mp4", "Echo", "Second", 1, None, True],
    ]

    again = import_metadata(ws, "shows", source)
    assert (again.n_updated, again.n_unchanged) == (0, 3)


@pytest.mark.parametrize(
    "data",
    [
        {"s1/ep1.mp4": {"series_name": "Echo", "tags": ["a", "b"]}},
        [{"file": "s1/ep1.mp4", "series_name": "Echo", "tags": ["a", "b"]}],
    ],
)
def test_json_fields_by_file_name(ws: Workspace, tmp_path: Path, data: object) -> None:
    source = tmp_path / "meta.json"
    source.write_text(json.dumps(data))
    report = import_metadata(ws, "shows", source)
    assert report.n_updated == 1 and report.problems == []
    assert _meta(ws)["/media/s1/ep1.mp4"]["tags"] == ["a", "b"]
    rows = run_sql(ws, "SELECT series_name FROM items WHERE path = '/media/s1/ep1.mp4'").rows
    assert rows == [["Echo"]]


def test_latin1_csv(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "meta.csv"
    source.write_bytes("file,title\nep2.mp4,Café\n".encode("latin-1"))
    import_metadata(ws, "shows", source)
    assert _meta(ws)["/media/s1/ep2.mp4"]["title"] == "Café"


def test_bad_sources_change_nothing(ws: Workspace, tmp_path: Path) -> None:
    before = _meta(ws)
    (tmp_path / "m.txt").write_text("file,a\nep2.mp4,1\n")
    (tmp_path / "m.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "one.csv").write_text("file\nep2.mp4\n")
    for name in ("m.txt", "m.json", "list.json", "one.csv", "missing.csv"):
        with pytest.raises(ValidationError):
            import_metadata(ws, "shows", tmp_path / name)
    with pytest.raises(NotFoundError):
        import_metadata(ws, "nope", tmp_path / "one.csv")
    assert _meta(ws) == before
