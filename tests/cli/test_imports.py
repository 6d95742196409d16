"""`tagscope import images|csv|json|coco`, through the command line."""

from __future__ import annotations

import json
import shutil
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
    assert out.exit_code == 0, out.output
    text = _flat(out.output)
    assert "pets: 4 new items, 0 already there, 4 new labels, 1 problems" in text
    assert f"{photos / 'dogs' / 'broken.jpg'}: not an image (unknown format)" in text
    assert workspace.catalog.label_names(workspace.dataset("pets").id) == {"cats": 2, "dogs": 2}

    out = runner.invoke(app, [*args, "--json", "--no-thumbnails"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {
        "n_added": 0,
        "n_existing": 4,
        "n_labels": 0,
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
    assert out.exit_code == 0, out.output
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
