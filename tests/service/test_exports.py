"""Export use case: every format round-trips through Tagscope's own importers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tagscope.domain import Label, LabelKind, LabelSource, ValidationError
from tagscope.service import Workspace
from tagscope.service.exports import export_dataset
from tagscope.service.imports import import_coco, import_csv, import_images, import_json
from tagscope.store.grid import labels_of_items

TOL = 1e-6


def _labels(ws: Workspace, name: str) -> dict[str, list[Label]]:
    """Each item's path -> its labels."""
    items = list(ws.catalog.iter_items(ws.dataset(name).id))
    labels = labels_of_items(ws.catalog, [item.id for item in items])
    return {item.path: labels[item.id] for item in items}


def _exact(labels: list[Label]) -> list[tuple[str, str, bool, str]]:
    return sorted((lab.kind, lab.name, lab.is_main, json.dumps(lab.geometry)) for lab in labels)


@pytest.fixture()
def coco_ws(workspace: Workspace, coco_mini: Path) -> Workspace:
    ann = coco_mini / "annotations"
    import_coco(
        workspace,
        "coco",
        ann / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=ann / "captions_val2017.json",
        thumbnails=False,
    )
    return workspace


def test_coco_round_trip_gives_the_same_items_boxes_polygons_masks_and_captions(
    coco_ws: Workspace, tmp_path: Path
) -> None:
    report = export_dataset(coco_ws, "coco", "coco", tmp_path / "out")
    annotations, captions = report.files
    before = _labels(coco_ws, "coco")
    assert report.n_items == len(before) == 79
    assert report.n_labels == sum(map(len, before.values())) and report.skipped == {}
    back = import_coco(
        coco_ws, "back", annotations, images=report.root, captions=captions, thumbnails=False
    )
    assert back.problems == [] and back.n_added == 79
    texts = {i.path: i.text for i in coco_ws.catalog.iter_items(coco_ws.dataset("coco").id)}
    assert all(texts.values())
    assert {i.path: i.text for i in coco_ws.catalog.iter_items(coco_ws.dataset("back").id)} == texts
    after = _labels(coco_ws, "back")
    assert after.keys() == before.keys()
    assert all(_exact(after[p]) == _exact(before[p]) for p in before)
    kinds = {lab.kind for labels in after.values() for lab in labels}
    assert kinds == {LabelKind.BOX, LabelKind.POLYGON, LabelKind.MASK}
    # The annotations keep their COCO ids: the attributes come back as they were.
    assert all(
        sorted(json.dumps(lab.attributes) for lab in after[p])
        == sorted(json.dumps(lab.attributes) for lab in before[p])
        for p in before
    )


@pytest.fixture()
def classes_ws(workspace: Workspace, imagenette: Path, tmp_path: Path) -> Workspace:
    """A dataset whose items have a main classification (their folder) and other ones."""
    import_images(workspace, "nette", imagenette, labels_from_folders=True, thumbnails=False)
    items = list(workspace.catalog.iter_items(workspace.dataset("nette").id))[:40]
    extra = [Label(LabelKind.CLASSIFICATION, "odd, with a comma")] * 2
    workspace.catalog.add_labels((item.id, lab) for item in items[::3] for lab in extra[:1])
    workspace.catalog.add_labels((item.id, Label(LabelKind.CLASSIFICATION, "x")) for item in items)
    return workspace


@pytest.mark.parametrize(("fmt", "read"), [("csv", import_csv), ("json", import_json)])
def test_csv_and_json_round_trips_keep_the_main_label(
    classes_ws: Workspace, tmp_path: Path, fmt: str, read: object
) -> None:
    report = export_dataset(classes_ws, "nette", fmt, tmp_path / fmt)
    before = _labels(classes_ws, "nette")
    assert report.root == str(Path(next(iter(before))).parents[1])
    back = read(classes_ws, "back", report.files[0], base=report.root, thumbnails=False)  # type: ignore[operator]
    assert back.problems == []
    after = _labels(classes_ws, "back")
    assert after.keys() == before.keys() and len(after) == 500
    assert all(_exact(after[p]) == _exact(before[p]) for p in before)
    assert sum(lab.is_main for labels in after.values() for lab in labels) == 500


