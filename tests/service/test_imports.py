"""Import use cases on real photos: folders, CSV and JSON lists, COCO; bad input (F-01/02/04)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ImportProblem, JobStatus, ValidationError
from tagscope.labels.geometry import ring_parts
from tagscope.media.images import read_media_info
from tagscope.media.thumbnails import ensure_thumbnail, thumbnail_path
from tagscope.service import Workspace, imports
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.imports import (
    import_coco,
    import_csv,
    import_images,
    import_json,
    import_yolo,
)


def _labels(ws: Workspace, dataset: str) -> Counter[tuple[str, str]]:
    """(kind, name) of every label of the dataset, counted."""
    ds = ws.dataset(dataset)
    return Counter(
        (str(lab.kind), lab.name)
        for item in ws.catalog.iter_items(ds.id)
        for lab in ws.catalog.item_labels(item.id)
    )


def _paths(ws: Workspace, dataset: str) -> set[str]:
    return {item.path for item in ws.catalog.iter_items(ws.dataset(dataset).id)}


def _thumbnails(ws: Workspace) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in ws.paths.thumbnails.rglob("*.jpg")}


@pytest.fixture()
def photos(coco_mini: Path, tmp_path: Path) -> Path:
    """A folder of six real photos in two class folders (copies: tests spoil some)."""
    folder = tmp_path / "photos"
    sources = sorted((coco_mini / "val2017").glob("*.jpg"))[:6]
    for i, src in enumerate(sources):
        target = folder / ("cats" if i < 3 else "dogs") / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target)
    return folder


def test_imagenette_folder_with_folder_labels_then_again(
    workspace: Workspace, imagenette: Path
) -> None:
    seen: list[tuple[int, int]] = []
    report = import_images(
        workspace, "inet", imagenette, labels_from_folders=True, progress=lambda *a: seen.append(a)
    )
    assert (report.n_added, report.n_existing, report.n_labels) == (500, 0, 500)
    not_image = ImportProblem(str(imagenette / "labels.csv"), "not an image file type (.csv)")
    assert report.problems == [not_image]
    assert seen[0] == (0, 500) and seen[-1] == (500, 500)
    names = workspace.catalog.label_names(workspace.dataset("inet").id)
    assert len(names) == 10 and set(names.values()) == {50}

    ds = workspace.dataset("inet")
    item = next(workspace.catalog.iter_items(ds.id))
    assert Path(item.path).is_absolute()
    assert item.media == read_media_info(item.path)
    job = workspace.catalog.list_jobs(ds.id)[0]
    assert (job.kind, job.status, job.n_done, job.n_total) == ("import", JobStatus.DONE, 500, 500)
    assert job.result["n_added"] == 500
    assert job.result["problems"] == [{"source": not_image.source, "reason": not_image.reason}]
    # Imagenette's small upright JPEGs are their own thumbnails: nothing is copied.
    for it in workspace.catalog.iter_items(ds.id):
        assert it.media is not None
        thumb = ensure_thumbnail(it.path, it.media.content_hash, workspace.paths.thumbnails)
        assert thumb == (Path(it.path), False)
    thumbs = _thumbnails(workspace)
    assert not thumbs

    again = import_images(workspace, "inet", imagenette, labels_from_folders=True)
    assert (again.n_added, again.n_existing, again.n_labels) == (0, 500, 0)
    assert workspace.dataset("inet").n_items == 500
    assert sum(workspace.catalog.label_names(ds.id).values()) == 500
    assert _thumbnails(workspace) == thumbs  # none made again


def test_imagenette_folder_then_its_labels_csv(workspace: Workspace, imagenette: Path) -> None:
    first = import_images(workspace, "inet", imagenette, thumbnails=False)
    assert (first.n_added, first.n_labels) == (500, 0)
    report = import_csv(workspace, "inet", imagenette / "labels.csv", thumbnails=False)
    assert (report.n_added, report.n_existing, report.n_labels) == (0, 500, 500)
    assert report.problems == []
    names = workspace.catalog.label_names(workspace.dataset("inet").id)
    assert len(names) == 10 and set(names.values()) == {50}
    assert "English springer" in names
    assert not _thumbnails(workspace)


def test_coco_val_with_captions_then_again(
    workspace: Workspace, coco_mini: Path, coco_captions: dict[str, str]
) -> None:
    ann = coco_mini / "annotations"
    doc = json.loads((ann / "instances_val2017.json").read_text())
    args = (workspace, "coco", ann / "instances_val2017.json")
    options = {"images": coco_mini / "val2017", "captions": ann / "captions_val2017.json"}
    report = import_coco(*args, **options)
    assert (report.n_added, report.problems) == (79, [])
    polygons = sum(isinstance(a["segmentation"], list) for a in doc["annotations"])
    masks = sum(isinstance(a["segmentation"], dict) for a in doc["annotations"])
    kinds = Counter()
    for (kind, _), n in _labels(workspace, "coco").items():
        kinds[kind] += n
    assert kinds == {"box": len(doc["annotations"]), "polygon": polygons, "mask": masks}
    assert report.n_labels == len(doc["annotations"]) + polygons + masks
    names = {c["id"]: c["name"] for c in doc["categories"]}
    assert {name for _, name in _labels(workspace, "coco")} == {
        names[a["category_id"]] for a in doc["annotations"]
    }
    ds = workspace.dataset("coco")
    texts = {Path(it.path).name: it.text for it in workspace.catalog.iter_items(ds.id)}
    assert texts == coco_captions

    labels = _labels(workspace, "coco")
    again = import_coco(*args, **options)
    assert (again.n_added, again.n_existing, again.n_labels) == (0, 79, 0)
    assert _labels(workspace, "coco") == labels


def test_bad_files_in_a_folder_are_reported_and_nothing_is_lost(
    workspace: Workspace, photos: Path
) -> None:
    first = import_images(workspace, "pets", photos, labels_from_folders=True)
    assert (first.n_added, first.n_labels, first.problems) == (6, 6, [])
    before = _paths(workspace, "pets")

    good = next((photos / "cats").iterdir())
    data = good.read_bytes()
    bad = photos / "new"
    bad.mkdir()
    (bad / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (bad / "text.jpg").write_text("not a photo")
    (bad / "empty.png").write_bytes(b"")
    (bad / "notes.txt").write_text("shopping list")
    shutil.copy(good, bad / "fine.jpg")
    good.write_text("spoiled after its import")  # already imported: kept, not read again

    report = import_images(workspace, "pets", photos, labels_from_folders=True)
    assert sorted(report.problems, key=lambda p: p.source) == [
        ImportProblem(str(bad / "empty.png"), "empty file"),
        ImportProblem(str(bad / "notes.txt"), "not an image file type (.txt)"),
        ImportProblem(str(bad / "text.jpg"), "not an image (unknown format)"),
        ImportProblem(str(bad / "truncated.jpg"), "truncated image"),
    ]
    assert (report.n_added, report.n_existing, report.n_labels) == (1, 6, 1)
    assert _paths(workspace, "pets") == before | {str(bad / "fine.jpg")}
    assert _labels(workspace, "pets") == {
        ("classification", "cats"): 3,
        ("classification", "dogs"): 3,
        ("classification", "new"): 1,
    }


def test_list_imports_report_bad_rows_and_add_labels_to_items_already_there(
    workspace: Workspace, photos: Path
) -> None:
    import_images(workspace, "pets", photos, thumbnails=False)
    cat = sorted((photos / "cats").iterdir())[0]
    csv = photos / "labels.csv"
    csv.write_text(f'{cat.relative_to(photos)},tabby,cat\n"x.jpg"y,dog\nmissing.jpg,cow\n')
    report = import_csv(workspace, "pets", csv, thumbnails=False)
    assert report.problems == [
        ImportProblem("labels.csv:2", "malformed row: ',' expected after '\"'"),
        ImportProblem(str(photos / "missing.jpg"), "file not found"),
    ]
    assert (report.n_added, report.n_existing, report.n_labels) == (0, 1, 2)

    listing = photos / "labels.json"
    entries = [
        {"name": f"cats/{cat.name}", "mainClassificationLabel": "tabby"},
        {"mainClassificationLabel": "dog"},
    ]
    listing.write_text(json.dumps(entries))
    report = import_json(workspace, "pets", listing, thumbnails=False)
    assert report.problems == [ImportProblem("labels.json[1]", "entry has no 'name'")]
    assert (report.n_added, report.n_existing, report.n_labels) == (0, 1, 0)
    assert workspace.dataset("pets").n_items == 6
    assert _labels(workspace, "pets") == {
        ("classification", "tabby"): 1,
        ("classification", "cat"): 1,
    }


def test_bad_coco_records_are_reported_and_the_rest_imported(
    workspace: Workspace, photos: Path
) -> None:
    files = sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.jpg"))
    square = [0, 0, 10, 0, 10, 10, 0, 10]
    doc = {
        "images": [{"id": i, "file_name": name} for i, name in enumerate(files)]
        + [{"id": 99, "file_name": "gone.jpg"}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 0, "category_id": 1, "bbox": [0, 0, 5, 5]},
            {"id": 2, "image_id": 42, "category_id": 1, "bbox": [0, 0, 5, 5]},
            {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 1, 1]]},
            {"id": 4, "image_id": 1, "category_id": 2, "segmentation": [square]},
            {"id": 5, "image_id": 2, "category_id": 1, "segmentation": [square[:-1]]},
        ],
    }
    path = photos / "instances.json"
    path.write_text(json.dumps(doc))
    report = import_coco(workspace, "pets", path, images=photos, thumbnails=False)
    where = "instances.json: annotation"
    assert report.problems == [
        ImportProblem(f"{where} 2", "unknown image id 42"),
        ImportProblem(f"{where} 3", "invalid polygon: part 1 has fewer than 3 points"),
        ImportProblem(f"{where} 4", "unknown category id 2"),
        ImportProblem(f"{where} 5", "invalid polygon: part 1 has an odd number of coordinates (7)"),
        ImportProblem(str(photos / "gone.jpg"), "file not found"),
    ]
    assert (report.n_added, report.n_labels) == (6, 1)
    assert _labels(workspace, "pets") == {("box", "cat"): 1}


def test_captions_imported_later_replace_the_items_text(workspace: Workspace, photos: Path) -> None:
    files = sorted(p.relative_to(photos).as_posix() for p in photos.rglob("*.jpg"))[:2]
    images = [{"id": i, "file_name": name} for i, name in enumerate(files)]
    instances = photos / "instances.json"
    instances.write_text(json.dumps({"images": images, "annotations": []}))
    import_coco(workspace, "pets", instances, images=photos, thumbnails=False)

    captions = photos / "captions.json"
    annotations = [{"id": 1, "image_id": 0, "caption": "a cat asleep"}]
    captions.write_text(json.dumps({"images": images, "annotations": annotations}))
    report = import_coco(
        workspace, "pets", instances, images=photos, captions=captions, thumbnails=False
    )
    assert (report.n_added, report.n_existing) == (0, 2)
    ds = workspace.dataset("pets")
    texts = {Path(it.path).name: it.text for it in workspace.catalog.iter_items(ds.id)}
    assert texts == {Path(files[0]).name: "a cat asleep", Path(files[1]).name: None}


def test_malformed_source_files_change_nothing(workspace: Workspace, photos: Path) -> None:
    import_images(workspace, "pets", photos, labels_from_folders=True, thumbnails=False)
    labels = _labels(workspace, "pets")
    n_jobs = len(workspace.catalog.list_jobs())

    not_json = photos / "broken.json"
    not_json.write_text('[{"name": "a.jpg"')
    not_coco = photos / "list.json"
    not_coco.write_text('[{"name": "a.jpg"}]')
    latin = photos / "latin.csv"
    latin.write_bytes("cats/x.jpg,caf\u00e9\n".encode("latin-1"))
    cases = [
        (lambda ds: import_json(workspace, ds, not_json), "broken.json: invalid JSON at line 1"),
        (
            lambda ds: import_coco(workspace, ds, not_coco, images=photos),
            "list.json: not a COCO file",
        ),
        (lambda ds: import_csv(workspace, ds, latin), "latin.csv: line 1 is not UTF-8 text"),
        (lambda ds: import_images(workspace, ds, photos / "nowhere"), "nowhere is not a folder"),
        (
            lambda ds: import_coco(workspace, ds, not_coco, images=photos / "nowhere"),
            "nowhere is not a folder",
        ),
    ]
    for run, message in cases:
        for dataset in ("pets", "fresh"):
            with pytest.raises(ValidationError, match=message):
                run(dataset)
    assert [d.name for d in workspace.catalog.list_datasets()] == ["pets"]
    assert _labels(workspace, "pets") == labels
    assert len(workspace.catalog.list_jobs()) == n_jobs


def test_thumbnails_skipped_first_are_made_for_items_already_there(
    workspace: Workspace, photos: Path
) -> None:
    import_images(workspace, "pets", photos, thumbnails=False)
    assert not _thumbnails(workspace)
    import_images(workspace, "pets", photos, thumbnails="now")
    thumbs = _thumbnails(workspace)
    assert len(thumbs) == 6
    import_images(workspace, "pets", photos, thumbnails="now")
    assert _thumbnails(workspace) == thumbs


def test_paths_are_absolute_and_a_bad_dataset_name_is_refused(
    workspace: Workspace, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(photos)
    import_images(workspace, "pets", Path("cats"), thumbnails=False)
    assert _paths(workspace, "pets") == {str(p) for p in (photos / "cats").iterdir()}
    with pytest.raises(ValidationError, match="invalid dataset name 'no good'"):
        import_images(workspace, "no good", photos)
    assert [d.name for d in workspace.catalog.list_datasets()] == ["pets"]


def test_links_and_names_leading_out_of_the_folder_are_refused_and_the_rest_imported(
    workspace: Workspace, photos: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    far = outside / "far.jpg"
    shutil.copy(next((photos / "cats").iterdir()), far)
    (photos / "cats" / "passwd.jpg").symlink_to("/etc/passwd")
    (photos / "cats" / "far.jpg").symlink_to(far)
    hint = "outside the folder (follow_symlinks (--follow-symlinks) allows it)"
    report = import_images(workspace, "pets", photos, thumbnails=False)
    assert (report.n_added, report.n_existing) == (6, 0)
    assert sorted(report.problems, key=lambda p: p.source) == [
        ImportProblem(
            str(photos / "cats" / "far.jpg"), f"'far.jpg' is a symbolic link to {far}, {hint}"
        ),
        ImportProblem(
            str(photos / "cats" / "passwd.jpg"),
            f"'passwd.jpg' is a symbolic link to /etc/passwd, {hint}",
        ),
    ]
    job = workspace.catalog.list_jobs(workspace.dataset("pets").id)[0]
    assert job.result["n_problems"] == 2

    csv = photos / "list.csv"
    csv.write_text("../outside/far.jpg,x\n/etc/passwd,x\ncats/passwd.jpg,x\ncats/far.jpg,x\n")
    listed = import_csv(workspace, "pets", csv, thumbnails=False)
    assert (listed.n_added, listed.n_labels, len(listed.problems)) == (0, 0, 4)
    # Allowed links are imported as their target; /etc/passwd still is not opened.
    followed = import_csv(workspace, "pets", csv, follow_symlinks=True, thumbnails=False)
    assert (followed.n_added, followed.n_labels) == (1, 1)
    assert [p.source for p in followed.problems] == ["list.csv:1", "list.csv:2", "list.csv:3"]
    assert followed.problems[2].reason == (
        "'cats/passwd.jpg' is a symbolic link to /etc/passwd, not an image file"
    )
    assert str(far) in _paths(workspace, "pets")


def test_items_record_the_files_modification_time(workspace: Workspace, photos: Path) -> None:
    import_images(workspace, "pets", photos, thumbnails=False)
    items = list(workspace.catalog.iter_items(workspace.dataset("pets").id))
    assert len(items) == 6
    assert all(it.mtime_ns == Path(it.path).stat().st_mtime_ns for it in items)


def test_images_above_the_pixel_limit_are_reported_by_name_and_the_rest_imported(
    workspace: Workspace, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = photos / "cats" / "poster.png"
    Image.new("RGB", (900, 700), (40, 90, 200)).save(big)  # 0.63 megapixels
    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "400000")  # the photos are 640 x 4xx
    report = import_images(workspace, "pets", photos, thumbnails="now")
    reason = (
        "image too large: 0.6 megapixels (900x700), above the limit of 0.4 "
        "(set TAGSCOPE_MAX_IMAGE_PIXELS to raise it)"
    )
    assert report.problems == [ImportProblem(str(big), reason)]
    assert report.n_added == 6 and len(_thumbnails(workspace)) == 6
    job = workspace.catalog.list_jobs(workspace.dataset("pets").id)[0]
    assert job.result["problems"] == [{"source": str(big), "reason": reason}]

    monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", "1_000_000")
    again = import_images(workspace, "pets", photos)
    assert (again.n_added, again.problems) == (1, [])
    assert str(big) in _paths(workspace, "pets")


def _coco_as_yolo(coco_mini: Path, root: Path) -> dict[str, list[tuple[str, str, list[Any]]]]:
    """Write coco-mini's val images and their boxes and polygons as a YOLO folder (the first 40
    images in ``train``, the rest in ``val``); return each file's COCO labels in pixels as
    (kind, name, coordinates), boxes first, a polygon part as its parts once checked (the few
    self-intersecting ones of coco-mini repaired)."""
    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    categories = sorted(doc["categories"], key=lambda c: c["id"])
    class_of = {c["id"]: i for i, c in enumerate(categories)}
    root.mkdir()
    (root / "data.yaml").write_text(f"names: {json.dumps([c['name'] for c in categories])}\n")
    images = {im["id"]: im for im in doc["images"]}
    lines: dict[int, list[str]] = {i: [] for i in images}
    expected: dict[str, list[tuple[str, str, list[Any]]]] = {}
    for ann in doc["annotations"]:
        if ann["iscrowd"]:
            continue  # an RLE mask: YOLO has none
        im = images[ann["image_id"]]
        info = read_media_info(coco_mini / "val2017" / im["file_name"])
        width, height = info.width, info.height
        name, cls = categories[class_of[ann["category_id"]]]["name"], class_of[ann["category_id"]]
        x, y, w, h = ann["bbox"]
        box = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
        lines[im["id"]].append(" ".join(map(repr, [cls, *box])))
        expected.setdefault(im["file_name"], []).append(("box", name, ann["bbox"]))
        for part in ann["segmentation"]:
            scaled = [v / (height if i % 2 else width) for i, v in enumerate(part)]
            lines[im["id"]].append(" ".join(map(repr, [cls, *scaled])))
            expected[im["file_name"]].append(("polygon", name, ring_parts(part)))
    for n, (image_id, im) in enumerate(sorted(images.items())):
        split = "train" if n < 40 else "val"
        for top in ("images", "labels"):
            (root / top / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(coco_mini / "val2017" / im["file_name"], root / "images" / split)
        label_file = (root / "labels" / split / im["file_name"]).with_suffix(".txt")
        label_file.write_text("".join(f"{line}\n" for line in lines[image_id]))
    return expected


def test_yolo_boxes_and_polygons_become_the_coco_ones_in_pixels_then_again(
    workspace: Workspace, coco_mini: Path, tmp_path: Path
) -> None:
    root = tmp_path / "yolo"
    expected = _coco_as_yolo(coco_mini, root)
    report = import_yolo(workspace, "yolo", root, thumbnails=False)
    assert (report.n_added, report.problems) == (79, [])
    assert report.n_labels == sum(len(labels) for labels in expected.values())
    ds = workspace.dataset("yolo")
    splits = Counter(Path(it.path).parent.name for it in workspace.catalog.iter_items(ds.id))
    assert splits == {"train": 40, "val": 39}
    for item in workspace.catalog.iter_items(ds.id):
        labels = workspace.catalog.item_labels(item.id)
        got = sorted(
            (str(lab.kind), lab.name, lab.geometry["bbox" if lab.kind == "box" else "polygons"])
            for lab in labels
        )
        want = sorted(
            (kind, name, coords) for kind, name, coords in expected.get(Path(item.path).name, [])
        )
        assert [g[:2] for g in got] == [w[:2] for w in want]
        for (_, _, coords), (_, _, exact) in zip(got, want, strict=True):
            assert np.allclose(np.hstack(coords), np.hstack(exact), rtol=1e-9, atol=1e-6), item.path

    # Items already there are placed by their stored size: the same labels, none new.
    labels = _labels(workspace, "yolo")
    again = import_yolo(workspace, "yolo", root, thumbnails=False)
    assert (again.n_added, again.n_existing, again.n_labels, again.problems) == (0, 79, 0, [])
    assert _labels(workspace, "yolo") == labels


def test_bad_yolo_lines_and_files_are_reported_and_the_rest_imported(
    workspace: Workspace, photos: Path, tmp_path: Path
) -> None:
    root = tmp_path / "yolo"
    (root / "labels").mkdir(parents=True)
    shutil.copytree(photos / "cats", root / "images")
    (root / "classes.txt").write_text("cat\n")
    first, second, third = sorted(p.stem for p in (root / "images").iterdir())
    (root / "labels" / f"{first}.txt").write_text("0 0.5 0.5 0.5 0.5\n1 0.5 0.5 0.5 0.5\n")
    (root / "labels" / f"{second}.txt").write_text("0 0 0 1 0 1 1\n0 0.5 0.5 1.5 0.5\n")
    (root / "labels" / "gone.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "images" / f"{third}.jpg").write_text("not a photo")
    (root / "labels" / f"{third}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    report = import_yolo(workspace, "pets", root, thumbnails=False)
    assert report.problems == [
        ImportProblem(f"labels/{first}.txt:2", "unknown class '1' (the classes are 0..0)"),
        ImportProblem(f"labels/{second}.txt:2", "coordinate 1.5 outside 0..1"),
        ImportProblem("labels/gone.txt", "no image for this label file (images/gone.*)"),
        ImportProblem(str(root / "images" / f"{third}.jpg"), "not an image (unknown format)"),
    ]
    assert (report.n_added, report.n_labels) == (2, 2)
    assert _labels(workspace, "pets") == {("box", "cat"): 1, ("polygon", "cat"): 1}
    job = workspace.catalog.list_jobs(workspace.dataset("pets").id)[0]
    assert (job.params["format"], job.result["n_problems"]) == ("yolo", 4)
    polygon = next(
        lab
        for item in workspace.catalog.iter_items(workspace.dataset("pets").id)
        for lab in workspace.catalog.item_labels(item.id)
        if lab.kind == "polygon"
    )
    with Image.open(root / "images" / f"{second}.jpg") as im:
        width, height = im.size
    assert polygon.geometry == {"polygons": [[0.0, 0.0, width, 0.0, width, height]]}


# Issue 14: import as a map job over shards of files (local runner, Ray), media by URI.


def _items(ws: Workspace, dataset: str) -> dict[str, tuple[Any, ...]]:
    """Each item of the dataset by path: its media info, modification time and labels."""
    ds = ws.dataset(dataset)
    return {
        it.path: (
            it.media,
            it.mtime_ns,
            sorted((str(lab.kind), lab.name, lab.is_main) for lab in ws.catalog.item_labels(it.id)),
        )
        for it in ws.catalog.iter_items(ds.id)
    }


def _thumbnail_files(ws: Workspace) -> dict[str, bytes]:
    return {
        str(p.relative_to(ws.paths.thumbnails)): p.read_bytes()
        for p in ws.paths.thumbnails.rglob("*.jpg")
    }


def _with_bad_files(photos: Path) -> Path:
    """The photos with a truncated one among them, a text file named .jpg and a note."""
    data = next((photos / "cats").iterdir()).read_bytes()
    (photos / "cats" / "b-truncated.jpg").write_bytes(data[: len(data) // 2])
    (photos / "dogs" / "text.jpg").write_text("not a photo")
    (photos / "notes.txt").write_text("shopping list")
    return photos


def test_a_corrupt_file_in_a_shard_is_a_problem_and_loses_nothing_else(
    workspace: Workspace, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards of 4 files in batches of 2: the bad files fall inside shards, every other file of
    theirs is stored, and the job reports a batch at a time."""
    monkeypatch.setattr(imports, "_BATCH", 2)
    monkeypatch.setattr(imports, "_SHARD_BATCHES", 2)
    _with_bad_files(photos)
    seen: list[tuple[int, int]] = []
    report = import_images(
        workspace, "pets", photos, thumbnails="now", progress=lambda *a: seen.append(a)
    )
    assert sorted(report.problems, key=lambda p: p.source) == [
        ImportProblem(str(photos / "cats" / "b-truncated.jpg"), "truncated image"),
        ImportProblem(str(photos / "dogs" / "text.jpg"), "not an image (unknown format)"),
        ImportProblem(str(photos / "notes.txt"), "not an image file type (.txt)"),
    ]
    good = {str(p) for p in photos.rglob("*.jpg")} - {p.source for p in report.problems}
    assert report.n_added == 6 and _paths(workspace, "pets") == good
    assert seen == [(0, 8), (2, 8), (4, 8), (6, 8), (8, 8)]
    assert len(_thumbnails(workspace)) == 6
    job = workspace.catalog.list_jobs(workspace.dataset("pets").id)[0]
    assert job.params["runner"] == "local" and job.result["n_problems"] == 3

    again = import_images(workspace, "pets", photos, thumbnails="now")
    assert (again.n_added, again.n_existing, len(again.problems)) == (0, 6, 3)


