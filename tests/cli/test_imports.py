"""`tagscope import images|csv|json|coco|yolo`, through the command line."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture()
def photos(coco_mini: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for i, src in enumerate(sorted((coco_mini / "val2017").glob("*.jpg"))[:4]):
        target = folder / ("cats" if i < 2 else "dogs") / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target)
    return folder


def test_import_images_prints_a_summary_and_each_problem(
    workspace: Workspace, photos: Path
) -> None:
    (photos / "dogs" / "broken.jpg").write_text("not a photo")
    ws = str(workspace.paths.root)
    args = ["import", "images", "pets", str(photos), "--labels-from-folders", "-w", ws, "-q"]
    out = runner.invoke(app, args)
    assert out.exit_code == 3, out.output  # imported, with problems
    text = _flat(out.output)
    assert "pets: 4 new items, 0 already there, 4 new labels, 1 problems" in text
    assert f"{photos / 'dogs' / 'broken.jpg'}: not an image (unknown format)" in text
    assert workspace.catalog.label_names(workspace.dataset("pets").id) == {"cats": 2, "dogs": 2}

    out = runner.invoke(app, [*args, "--json", "--no-thumbnails"])
    assert out.exit_code == 3, out.output
    assert json.loads(out.stdout) == {
        "n_added": 0,
        "n_existing": 4,
        "n_labels": 0,
        "n_thumbnails_deferred": 0,
        "problems": [
            {
                "source": str(photos / "dogs" / "broken.jpg"),
                "reason": "not an image (unknown format)",
            }
        ],
    }


def test_import_coco_with_captions(workspace: Workspace, coco_mini: Path) -> None:
    ann = coco_mini / "annotations"
    args = [
        "import",
        "coco",
        "coco",
        str(ann / "instances_val2017.json"),
        "--images",
        str(coco_mini / "val2017"),
        "--captions",
        str(ann / "captions_val2017.json"),
        "--no-thumbnails",
        "-w",
        str(workspace.paths.root),
        "--json",
    ]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert (report["n_added"], report["n_labels"], report["problems"]) == (79, 1248, [])
    out = runner.invoke(app, args)
    assert json.loads(out.stdout)["n_added"] == 0


def test_import_lists_and_their_errors(workspace: Workspace, photos: Path) -> None:
    ws = str(workspace.paths.root)
    csv = photos / "labels.csv"
    cat = next((photos / "cats").iterdir())
    csv.write_text(f'cats/{cat.name},tabby\n"x.jpg"y,dog\n')
    out = runner.invoke(app, ["import", "csv", "pets", str(csv), "-w", ws, "-q"])
    assert out.exit_code == 3, out.output
    text = _flat(out.output)
    assert "pets: 1 new items, 0 already there, 1 new labels, 1 problems" in text
    assert "labels.csv:2: malformed row: ',' expected after '\"'" in text

    listing = photos / "list" / "labels.json"
    listing.parent.mkdir()
    listing.write_text(json.dumps([{"name": f"cats/{cat.name}", "mainClassificationLabel": "x"}]))
    args = ["import", "json", "pets", str(listing), "--base", str(photos), "-w", ws, "--json"]
    out = runner.invoke(app, [*args, "-q"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n_labels"] == 1

    listing.write_text('[{"name": ')
    out = runner.invoke(app, [*args, "-q"])
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert "error: labels.json: invalid JSON at line 1, column 11" in _flat(out.output)


def test_a_clean_import_exits_0_and_the_help_documents_the_exit_codes(
    workspace: Workspace, photos: Path
) -> None:
    ws = str(workspace.paths.root)
    out = runner.invoke(app, ["import", "images", "pets", str(photos), "-w", ws, "-q"])
    assert out.exit_code == 0, out.output
    for verb in ("images", "csv", "json", "coco"):
        help_text = _flat(runner.invoke(app, ["import", verb, "--help"]).output)
        assert "0 all imported; 1 the import could not run" in help_text, verb
        assert "3 imported with problems" in help_text
        assert "--follow-symlinks" in help_text
    out = runner.invoke(app, ["import", "images", "pets", "-w", ws])  # the folder is missing
    assert out.exit_code == 2


def test_refused_paths_and_a_duplicate_coco_annotation_are_listed_with_exit_3(
    workspace: Workspace, photos: Path, tmp_path: Path
) -> None:
    ws = str(workspace.paths.root)
    cat = next((photos / "cats").iterdir())
    far = tmp_path / "far.jpg"
    shutil.copy(cat, far)
    (photos / "cats" / "passwd.jpg").symlink_to("/etc/passwd")
    (photos / "cats" / "far.jpg").symlink_to(far)
    args = ["import", "images", "pets", str(photos), "-w", ws, "-q", "--no-thumbnails", "--json"]
    out = runner.invoke(app, args)
    assert out.exit_code == 3, out.output
    report = json.loads(out.stdout)
    assert report["n_added"] == 4
    assert sorted(p["source"] for p in report["problems"]) == [
        str(photos / "cats" / "far.jpg"),
        str(photos / "cats" / "passwd.jpg"),
    ]
    assert all("outside the folder" in p["reason"] for p in report["problems"])
    out = runner.invoke(app, [*args, "--follow-symlinks"])
    assert out.exit_code == 3, out.output  # /etc/passwd is still refused: not an image file
    report = json.loads(out.stdout)
    assert (report["n_added"], len(report["problems"])) == (1, 1)
    assert report["problems"][0]["reason"].endswith("/etc/passwd, not an image file")

    doc = {
        "images": [{"id": 1, "file_name": cat.name}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4]},
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]},
        ],
    }
    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps(doc))
    coco = ["import", "coco", "c", str(instances), "-i", str(photos / "cats"), "-w", ws]
    out = runner.invoke(app, [*coco, "-q", "--no-thumbnails", "--json"])
    assert out.exit_code == 3, out.output
    report = json.loads(out.stdout)
    assert (report["n_added"], report["n_labels"]) == (1, 1)
    assert report["problems"] == [
        {"source": "instances.json: annotation 5", "reason": "annotation id listed twice"}
    ]


def test_import_yolo_exits_0_clean_3_with_bad_lines_and_1_without_class_names(
    workspace: Workspace, photos: Path, tmp_path: Path
) -> None:
    root = tmp_path / "yolo"
    shutil.copytree(photos / "cats", root / "images" / "train")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "data.yaml").write_text("names:\n  0: cat\n  1: dog\n")
    stems = sorted(p.stem for p in (root / "images" / "train").iterdir())
    (root / "labels" / "train" / f"{stems[0]}.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    ws = str(workspace.paths.root)
    args = ["import", "yolo", "pets", str(root), "-w", ws, "-q", "--no-thumbnails"]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "pets: 2 new items, 0 already there, 1 new labels, 0 problems" in _flat(out.output)
    assert workspace.catalog.label_names(workspace.dataset("pets").id) == {"dog": 1}

    (root / "labels" / "train" / f"{stems[1]}.txt").write_text("0 0.5 0.5 0.2\n0 0 0 1 1\n")
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 3, out.output
    report = json.loads(out.stdout)
    assert (report["n_existing"], report["n_labels"]) == (2, 1)
    assert report["problems"] == [
        {"source": f"labels/train/{stems[1]}.txt:1", "reason": "odd number of coordinates (3)"}
    ]
    help_text = _flat(runner.invoke(app, ["import", "yolo", "--help"]).output)
    assert "3 imported with problems" in help_text and "--follow-symlinks" in help_text

    (root / "data.yaml").unlink()
    out = runner.invoke(app, args)
    assert out.exit_code == 1
    assert "no class names (a data.yaml with 'names', or a classes.txt)" in _flat(out.output)


def test_import_video_then_metadata(
    workspace: Workspace, make_video: Callable[..., Path], tmp_path: Path
) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    make_video(folder / "ep1.mp4", [((220, 30, 30), 30), ((30, 40, 210), 30)])
    (folder / "ep1.srt").write_text("1\n00:00:00,500 --> 00:00:01,000\nhello\n\n2\nbad\n")
    (folder / "fake.webm").write_text("no video here")
    ws = str(workspace.paths.root)
    args = ["import", "video", "shows", str(folder), "--keyframes", "scene", "-w", ws, "-q"]
    out = runner.invoke(app, args)
    assert out.exit_code == 3, out.output
    text = _flat(out.output)
    assert "shows: 1 new videos (2 shots, 2 keyframes, 1 transcript cues)" in text
    assert f"{folder / 'ep1.srt'}:5: no timing line" in text
    assert f"{folder / 'fake.webm'}: not a readable video" in text

    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 3, out.output
    again = json.loads(out.stdout)
    assert (again["n_added"], again["n_existing"], again["n_videos"]) == (0, 1, 0)

    bad = runner.invoke(app, ["import", "video", "shows", str(folder), "-k", "often", "-w", ws])
    assert bad.exit_code == 1 and "keyframes must be 'scene' or 'every:<n>s'" in bad.output

    meta = tmp_path / "meta.csv"
    meta.write_text("file,series_name,episode\nep1.mp4,Echo,1\nep9.mp4,Echo,9\n")
    out = runner.invoke(app, ["import", "metadata", "shows", str(meta), "-w", ws, "-q"])
    assert out.exit_code == 3, out.output
    text = _flat(out.output)
    assert "shows: 1 items updated, 0 unchanged, fields episode, series_name, 1 problems" in text
    assert f"{meta}: ep9.mp4: names no item of the dataset" in text
    out = runner.invoke(
        app,
        [
            "sql",
            "SELECT series_name, episode FROM items WHERE modality = 'video'",
            "-w",
            ws,
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "Echo" in out.stdout


def test_import_images_from_a_file_uri_and_a_uri_leading_out(
    workspace: Workspace, photos: Path
) -> None:
    """A ``file://`` folder is the local one (items by their path); a ``..`` URI is refused,
    named, with exit 1."""
    ws = str(workspace.paths.root)
    out = runner.invoke(app, ["import", "images", "pets", f"file://{photos}", "-w", ws, "-q"])
    assert out.exit_code == 0, out.output
    paths = {it.path for it in workspace.catalog.iter_items(workspace.dataset("pets").id)}
    assert paths == {str(p) for p in photos.rglob("*.jpg")}
    sneaky = f"file://{photos}/cats/../.."
    out = runner.invoke(app, ["import", "images", "more", sneaky, "-w", ws, "-q"])
    assert out.exit_code == 1
    message = f"URI {sneaky!r} leads out of its folder ('..')"
    assert message.replace(" ", "") in "".join(out.output.split())  # wrapped anywhere