def test_json_keeps_items_whose_classifications_have_no_main(
    workspace: Workspace, imagenette: Path, tmp_path: Path
) -> None:
    import_images(workspace, "plain", imagenette / "church", thumbnails=False)
    items = list(workspace.catalog.iter_items(workspace.dataset("plain").id))
    workspace.catalog.add_labels([(items[0].id, Label(LabelKind.CLASSIFICATION, "tower"))])
    report = export_dataset(workspace, "plain", "json", tmp_path / "json")
    import_json(workspace, "back", report.files[0], base=report.root, thumbnails=False)
    assert _labels(workspace, "back") == _labels(workspace, "plain")


def _geometry_parts(labels: list[Label]) -> list[tuple[str, str, list[float]]]:
    """Boxes and polygon parts, sorted (YOLO writes one line per polygon part)."""
    parts = [
        (str(lab.kind), lab.name, list(part))
        for lab in labels
        if lab.kind in (LabelKind.BOX, LabelKind.POLYGON)
        for part in (
            [lab.geometry["bbox"]] if lab.kind == LabelKind.BOX else lab.geometry["polygons"]
        )
    ]
    return sorted(parts, key=lambda p: (p[0], p[1], [round(v, 3) for v in p[2]]))


def test_yolo_round_trip_gives_the_same_boxes_and_polygon_parts(
    coco_ws: Workspace, tmp_path: Path
) -> None:
    from tagscope.service.imports import import_yolo  # the YOLO importer (issue 9, F-02)

    report = export_dataset(coco_ws, "coco", "yolo", tmp_path / "yolo")
    assert report.skipped == {"mask labels: YOLO has none": 5}
    # Links: the import follows them back to the very files exported.
    back = import_yolo(coco_ws, "back", tmp_path / "yolo", follow_symlinks=True, thumbnails=False)
    assert back.problems == []
    before, after = _labels(coco_ws, "coco"), _labels(coco_ws, "back")
    assert after.keys() == before.keys()
    for path in before:
        old, new = _geometry_parts(before[path]), _geometry_parts(after[path])
        assert [p[:2] for p in new] == [p[:2] for p in old], path
        for (_, _, a), (_, _, b) in zip(old, new, strict=True):
            assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < TOL, path
        assert {lab.source for lab in after[path]} <= {LabelSource.GROUND_TRUTH}


def test_yolo_copies_images_when_asked(coco_ws: Workspace, tmp_path: Path) -> None:
    report = export_dataset(coco_ws, "coco", "yolo", tmp_path / "yolo", copy_images=True)
    images = sorted((tmp_path / "yolo" / "images").iterdir())
    assert len(images) == report.n_items == 79
    assert not any(p.is_symlink() for p in images)
    source = Path(report.root or "") / images[0].name
    assert images[0].read_bytes() == source.read_bytes()
    # Copies come back as new items in the export folder, with the same labels.
    from tagscope.service.imports import import_yolo

    assert import_yolo(coco_ws, "copies", tmp_path / "yolo", thumbnails=False).problems == []
    before, after = _labels(coco_ws, "coco"), _labels(coco_ws, "copies")
    images_dir = tmp_path / "yolo" / "images"
    assert {Path(p).relative_to(images_dir.resolve()).as_posix() for p in after} == {
        Path(p).name for p in before
    }
    # A label per box and per polygon part (a line each); masks are left out.
    n_parts = sum(len(_geometry_parts(labels)) for labels in before.values())
    assert sum(map(len, after.values())) == n_parts > report.n_labels


def test_parquet_has_a_row_per_label_with_its_exact_geometry(
    coco_ws: Workspace, tmp_path: Path
) -> None:
    report = export_dataset(coco_ws, "coco", "parquet", tmp_path / "pq")
    rows = pq.read_table(report.files[0]).to_pylist()
    before = _labels(coco_ws, "coco")
    assert len(rows) == report.n_labels == sum(map(len, before.values()))
    root = report.root or ""
    got: dict[str, list[Label]] = {}
    for row in rows:
        geometry = json.loads(row["geometry"]) if row["geometry"] else None
        label = Label(
            LabelKind(row["kind"]),
            row["name"],
            LabelSource(row["source"]),
            row["is_main"],
            row["score"],
            geometry,
            json.loads(row["attributes"]),
        )
        got.setdefault(os.path.join(root, row["path"]), []).append(label)
        if row["kind"] == "box":
            assert row["bbox"] == geometry["bbox"]
        if row["kind"] == "polygon":
            assert row["polygons"] == geometry["polygons"]
    assert got == {p: labels for p, labels in before.items() if labels}