def test_a_folder_by_file_uri_is_the_local_folder(
    workspace: Workspace, photos: Path, tmp_path: Path
) -> None:
    by_path = import_images(workspace, "a", photos, labels_from_folders=True)
    by_uri = import_images(workspace, "b", f"file://{photos}", labels_from_folders=True)
    assert (by_uri.n_added, by_uri.problems) == (by_path.n_added, by_path.problems)
    assert _items(workspace, "b") == _items(workspace, "a")
    with pytest.raises(ValidationError, match="is not a folder"):
        import_images(workspace, "c", f"file://{tmp_path}/nowhere")


def test_a_memory_folder_is_imported_by_uri_with_thumbnails_and_embeddings(
    workspace: Workspace, photos: Path, memory: str
) -> None:
    """Items keep their URIs; hashes and sizes are the files'; thumbnails are made into the
    workspace (by default too); embedding reads the images through the URIs; importing again
    adds nothing."""
    _with_bad_files(photos)
    fs, root = fsspec.core.url_to_fs(memory)
    for path in photos.rglob("*"):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(photos)}", path.read_bytes())
    report = import_images(workspace, "mem", memory, labels_from_folders=True)
    reasons = {p.source.removeprefix(f"memory://{root}/"): p.reason for p in report.problems}
    assert reasons == {
        "cats/b-truncated.jpg": "truncated image",
        "dogs/text.jpg": "not an image (unknown format)",
        "notes.txt": "not an image file type (.txt)",
    }
    items = _items(workspace, "mem")
    # Made into the cache from the bytes read (none is "its own", none left to the filler).
    assert report.n_thumbnails_deferred == 0 and len(_thumbnails(workspace)) == 6
    for media, _, _ in items.values():
        assert thumbnail_path(workspace.paths.thumbnails, media.content_hash).is_file()

    local = import_images(workspace, "local", photos, labels_from_folders=True)
    assert report.n_added == local.n_added == 6
    expected = {
        f"memory://{root}/{Path(p).relative_to(photos)}": (media, labels)
        for p, (media, _, labels) in _items(workspace, "local").items()
    }
    assert {p: (media, labels) for p, (media, _, labels) in items.items()} == expected
    assert {mtime for _, mtime, _ in items.values()} == {None}  # none kept by the file system

    for name in ("mem", "local"):
        assert compute_embeddings(workspace, name, kind="phash").result["n_embedded"] == 6
    vectors = {}
    for name in ("mem", "local"):
        ds = workspace.dataset(name)
        ids, vecs = workspace.vectors(ds, "phash").load()
        by_id = {it.id: it.media.content_hash for it in workspace.catalog.iter_items(ds.id)}
        vectors[name] = {by_id[i]: np.asarray(v).tobytes() for i, v in zip(ids, vecs, strict=True)}
    assert vectors["mem"] == vectors["local"]

    again = import_images(workspace, "mem", memory, labels_from_folders=True)
    assert (again.n_added, again.n_existing) == (0, 6)


