"""`ds.export(...)`: the SDK's export, and importing it back with the SDK."""

from __future__ import annotations

from pathlib import Path

import tagscope as ts


def test_sdk_export_round_trips_through_import_json(tmp_path: Path, imagenette: Path) -> None:
    ws = ts.open(tmp_path / "ws")
    ds = ws.create_dataset("nette")
    ds.import_images(imagenette, labels_from_folders=True, thumbnails=False, progress=False)
    report = ds.export("json", tmp_path / "out", progress=False)
    assert report.n_items == 500 and report.n_labels == 500 and report.root == str(imagenette)
    back = ws.create_dataset("back")
    back.import_json(report.files[0], base=report.root, thumbnails=False, progress=False)
    labels = {i.path: [(b.name, b.is_main) for b in back.labels(i.id)] for i in back.items()}
    assert labels == {i.path: [(a.name, a.is_main) for a in ds.labels(i.id)] for i in ds.items()}
