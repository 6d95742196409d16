"""`tagscope map` through the command line, on coco-mini's captions (``text``)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace
from tagscope.service import embedding_map as em

runner = CliRunner()


def test_map_computes_then_places_only_new_items(coco_text_ws: Workspace) -> None:
    root = str(coco_text_ws.paths.root)
    r = runner.invoke(app, ["map", "coco", "--space", "text", "--sample", "40", "-w", root])
    assert r.exit_code == 0, r.output
    assert "map of 'text': 79 points (fitted on 40 items; 39 placed with transform)" in r.output
    assert len(em.get_map(coco_text_ws, "coco", "text").ids) == 79
    r = runner.invoke(app, ["map", "coco", "-s", "text", "--json", "-q", "-w", root])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {**json.loads(r.output), "fitted": False, "n_placed": 0}


def test_map_names_bad_input(coco_text_ws: Workspace) -> None:
    root = str(coco_text_ws.paths.root)
    r = runner.invoke(app, ["map", "coco", "--space", "text", "--sample", "60000", "-w", root])
    assert r.exit_code != 0 and "sample must be an integer within 2..50000" in r.output
    r = runner.invoke(app, ["map", "coco", "--space", "nope", "-w", root])
    assert r.exit_code != 0 and "no embedding space 'nope'" in r.output
