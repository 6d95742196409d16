"""`tagscope export`, through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace
from tagscope.service.imports import import_coco, import_images

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_export_writes_the_format_and_says_how_to_import_it_back(
    workspace: Workspace, coco_mini: Path, tmp_path: Path
) -> None:
    ann = coco_mini / "annotations" / "instances_val2017.json"
    import_coco(workspace, "coco", ann, images=coco_mini / "val2017", thumbnails=False)
    ws = str(workspace.paths.root)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["export", "coco", "--format", "csv", "--out", str(out), "-w", ws, "-q"]
    )
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    root = coco_mini / "val2017"
    assert f"coco: 79 items, 0 labels written to {out} (csv; names relative to {root})" in text
    assert "skipped 624 box labels: CSV lists hold classifications only" in text
    back = f"tagscope import csv NEW {out / 'labels.csv'} --base {root}"
    assert f"import it back with: {back}" in text

    result = runner.invoke(app, ["export", "coco", "-f", "coco", "-o", str(out), "-w", ws, "-q"])
    assert result.exit_code == 1
    assert f"error: {out} is not empty" in _flat(result.output)

    args = ["export", "coco", "-f", "coco", "-o", str(out), "--overwrite", "-w", ws, "-q", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files"] == [str(out / "annotations.json")] and report["n_labels"] == 1248
    assert report["root"] == str(root) and report["skipped"] == {}


def test_export_refuses_an_unknown_format(workspace: Workspace, tmp_path: Path) -> None:
    args = ["export", "any", "-f", "voc", "-o", str(tmp_path), "-w", str(workspace.paths.root)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "voc" in result.output


def test_export_exits_3_listing_the_items_it_left_out(
    workspace: Workspace, coco_mini: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[:2]:
        shutil.copy(src, photos / src.name)
    import_images(workspace, "pets", photos, thumbnails=False)
    gone = sorted(photos.iterdir())[0]
    gone.unlink()
    out = tmp_path / "out"
    args = ["export", "pets", "-f", "yolo", "-o", str(out), "--copy-images"]
    result = runner.invoke(app, [*args, "-w", str(workspace.paths.root), "-q"])
    assert result.exit_code == 3, result.output
    text = _flat(result.output)
    assert "pets: 1 items, 0 labels written" in text
    assert f"left out {gone}: cannot copy the image: No such file or directory" in text
