"""The demo on each of its sources: scikit-image's photos (a user's clone) and a plain folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from tagscope.service import Workspace
from tagscope.service.demo import run_demo
from tagscope.service.samples import SKIMAGE_CAPTIONS, write_skimage_sample
from tagscope.service.sql import run_sql


def test_demo_on_skimage_photos_finds_them_by_caption(workspace: Workspace, tmp_path: Path) -> None:
    folder = write_skimage_sample(tmp_path / "skimage")
    steps: list[str] = []
    report = run_demo(workspace, folder, step=steps.append)

    assert report.imported.n_added == len(SKIMAGE_CAPTIONS)
    assert report.imported.problems == []
    assert report.spaces["text"]["n_embedded"] == len(SKIMAGE_CAPTIONS)
    assert Path(report.searches["a cat"][0].path).name == "chelsea.jpg"
    assert Path(report.searches["a rocket or an airplane"][0].path).name == "rocket.jpg"
    assert report.similar is not None and report.similar[0].item_id not in {
        h.item_id for h in report.similar[1]
    }
    assert any("embedding in the text space" in s for s in steps)
    # The tag group learnt from names alone is queryable: the best "cat" is the cat photo.
    assert report.tags is not None and {row[0] for row in report.tags.rows} == {
        "dog",
        "cat",
        "person",
        "food",
    }
    best_cat = run_sql(
        workspace,
        "SELECT i.path FROM dt_demo_visual d JOIN items i ON i.id = d.item_id "
        "WHERE d.tag = 'cat' ORDER BY d.score DESC LIMIT 1",
    )
    assert Path(best_cat.rows[0][0]).name == "chelsea.jpg"
    # Photos without labels train no model, and the demo says why.
    assert report.model is None
    assert any(s.startswith("no model: ") and "no items with labels" in s for s in steps)
    # Running it again adds nothing and embeds nothing.
    again = run_demo(workspace, folder)
    assert again.imported.n_added == 0
    assert again.spaces["text"]["n_embedded"] == 0


def test_demo_on_a_plain_folder_uses_class_folders_and_finds_a_copy(
    workspace: Workspace, tmp_path: Path, imagenette: Path
) -> None:
    folder = tmp_path / "photos"
    for label in ("church", "tench"):
        (folder / label).mkdir(parents=True)
        for src in sorted((imagenette / label).iterdir())[:4]:
            shutil.copy(src, folder / label / src.name)
    copy = folder / "church" / "copy-of-first.JPEG"
    shutil.copy(sorted((folder / "church").iterdir())[0], copy)

    report = run_demo(workspace, folder)

    assert report.imported.n_added == 9
    labels = workspace.catalog.label_names(workspace.dataset("demo").id)
    assert labels == {"church": 5, "tench": 4}
    assert report.searches == {}  # no item has text of its own
    pairs = {frozenset((Path(p.a.path).name, Path(p.b.path).name)) for p in report.duplicates}
    assert frozenset((copy.name, sorted((imagenette / "church").iterdir())[0].name)) in pairs
