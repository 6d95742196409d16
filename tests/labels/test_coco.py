"""COCO instances and captions: boxes, polygons, RLE masks, captions as the items' text."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tagscope.domain import ImportProblem, LabelKind, ValidationError
from tagscope.labels.formats.coco import read_coco

NOT_COCO = "not a COCO file (expected an object with an 'images' list)"


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _rle_string(runs: list[int]) -> str:
    """COCO's compressed RLE of ``runs`` (``rleToString`` of pycocotools, written out here)."""
    out = []
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def _ann(ann_id: int, image_id: int, category_id: int, **fields: Any) -> dict[str, Any]:
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, **fields}


def _doc(annotations: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "one.jpg", "width": 40, "height": 30},
            {"id": 2, "file_name": "sub/two.jpg", "width": 40, "height": 30},
        ],
        "categories": [{"id": 7, "name": "dog"}, {"id": 9, "name": "cat"}],
        "annotations": annotations,
        **extra,
    }


def test_coco_mini_val_gives_every_box_polygon_mask_and_caption(
    coco_mini: Path, coco_captions: dict[str, str]
) -> None:
    ann_file = coco_mini / "annotations" / "instances_val2017.json"
    doc = json.loads(ann_file.read_text())
    parsed = read_coco(
        ann_file,
        images=coco_mini / "val2017",
        captions=coco_mini / "annotations" / "captions_val2017.json",
    )
    assert parsed.problems == []
    assert len(parsed.entries) == len(doc["images"]) == 79
    assert all(Path(e.path).is_file() for e in parsed.entries)

    kinds = Counter(lab.kind for e in parsed.entries for lab in e.labels)
    polygons = [a for a in doc["annotations"] if isinstance(a["segmentation"], list)]
    crowds = [a for a in doc["annotations"] if a["iscrowd"]]
    assert kinds == {
        LabelKind.BOX: len(doc["annotations"]),
        LabelKind.POLYGON: len(polygons),
        LabelKind.MASK: len(crowds),
    }
    # Labels per image and per category match the file, named by category.
    names = {c["id"]: c["name"] for c in doc["categories"]}
    files = {im["id"]: im["file_name"] for im in doc["images"]}
    expected = Counter((files[a["image_id"]], names[a["category_id"]]) for a in doc["annotations"])
    boxes = Counter(
        (Path(e.path).name, lab.name)
        for e in parsed.entries
        for lab in e.labels
        if lab.kind == LabelKind.BOX
    )
    assert boxes == expected

    by_id = {lab.attributes["coco_id"]: lab for e in parsed.entries for lab in e.labels}
    crowd = crowds[0]
    assert by_id[crowd["id"]].attributes["iscrowd"] is True
    masks = [lab for e in parsed.entries for lab in e.labels if lab.kind == LabelKind.MASK]
    assert {lab.attributes["coco_id"] for lab in masks} == {a["id"] for a in crowds}
    assert masks[0].geometry is not None and set(masks[0].geometry["rle"]) == {"size", "counts"}
    multi = next(a for a in polygons if len(a["segmentation"]) > 1)
    polygon = next(
        lab
        for e in parsed.entries
        for lab in e.labels
        if lab.kind == LabelKind.POLYGON and lab.attributes["coco_id"] == multi["id"]
    )
    assert polygon.geometry == {"polygons": multi["segmentation"]}

    texts = {Path(e.path).name: e.text for e in parsed.entries}
    assert texts == coco_captions
    assert all(len(text.split("\n")) >= 5 for text in texts.values() if text)


def test_compressed_and_uncompressed_rle_become_masks(tmp_path: Path) -> None:
    runs = [5, 3, 900, 40, 252]  # 30 x 40 pixels
    box = [0, 0, 40, 30]
    anns = [
        _ann(1, 1, 7, iscrowd=1, bbox=box, segmentation={"size": [30, 40], "counts": runs}),
        _ann(
            2,
            2,
            9,
            iscrowd=1,
            bbox=box,
            segmentation={"size": [30, 40], "counts": _rle_string(runs)},
        ),
    ]
    parsed = read_coco(_write(tmp_path / "instances.json", _doc(anns)), images=tmp_path)
    assert parsed.problems == []
    masks = [lab for e in parsed.entries for lab in e.labels if lab.kind == LabelKind.MASK]
    assert [lab.geometry for lab in masks] == [
        {"rle": {"size": [30, 40], "counts": runs}},
        {"rle": {"size": [30, 40], "counts": _rle_string(runs)}},
    ]
    assert [e.path for e in parsed.entries] == [
        str(tmp_path / "one.jpg"),
        str(tmp_path / "sub" / "two.jpg"),
    ]


