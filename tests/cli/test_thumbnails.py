"""`tagscope thumbnails DATASET` and `tagscope import ... --thumbnails now|defer|none`."""

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
    folder.mkdir()
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[:3]:
        shutil.copy(src, folder / src.name)
    return folder


def _n_thumbnails(ws: Workspace) -> int:
    return len(list(ws.paths.thumbnails.rglob("*.jpg")))


def test_the_default_import_defers_and_thumbnails_makes_them(
    workspace: Workspace, photos: Path
) -> None:
    ws = str(workspace.paths.root)
    out = runner.invoke(app, ["import", "images", "pets", str(photos), "-w", ws, "-q"])
    assert out.exit_code == 0, out.output
    assert "3 thumbnails left to make: `tagscope thumbnails pets` makes them" in _flat(out.output)
    assert _n_thumbnails(workspace) == 0

    out = runner.invoke(app, ["thumbnails", "pets", "-w", ws])
    assert out.exit_code == 0, out.output
    assert "pets: 3 thumbnails made, 0 there already, 0 problems, of 3 items checked" in _flat(
        out.output
    )
    assert _n_thumbnails(workspace) == 3

    out = runner.invoke(app, ["thumbnails", "pets", "-w", ws, "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert (result["n_items"], result["n_made"]) == (0, 0)


def test_thumbnails_now_and_none(workspace: Workspace, photos: Path) -> None:
    ws = str(workspace.paths.root)
    args = ["import", "images", "pets", str(photos), "-w", ws, "-q", "--json"]
    out = runner.invoke(app, [*args, "--thumbnails", "none"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n_thumbnails_deferred"] == 0
    assert _n_thumbnails(workspace) == 0
    out = runner.invoke(app, [*args, "--thumbnails", "now"])  # made for items already there
    assert out.exit_code == 0, out.output
    assert _n_thumbnails(workspace) == 3


def test_contradicting_thumbnail_options_are_a_usage_error(
    workspace: Workspace, photos: Path
) -> None:
    ws = str(workspace.paths.root)
    args = ["import", "images", "pets", str(photos), "-w", ws, "-q"]
    out = runner.invoke(app, [*args, "--thumbnails", "now", "--no-thumbnails"])
    assert out.exit_code == 2
    assert "--no-thumbnails contradicts --thumbnails now" in _flat(out.output)
    out = runner.invoke(app, [*args, "--thumbnails", "later"])
    assert out.exit_code == 2
    assert workspace.catalog.list_datasets() == []


def test_thumbnails_of_an_unknown_dataset_fails_with_its_name(workspace: Workspace) -> None:
    out = runner.invoke(app, ["thumbnails", "nope", "-w", str(workspace.paths.root)])
    assert out.exit_code == 1
    assert "nope" in out.output
