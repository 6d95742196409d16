"""Collections at scale: creating, freezing and undoing a collection of ``--n-items`` items, and
what a SQL query pays after a change-set when the collections are copied again into DuckDB.

A fresh SQLite workspace gets ``--n-items`` items (no files). Timed: a static collection of all
of them (``create_collection``), a dynamic one frozen (``freeze``), the undo of the freeze, and
``SELECT count(*) FROM collection_items`` right after a change-set (the copy refreshes) versus
with nothing changed. Prints ONE JSON line.

    python bench/bench_collections.py [--n-items 100000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _machine import cpu_info
from tagscope.domain import MediaInfo, NewItem
from tagscope.service import Workspace, history
from tagscope.service import collections as uc
from tagscope.service.sql import run_sql


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return round(time.perf_counter() - start, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=100_000)
    n = parser.parse_args().n_items
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        ds = ws.catalog.create_dataset("bench")
        for start in range(0, n, 10_000):
            ws.catalog.add_items(
                ds.id,
                [
                    NewItem(f"/b/{i:07d}.jpg", MediaInfo(1, i % 1000, 1, "JPEG", f"{i:040x}"))
                    for i in range(start, min(start + 10_000, n))
                ],
            )
        ids = ws.catalog.item_ids(ds.id)
        run_sql(ws, "SELECT 1")  # the items copied once
        count = "SELECT count(*) FROM collection_items"
        create = lambda: uc.create_collection(ws, "bench", "all", item_ids=ids)  # noqa: E731
        out = {
            "bench": "collections",
            "n_items": n,
            "create_static_s": timed(create),
            "sql_after_change_s": timed(lambda: run_sql(ws, count)),
            "sql_unchanged_s": timed(lambda: run_sql(ws, count)),
        }
        uc.create_collection(ws, "bench", "wide", where="width >= 0")
        out["freeze_s"] = timed(lambda: uc.freeze(ws, "bench", "wide"))
        frozen = history.history(ws, "bench")[0].id
        out["undo_freeze_s"] = timed(lambda: history.undo(ws, "bench", frozen))
        out["cpu"] = cpu_info()
        print(json.dumps(out))


if __name__ == "__main__":
    main()