def test_bad_annotations_are_reported_and_the_rest_is_kept(tmp_path: Path) -> None:
    square = [0, 0, 10, 0, 10, 10, 0, 10]
    box = [0, 0, 10, 10]
    anns = [
        _ann(1, 1, 7, bbox=box, segmentation=[square]),
        _ann(2, 99, 7, bbox=box, segmentation=[square]),
        _ann(3, 1, 5, bbox=box),
        _ann(4, 2, 9, bbox=box, segmentation=[square, [1, 2, 3]]),
        _ann(5, 2, 9, bbox=[1, 2], segmentation=[[1, 2, 3, 4]]),
        _ann(6, 2, 7, segmentation=[["a", 1, 2, 3, 4, 5]]),
        _ann(7, 2, 7, bbox=box, segmentation={"size": [30, 40], "counts": [5, 10]}),
        _ann(8, 2, 7, segmentation={"size": [30], "counts": [1]}),
        _ann(9, 2, 7, segmentation={"size": [3, 4], "counts": "P"}),
        _ann(10, 2, 7, segmentation="nonsense"),
        ["not", "an", "object"],
    ]
    parsed = read_coco(_write(tmp_path / "instances.json", _doc(anns)), images=tmp_path)
    reasons = [
        ("2", "unknown image id 99"),
        ("3", "unknown category id 5"),
        ("4", "invalid polygon: part 2 has an odd number of coordinates (3)"),
        ("5", "invalid bbox [1, 2]: expected [x, y, width, height]"),
        ("5", "invalid polygon: part 1 has fewer than 3 points"),
        ("6", "invalid polygon: part 1 is not a list of numbers"),
        ("7", "invalid RLE: run lengths add up to 15, not height x width = 1200"),
        ("8", "invalid RLE: 'size' must be [height, width], not [30]"),
        ("9", "invalid RLE: compressed 'counts' cannot be decoded"),
        ("10", "invalid segmentation: expected a list of polygons or an RLE object"),
        ("#10", "annotation is not an object"),
    ]
    assert parsed.problems == [
        ImportProblem(f"instances.json: annotation {ann}", reason) for ann, reason in reasons
    ]
    labels = {Path(e.path).name: [(lab.kind, lab.name) for lab in e.labels] for e in parsed.entries}
    # What was valid in an annotation is kept: annotation 4's box, 7's box.
    assert labels == {
        "one.jpg": [(LabelKind.BOX, "dog"), (LabelKind.POLYGON, "dog")],
        "two.jpg": [(LabelKind.BOX, "cat"), (LabelKind.BOX, "dog")],
    }


def test_bad_images_and_categories_are_reported(tmp_path: Path) -> None:
    doc = _doc([{"id": 1, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]}])
    doc["images"] += [{"file_name": "no-id.jpg"}, {"id": 3}, {"id": 1, "file_name": "again.jpg"}]
    doc["categories"].append({"id": 11})
    parsed = read_coco(_write(tmp_path / "instances.json", doc), images=tmp_path)
    assert parsed.problems == [
        ImportProblem("instances.json: images[2]", "image has no 'id' (a number or a string)"),
        ImportProblem("instances.json: image 3", "image has no 'file_name'"),
        ImportProblem("instances.json: image 1", "image id listed twice"),
        ImportProblem("instances.json: categories[2]", "category needs an 'id' and a 'name'"),
    ]
    assert [Path(e.path).name for e in parsed.entries] == ["one.jpg", "two.jpg"]


