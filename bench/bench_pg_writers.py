"""A team's load on the catalog: ``--writers`` processes (16) for ``--seconds`` each doing
review decisions, label edits of the same items and labels, bulk classifications and counted
label additions (bench/_team_load.py, the load of tests/store/test_concurrent_writers.py), on
PostgreSQL (``$TAGSCOPE_TEST_DATABASE_URL``'s server, a fresh database) and on SQLite WAL, one
after the other on this machine.

Per backend: operations per second, p50/p95/max latency of an operation (retries included),
units of work run again (by reason: refused by the database, or gave way to one running alone
before reading anything), writes refused for good, and whether the change log's replay equals
the catalog. Prints ONE JSON line.

    python bench/bench_pg_writers.py [--writers 16] [--seconds 10] [--backends postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import _team_load as load
from _machine import cpu_info
from _pg import fresh_database
from _stats import latency
from tagscope.service import Workspace


def _summed(counts: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for k, n in c.items():
            out[k] = out.get(k, 0) + n
    return out


def _measure(url: str | None, root: Path, writers: int, seconds: float) -> dict[str, Any]:
    if url is None:
        os.environ.pop("TAGSCOPE_DATABASE_URL", None)
    else:
        os.environ["TAGSCOPE_DATABASE_URL"] = url
    ws = Workspace.open(root)
    plan = load.setup(ws)
    results = load.run_writers(url, root, plan, writers, seconds)
    found = load.problems(ws, plan, results)
    ws.catalog.engine.dispose()
    seconds_each = [s for r in results for _, _, s in r["ops"]]
    by_op: dict[str, int] = {}
    for r in results:
        for op, _, _ in r["ops"]:
            by_op[op] = by_op.get(op, 0) + 1
    refused = [e for r in results for e in r["errors"] if "WriteConflictError" in e]
    return {
        "ops_per_s": round(len(seconds_each) / seconds, 1),
        **latency(seconds_each, digits=1),
        "ops": by_op,
        "retries": sum(r["retries"] for r in results),
        "retries_by_reason": _summed([r["retries_by_reason"] for r in results]),
        "refused": len(refused),
        "other_errors": len(found) - len(refused) if found else 0,
        "replay_equals_catalog": not [p for p in found if "WriteConflictError" not in p],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    out: dict[str, Any] = {"bench": "pg_writers", "writers": args.writers}
    out["seconds"] = args.seconds
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "ws"
            if backend == "sqlite":
                out["sqlite_wal"] = _measure(None, root, args.writers, args.seconds)
                continue
            server = os.environ.get("TAGSCOPE_TEST_DATABASE_URL")
            if not server:
                out["postgresql"] = "skipped: set TAGSCOPE_TEST_DATABASE_URL"
                continue
            with fresh_database(server, prefix="bench") as url:
                out["postgresql"] = _measure(url, root, args.writers, args.seconds)
    print(json.dumps({**out, **cpu_info()}))


if __name__ == "__main__":
    main()
