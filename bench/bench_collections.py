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
from pathlib import Path

from _catalog import measured, synthetic_dataset
from _machine import cpu_info
from tagscope.service import collections as uc
from tagscope.service import history
from tagscope.service.sql import run_sql


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=100_000)
    n = parser.parse_args().n_items
    with tempfile.TemporaryDirectory() as tmp:
        ws, _ds, ids = synthetic_dataset(Path(tmp), n)
        run_sql(ws, "SELECT 1")  # the items copied once
        count = "SELECT count(*) FROM collection_items"
        create = lambda: uc.create_collection(ws, "bench", "all", item_ids=ids)  # noqa: E731
        out = {
            "bench": "collections",
            "n_items": n,
            "create_static_s": measured(create)[0],
            "sql_after_change_s": measured(lambda: run_sql(ws, count))[0],
            "sql_unchanged_s": measured(lambda: run_sql(ws, count))[0],
        }
        uc.create_collection(ws, "bench", "wide", where="width >= 0")
        out["freeze_s"] = measured(lambda: uc.freeze(ws, "bench", "wide"))[0]
        frozen = history.history(ws, "bench")[0].id
        out["undo_freeze_s"] = measured(lambda: history.undo(ws, "bench", frozen))[0]
        out.update(cpu_info())
        print(json.dumps(out))


if __name__ == "__main__":
    main()