def test_an_annotation_id_listed_twice_is_reported_and_imported_once(tmp_path: Path) -> None:
    box = [0, 0, 10, 10]
    anns = [_ann(1, 1, 7, bbox=box), _ann(1, 2, 9, bbox=box), _ann(2, 2, 9, bbox=box)]
    parsed = read_coco(_write(tmp_path / "instances.json", _doc(anns)), images=tmp_path)
    assert parsed.problems == [
        ImportProblem("instances.json: annotation 1", "annotation id listed twice")
    ]
    labels = {
        Path(e.path).name: [lab.attributes["coco_id"] for lab in e.labels] for e in parsed.entries
    }
    assert labels == {"one.jpg": [1], "two.jpg": [2]}


def test_ids_that_are_not_numbers_or_strings_are_reported(tmp_path: Path) -> None:
    doc = _doc([_ann(1, [1], 7), _ann(2, 1, {"x": 1}), {"id": [3], "image_id": 1}])
    doc["images"].append({"id": [5], "file_name": "list.jpg"})
    doc["categories"].append({"id": [7], "name": "bird"})
    parsed = read_coco(_write(tmp_path / "instances.json", doc), images=tmp_path)
    assert [(p.source, p.reason) for p in parsed.problems] == [
        ("instances.json: images[2]", "image has no 'id' (a number or a string)"),
        ("instances.json: categories[2]", "category needs an 'id' and a 'name'"),
        ("instances.json: annotation 1", "unknown image id [1]"),
        ("instances.json: annotation 2", "unknown category id {'x': 1}"),
        ("instances.json: annotation [3]", "unknown category id None"),
    ]


