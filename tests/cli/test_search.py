"""`tagscope search`, `similar` and `duplicates` on the command line: tables, --json, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Dataset, Label, LabelKind
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings

runner = CliRunner()


@pytest.fixture()
def photos(
    workspace: Workspace,
    make_dataset: Callable[..., Dataset],
    imagenette: Path,
    tmp_path: Path,
) -> tuple[Dataset, list[Path]]:
    """Six imagenette photos and a half-size copy of the first, embedded with phash; items 0-2
    labelled "a", items 1-3 labelled "b"."""
    paths = sorted(imagenette.rglob("*.JPEG"))[::80][:6]
    copy = tmp_path / "copy.jpg"
    with Image.open(paths[0]) as im:
        im.convert("RGB").resize((im.width // 2, im.height // 2)).save(copy, quality=70)
    ds = make_dataset("photos", [*paths, copy])
    ids = workspace.catalog.item_ids(ds.id)
    label = {"a": ids[0:3], "b": ids[1:4]}
    workspace.catalog.add_labels(
        (i, Label(LabelKind.CLASSIFICATION, name)) for name, items in label.items() for i in items
    )
    compute_embeddings(workspace, "photos", kind="phash")
    return ds, [*paths, copy]


def invoke(ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "-w", str(ws.paths.root)])
    return result.exit_code, result.output


def test_duplicates_json_and_table(workspace: Workspace, photos: tuple) -> None:
    _, paths = photos
    code, out = invoke(workspace, "duplicates", "photos", "--json")
    assert code == 0, out
    [pair] = json.loads(out)
    assert {pair["a"]["path"], pair["b"]["path"]} == {str(paths[0]), str(paths[-1])}
    assert pair["score"] >= 0.75 and set(pair["a"]) == {"item_id", "path", "score"}
    code, out = invoke(workspace, "duplicates", "photos", "--space", "phash", "--min-score", "1.01")
    assert code == 0 and "0 pair(s)" in out
    code, out = invoke(workspace, "duplicates", "photos")
    assert code == 0 and "1 pair(s)" in out and "near-duplicates" in out


def test_similar_by_item_and_image(workspace: Workspace, photos: tuple) -> None:
    ds, paths = photos
    ids = workspace.catalog.item_ids(ds.id)
    code, out = invoke(
        workspace, "similar", "photos", "--item", str(ids[0]), "--space", "phash", "--json"
    )
    assert code == 0, out
    hits = json.loads(out)
    assert len(hits) == 6 and hits[0]["path"] == str(paths[-1])
    assert ids[0] not in {h["item_id"] for h in hits}
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    code, out = invoke(
        workspace, "similar", "photos", "--image", str(paths[2]), "-s", "phash", "-k", "2", "--json"
    )
    assert code == 0, out
    hits = json.loads(out)
    assert len(hits) == 2 and hits[0] == {"item_id": ids[2], "path": str(paths[2]), "score": 1.0}
    code, out = invoke(workspace, "similar", "photos", "--item", str(ids[3]), "-s", "phash")
    assert code == 0 and "rank" in out and "score" in out


@pytest.mark.parametrize(
    ("labels", "mode", "want"), [(["a"], "any", {1, 2}), (["a", "b"], "any", {1, 2, 3}),
     (["a", "b"], "all", {1, 2})]
)  # fmt: skip
def test_label_filter_options(
    workspace: Workspace, photos: tuple, labels: list[str], mode: str, want: set[int]
) -> None:
    ds, _ = photos
    ids = workspace.catalog.item_ids(ds.id)
    args = [x for name in labels for x in ("--label", name)]
    code, out = invoke(
        workspace, "similar", "photos", "--item", str(ids[0]), "-s", "phash", "--k", "50",
        *args, "--mode", mode, "--json",
    )  # fmt: skip
    assert code == 0, out
    assert {h["item_id"] for h in json.loads(out)} == {ids[i] for i in want}


def test_errors_are_one_line_and_exit_1(workspace: Workspace, photos: tuple) -> None:
    for args, message in [
        (["search", "nope", "a dog"], "no dataset"),
        (["search", "photos", "a dog", "--space", "clip"], "no embedding space"),
        (["search", "photos", "a dog", "--space", "phash"], "cannot embed text"),
        (["search", "photos", "  ", "--space", "phash"], "empty"),
        (["similar", "photos", "--space", "phash"], "exactly one"),
        (["similar", "photos", "--item", "999999", "--space", "phash"], "no item"),
        (["similar", "photos", "--image", "/no/such.jpg", "-s", "phash"], "not found"),
        (["similar", "photos", "--item", "1", "-s", "phash", "--k", "0"], "k must be"),
        (["duplicates", "photos", "--k", "-1"], "k must be"),
    ]:
        code, out = invoke(workspace, *args)
        assert code == 1, (args, out)
        assert "error:" in out and message in out, (args, out)
        assert "Traceback" not in out
    code, out = invoke(workspace, "similar", "photos", "--item", "1", "--mode", "some")
    assert code == 2  # typer refuses the choice


@pytest.mark.slow
def test_text_search_with_tiny_clip(
    workspace: Workspace,
    make_dataset: Callable[..., Dataset],
    imagenette: Path,
    tiny_clip_dir: Path,
) -> None:
    paths = sorted(imagenette.rglob("*.JPEG"))[::100]
    make_dataset("five", paths)
    compute_embeddings(workspace, "five", kind="clip", model=str(tiny_clip_dir))
    code, out = invoke(workspace, "search", "five", "a dog", "--k", "3", "--json")
    assert code == 0, out
    hits = json.loads(out)
    assert len(hits) == 3 and {h["path"] for h in hits} <= {str(p) for p in paths}
    assert all(-1.0 <= h["score"] <= 1.0 for h in hits)
    code, out = invoke(workspace, "search", "five", "a dog", "--min-score", "2")
    assert code == 0 and "no results" in out
    assert np.isfinite([h["score"] for h in hits]).all()
