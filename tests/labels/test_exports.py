"""Export writers: what each format writes of a record, and what its reader makes of it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from tagscope.domain import Item, Label, LabelKind, MediaInfo, Modality
from tagscope.labels.exports.base import ExportRecord, ExportReport, common_root, relative_name
from tagscope.labels.exports.coco import CocoWriter
from tagscope.labels.exports.lists import CsvWriter, JsonWriter
from tagscope.labels.exports.table import ParquetWriter
from tagscope.labels.exports.yolo import YoloWriter
from tagscope.labels.formats.coco import read_coco
from tagscope.labels.formats.csv_list import read_csv_list

BOX = LabelKind.BOX


def _item(path: Path, item_id: int = 1, size: tuple[int, int] | None = (200, 100)) -> Item:
    media = MediaInfo(10, size[0], size[1], "JPEG", "h") if size else None
    return Item(item_id, 1, str(path), Modality.IMAGE, media)


def _report(fmt: str, out: Path) -> ExportReport:
    return ExportReport(format=fmt, out=str(out), root=None)


def test_common_root_is_the_deepest_folder_of_every_path() -> None:
    paths = sorted(["/d/a-b/x.jpg", "/d/a/y.jpg", "/d/a/z/w.jpg"])
    assert common_root(paths[0], paths[-1]) == "/d"
    assert common_root("/d/a/x.jpg", "/d/a/z/w.jpg") == "/d/a"
    assert common_root("/d/a/x.jpg", "/d/a/x.jpg") == "/d/a"
    assert relative_name("/d/a/z/w.jpg", "/d") == "a/z/w.jpg"


def test_coco_joins_a_box_and_its_segmentation_and_keeps_lone_ones_alone(tmp_path: Path) -> None:
    attrs = {"coco_id": 7, "iscrowd": False}
    labels = [
        Label(BOX, "dog", geometry={"bbox": [1, 2, 3, 4]}, attributes=attrs),
        Label(
            LabelKind.POLYGON, "dog", geometry={"polygons": [[0, 0, 4, 0, 4, 4]]}, attributes=attrs
        ),
        Label(LabelKind.POLYGON, "cat", geometry={"polygons": [[1, 1, 2, 1, 2, 2]]}),
        Label(LabelKind.CLASSIFICATION, "indoor", is_main=True),
    ]
    report = _report("coco", tmp_path)
    writer = CocoWriter(tmp_path, report)
    writer.add(ExportRecord(_item(tmp_path / "a.jpg"), "a.jpg", labels))
    # Another item whose annotation has the same COCO id (two imports merged): a new id.
    writer.add(ExportRecord(_item(tmp_path / "b.jpg", 2), "b.jpg", labels[:1]))
    writer.close()
    doc = json.loads((tmp_path / "annotations.json").read_text())
    anns = doc["annotations"]
    assert [a["id"] for a in anns] == [7, 1, 2]
    assert anns[0]["bbox"] == [1, 2, 3, 4] and anns[0]["segmentation"] == [[0, 0, 4, 0, 4, 4]]
    assert "bbox" not in anns[1]  # a computed bbox would come back as a new box label
    assert report.skipped == {"classification labels: COCO instances have none": 1}
    assert report.n_labels == 4
    parsed = read_coco(tmp_path / "annotations.json", images=tmp_path)
    assert parsed.problems == []
    back = {e.path: e.labels for e in parsed.entries}
    assert [(lab.kind, lab.name, lab.geometry) for lab in back[str(tmp_path / "a.jpg")]] == [
        (lab.kind, lab.name, lab.geometry) for lab in labels[:3]
    ]


def test_csv_names_an_item_called_like_a_header_word_after_its_own_header(tmp_path: Path) -> None:
    report = _report("csv", tmp_path)
    writer = CsvWriter(tmp_path, report)
    main = Label(LabelKind.CLASSIFICATION, "dog", is_main=True)
    other = Label(LabelKind.CLASSIFICATION, "pet, friendly")
    box = Label(BOX, "dog", geometry={"bbox": [0, 0, 1, 1]})
    writer.add(ExportRecord(_item(tmp_path / "image"), "image", [other, main, box]))
    writer.close()
    parsed = read_csv_list(tmp_path / "labels.csv")
    assert parsed.problems == []
    [entry] = parsed.entries
    assert entry.path == str(tmp_path / "image")
    assert [(lab.name, lab.is_main) for lab in entry.labels] == [
        ("dog", True),
        ("pet, friendly", False),
    ]
    assert report.skipped == {"box labels: CSV lists hold classifications only": 1}


def test_json_writes_a_list_the_json_reader_reads(tmp_path: Path) -> None:
    report = _report("json", tmp_path)
    writer = JsonWriter(tmp_path, report)
    writer.add(ExportRecord(_item(tmp_path / "a.jpg"), "a.jpg", []))
    writer.add(
        ExportRecord(_item(tmp_path / "b.jpg", 2), "b.jpg", [Label(LabelKind.CLASSIFICATION, "x")])
    )
    writer.close()
    assert json.loads((tmp_path / "labels.json").read_text()) == [
        {"name": "a.jpg"},
        {"name": "b.jpg", "classificationLabels": ["x"]},
    ]


def test_yolo_writes_normalised_lines_links_and_class_names(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    (media / "sub" / "a.jpg").write_bytes(b"jpeg")
    out = tmp_path / "out"
    report = _report("yolo", out)
    writer = YoloWriter(out, report)
    labels = [
        Label(BOX, "dog", geometry={"bbox": [20, 10, 100, 50]}),
        Label(
            LabelKind.POLYGON,
            "cat",
            geometry={"polygons": [[0, 0, 200, 0, 200, 100], [10, 10, 20, 10, 20, 20]]},
        ),
        Label(LabelKind.MASK, "dog", geometry={"rle": {"size": [1, 1], "counts": [1]}}),
    ]
    writer.add(ExportRecord(_item(media / "sub" / "a.jpg"), "sub/a.jpg", labels))
    writer.add(ExportRecord(_item(media / "b.jpg", 2, size=None), "b.jpg", labels))
    writer.close()
    lines = (out / "labels" / "sub" / "a.txt").read_text().splitlines()
    assert lines == [
        "0 0.35 0.35 0.5 0.5",
        "1 0.0 0.0 1.0 0.0 1.0 1.0",
        "1 0.05 0.1 0.1 0.1 0.1 0.2",
    ]
    image = out / "images" / "sub" / "a.jpg"
    assert image.is_symlink() and image.resolve() == media / "sub" / "a.jpg"
    assert yaml.safe_load((out / "data.yaml").read_text()) == {
        "path": str(out),
        "train": "images",
        "val": "images",
        "names": {0: "dog", 1: "cat"},
    }
    assert report.skipped == {"mask labels: YOLO has none": 1}
    assert [(p.source, p.reason) for p in report.problems] == [
        (str(media / "b.jpg"), "no image width and height: YOLO coordinates need them")
    ]
    assert report.n_items == 1 and report.n_labels == 2
    assert not (out / "labels" / "b.txt").exists()


def test_yolo_leaves_out_an_item_it_cannot_copy_or_whose_label_file_is_taken(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.jpg").write_bytes(b"jpeg")
    out = tmp_path / "out"
    report = _report("yolo", out)
    writer = YoloWriter(out, report, copy_images=True)
    box = [Label(BOX, "dog", geometry={"bbox": [0, 0, 10, 10]})]
    writer.add(ExportRecord(_item(tmp_path / "a.jpg"), "a.jpg", box))
    writer.add(ExportRecord(_item(tmp_path / "a.png", 2), "a.png", box))
    writer.add(ExportRecord(_item(tmp_path / "gone.jpg", 3), "gone.jpg", box))
    writer.close()
    assert [(p.source, p.reason) for p in report.problems] == [
        (str(tmp_path / "a.png"), "labels/a.txt is another item's (same name, other suffix)"),
        (str(tmp_path / "gone.jpg"), "cannot copy the image: No such file or directory"),
    ]
    assert (out / "images" / "a.jpg").read_bytes() == b"jpeg"
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["a.txt"]
    assert report.n_items == 1 and report.n_labels == 1


def test_polylines_go_to_parquet_and_are_counted_as_skipped_elsewhere(tmp_path: Path) -> None:
    line = Label(LabelKind.POLYLINE, "road", geometry={"lines": [[0, 0, 10, 5], [1, 1, 2, 2]]})
    box = Label(BOX, "car", geometry={"bbox": [1, 2, 3, 4]}, area=12.0)
    (tmp_path / "a.jpg").write_bytes(b"")
    writers = {
        "parquet": ParquetWriter,
        "json": JsonWriter,
        "csv": CsvWriter,
        "coco": CocoWriter,
        "yolo": YoloWriter,
    }
    reports = {}
    for fmt, make in writers.items():
        out = tmp_path / fmt
        out.mkdir()
        reports[fmt] = _report(fmt, out)
        writer = make(out, reports[fmt])
        writer.add(ExportRecord(_item(tmp_path / "a.jpg"), "a.jpg", [line, box]))
        writer.close()
    rows = pq.read_table(tmp_path / "parquet" / "labels.parquet").to_pylist()
    assert [(r["kind"], r["lines"], r["area"]) for r in rows] == [
        ("polyline", [[0, 0, 10, 5], [1, 1, 2, 2]], None),
        ("box", None, 12.0),
    ]
    assert json.loads(rows[0]["geometry"]) == line.geometry
    assert reports["parquet"].skipped == {}
    assert reports["coco"].skipped == {"polyline labels: COCO instances have none": 1}
    assert reports["yolo"].skipped == {"polyline labels: YOLO has none": 1}
    assert reports["json"].skipped == {
        "polyline labels: JSON lists hold classifications only": 1,
        "box labels: JSON lists hold classifications only": 1,
    }
    assert reports["csv"].skipped["polyline labels: CSV lists hold classifications only"] == 1
