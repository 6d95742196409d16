"""A workspace of synthetic items (no files) for the catalog benchmarks, and a timer that also
reports how much the peak RSS grew."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tagscope.domain import Dataset, Label, MediaInfo, NewItem
from tagscope.service import Workspace

BATCH = 10_000


def synthetic_dataset(
    root: Path, n: int, *, labels: Callable[[int], tuple[Label, ...]] = lambda i: ()
) -> tuple[Workspace, Dataset, list[int]]:
    """A fresh SQLite workspace in ``root`` with dataset ``bench`` of ``n`` items (width
    ``i % 1000``, the labels ``labels(i)``), and the items' ids."""
    ws = Workspace.open(root / "ws")
    ds = ws.catalog.create_dataset("bench")
    for start in range(0, n, BATCH):
        ws.catalog.add_items(
            ds.id,
            [
                NewItem(
                    f"/b/{i:07d}.jpg",
                    MediaInfo(1, i % 1000, 1, "JPEG", f"{i:040x}"),
                    labels=labels(i),
                )
                for i in range(start, min(start + BATCH, n))
            ],
        )
    return ws, ds, ws.catalog.item_ids(ds.id)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(fn: Callable[[], Any]) -> tuple[float, float]:
    """Seconds ``fn`` took and how much the peak RSS grew during it (MiB)."""
    peak = peak_mib()
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 3), round(peak_mib() - peak, 1)
