"""Export speed: items per second of ``export_dataset`` in each format.

A fresh SQLite workspace gets ``--n-items`` items (paths under 100 folders; no files are read,
so YOLO's links dangle) with two boxes and one polygon each, as a COCO import stores them.
Each format is exported once into a new folder; the figure is items per second of wall time
(catalog reads, label batches and writing included). Prints ONE JSON line.

    python bench/bench_export.py [--n-items 20000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _machine import cpu_info
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace
from tagscope.service.exports import FORMATS, export_dataset


def build(ws: Workspace, n_items: int) -> None:
    ds = ws.catalog.create_dataset("bench")
    polygon = {"polygons": [[10.5, 10.25, 90.0, 12.0, 50.125, 70.0]]}
    for start in range(0, n_items, 5000):
        items = []
        for i in range(start, min(start + 5000, n_items)):
            labels = (
                Label(LabelKind.BOX, "dog", geometry={"bbox": [i % 50, 3.5, 40.25, 30.0]}),
                Label(LabelKind.BOX, "cat", geometry={"bbox": [5.0, i % 40, 20.0, 10.5]}),
                Label(LabelKind.POLYGON, "dog", geometry=polygon),
            )
            media = MediaInfo(1000, 640, 480, "JPEG", f"{i:040x}")
            items.append(
                NewItem(f"/data/bench/{i % 100:02d}/img-{i:07d}.jpg", media, labels=labels)
            )
        ws.catalog.add_items(ds.id, items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-items", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        build(ws, args.n_items)
        rates: dict[str, float] = {}
        for fmt in FORMATS:
            start = time.perf_counter()
            report = export_dataset(ws, "bench", fmt, Path(tmp) / fmt)
            rates[f"{fmt}_items_per_s"] = round(report.n_items / (time.perf_counter() - start))
    print(json.dumps({"bench": "export", "n_items": args.n_items, **rates, **cpu_info()}))


if __name__ == "__main__":
    main()