def test_a_folder_uri_leading_out_of_its_folder_is_refused(
    workspace: Workspace, memory: str
) -> None:
    sneaky = f"{memory}/imgs/../.."
    with pytest.raises(ValidationError) as info:
        import_images(workspace, "x", sneaky)
    assert str(info.value) == f"URI {sneaky!r} leads out of its folder ('..')"
    assert info.value.field == "folder"
    with pytest.raises(ValidationError, match="leads out of its folder"):
        import_images(workspace, "x", "file:///tmp/a/../../etc")
    with pytest.raises(ValidationError, match="is not a folder"):
        import_images(workspace, "x", f"{memory}/nowhere")
    assert workspace.catalog.list_datasets() == []


def test_an_import_through_ray_equals_the_local_one(
    local_ray: Any, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same items, hashes, labels and thumbnail files; the bad files reported by name; the
    shards (of 4 files here) probed by Ray workers, not by the driver."""
    from tagscope.jobs.ray_runner import RayRunner

    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    monkeypatch.setattr(imports, "_BATCH", 2)
    monkeypatch.setattr(imports, "_SHARD_BATCHES", 2)
    _with_bad_files(photos)
    local = Workspace.open(tmp_path / "local")
    ws = Workspace.open(tmp_path / "ray")
    on_ray = dataclasses.replace(ws, runner=RayRunner(ws.catalog))
    reports = [import_images(local, "pets", photos, labels_from_folders=True, thumbnails="now")]

    def not_here(path: object) -> None:
        raise AssertionError(f"{path} probed in the driver")

    monkeypatch.setattr(imports, "read_media", not_here)  # the workers' module is their own
    reports.append(
        import_images(on_ray, "pets", photos, labels_from_folders=True, thumbnails="now")
    )
    assert reports[1].problems == reports[0].problems and len(reports[1].problems) == 3
    assert reports[1].n_added == reports[0].n_added == 6
    assert _items(on_ray, "pets") == _items(local, "pets")
    assert _thumbnail_files(on_ray) == _thumbnail_files(local) and _thumbnail_files(local)
    job = on_ray.catalog.list_jobs(on_ray.dataset("pets").id)[0]
    assert (job.status, job.params["runner"], job.n_done) == (JobStatus.DONE, "ray", 8)

    again = import_images(on_ray, "pets", photos, labels_from_folders=True)
    assert (again.n_added, again.n_existing) == (0, 6)