def test_file_names_leading_out_of_the_images_folder_are_refused(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (tmp_path / "far.jpg").write_bytes(b"x")
    (images / "passwd.jpg").symlink_to("/etc/passwd")
    (images / "far.jpg").symlink_to(tmp_path / "far.jpg")
    doc = _doc([_ann(1, 3, 7, bbox=[0, 0, 1, 1]), _ann(2, 1, 7, bbox=[0, 0, 1, 1])])
    doc["images"] += [
        {"id": 3, "file_name": "../far.jpg"},
        {"id": 4, "file_name": "/etc/passwd"},
        {"id": 5, "file_name": "passwd.jpg"},
        {"id": 6, "file_name": "far.jpg"},
    ]
    ann = _write(tmp_path / "instances.json", doc)
    parsed = read_coco(ann, images=images)
    hint = "outside the folder (follow_symlinks (--follow-symlinks) allows it)"
    assert parsed.problems == [
        ImportProblem(
            "instances.json: image 3", "file name '../far.jpg' leads out of the folder ('..')"
        ),
        ImportProblem(
            "instances.json: image 4",
            "absolute file name '/etc/passwd': names must be relative to the folder",
        ),
        ImportProblem(
            "instances.json: image 5", f"'passwd.jpg' is a symbolic link to /etc/passwd, {hint}"
        ),
        ImportProblem(
            "instances.json: image 6",
            f"'far.jpg' is a symbolic link to {tmp_path / 'far.jpg'}, {hint}",
        ),
    ]  # annotation 1, of the refused image 3, goes with it
    assert [Path(e.path).name for e in parsed.entries] == ["one.jpg", "two.jpg"]
    followed = read_coco(ann, images=images, follow_symlinks=True)
    assert str(tmp_path / "far.jpg") in [e.path for e in followed.entries]
    assert "not an image file" in followed.problems[2].reason


def test_captions_become_text_one_per_line_in_id_order(tmp_path: Path) -> None:
    instances = _write(tmp_path / "instances.json", _doc([]))
    captions = _write(
        tmp_path / "captions.json",
        {
            "images": [
                {"id": 10, "file_name": "one.jpg"},
                {"id": 30, "file_name": "three.jpg"},
            ],
            "annotations": [
                {"id": 5, "image_id": 10, "caption": "  A dog on a sofa. \n"},
                {"id": 2, "image_id": 10, "caption": "A brown dog."},
                {"id": 6, "image_id": 30, "caption": "An empty room."},
                {"id": 7, "image_id": 31, "caption": "Lost."},
                {"id": 8, "image_id": 30, "caption": ""},
            ],
        },
    )
    parsed = read_coco(instances, images=tmp_path, captions=captions)
    # Images of the captions file alone are entries too.
    assert {Path(e.path).name: e.text for e in parsed.entries} == {
        "one.jpg": "A brown dog.\nA dog on a sofa.",
        "two.jpg": None,
        "three.jpg": "An empty room.",
    }
    assert parsed.problems == [
        ImportProblem("captions.json: annotation 7", "unknown image id 31"),
        ImportProblem("captions.json: annotation 8", "annotation has no 'caption' text"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", f"instances.json: {NOT_COCO}"),
        ('{"annotations": []}', f"instances.json: {NOT_COCO}"),
        ('{"images": [], "annotations": {}}', "instances.json: 'annotations' must be a list"),
        ('{"images": [', "instances.json: invalid JSON at line 1, column 13: Expecting value"),
    ],
)
def test_a_file_that_is_not_coco_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "instances.json"
    path.write_text(content)
    with pytest.raises(ValidationError) as caught:
        read_coco(path, images=tmp_path)
    assert str(caught.value) == message


def test_a_bad_captions_file_is_refused_too(tmp_path: Path) -> None:
    instances = _write(tmp_path / "instances.json", _doc([]))
    captions = tmp_path / "captions.json"
    captions.write_text("not json")
    with pytest.raises(ValidationError, match=r"^captions\.json: invalid JSON at line 1"):
        read_coco(instances, images=tmp_path, captions=captions)


def test_bad_geometry_is_reported_by_annotation_and_a_repairable_one_is_repaired(
    tmp_path: Path,
) -> None:
    square = [0, 0, 10, 0, 10, 10, 0, 10]
    # A thin triangle out of the right edge and back: the ring crosses itself at (10, 5).
    spike = [0, 0, 10, 0, 10, 5, 12, 5.1, 12, 4.9, 10, 5, 10, 10, 0, 10]
    box = [0, 0, 10, 10]
    anns = [
        _ann(1, 1, 7, bbox=box, segmentation=[square, [20, 20, 30, 20, 25, 30]]),
        _ann(2, 1, 7, bbox=box, segmentation=[[0, 0, 2, 2, 2, 0, 0, 2]]),  # a bow-tie
        _ann(3, 1, 9, bbox=box, segmentation=[spike]),
        _ann(4, 2, 9, bbox=[0, 0, 0, 5], segmentation=[square, [0, 0, 1, 1, 2, 2]]),
        _ann(5, 2, 9, bbox=[0, 0, float("nan"), 5]),
        _ann(6, 2, 7, bbox=box, segmentation=[[0, 0, float("inf"), 0, 1, 1]]),
    ]
    parsed = read_coco(_write(tmp_path / "instances.json", _doc(anns)), images=tmp_path)
    bow_tie = (
        "invalid polygon: part 1 is self-intersecting at (1, 1) and its loops cancel out "
        "(signed area 0): no repair keeps its area"
    )
    reasons = [
        ("2", bow_tie),
        ("4", "invalid bbox [0, 0, 0, 5]: width 0 is not positive"),
        ("4", "invalid polygon: part 2 has zero area"),
        ("5", "invalid bbox [0, 0, nan, 5]: width nan is not finite"),
        ("6", "invalid polygon: part 1 has a non-finite coordinate (inf)"),
    ]
    assert parsed.problems == [
        ImportProblem(f"instances.json: annotation {ann}", reason) for ann, reason in reasons
    ]
    labels = {
        (lab.attributes["coco_id"], lab.kind): lab.geometry
        for e in parsed.entries
        for lab in e.labels
    }
    # Every box but 4's and 5's, the valid polygon as it was, the spike as two parts.
    assert sorted(labels) == [
        (1, LabelKind.BOX),
        (1, LabelKind.POLYGON),
        (2, LabelKind.BOX),
        (3, LabelKind.BOX),
        (3, LabelKind.POLYGON),
        (6, LabelKind.BOX),
    ]
    assert labels[1, LabelKind.POLYGON] == {"polygons": anns[0]["segmentation"]}
    repaired = labels[3, LabelKind.POLYGON]["polygons"]  # the square and the spike's triangle
    assert sorted(sorted(zip(p[::2], p[1::2], strict=True)) for p in repaired) == [
        [(0, 0), (0, 10), (10, 0), (10, 5), (10, 10)],
        [(10, 5), (12, 4.9), (12, 5.1)],
    ]
