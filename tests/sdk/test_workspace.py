"""The SDK in a few lines, on real COCO images and captions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import tagscope as ts
from tagscope.domain import (
    AlreadyExistsError,
    Job,
    JobStatus,
    MediaInfo,
    NewItem,
    NotFoundError,
    ValidationError,
)
from tagscope.domain.access import Identity
from tagscope.domain.changes import UndoConflictError
from tagscope.service import Workspace
from tagscope.service import tags as tag_uc


def test_sdk_imports_embeds_and_searches(tmp_path: Path, coco_mini: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("coco")
    report = ds.import_coco(
        coco_mini / "annotations" / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=coco_mini / "annotations" / "captions_val2017.json",
        progress=False,
    )
    assert report.n_added == len(ds) == 79
    assert ws.datasets() == ["coco"]

    job = ds.embed(kind="text", progress=False)
    assert job.result["n_embedded"] == 79

    doc = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    dog = next(c["id"] for c in doc["categories"] if c["name"] == "dog")
    dog_files = {
        im["file_name"]
        for im in doc["images"]
        if any(a["image_id"] == im["id"] and a["category_id"] == dog for a in doc["annotations"])
    }
    hits = ds.search("a dog", space="text", k=3)
    assert [Path(h.path).name in dog_files for h in hits] == [True, True, True]
    assert "dog" in {lab.name for lab in ds.labels(hits[0].item_id)}

    similar = ds.similar(hits[0].item_id, space="text", k=5)
    assert len(similar) == 5 and hits[0].item_id not in {h.item_id for h in similar}
    assert ds.info()["spaces"][0]["n_vectors"] == 79

    assert ws.dataset("coco").info()["n_items"] == 79


def test_dataset_does_not_create_a_misspelled_name(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ws.create_dataset("coco")
    ws.create_dataset("imagenette")
    with pytest.raises(NotFoundError) as err:
        ws.dataset("cocoo")
    message = str(err.value)
    assert "'cocoo'" in message and "did you mean 'coco'?" in message
    assert "coco, imagenette" in message and "create_dataset('cocoo')" in message
    assert ws.datasets() == ["coco", "imagenette"]


def test_dataset_in_an_empty_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    with pytest.raises(NotFoundError, match="has no datasets; create_dataset\\('pets'\\)"):
        ws.dataset("pets")
    assert ws.datasets() == []


def test_create_dataset_makes_an_empty_dataset_once(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("pets", description="cats and dogs")
    assert isinstance(ds, ts.Dataset) and len(ds) == 0
    assert ws.dataset("pets").info()["description"] == "cats and dogs"
    with pytest.raises(AlreadyExistsError, match="pets"):
        ws.create_dataset("pets")


@pytest.mark.parametrize("importer", ["images", "csv", "coco"])
def test_imports_without_thumbnails_make_none(
    importer: str, tmp_path: Path, coco_mini: Path, imagenette: Path
) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("plain")
    if importer == "images":
        report = ds.import_images(coco_mini / "val2017", thumbnails=False, progress=False)
    elif importer == "csv":
        report = ds.import_csv(imagenette / "labels.csv", thumbnails=False, progress=False)
    else:
        annotations = coco_mini / "annotations" / "instances_val2017.json"
        report = ds.import_coco(
            annotations, images=coco_mini / "val2017", thumbnails=False, progress=False
        )
    assert report.n_added > 0
    assert not [p for p in (Path(ws.root) / "thumbnails").rglob("*") if p.is_file()]


def test_import_images_defers_photo_thumbnails_to_fill_thumbnails(
    tmp_path: Path, coco_mini: Path
) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("thumbs")
    report = ds.import_images(coco_mini / "val2017", progress=False)
    folder = Path(ws.root) / "thumbnails"
    # COCO's photos (640 x 4xx) all need decoding: none is made at import.
    assert report.n_thumbnails_deferred == report.n_added > 0
    assert not [p for p in folder.rglob("*") if p.is_file()]
    job = ds.fill_thumbnails(progress=False)
    assert job.result["n_made"] == len(list(folder.rglob("*.jpg"))) == report.n_added


def test_import_images_makes_thumbnails_now_when_asked(tmp_path: Path, coco_mini: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    report = ws.create_dataset("thumbs").import_images(
        coco_mini / "val2017", thumbnails="now", progress=False
    )
    assert report.n_thumbnails_deferred == 0
    assert [p for p in (Path(ws.root) / "thumbnails").rglob("*") if p.is_file()]


def test_import_vectors_returns_a_finished_job(tmp_path: Path, coco_mini: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("coco")
    ds.import_images(coco_mini / "val2017", thumbnails=False, progress=False)
    ids = np.array([item.id for item in ds.items()], np.int64)
    vectors = np.random.default_rng(0).standard_normal((len(ids), 8)).astype(np.float32)
    np.save(tmp_path / "mine.npy", vectors)
    np.save(tmp_path / "mine.ids.npy", ids)

    job = ds.import_vectors("mine", tmp_path / "mine.npy")
    assert isinstance(job, Job) and job.status is JobStatus.DONE and job.kind == "import_vectors"
    assert job.result == {"space": "mine", "dim": 8, "n_imported": len(ids), "n_replaced": 0}
    assert ds.similar(int(ids[0]), space="mine", k=1)[0].item_id != ids[0]


def test_import_vectors_records_a_refused_file_as_the_jobs_error(
    tmp_path: Path, coco_mini: Path
) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("coco")
    np.save(tmp_path / "bad.npy", np.ones((2, 4), np.float32))
    np.save(tmp_path / "bad.ids.npy", np.array([10**6, 10**6 + 1], np.int64))
    with pytest.raises(ValidationError):
        ds.import_vectors("mine", tmp_path / "bad.npy")
    service_ws = Workspace.open(ws.root)
    (job,) = [j for j in service_ws.catalog.list_jobs() if j.kind == "import_vectors"]
    assert job.status is JobStatus.ERROR and job.error


def test_import_images_refuses_links_out_of_the_folder_unless_allowed(
    tmp_path: Path, coco_mini: Path
) -> None:
    outside = sorted((coco_mini / "val2017").glob("*.jpg"))[0]
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "linked.jpg").symlink_to(outside)
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("linked")

    refused = ds.import_images(folder, thumbnails=False, progress=False)
    assert refused.n_added == 0
    (problem,) = refused.problems
    assert "linked.jpg" in problem.source
    assert "outside" in problem.reason or "link" in problem.reason

    allowed = ds.import_images(folder, thumbnails=False, follow_symlinks=True, progress=False)
    assert allowed.n_added == 1
    assert len(ds) == 1


def test_import_yolo_gives_boxes_in_pixels_and_reports_bad_lines(
    tmp_path: Path, coco_mini: Path
) -> None:
    root = tmp_path / "yolo"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    photo = sorted((coco_mini / "val2017").glob("*.jpg"))[0]
    (root / "images" / photo.name).write_bytes(photo.read_bytes())
    (root / "classes.txt").write_text("cat\n")
    (root / "labels" / f"{photo.stem}.txt").write_text("0 0.5 0.5 0.5 0.5\n0 0.5\n")
    ds = ts.open(tmp_path / "ws").create_dataset("pets")
    report = ds.import_yolo(root, thumbnails=False, progress=False)
    assert (report.n_added, report.n_labels) == (1, 1)
    assert [(p.source, p.reason) for p in report.problems] == [
        (f"labels/{photo.stem}.txt:2", "odd number of coordinates (1)")
    ]
    item = next(ds.items())
    assert item.media is not None
    width, height = item.media.width, item.media.height
    assert [lab.geometry for lab in ds.labels(item.id)] == [
        {"bbox": [width / 4, height / 4, width / 2, height / 2]}
    ]


def test_sdk_history_and_undo(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    catalog = Workspace.open(tmp_path / "ws").catalog  # items without files to import
    record = catalog.get_dataset("d")
    catalog.add_items(
        record.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(2)]
    )
    catalog.ensure_space(record.id, "text", "text", "minilm", 384)
    a, b = catalog.item_ids(record.id)
    pets = ds.create_tag_group("pets", ["dog"])
    pets.review("dog", {a: True, b: False})
    [change] = ds.history()
    assert (change.action, change.n_changes) == ("review", 2)
    pets.review("dog", {b: True})
    with pytest.raises(UndoConflictError, match=str(b)):
        ds.undo(change.id)
    result = ds.undo(change.id, force=True)
    assert result.skipped == (b,)
    assert {r.item_id: r.label for r in pets.reviews("dog")} == {b: True}


def test_sdk_history_by_user_and_undo_of_a_users_changes(tmp_path: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("d")
    service_ws = Workspace.open(tmp_path / "ws")
    record = service_ws.catalog.get_dataset("d")
    service_ws.catalog.add_items(
        record.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"h{i}")) for i in range(3)]
    )
    service_ws.catalog.ensure_space(record.id, "text", "text", "minilm", 384)
    a, b, c = service_ws.catalog.item_ids(record.id)
    pets = ds.create_tag_group("pets", ["dog"])
    pets.review("dog", {a: True})  # the owner's, before the time
    since = datetime.now(UTC)
    alice = service_ws.acting_as(Identity.owner("alice"))
    tag_uc.add_reviews(alice, "d", "pets", "dog", {b: True})
    tag_uc.add_reviews(alice, "d", "pets", "dog", {b: False, c: True})
    assert [cs.actor for cs in ds.history(user="alice")] == ["alice", "alice"]
    assert ds.history(user="alice", since=datetime.now(UTC)) == []
    result = ds.undo_user("alice", since)
    assert len(result.undone) == 2
    assert {r.item_id: r.label for r in pets.reviews("dog")} == {a: True}


def test_sdk_imports_videos_and_their_metadata(
    tmp_path: Path, make_video: Callable[..., Path]
) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    make_video(folder / "ep1.webm", [((220, 30, 30), 30), ((30, 40, 210), 30)])
    (folder / "ep1.vtt").write_text("WEBVTT\n\n00:00.200 --> 00:01.000\nred\n")
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("shows")
    report = ds.import_video(folder, keyframes="scene", progress=False)
    assert (report.n_videos, report.n_shots, report.n_keyframes, report.n_cues) == (1, 2, 2, 1)
    assert len(ds) == 1 + 2 + 2 + 1
    (folder / "meta.json").write_text(json.dumps({"ep1.webm": {"series_name": "Echo"}}))
    meta = ds.import_metadata(folder / "meta.json", progress=False)
    assert meta.n_updated == 1 and meta.fields == ["series_name"]
    rows = ws.sql(
        "SELECT count(*) FROM items k JOIN items v ON v.id = k.video_id "
        "WHERE k.modality = 'keyframe' AND v.series_name = 'Echo'"
    )
    assert rows.rows == [[2]]