def test_source_picks_the_labels_exported(coco_ws: Workspace, tmp_path: Path) -> None:
    item = next(coco_ws.catalog.iter_items(coco_ws.dataset("coco").id))
    guess = Label(
        LabelKind.BOX, "cat", LabelSource.PREDICTION, score=0.25, geometry={"bbox": [1, 2, 3, 4]}
    )
    coco_ws.catalog.add_labels([(item.id, guess)])
    report = export_dataset(coco_ws, "coco", "coco", tmp_path / "pred", source="prediction")
    doc = json.loads(Path(report.files[0]).read_text())
    assert len(doc["images"]) == 79 and report.n_labels == 1
    assert [(a["bbox"], a["score"]) for a in doc["annotations"]] == [([1, 2, 3, 4], 0.25)]
    assert doc["categories"] == [{"id": 1, "name": "cat"}]
    everything = export_dataset(coco_ws, "coco", "parquet", tmp_path / "all", source=None)
    assert everything.n_labels == 1249


def test_a_folder_that_is_not_empty_is_refused_unless_overwrite(
    coco_ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValidationError, match="is not empty") as err:
        export_dataset(coco_ws, "coco", "csv", out)
    assert err.value.field == "out" and not (out / "labels.csv").exists()
    with pytest.raises(ValidationError, match="a file, not a folder"):
        export_dataset(coco_ws, "coco", "csv", out / "notes.txt")
    export_dataset(coco_ws, "coco", "yolo", out, overwrite=True)
    again = export_dataset(coco_ws, "coco", "yolo", out, overwrite=True)  # links replaced
    assert again.n_items == 79 and (out / "notes.txt").read_text() == "mine"


def test_bad_format_or_source_is_refused_before_anything_is_written(
    coco_ws: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="unknown export format 'voc'"):
        export_dataset(coco_ws, "coco", "voc", tmp_path / "a")
    with pytest.raises(ValidationError, match="unknown label source 'guess'"):
        export_dataset(coco_ws, "coco", "csv", tmp_path / "b", source="guess")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_export_is_a_job_with_progress(coco_ws: Workspace, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    export_dataset(
        coco_ws, "coco", "json", tmp_path / "j", progress=lambda d, t: seen.append((d, t))
    )
    job = coco_ws.catalog.list_jobs(coco_ws.dataset("coco").id)[0]
    assert job.kind == "export" and job.status == "done"
    assert (job.n_done, job.n_total) == (79, 79) and seen[0] == (0, 79) and seen[-1] == (79, 79)
    assert job.result["n_items"] == 79


def test_a_folder_that_cannot_be_made_is_refused_with_the_reason(
    coco_ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationError, match=r"cannot create .*: Not a directory"):
        export_dataset(coco_ws, "coco", "csv", tmp_path / "file" / "out")


def test_yolo_round_trip_keeps_each_items_split(coco_ws: Workspace, tmp_path: Path) -> None:
    from sqlalchemy import update

    from tagscope.service.imports import import_yolo
    from tagscope.store.schema import ItemRow

    ids = coco_ws.catalog.item_ids(coco_ws.dataset("coco").id)
    with coco_ws.catalog.session() as s:  # a split per item, as a labelling tool sets it
        for i, split in zip(ids[:3], ("train", "validation", "test"), strict=True):
            s.execute(update(ItemRow).where(ItemRow.id == i).values(split=split))
    export_dataset(coco_ws, "coco", "yolo", tmp_path / "yolo")
    data = (tmp_path / "yolo" / "data.yaml").read_text()
    assert "train: images/train\nval: images/val\n" in data
    import_yolo(coco_ws, "back", tmp_path / "yolo", follow_symlinks=True, thumbnails=False)

    def splits(name: str) -> dict[str, str | None]:
        return {it.path: it.split for it in coco_ws.catalog.iter_items(coco_ws.dataset(name).id)}

    assert splits("back") == splits("coco")
    assert sorted(filter(None, splits("back").values())) == ["test", "train", "validation"]
