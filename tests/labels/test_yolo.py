"""YOLO folders: class names from data.yaml or classes.txt, boxes and polygons, bad lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tagscope.domain import ImportProblem, Label, LabelKind, ValidationError
from tagscope.labels.formats.yolo import in_pixels, read_yolo

HINT = "outside the folder (follow_symlinks (--follow-symlinks) allows it)"


@pytest.fixture()
def root(coco_mini: Path, tmp_path: Path) -> Path:
    """A YOLO folder of three real photos, two in ``train`` and one in ``val``, no labels yet."""
    folder = tmp_path / "yolo"
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:3]
    for split, photo in zip(("train", "train", "val"), photos, strict=True):
        (folder / "images" / split).mkdir(parents=True, exist_ok=True)
        (folder / "labels" / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, folder / "images" / split / photo.name)
    return folder


def _images(root: Path) -> list[Path]:
    return sorted((root / "images").rglob("*.jpg"))


def _label_file(root: Path, image: Path, text: str) -> Path:
    path = root / "labels" / image.relative_to(root / "images").with_suffix(".txt")
    path.write_text(text)
    return path


def _labels(root: Path, **options: bool) -> dict[str, list[Label]]:
    parsed = read_yolo(root, **options)
    return {Path(e.path).name: list(e.labels) for e in parsed.entries}


@pytest.mark.parametrize(
    "classes",
    [
        {"data.yaml": "path: ../datasets/pets\ntrain: images/train\nnames: [cat, dog]\n"},
        {"data.yaml": "nc: 2\nnames:\n  0: cat\n  1: dog\n"},
        {"classes.txt": "cat\ndog\n\n"},
        # data.yaml without names leaves them to classes.txt.
        {"data.yml": "train: images/train\n", "classes.txt": "cat\ndog\n"},
    ],
    ids=["yaml-list", "yaml-dict", "classes-txt", "yaml-without-names"],
)
def test_boxes_and_polygons_of_every_split_named_by_their_class(
    root: Path, classes: dict[str, str]
) -> None:
    for name, text in classes.items():
        (root / name).write_text(text)
    one, two, three = _images(root)
    _label_file(root, one, "0 0.5 0.5 0.25 0.5\n1 0.1 0.2 0.3 0.2 0.2 0.4\n")
    _label_file(root, three, "1 0.25 0.75 0.5 0.5\n")
    parsed = read_yolo(root)
    assert parsed.problems == []
    # Every image, labelled or not (a background image), sorted by name; real paths.
    assert [e.path for e in parsed.entries] == [str(p) for p in (one, two, three)]
    assert _labels(root) == {
        one.name: [
            Label(LabelKind.BOX, "cat", geometry={"bbox": [0.5, 0.5, 0.25, 0.5]}),
            Label(
                LabelKind.POLYGON, "dog", geometry={"polygons": [[0.1, 0.2, 0.3, 0.2, 0.2, 0.4]]}
            ),
        ],
        two.name: [],
        three.name: [Label(LabelKind.BOX, "dog", geometry={"bbox": [0.25, 0.75, 0.5, 0.5]})],
    }


def test_class_ids_of_a_mapping_need_not_be_contiguous(root: Path) -> None:
    (root / "data.yaml").write_text("names: {3: cat, 7: 42}\n")
    one = _images(root)[0]
    _label_file(root, one, "7 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n")
    parsed = read_yolo(root)
    assert parsed.problems == [
        ImportProblem(f"labels/train/{one.stem}.txt:2", "unknown class '0' (the classes are 3, 7)")
    ]
    assert [lab.name for lab in parsed.entries[0].labels] == ["42"]


def test_every_bad_line_is_reported_by_file_and_line_and_the_rest_read(root: Path) -> None:
    (root / "data.yaml").write_text("names: [cat, dog]\n")
    one, two, _ = _images(root)
    _label_file(
        root,
        one,
        "0 0.5 0.5 0.2 0.2\n"  # good
        "2 0.5 0.5 0.2 0.2\n"  # unknown class
        "0 0.5 1.5 0.2 0.2\n"  # outside 0..1
        "0 0.5 0.5 -0.1 0.2\n"  # negative
        "0 0.1 0.1 0.2 0.2 0.3\n"  # odd number
        "0 0.1 0.1\n"  # one point: neither a box nor a polygon
        "0 0.5 abc 0.2 0.2\n"  # not a number
        "0.5 0.5 0.5 0.2 0.2\n"  # a class that is not a whole number
        "\n"  # blank lines are skipped
        "1 0.5 0.5 nan 0.2\n"  # not finite
        "1 0.1 0.1 0.9 0.1 0.5 0.9\n",  # good
    )
    _label_file(root, two, "").write_bytes(b"\xef\xbb\xbf1 0.5 0.5 0.2 0.2\r\n\xff\n")
    parsed = read_yolo(root)
    file = f"labels/train/{one.stem}.txt"
    assert parsed.problems == [
        ImportProblem(f"{file}:2", "unknown class '2' (the classes are 0..1)"),
        ImportProblem(f"{file}:3", "coordinate 1.5 outside 0..1"),
        ImportProblem(f"{file}:4", "coordinate -0.1 outside 0..1"),
        ImportProblem(f"{file}:5", "odd number of coordinates (5)"),
        ImportProblem(f"{file}:6", "2 coordinates: a box needs 4, a polygon at least 6 (3 points)"),
        ImportProblem(f"{file}:7", "'abc' is not a number"),
        ImportProblem(f"{file}:8", "unknown class '0.5' (the classes are 0..1)"),
        ImportProblem(f"{file}:10", "coordinate nan outside 0..1"),
        ImportProblem(f"labels/train/{two.stem}.txt:2", "not UTF-8 text"),
    ]
    labels = _labels(root)
    assert [(lab.kind, lab.name) for lab in labels[one.name]] == [
        (LabelKind.BOX, "cat"),
        (LabelKind.POLYGON, "dog"),
    ]
    assert [lab.name for lab in labels[two.name]] == ["dog"]


def test_a_label_file_without_its_image_is_reported(root: Path) -> None:
    (root / "classes.txt").write_text("cat\n")
    (root / "labels" / "val" / "gone.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "labels" / "train.cache").write_text("not a label file")
    (root / "images" / "val" / "notes.md").write_text("not an image")
    parsed = read_yolo(root)
    assert parsed.problems == [
        ImportProblem("images/val/notes.md", "not an image file type (.md)"),
        ImportProblem("labels/val/gone.txt", "no image for this label file (images/val/gone.*)"),
    ]
    assert len(parsed.entries) == 3


def test_links_leading_out_of_the_folder_are_refused_unless_followed(
    root: Path, tmp_path: Path
) -> None:
    (root / "classes.txt").write_text("cat\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    far = outside / "far.jpg"
    shutil.copy(_images(root)[0], far)
    (outside / "far.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "images" / "val" / "far.jpg").symlink_to(far)
    (root / "labels" / "val" / "far.txt").symlink_to(outside / "far.txt")
    (root / "images" / "val" / "passwd.jpg").symlink_to("/etc/passwd")
    (root / "labels" / "val" / "passwd.txt").symlink_to("/etc/passwd")
    parsed = read_yolo(root)
    assert parsed.problems == [
        ImportProblem("images/val/far.jpg", f"'val/far.jpg' is a symbolic link to {far}, {HINT}"),
        ImportProblem(
            "images/val/passwd.jpg", f"'val/passwd.jpg' is a symbolic link to /etc/passwd, {HINT}"
        ),
        ImportProblem(
            "labels/val/far.txt",
            f"'val/far.txt' is a symbolic link to {outside / 'far.txt'}, {HINT}",
        ),
        ImportProblem(
            "labels/val/passwd.txt", f"'val/passwd.txt' is a symbolic link to /etc/passwd, {HINT}"
        ),
    ]
    assert str(far) not in {e.path for e in parsed.entries}

    followed = read_yolo(root, follow_symlinks=True)
    # /etc/passwd is still not opened as an image, so its "labels" have no image.
    assert followed.problems == [
        ImportProblem(
            "images/val/passwd.jpg",
            "'val/passwd.jpg' is a symbolic link to /etc/passwd, not an image file",
        ),
        ImportProblem(
            "labels/val/passwd.txt", "no image for this label file (images/val/passwd.*)"
        ),
    ]
    entry = next(e for e in followed.entries if e.path == str(far))
    assert [lab.name for lab in entry.labels] == ["cat"]


def test_a_labels_folder_linked_out_of_the_folder_is_refused_unless_followed(
    root: Path, tmp_path: Path
) -> None:
    (root / "classes.txt").write_text("cat\n")
    one = _images(root)[0]
    _label_file(root, one, "0 0.5 0.5 0.1 0.1\n")
    shutil.move(root / "labels", tmp_path / "elsewhere")
    (root / "labels").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValidationError, match=r"'labels' is a symbolic link to .*, outside "):
        read_yolo(root)
    assert _labels(root, follow_symlinks=True)[one.name][0].name == "cat"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no class names (a data.yaml with 'names', or a classes.txt)"),
        ({"data.yaml": "names: [cat\n"}, "data.yaml: invalid YAML at line 2"),
        ({"data.yaml": "- cat\n"}, "data.yaml: expected a mapping with 'names'"),
        ({"data.yaml": "names: cat\n"}, "'names' must be a list or a mapping"),
        ({"data.yaml": "names: {cat: 0}\n"}, "class id 'cat' is not a whole number >= 0"),
        ({"data.yaml": "names: [cat, null]\n"}, "data.yaml: class 1 has no name"),
        ({"data.yaml": "nc: 3\nnames: [cat]\n"}, "'nc' is 3 but 'names' has 1 classes"),
        ({"data.yaml": "names: [p]\nkpt_shape: [17, 3]\n"}, "a keypoint (pose) dataset"),
        ({"data.yaml": "names: !!python/name:os.system\n"}, "data.yaml: invalid YAML"),
        ({"classes.txt": "cat\n\ndog\n"}, "classes.txt:2: empty class name"),
        ({"classes.txt": "\n"}, "classes.txt: no class names"),
    ],
)
def test_unusable_class_names_stop_the_import(
    root: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (root / name).write_text(text)
    with pytest.raises(ValidationError) as exc:
        read_yolo(root)
    assert message in str(exc.value)


def test_class_names_linked_out_of_the_folder_are_refused_unless_followed(
    root: Path, tmp_path: Path
) -> None:
    (tmp_path / "names.txt").write_text("secret\n")
    (root / "classes.txt").symlink_to(tmp_path / "names.txt")
    with pytest.raises(ValidationError, match=r"'classes\.txt' is a symbolic link to .*, outside"):
        read_yolo(root)
    assert read_yolo(root, follow_symlinks=True).problems == []


def test_a_folder_without_images_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a folder"):
        read_yolo(tmp_path / "missing")
    (tmp_path / "classes.txt").write_text("cat\n")
    with pytest.raises(ValidationError, match="has no 'images' folder"):
        read_yolo(tmp_path)


def test_in_pixels_scales_boxes_from_their_centre_and_polygons_by_axis() -> None:
    box = Label(LabelKind.BOX, "cat", geometry={"bbox": [0.5, 0.25, 0.5, 0.5]})
    assert in_pixels(box, 640, 480).geometry == {"bbox": [160.0, 0.0, 320.0, 240.0]}
    polygon = Label(LabelKind.POLYGON, "cat", geometry={"polygons": [[0.5, 0.5, 1, 0, 0, 1]]})
    assert in_pixels(polygon, 640, 480).geometry == {
        "polygons": [[320.0, 240.0, 640.0, 0.0, 0.0, 480.0]]
    }


def test_bad_boxes_and_polygons_are_reported_by_line_and_a_repairable_one_is_repaired(
    root: Path,
) -> None:
    (root / "data.yaml").write_text("names: [cat, dog]\n")
    one = _images(root)[0]
    _label_file(
        root,
        one,
        "0 0.5 0.5 0.2 0.2\n"  # good
        "1 0.1 0.1 0.3 0.3 0.3 0.1 0.1 0.3\n"  # a bow-tie
        "0 0.5 0.5 0 0.2\n"  # a box of no width
        "1 0.1 0.1 0.2 0.2 0.3 0.3\n"  # a polygon on one line
        "1 0.1 0.1 0.1 0.1 0.3 0.3\n"  # two distinct points
        # A square with a thin spike out of its right edge, crossing itself at (0.5, 0.25).
        "1 0 0 0.5 0 0.5 0.25 0.6 0.26 0.6 0.24 0.5 0.25 0.5 0.5 0 0.5\n",
    )
    parsed = read_yolo(root)
    file = f"labels/train/{one.stem}.txt"
    bow_tie = (
        "polygon is self-intersecting at (0.2, 0.2) and its loops cancel out (signed area 0): "
        "no repair keeps its area"
    )
    assert parsed.problems == [
        ImportProblem(f"{file}:2", bow_tie),
        ImportProblem(f"{file}:3", "box width 0.0 is not positive"),
        ImportProblem(f"{file}:4", "polygon has zero area"),
        ImportProblem(f"{file}:5", "polygon has fewer than 3 distinct points"),
    ]
    labels = _labels(root)[one.name]
    assert labels[0] == Label(LabelKind.BOX, "cat", geometry={"bbox": [0.5, 0.5, 0.2, 0.2]})
    assert labels[1].kind == LabelKind.POLYGON and len(labels) == 2
    square, spike = labels[1].geometry["polygons"]
    assert square == [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.5, 0.0]
    assert sorted(zip(spike[::2], spike[1::2], strict=True)) == [
        (0.5, 0.25),
        (0.6, 0.24),
        (0.6, 0.26),
    ]


def test_the_folder_under_images_gives_the_split(root: Path) -> None:
    (root / "classes.txt").write_text("cat\n")
    (root / "images" / "valid").mkdir()
    (root / "images" / "cats").mkdir()
    photo = _images(root)[0]
    shutil.copy(photo, root / "images" / "valid" / "v.jpg")
    shutil.copy(photo, root / "images" / "cats" / "c.jpg")
    shutil.copy(photo, root / "images" / "top.jpg")
    splits = {
        Path(e.path).relative_to(root / "images").as_posix(): e.split
        for e in read_yolo(root).entries
    }
    assert sorted(splits.values(), key=str) == sorted(
        ["train", "train", "validation", "validation", None, None], key=str
    )
    assert splits["valid/v.jpg"] == "validation"
    assert splits["cats/c.jpg"] is None and splits["top.jpg"] is None
